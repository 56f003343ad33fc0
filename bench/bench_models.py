"""Model families side by side: ScarceGAN, the gradient-boosting challenger, evaluate's pick, and a
supervised reference, on the project's own generator (retrainer/synthetic.py), over several seeds.

For each data variant and seed, the real entry points run in-process (preprocess.cli -> train.cli and
train_gb.cli -> evaluate.main, SageMaker paths in a temporary folder):

* ``telemetry``:  weekly rows, heavy-tailed money, categoricals (platform, country, payment method);
* ``featurised``: one row per player (synthetic.featurised_batch: heavy tails, categoricals, gaps).

Each model is measured three ways, PR-AUC and recall at precision >= 0.5:

* ``test``:   evaluate's figures on the run's own test split (~12 risky players: read the spread);
* ``fresh``:  its registered artifact (model.tar.gz, raw rows in) scoring a FRESH labelled batch of
  the same generator (another seed, ~60 risky players, never seen by any step);
* ``shift``:  the same on a fresh batch drawn with ``shift=1`` (more money and activity, a different
  platform mix with an unseen level).

Rows: ``scarcegan (best-f1)``: the ScarceGAN candidate its validation rule calls best-f1 (the kind
that holds it, when it is an alias); ``gradient-boosting``; ``evaluate pick``: evaluate's ``best``
(the champion rule, chosen ON the test split: its test figure is optimistic, its fresh figure is
not); ``logistic (reference)``: scikit-learn LogisticRegression (balanced) on the same scaled
features of the labelled training + validation players.

    .venv/bin/python -m bench.bench_models [--seeds 0,1,2] [--iterations 3000] [--variants telemetry,featurised]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import os
import shutil
import subprocess
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

from retrainer import synthetic  # noqa: E402

MIN_PRECISION = 0.5
CATEGORICALS = "platform,country,payment_method"
MODELS = ("scarcegan (best-f1)", "gradient-boosting", "evaluate pick", "logistic (reference)")
LABELLED = ("risky", "dormant", "normal", "heavy")


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", CONTAINER / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def batch(variant: str, seed: int, shift: float = 0.0) -> dict[str, pd.DataFrame]:
    if variant == "telemetry":
        return synthetic.generate(seed=seed, heavy_tails=True, categoricals=True, shift=shift)
    return synthetic.featurised_batch(seed=seed, shift=shift)


def raw_labelled(groups: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.Series]:
    """The labelled players' raw rows and their truth (risky or not) by player id."""
    rows = pd.concat([groups[g].assign(label=g) for g in LABELLED], ignore_index=True)
    rows["player_id"] = rows["player_id"].astype(str)
    truth = rows.groupby("player_id", sort=False)["label"].first() == "risky"
    return rows, truth


