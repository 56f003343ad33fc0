"""Training job (script mode): ScarceGAN on the preprocessed splits, several candidate models out.

Contract: training_containers/README.md (train.py). Hyperparameters arrive as --kebab-case
strings and/or in hyperparameters.json; names outside parameters.json's "scarcegan" family are
refused (SageMaker's own sagemaker_* arguments are ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
from scarcegan import shards
from scarcegan.artifact import SCORE_DEFINITIONS
from scarcegan.candidates import RULES, CandidateTracker, distinct
from scarcegan.errors import DataError
from scarcegan.hyperparameters import FAMILY, Hyperparameters, config_file_arguments
from scarcegan.parameters import parse_family
from scarcegan.schema import ID_COLUMN, LABEL_COLUMN, POSITIVE_CLASS, SUPERVISED_CLASSES

NON_FEATURE_COLUMNS = (ID_COLUMN, LABEL_COLUMN, "fold")
# More unlabeled players than this are streamed (tf.data over the Parquet shards) instead of held in
# memory: 1 M players x ~35 float32 inputs = ~140 MB (docs/decisions/0402).
STREAM_ABOVE_PLAYERS = 1_000_000
SCARCEGAN_THRESHOLD = 0.5  # on artifact.scarcegan_score: the argmax rule the candidates were chosen by

METRIC_LINE = ("Iteration={i}; Discriminator_Supervised_Loss={sup:.6f}; "
               "Discriminator_UnSupervised_Loss={unsup:.6f}; Generator_Loss={gen:.6f}; "
               "Accuracy_Supervised={acc:.6f}; Val_Recall_Risky={recall:.6f}; "
               "Val_Precision_Risky={precision:.6f};")


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, dict[str, object]]:
    """(paths, typed hyperparameters keyed by field name).

    Hyperparameters come from hyperparameters.json and from ``--kebab-case`` arguments (these win),
    are typed and range-checked against parameters.json's ``scarcegan`` family; an unknown name
    exits 1 with one ``ERROR: arguments: unknown parameter ...`` line (SageMaker's own arguments
    are ignored).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    default_config = os.environ.get("SM_INPUT_CONFIG_DIR", "/opt/ml/input/config")
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--config-dir", default=default_config)
    known, _ = pre.parse_known_args(argv)
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    parser.add_argument("--validation",
                        default=os.environ.get("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation"))
    parser.add_argument("--output-data-dir",
                        default=os.environ.get("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data"))
    parser.add_argument("--checkpoint-dir", default=os.environ.get("SM_CHECKPOINT_DIR"),
                        help="where checkpoints go and a restarted job resumes from (the job's CheckpointConfig LocalPath)")
    parser.add_argument("--config-dir", default=default_config)
    args = parse_family(FAMILY, config_file_arguments(known.config_dir) + argv, parser)
    hyper = {f.name: getattr(args, f.name) for f in fields(Hyperparameters)}
    return args, hyper


def load_split(folder: Path, name: str, labelled: bool, pipeline=None, head: int | None = None) -> pd.DataFrame:
    """A preprocess split as scaled model inputs (Parquet shards through the merged pipeline);
    ``head``: only the first batch (for its columns)."""
    if head is not None:
        return next(shards.iter_split(folder, name, pipeline, batch_rows=head))
    return shards.load_split(folder, name, pipeline, labelled)


