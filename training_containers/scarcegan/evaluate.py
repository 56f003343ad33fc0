"""Processing job: score every candidate on the test split, write quality JSON and packages.

Contract: training_containers/README.md (evaluate.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from scarcegan.errors import DataError
from scarcegan.metrics import binary_metrics, curve_points
from scarcegan.model_quality import model_quality_statistics
from scarcegan.schema import ID_COLUMN, LABEL_COLUMN, LABELLED_GROUPS, POSITIVE_CLASS

REPORT_KEYS = ("iteration", "precision", "recall", "f1", "auc_pr", "auc_roc", "share_flagged",
               "rare_class_recall", "tp", "fp", "tn", "fn", "n")
BEST_RULE = ("highest test risky recall among candidates flagging at most max_flagged_share of "
             "players (ties: higher precision); if none qualifies, highest F1")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-dir", default="/opt/ml/processing")
    parser.add_argument("--bootstrap-resamples", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-flagged-share", type=float, default=0.03)
    args, _unknown = parser.parse_known_args(argv)
    return args


def unpack_model(archive: Path, into: Path, shown: str) -> Path:
    if not archive.is_file():
        raise DataError(shown, "missing (the training job's model.tar.gz)")
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise DataError(shown, f"cannot be unpacked: {exc}") from None
    return into


def candidate_dirs(model_root: Path, shown: str) -> dict[str, Path]:
    listing = model_root / "candidates.json"
    if listing.is_file():
        kinds = [c["kind"] for c in json.loads(listing.read_text())["candidates"]]
    else:
        kinds = sorted(p.parent.name for p in model_root.glob("*/model.keras"))
    found = {k: model_root / k for k in kinds if (model_root / k / "model.keras").is_file()}
    if not found:
        raise DataError(shown, "contains no candidate (<kind>/model.keras)")
    return found


def pick_best(report: dict[str, dict], max_flagged_share: float) -> str:
    within = {k: m for k, m in report.items() if m["share_flagged"] <= max_flagged_share}
    if within:
        return max(within, key=lambda k: (within[k]["recall"], within[k]["precision"]))
    return max(report, key=lambda k: (report[k]["f1"], report[k]["recall"]))


def main(base_dir: str | Path = "/opt/ml/processing", bootstrap_resamples: int = 30,
         seed: int = 0, max_flagged_share: float = 0.03) -> dict:
    """Evaluate every candidate; returns evaluation.json's content. Raises DataError on bad input."""
    import keras

    base = Path(base_dir)
    test_path = base / "input" / "test" / "test.csv"
    scaler_path = base / "input" / "artifacts" / "scaler.json"
    if not test_path.is_file():
        raise DataError("input/test/test.csv", "missing (run preprocess first)")
    if not scaler_path.is_file():
        raise DataError("input/artifacts/scaler.json", "missing (run preprocess first)")
    try:
        test = pd.read_csv(test_path, dtype={ID_COLUMN: str, LABEL_COLUMN: str}, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError("input/test/test.csv", "is empty (no header, no rows)") from None
    unknown = sorted(set(test[LABEL_COLUMN]) - set(LABELLED_GROUPS))
    if test.empty or unknown:
        raise DataError("input/test/test.csv", "has no rows" if test.empty else f"unknown label(s) {unknown}")
    truth = (test[LABEL_COLUMN] == POSITIVE_CLASS).to_numpy()
    evaluation_time = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    out = base / "output"
    report: dict[str, dict] = {}
    curves: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        model_root = unpack_model(base / "input" / "model" / "model.tar.gz", Path(tmp),
                                  "input/model/model.tar.gz")
        for kind, folder in candidate_dirs(model_root, "input/model/model.tar.gz").items():
            metadata = json.loads((folder / "metadata.json").read_text())
            names = metadata["feature_names"]
            missing = [c for c in names if c not in test.columns]
            if missing:
                raise DataError("input/test/test.csv", f"missing feature column(s) {missing[:5]} "
                                                        f"that candidate {kind} expects")
            model = keras.models.load_model(folder / "model.keras", compile=False)
            probabilities = np.asarray(model.predict(test[names].to_numpy(np.float32), verbose=0))
            classes = metadata["class_order"]
            risky = classes.index(POSITIVE_CLASS)
            flagged = probabilities.argmax(axis=1) == risky
            scores = probabilities[:, risky]

            quality = model_quality_statistics(truth, flagged, scores, evaluation_time,
                                               bootstrap_resamples, seed)
            _write_json(out / "quality" / kind / "statistics.json", quality)
            _package(out / "models" / kind / "model.tar.gz", folder, scaler_path)

            m = binary_metrics(truth, flagged, scores)
            curves[kind] = curve_points(truth, scores)
            predicted = np.array(classes)[probabilities.argmax(axis=1)]
            per_class = {g: float((predicted[test[LABEL_COLUMN] == g] == g).mean())
                         for g in LABELLED_GROUPS if (test[LABEL_COLUMN] == g).any()}
            report[kind] = {
                "iteration": metadata["iteration"],
                **{k: m[k] for k in ("precision", "recall", "f1", "auc_pr", "auc_roc",
                                     "share_flagged", "tp", "fp", "tn", "fn", "n")},
                "rare_class_recall": m["recall"],
                "per_class_recall": per_class,
                "confusion_matrix": {"0": {"0": m["tn"], "1": m["fp"]}, "1": {"0": m["fn"], "1": m["tp"]}},
                "rule": metadata.get("rule", ""),
                "quality_statistics": f"quality/{kind}/statistics.json",
                "model_package": f"models/{kind}/model.tar.gz",
            }

    best = pick_best(report, max_flagged_share)
    # "summary": the best candidate's figures at fixed paths, for the state machine's quality gate
    summary = {"best": best, **{key: report[best][key] for key in ("recall", "precision", "f1", "share_flagged")}}
    evaluation = {**report, "best": best, "summary": summary}
    _write_json(out / "report" / "evaluation.json", evaluation)
    _write_json(out / "report" / "curves.json", curves)
    rows = [{"kind": k, **{key: v[key] for key in REPORT_KEYS}, "best": k == best} for k, v in report.items()]
    pd.DataFrame(rows).to_csv(out / "report" / "evaluation.csv", index=False)
    return evaluation


def _write_json(path: Path, content: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2))


def _package(archive: Path, folder: Path, scaler: Path) -> None:
    """One deployable artifact: model.keras + metadata.json + scaler.json at the archive root."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for path in (folder / "model.keras", folder / "metadata.json", scaler):
            tar.add(path, arcname=path.name)


def cli(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        evaluation = main(args.base_dir, args.bootstrap_resamples, args.seed, args.max_flagged_share)
    except DataError as exc:
        print(exc.line(), file=sys.stderr, flush=True)
        return 1
    best = evaluation["best"]
    print(json.dumps({"best": best, "recall": evaluation[best]["recall"],
                      "share_flagged": evaluation[best]["share_flagged"]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(cli())
