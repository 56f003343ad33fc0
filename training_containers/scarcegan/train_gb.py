"""Training job (script mode): the gradient-boosting challenger on the labelled rows, risky vs rest.

Contract: training_containers/README.md (train_gb.py). Channels `train` (train.csv with its `fold`
column) and `validation` (val.csv, added to the training rows and dealt over the folds); hyperparameters
are parameters.json's "gradient-boosting" family (``--gb-*``), from arguments and/or
hyperparameters.json; any other name is refused. Writes ``SM_MODEL_DIR/gradient-boosting/``
(``model.joblib``, ``metadata.json``) and ``SM_MODEL_DIR/candidates.json``, and prints
``Name=value;`` metric lines (per fold, then the cross-validated summary).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scarcegan import shards
from scarcegan.artifact import SCORE_DEFINITIONS
from scarcegan.errors import DataError
from scarcegan.gradient_boosting import CV_MIN_PRECISION, cross_validate, fit, stratified_folds
from scarcegan.hyperparameters import config_file_arguments
from scarcegan.parameters import parse_family
from scarcegan.schema import ID_COLUMN, LABEL_COLUMN, POSITIVE_CLASS

FAMILY = KIND = "gradient-boosting"
FOLD_COLUMN = "fold"
NON_FEATURE_COLUMNS = (ID_COLUMN, LABEL_COLUMN, FOLD_COLUMN)
DEFAULT_FOLDS = 5
THRESHOLD_RULE = "the threshold with the highest F1 over all out-of-fold scores"
FOLD_LINE = "Fold={fold}; Fold_PR_AUC={pr_auc:.6f}; Fold_Recall={recall:.6f}; Fold_Precision={precision:.6f};"
SUMMARY_LINE = ("CV_PR_AUC={pr_auc[mean]:.6f}; CV_PR_AUC_Std={pr_auc[std]:.6f}; CV_ROC_AUC={roc_auc[mean]:.6f}; "
                "CV_Recall={recall[mean]:.6f}; CV_Recall_Std={recall[std]:.6f}; CV_Precision={precision[mean]:.6f}; "
                "CV_F1={f1[mean]:.6f}; CV_Recall_At_Precision={recall_at_precision[mean]:.6f}; "
                "Threshold={threshold:.6f};")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
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
    parser.add_argument("--output-data-dir", default=os.environ.get("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data"))
    parser.add_argument("--config-dir", default=default_config)
    return parse_family(FAMILY, config_file_arguments(known.config_dir) + argv, parser)


def params_of(args: argparse.Namespace) -> dict:
    from scarcegan.parameters import family_defaults

    return {name: getattr(args, name) for name in family_defaults(FAMILY)}


def read_split(folder: Path, name: str, pipeline=None) -> pd.DataFrame:
    """A labelled preprocess split as scaled model inputs (Parquet shards, merged pipeline)."""
    return shards.load_split(folder, name, pipeline, labelled=True)


def main(model_dir: str | Path, train_dir: str | Path, validation_dir: str | Path | None, params: dict,
         output_data_dir: str | Path | None = None) -> dict:
    """Cross-validate, refit on every labelled row, write the candidate; returns candidates.json."""
    import joblib
    import sklearn

    started = time.perf_counter()
    train_path = Path(train_dir) / "train-*.parquet"
    pipeline = shards.pipeline_for(train_dir)
    train = read_split(Path(train_dir), "train", pipeline)
    feature_names = [c for c in train.columns if c not in NON_FEATURE_COLUMNS]
    if not feature_names:
        raise DataError(str(train_path), "has no feature columns")
    if FOLD_COLUMN in train.columns:
        folds = pd.to_numeric(train[FOLD_COLUMN], errors="coerce")
        if folds.isna().any():
            raise DataError(str(train_path), f"column {FOLD_COLUMN} has non-integer values")
        folds = folds.astype(int).to_numpy()
        fold_source = "train split fold column"
    else:
        folds = stratified_folds(train[LABEL_COLUMN].to_numpy() == POSITIVE_CLASS, DEFAULT_FOLDS, params["gb_seed"])
        fold_source = f"{DEFAULT_FOLDS} stratified folds drawn here (the train split has no fold column)"
    frames, validation_rows = [train], 0
    val_path = Path(validation_dir) / "val-*.parquet" if validation_dir else None
    if validation_dir and (shards.split_files(validation_dir, "val") or (Path(validation_dir) / "val.csv").is_file()):
        val = read_split(Path(validation_dir), "val", pipeline)
        missing = [c for c in feature_names if c not in val.columns]
        if missing:
            raise DataError(str(val_path), f"missing feature column(s) {missing[:5]}")
        fold_ids = np.unique(folds)
        dealt = stratified_folds(val[LABEL_COLUMN].to_numpy() == POSITIVE_CLASS, len(fold_ids), params["gb_seed"])
        folds = np.r_[folds, fold_ids[dealt]]
        frames.append(val)
        validation_rows = len(val)
    rows = pd.concat([f[[ID_COLUMN, LABEL_COLUMN, *feature_names]] for f in frames], ignore_index=True)
    x = rows[feature_names].to_numpy(np.float32)
    y = (rows[LABEL_COLUMN] == POSITIVE_CLASS).to_numpy()
    if y.sum() < 2:
        raise DataError(str(train_path), f"needs at least 2 risky players, has {int(y.sum())}")
    if len(np.unique(folds)) < 2:
        raise DataError(str(train_path), "needs at least 2 folds for cross-validation")

    cv = cross_validate(x, y, folds, params, on_fold=lambda row: print(FOLD_LINE.format(**row), flush=True))
    cv_summary = cv.summary()
    print(SUMMARY_LINE.format(threshold=cv.threshold, **cv_summary), flush=True)
    model = fit(params, x, y)
    seconds = time.perf_counter() - started

    folder = Path(model_dir) / KIND
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "model.joblib")
    metadata = {
        "family": FAMILY, "kind": KIND, "aliases": [],
        "rule": "HistGradientBoostingClassifier refitted on every labelled player after cross-validation",
        "iteration": int(model[-1].n_iter_),
        "positive_class": POSITIVE_CLASS,
        "score_definition": SCORE_DEFINITIONS[FAMILY],
        "threshold": cv.threshold,
        "threshold_rule": THRESHOLD_RULE,
        "decision_rule": {"type": "threshold", "positive_class": POSITIVE_CLASS, "threshold": cv.threshold,
                          "description": f"flag a player when score >= threshold ({THRESHOLD_RULE})"},
        "input": "scaled features in feature_names order (pipeline.json from preprocess)",
        "feature_names": feature_names,
        "cv": cv_summary, "cv_folds": cv.folds, "cv_min_precision": CV_MIN_PRECISION, "fold_source": fold_source,
        "training_rows": {"players": int(len(y)), "risky": int(y.sum()), "from_validation": validation_rows},
        "hyperparameters": params,
        "sklearn_version": sklearn.__version__,
    }
    (folder / "metadata.json").write_text(json.dumps(metadata, indent=2))
    summary = {"family": FAMILY, "positive_class": POSITIVE_CLASS, "training_seconds": round(seconds, 3),
               "candidates": [{"kind": KIND, "family": FAMILY, "aliases": [], "rule": metadata["rule"],
                               "iteration": metadata["iteration"], "threshold": cv.threshold, "cv": cv_summary,
                               "path": f"{KIND}/model.joblib"}]}
    Path(model_dir, "candidates.json").write_text(json.dumps(summary, indent=2))
    if output_data_dir:
        out = Path(output_data_dir)
        out.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({ID_COLUMN: rows[ID_COLUMN], LABEL_COLUMN: rows[LABEL_COLUMN], FOLD_COLUMN: folds,
                      "oof_score": cv.oof_scores}).to_csv(out / "oof.csv", index=False)
    return summary


def cli(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        summary = main(args.model_dir, args.train, args.validation, params_of(args), args.output_data_dir)
    except DataError as exc:
        print(exc.line(), file=sys.stderr, flush=True)
        return 1
    except SystemExit as exc:  # parse_family has printed its one ERROR line
        return int(exc.code or 0)
    print(f"Wrote the {KIND} candidate in {summary['training_seconds']} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(cli())