def main(model_dir: str | Path, train_dir: str | Path, validation_dir: str | Path,
         hp: Hyperparameters, output_data_dir: str | Path | None = None,
         checkpoint_dir: str | Path | None = None, stream_above: int = STREAM_ABOVE_PLAYERS) -> dict:
    """Train, print metric lines, write candidates; returns candidates.json's content.

    With a checkpoint_dir, the training state is saved every CHECKPOINT_EVERY sample intervals and a
    restarted job (a spot interruption) resumes from the last one instead of starting over."""
    from scarcegan.training import ScarceGANTrainer, label_indices, risky_metrics

    pipeline = shards.pipeline_for(train_dir)  # merged from the shards' partials (docs/decisions/0400)
    train = load_split(Path(train_dir), "train", True, pipeline)
    unlabeled_input = None
    players = shards.split_players(Path(train_dir), "unlabeled")
    if pipeline is not None and players > stream_above:  # too many to hold: a tf.data stream
        from scarcegan.training import parquet_stream

        unlabeled = load_split(Path(train_dir), "unlabeled", False, pipeline, head=1)
        unlabeled_input = parquet_stream(
            lambda: (b[pipeline.feature_names].to_numpy(np.float32)
                     for b in shards.iter_split(Path(train_dir), "unlabeled", pipeline, shuffle_seed=hp.seed)),
            len(pipeline.feature_names))
        print(f"Unlabeled players: {players} streamed from Parquet shards (tf.data)", flush=True)
    else:
        unlabeled = load_split(Path(train_dir), "unlabeled", False, pipeline)
    val = load_split(Path(validation_dir), "val", True, pipeline)
    feature_names = [c for c in train.columns if c not in NON_FEATURE_COLUMNS]
    for name, frame in (("unlabeled", unlabeled), ("val", val)):
        missing = [c for c in feature_names if c not in frame.columns]
        if missing:
            raise DataError(name, f"missing feature column(s) {missing[:5]}")
    if POSITIVE_CLASS not in set(train[LABEL_COLUMN]):
        raise DataError(f"{Path(train_dir)}/train-*.parquet", "no risky labels in the training split")

    x_train = train[feature_names].to_numpy(np.float32)
    y_train = label_indices(train[LABEL_COLUMN])
    x_val = val[feature_names].to_numpy(np.float32)
    y_val = label_indices(val[LABEL_COLUMN])
    if unlabeled_input is None:
        unlabeled_input = unlabeled[feature_names].to_numpy(np.float32)
    trainer = ScarceGANTrainer(hp, x_train, y_train, unlabeled_input)
    tracker = CandidateTracker(hp.candidate_kinds, hp.recall_floor)

    started = time.perf_counter()
    done, history = 0, []
    metrics: dict = {}
    checkpoints = Checkpoints(checkpoint_dir, trainer) if checkpoint_dir else None
    if checkpoints and checkpoints.restore():
        done, history, tracker = checkpoints.state["done"], checkpoints.state["history"], checkpoints.state["tracker"]
        metrics = history[-1] if history else {}
        print(f"Resumed from the checkpoint at iteration {done}", flush=True)
    while done < hp.iterations:
        n = min(hp.sample_interval, hp.iterations - done)
        sup, unsup, gen, acc = (float(v) for v in trainer.run(np.int32(n)))
        done += n
        metrics = risky_metrics(trainer.predict_proba(x_val), y_val)
        print(METRIC_LINE.format(i=done, sup=sup, unsup=unsup, gen=gen, acc=acc,
                                 recall=metrics["recall"], precision=metrics["precision"]), flush=True)
        history.append({"iteration": done, "supervised_loss": sup, "unsupervised_loss": unsup,
                        "generator_loss": gen, "accuracy": acc, **metrics})
        tracker.update(done, metrics, trainer.classifier.get_weights)
        if checkpoints and (done // hp.sample_interval) % CHECKPOINT_EVERY == 0:
            checkpoints.save({"done": done, "history": history, "tracker": tracker})
    seconds = time.perf_counter() - started
    chosen = distinct(tracker.finish(done, metrics, trainer.classifier.get_weights()))

    model_root = Path(model_dir)
    model_root.mkdir(parents=True, exist_ok=True)
    summary = {"family": FAMILY, "positive_class": POSITIVE_CLASS, "recall_floor": hp.recall_floor,
               "training_seconds": round(seconds, 3), "iterations": done, "candidates": []}
    for kind, (candidate, aliases) in chosen.items():
        folder = model_root / kind
        folder.mkdir(parents=True, exist_ok=True)
        trainer.classifier.set_weights(candidate.weights)
        trainer.classifier.save(folder / "model.keras")
        metadata = {
            "family": FAMILY,
            "kind": kind,
            "aliases": aliases,
            "rule": RULES[kind],
            "alias_rules": {a: RULES[a] for a in aliases},
            "floor_met": candidate.floor_met,
            "iteration": candidate.iteration,
            "class_order": list(SUPERVISED_CLASSES),
            "positive_class": POSITIVE_CLASS,
            "score_definition": SCORE_DEFINITIONS[FAMILY],
            "threshold": SCARCEGAN_THRESHOLD,
            "decision_rule": {"type": "threshold", "positive_class": POSITIVE_CLASS, "threshold": SCARCEGAN_THRESHOLD,
                              "description": "flag a player when score >= 0.5, i.e. risky is the most "
                                             "probable class of the supervised head"},
            "input": "scaled features in feature_names order (pipeline.json from preprocess)",
            "feature_names": feature_names,
            "validation_metrics": candidate.metrics,
            "variant": hp.variant,
            "hyperparameters": hp.as_dict(),
            "effective_hyperparameters": hp.effective(),
        }
        (folder / "metadata.json").write_text(json.dumps(metadata, indent=2))
        summary["candidates"].append({"kind": kind, "family": FAMILY, "aliases": aliases,
                                      "rule": RULES[kind], "iteration": candidate.iteration,
                                      "floor_met": candidate.floor_met,
                                      "validation_metrics": candidate.metrics, "path": f"{kind}/model.keras"})
    (model_root / "candidates.json").write_text(json.dumps(summary, indent=2))
    if output_data_dir:
        out = Path(output_data_dir)
        out.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(history).to_csv(out / "history.csv", index=False)
    return summary


CHECKPOINT_EVERY = 10  # sample intervals


class Checkpoints:
    """Models, optimizers and the sampling RNG through tf.train.Checkpoint; the loop's own state
    (iteration, history, the candidates kept so far) in a pickle beside it."""

    def __init__(self, folder: str | Path, trainer) -> None:
        import tensorflow as tf

        self.folder = Path(folder)
        self.checkpoint = tf.train.Checkpoint(generator=trainer.generator, discriminator=trainer.discriminator,
                                              d_optimizer=trainer.d_optimizer, g_optimizer=trainer.g_optimizer, rng=trainer.rng)
        self.state: dict = {}

    def save(self, state: dict) -> None:
        import pickle

        self.folder.mkdir(parents=True, exist_ok=True)
        self.checkpoint.write(str(self.folder / "training"))
        (self.folder / "loop.pkl").write_bytes(pickle.dumps(state))

    def restore(self) -> bool:
        import pickle

        if not (self.folder / "loop.pkl").is_file():
            return False
        self.checkpoint.read(str(self.folder / "training")).expect_partial()
        self.state = pickle.loads((self.folder / "loop.pkl").read_bytes())  # noqa: S301 - written by this job
        return True


def cli(argv: list[str] | None = None) -> int:
    try:
        args, hyper = parse_args(argv)
        hp = Hyperparameters.from_values(hyper)
        summary = main(args.model_dir, args.train, args.validation, hp, args.output_data_dir, args.checkpoint_dir)
    except DataError as exc:
        print(exc.line(), file=sys.stderr, flush=True)
        return 1
    except SystemExit as exc:  # parse_family has printed its one ERROR line
        return int(exc.code or 0)
    print(f"Wrote {len(summary['candidates'])} distinct candidates in {summary['training_seconds']} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(cli())
