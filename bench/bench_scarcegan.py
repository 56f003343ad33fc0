"""ScarceGAN benchmark: model quality and training-step speed, measured side by side in one run.

Quality: for each data seed, the synthetic batch goes through the real preprocess -> train ->
evaluate main functions; the table shows test-split risky recall / share flagged / precision / F1 /
AUC-PR of the validation-selected candidate (``--kind``, default best-f1) for ScarceGAN, vanilla
SSGAN (same budget) and a supervised-only MLP (same trunk, labelled data, budget and checkpoint
rule), then the mean over seeds.

Speed: iterations/second of the compiled training loop (``ScarceGANTrainer.run``: many iterations
per tf.function call) against a classic Keras ``train_on_batch`` loop over the same generator and
discriminator with the same batch sizes and losses (Python-side sampling, three train_on_batch calls
and two predict_on_batch calls per iteration), plus the compiled step called once per iteration.

    .venv/bin/python -m bench.bench_scarcegan [--seeds 0,1,2] [--iterations 3000] [--no-speed]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[1]
CONTAINER = REPO / "training_containers" / "scarcegan"

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from retrainer.synthetic import generate, write_batch  # noqa: E402

COLUMNS = ("recall", "share_flagged", "precision", "f1", "auc_pr")


def _load(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bench_{name}", CONTAINER / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prepare(seed: int, root: Path) -> Path:
    base = root / f"seed{seed}"
    write_batch(generate(seed=seed), base / "input" / "data")
    _load("preprocess").main(base, split_seed=seed)
    return base


def read_splits(base: Path, *splits: tuple[str, str]) -> dict[str, pd.DataFrame]:
    """Preprocess's sharded splits (``(key, "folder/split")``) as scaled model inputs, through the
    pipeline merged from its partials (docs/decisions/0400), as train.py reads them."""
    from scarcegan import shards

    out = base / "output"
    pipeline = shards.load_pipeline(out / "train")
    frames = {}
    for key, name in splits:
        folder, split = name.split("/")
        frames[key] = shards.read_split(out / folder, split, pipeline)
    return frames


def train_and_evaluate(base: Path, hyper: dict[str, str], kind: str) -> tuple[dict, float]:
    from scarcegan.hyperparameters import Hyperparameters

    train, evaluate = _load("train"), _load("evaluate")
    work = Path(tempfile.mkdtemp(dir=base))
    out = base / "output"
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        summary = train.main(work / "model", out / "train", out / "validation", Hyperparameters.from_strings(hyper))
    seconds = time.perf_counter() - started
    ev = work / "evaluation"
    (ev / "input" / "model").mkdir(parents=True)
    with tarfile.open(ev / "input" / "model" / "model.tar.gz", "w:gz") as tar:
        for path in (work / "model").iterdir():
            tar.add(path, arcname=path.name)
    for channel in ("test", "artifacts"):  # as the state machine stages them (test/*.parquet, _partials)
        shutil.copytree(out / channel, ev / "input" / channel, dirs_exist_ok=True)
    report = evaluate.main(ev, bootstrap_resamples=10)
    # candidates are distinct: the rule asked for may be an alias of another kind
    holder = next(c["kind"] for c in summary["candidates"] if kind in (c["kind"], *c["aliases"]))
    return report[holder], seconds


def supervised_mlp(base: Path, iterations: int, batch_size: int, interval: int, seed: int,
                   learning_rate: float) -> tuple[dict, float]:
    """Same trunk, softmax over the labelled classes, class-balanced batches, best val F1 checkpoint."""
    import keras
    from scarcegan.model import build_classifier, build_discriminator
    from scarcegan.training import label_indices, risky_metrics, sampling_cdf

    frames = read_splits(base, ("train", "train/train"), ("val", "validation/val"), ("test", "test/test"))
    names = [c for c in frames["train"].columns if c not in ("player_id", "label", "fold")]
    x = {n: f[names].to_numpy(np.float32) for n, f in frames.items()}
    y = {n: label_indices(f["label"]) for n, f in frames.items()}
    keras.utils.set_random_seed(seed)
    model = build_classifier(build_discriminator(len(names)))
    model.compile(keras.optimizers.Adam(learning_rate, beta_1=0.5), "sparse_categorical_crossentropy")
    cdf = sampling_cdf(y["train"], balanced=True)
    rng = np.random.default_rng(seed)
    best, best_key = None, None
    started = time.perf_counter()
    for _ in range(iterations // interval):
        idx = np.minimum(np.searchsorted(cdf, rng.random(interval * batch_size), side="right"), len(cdf) - 1)
        model.fit(x["train"][idx], y["train"][idx], batch_size=batch_size, epochs=1, verbose=0, shuffle=False)
        val = risky_metrics(model.predict(x["val"], verbose=0), y["val"])
        if best_key is None or (val["f1"], val["recall"]) > best_key:
            best_key, best = (val["f1"], val["recall"]), model.get_weights()
    seconds = time.perf_counter() - started
    model.set_weights(best)
    from scarcegan.metrics import binary_metrics
    from scarcegan.schema import RISKY_INDEX

    p = model.predict(x["test"], verbose=0)
    return binary_metrics(y["test"] == RISKY_INDEX, p.argmax(1) == RISKY_INDEX, p[:, RISKY_INDEX]), seconds


def quality(seeds: list[int], iterations: int, kind: str, root: Path) -> list[dict]:
    from scarcegan.hyperparameters import Hyperparameters

    defaults = Hyperparameters()
    rows = []
    for seed in seeds:
        base = prepare(seed, root)
        for label, variant in (("scarcegan", "scarcegan"), ("vanilla-ssgan", "vanilla-ssgan")):
            metrics, seconds = train_and_evaluate(
                base, {"iterations": str(iterations), "variant": variant, "seed": str(seed)}, kind)
            rows.append({"model": label, "seed": seed, "train_s": seconds, **{c: metrics[c] for c in COLUMNS}})
            print(_row(rows[-1]), flush=True)
        metrics, seconds = supervised_mlp(base, iterations, defaults.batch_size, defaults.sample_interval,
                                          seed, defaults.learning_rate)
        rows.append({"model": "supervised-mlp", "seed": seed, "train_s": seconds, **{c: metrics[c] for c in COLUMNS}})
        print(_row(rows[-1]), flush=True)
    return rows


def _row(r: dict) -> str:
    seed = r["seed"] if isinstance(r["seed"], str) else f"{r['seed']}"
    return (f"{r['model']:<16} {seed:>5} {r['recall']:>7.3f} {r['share_flagged']:>8.3%} "
            f"{r['precision']:>9.3f} {r['f1']:>6.3f} {r['auc_pr']:>7.3f} {r['train_s']:>8.1f}")


# ---------------------------------------------------------------- speed
def speed(iterations: int, root: Path) -> dict:
    import keras
    import tensorflow as tf
    from scarcegan import losses
    from scarcegan.hyperparameters import Hyperparameters
    from scarcegan.training import ScarceGANTrainer, label_indices, sampling_cdf

    base = root / "seed0"
    if not (base / "output").exists():
        base = prepare(0, root)
    frames = read_splits(base, ("train", "train/train"), ("unlabeled", "train/unlabeled"))
    train, unlabeled = frames["train"], frames["unlabeled"]
    names = [c for c in train.columns if c not in ("player_id", "label", "fold")]
    x, y, xu = train[names].to_numpy(np.float32), label_indices(train["label"]), unlabeled[names].to_numpy(np.float32)
    hp = Hyperparameters()
    results = {}

    trainer = ScarceGANTrainer(hp, x, y, xu)
    trainer.run(np.int32(hp.sample_interval))  # trace + warm up
    started = time.perf_counter()
    done = 0
    while done < iterations:
        trainer.run(np.int32(hp.sample_interval))
        done += hp.sample_interval
    results["compiled loop (tf.function, run(n))"] = done / (time.perf_counter() - started)

    trainer = ScarceGANTrainer(hp, x, y, xu)
    trainer.run(np.int32(1))
    started = time.perf_counter()
    for _ in range(iterations):
        trainer.run(np.int32(1))
    results["compiled step (tf.function, one call per iteration)"] = iterations / (time.perf_counter() - started)

    # Classic Keras loop over the same models, batch sizes and losses.
    keras.utils.set_random_seed(hp.seed)
    legacy = ScarceGANTrainer(hp, x, y, xu)  # fresh generator/discriminator with the same shapes
    g, d = legacy.generator, legacy.discriminator
    alpha, beta, pw = hp.effective_alpha, hp.effective_beta, hp.effective_pull_away_weight
    sup_model = keras.Model(d.inputs, d.outputs[0])
    unsup_model = keras.Model(d.inputs, d.outputs[1])
    feature_model = keras.Model(d.inputs, d.outputs[2])

    def sup_loss(labels, logits):
        labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
        return losses.supervised_loss(labels, logits, alpha, beta) * tf.ones_like(logits[:, 0])

    def unsup_loss(targets, logits):
        return tf.nn.softmax_cross_entropy_with_logits(targets, logits)

    def fm_loss(real_features, fake_features):
        return losses.bad_generator_loss(real_features, fake_features, pw) * tf.ones_like(fake_features[:, 0])

    sup_model.compile(keras.optimizers.Adam(hp.learning_rate, beta_1=hp.adam_beta1), sup_loss)
    unsup_model.compile(keras.optimizers.Adam(hp.learning_rate, beta_1=hp.adam_beta1), unsup_loss)
    for layer in d.layers:
        layer.trainable = False
    z_in = keras.Input((hp.latent_dim,))
    combined = keras.Model(z_in, feature_model(g(z_in)))
    combined.compile(keras.optimizers.Adam(hp.generator_learning_rate, beta_1=hp.adam_beta1), fm_loss)
    for layer in d.layers:
        layer.trainable = True

    cdf = sampling_cdf(y, hp.effective_balanced_batches)
    rng = np.random.default_rng(hp.seed)
    real_t = np.tile([alpha, 1 - alpha, 0.0], (hp.unlabeled_batch_size, 1)).astype(np.float32)
    fake_t = np.tile([0.0, 0.0, 1.0], (hp.unlabeled_batch_size, 1)).astype(np.float32)

    def legacy_iteration():
        idx = np.minimum(np.searchsorted(cdf, rng.random(hp.batch_size), side="right"), len(cdf) - 1)
        xu_b = xu[rng.integers(0, len(xu), hp.unlabeled_batch_size)]
        z = rng.normal(size=(hp.unlabeled_batch_size, hp.latent_dim)).astype(np.float32)
        fake = g.predict_on_batch(z)
        sup_model.train_on_batch(x[idx], y[idx])
        unsup_model.train_on_batch(np.concatenate([xu_b, fake]), np.concatenate([real_t, fake_t]))
        real_features = feature_model.predict_on_batch(xu_b)
        z = rng.normal(size=(hp.unlabeled_batch_size, hp.latent_dim)).astype(np.float32)
        combined.train_on_batch(z, real_features)

    for _ in range(20):
        legacy_iteration()
    n_legacy = max(iterations // 10, 50)
    started = time.perf_counter()
    for _ in range(n_legacy):
        legacy_iteration()
    results["Keras train_on_batch loop"] = n_legacy / (time.perf_counter() - started)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--iterations", type=int, default=None, help="training budget (default: train's default)")
    parser.add_argument("--kind", default="best-f1", help="candidate reported for the GAN variants")
    parser.add_argument("--speed-iterations", type=int, default=2000)
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--no-quality", action="store_true")
    args = parser.parse_args(argv)
    from scarcegan.hyperparameters import Hyperparameters

    iterations = args.iterations or Hyperparameters().iterations
    seeds = [int(s) for s in args.seeds.split(",")]
    summary: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if not args.no_quality:
            print(f"Quality on the test split ({args.kind} candidate; MLP: best validation F1), "
                  f"{iterations} iterations, batch {Hyperparameters().batch_size}")
            print(f"{'model':<16} {'seed':>5} {'recall':>7} {'flagged':>8} {'precision':>9} {'f1':>6} "
                  f"{'auc_pr':>7} {'train_s':>8}")
            rows = quality(seeds, iterations, args.kind, root)
            frame = pd.DataFrame(rows)
            means = frame.groupby("model", sort=False)[[*COLUMNS, "train_s"]].mean()
            print("-" * 72)
            for model, m in means.iterrows():
                print(_row({"model": model, "seed": "mean", **m.to_dict()}))
            gain = means.loc["scarcegan", "recall"] - means.loc["vanilla-ssgan", "recall"]
            print(f"ScarceGAN - vanilla SSGAN recall: {gain * 100:+.1f} points (target >= +15); "
                  f"ScarceGAN mean recall {means.loc['scarcegan', 'recall']:.3f} at "
                  f"{means.loc['scarcegan', 'share_flagged']:.2%} flagged (target >= 0.85 at <= 3%)")
            summary["quality"] = {m: v.to_dict() for m, v in means.iterrows()}
        if not args.no_speed:
            results = speed(args.speed_iterations, root)
            print("\nTraining speed (iterations/s, same model and batch sizes, one process, side by side)")
            for name, rate in results.items():
                print(f"  {name:<52} {rate:>9.1f}")
            ratio = results["compiled loop (tf.function, run(n))"] / results["Keras train_on_batch loop"]
            step_ratio = (results["compiled step (tf.function, one call per iteration)"]
                          / results["Keras train_on_batch loop"])
            print(f"  speed ratio compiled loop / train_on_batch: {ratio:.1f}x (target >= 3x); "
                  f"compiled step alone: {step_ratio:.1f}x")
            summary["speed"] = {**results, "ratio": ratio, "step_ratio": step_ratio}
    print(json.dumps(summary, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