def figures(truth: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    from scarcegan.metrics import average_precision, recall_at_precision

    return {"pr_auc": average_precision(truth, scores),
            "r_at_p": recall_at_precision(truth, scores, MIN_PRECISION)}


def run_one(variant: str, seed: int, iterations: int, root: Path, modules: dict, fresh: dict) -> dict:
    """One pipeline run; returns {model: {test_pr_auc, test_r_at_p, fresh_..., shift_..., kind}}."""
    from scarcegan import artifact, shards
    from sklearn.linear_model import LogisticRegression

    base = root / f"{variant}-{seed}"
    synthetic.write_batch(batch(variant, seed), base / "input" / "data")
    pre = ["--base-dir", str(base), "--split-seed", str(seed)]
    pre += ["--categorical-columns", CATEGORICALS] if variant == "telemetry" else ["--input-format", "features"]
    out = base / "output"
    channels = ["--train", str(out / "train"), "--validation", str(out / "validation")]
    timings = {}
    with contextlib.redirect_stdout(io.StringIO()):
        started = time.perf_counter()
        assert modules["preprocess"].cli(pre) == 0, f"preprocess failed ({variant}, seed {seed})"
        timings["preprocess"] = time.perf_counter() - started
        started = time.perf_counter()
        assert modules["train"].cli(["--iterations", str(iterations), "--seed", str(seed),
                                     "--model-dir", str(base / "m1"), "--output-data-dir", str(base / "o1"),
                                     *channels]) == 0
        timings["train"] = time.perf_counter() - started
        started = time.perf_counter()
        assert modules["train_gb"].cli(["--gb-seed", str(seed), "--model-dir", str(base / "m2"),
                                        "--output-data-dir", str(base / "o2"), *channels]) == 0
        timings["train_gb"] = time.perf_counter() - started
    ev = base / "evaluation"
    for channel, folder in (("model", base / "m1"), ("challenger", base / "m2")):
        (ev / "input" / channel).mkdir(parents=True)
        with tarfile.open(ev / "input" / channel / "model.tar.gz", "w:gz") as tar:
            for path in folder.iterdir():
                tar.add(path, arcname=path.name)
    for channel in ("test", "artifacts"):  # as the state machine stages them (test/*.parquet, _partials)
        shutil.copytree(out / channel, ev / "input" / channel, dirs_exist_ok=True)
    started = time.perf_counter()
    report = modules["evaluate"].main(ev, min_precision=MIN_PRECISION, bootstrap_resamples=200, seed=seed)
    timings["evaluate"] = time.perf_counter() - started

    best_f1 = next(k for k in report["candidates"] if k == "best-f1" or "best-f1" in report[k]["aliases"])
    kinds = {"scarcegan (best-f1)": best_f1, "gradient-boosting": "gradient-boosting",
             "evaluate pick": report["best"]}
    rows: dict[str, dict] = {}
    for label, kind in kinds.items():
        metrics = report[kind]["metrics"]
        rows[label] = {"kind": kind, "test_pr_auc": metrics["pr_auc"]["value"],
                       "test_pr_auc_ci": (metrics["pr_auc"]["low"], metrics["pr_auc"]["high"]),
                       "test_r_at_p": metrics["recall_at_precision"]["value"]}
        scorer = artifact.load(ev / "output" / "models" / kind / "model.tar.gz")
        for name, (raw, truth) in fresh.items():
            scored = scorer.score(raw).set_index("player_id")["score"].reindex(truth.index).to_numpy()
            for key, value in figures(truth.to_numpy(), scored).items():
                rows[label][f"{name}_{key}"] = value

    # Supervised reference on the same features: labelled train + validation players, scaled through
    # the pipeline merged from preprocess's partials (docs/decisions/0400).
    pipeline = shards.load_pipeline(out / "train")
    train = pd.concat([shards.read_split(out / "train", "train", pipeline),
                       shards.read_split(out / "validation", "val", pipeline)], ignore_index=True)
    test = shards.read_split(out / "test", "test", pipeline)
    names = [c for c in test.columns if c not in ("player_id", "label", "fold")]
    reference = LogisticRegression(class_weight="balanced", max_iter=2000, C=1.0)
    reference.fit(train[names].to_numpy(), (train["label"] == "risky").to_numpy())
    test_scores = reference.predict_proba(test[names].to_numpy())[:, 1]
    test_figures = figures((test["label"] == "risky").to_numpy(), test_scores)
    rows["logistic (reference)"] = {"kind": "logistic", "test_pr_auc": test_figures["pr_auc"],
                                    "test_pr_auc_ci": None, "test_r_at_p": test_figures["r_at_p"]}
    for name, (raw, truth) in fresh.items():
        features = pipeline.transform(raw).reindex(truth.index)[names]
        scored = reference.predict_proba(features.to_numpy())[:, 1]
        for key, value in figures(truth.to_numpy(), scored).items():
            rows["logistic (reference)"][f"{name}_{key}"] = value
    rows["_meta"] = {"timings": timings, "register": [r["kind"] for r in report["register"]],
                     "test_positives": report["intervals"]["test_positives"], "best": report["best"]}
    return rows


def _span(values: list[float]) -> str:
    return f"{np.mean(values):.3f} [{min(values):.2f}-{max(values):.2f}]"


def uptime() -> str:
    command = shutil.which("uptime")
    if command is None:
        return f"load average {os.getloadavg()}"
    return subprocess.run([command], capture_output=True, text=True, check=False).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--iterations", type=int, default=3000,
                        help="ScarceGAN iterations (train's default is 6000; 3000 keeps the bench under ~5 min "
                             "on 2 cores)")
    parser.add_argument("--variants", default="telemetry,featurised")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    print(f"uptime before: {uptime()}", flush=True)
    started = time.perf_counter()
    modules = {name: _load(name) for name in ("preprocess", "train", "train_gb", "evaluate")}
    results: dict[str, dict[str, list[dict]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for variant in variants:
            results[variant] = {m: [] for m in MODELS}
            for seed in seeds:
                fresh = {"fresh": raw_labelled(batch(variant, 1000 + seed)),
                         "shift": raw_labelled(batch(variant, 2000 + seed, shift=1.0))}
                run_started = time.perf_counter()
                rows = run_one(variant, seed, args.iterations, root, modules, fresh)
                meta = rows.pop("_meta")
                for model, row in rows.items():
                    results[variant][model].append(row)
                t = meta["timings"]
                print(f"{variant:<10} seed {seed}: {time.perf_counter() - run_started:5.1f} s (preprocess "
                      f"{t['preprocess']:.1f}, train {t['train']:.1f}, train_gb {t['train_gb']:.1f}, evaluate "
                      f"{t['evaluate']:.1f}); {meta['test_positives']} test positives; pick {meta['best']}; "
                      f"registered {meta['register']}", flush=True)
    print()
    print(f"PR-AUC and recall at precision >= {MIN_PRECISION}: mean [min-max] over seeds {seeds}; ScarceGAN "
          f"{args.iterations} iterations; 'test' = the run's own test split, 'fresh'/'shift' = a new labelled "
          "batch scored through the registered artifact (raw rows in)")
    header = (f"{'data':<10} {'model':<22} {'test PR-AUC':>20} {'test R@P':>20} {'fresh PR-AUC':>20} "
              f"{'fresh R@P':>20} {'shift PR-AUC':>20} {'shift R@P':>20}")
    print(header)
    print("-" * len(header))
    for variant, models in results.items():
        for model, rows in models.items():
            cells = [_span([r[k] for r in rows]) for k in ("test_pr_auc", "test_r_at_p", "fresh_pr_auc",
                                                            "fresh_r_at_p", "shift_pr_auc", "shift_r_at_p")]
            print(f"{variant:<10} {model:<22} " + " ".join(f"{c:>20}" for c in cells))
        picks = [r["kind"] for r in models["evaluate pick"]]
        print(f"{variant:<10} evaluate picked: {', '.join(picks)}; ScarceGAN test PR-AUC 90% intervals: "
              + ", ".join(f"[{lo:.2f}, {hi:.2f}]" for lo, hi in (r["test_pr_auc_ci"] for r in models["scarcegan (best-f1)"])))
    print(f"\ntotal {time.perf_counter() - started:.0f} s; uptime after: {uptime()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
