"""Drift of newly landed scoring telemetry against the training baseline (a Processing job).

The scoring batch goes through the same feature extraction and the same scaler as training, then each
feature's distribution is compared with the baseline's (Model Monitor statistics.json, written by
preprocess) by its population stability index over the baseline's buckets.

    python3 drift.py --base-dir /opt/ml/processing --model scarcegan [--metric-namespace Retrainer/Drift]

Inputs: input/data/ (part files, any folders), input/baseline/statistics.json and scaler.json.
Output: output/drift/drift.json. Prints `MaxFeaturePSI=<f>;` and, with --metric-namespace, puts it in
CloudWatch (dimension Model), where the stack's drift alarm watches it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scarcegan.errors import DataError
from scarcegan.features import RECENT_WEEKS, extract_features
from scarcegan.inputs import check_columns, check_numeric, read_part
from scarcegan.scaling import Scaler
from scarcegan.schema import ID_COLUMN, TELEMETRY_COLUMNS, WEEK_COLUMN

EPSILON = 1e-4  # an empty bucket counts as this share, so PSI stays finite


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two bucket-count vectors (0: same; > 0.2: a real shift)."""
    e = np.maximum(expected / max(expected.sum(), 1), EPSILON)
    a = np.maximum(actual / max(actual.sum(), 1), EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def feature_psi(values: np.ndarray, buckets: list[dict]) -> float:
    edges = np.array([b["lower_bound"] for b in buckets] + [buckets[-1]["upper_bound"]])
    expected = np.array([b["count"] for b in buckets], dtype=float)
    actual, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
    return psi(expected, actual.astype(float))


def read_scoring(data_dir: Path, base: Path) -> pd.DataFrame:
    files = sorted(p for p in data_dir.rglob("*") if p.is_file() and p.suffix in (".csv", ".parquet") and not p.name.startswith(("_", ".")))
    if not files:
        raise DataError("input/data/", "no scoring data files")
    frames = []
    for path in files:
        shown = str(path.relative_to(base))
        frame = read_part(path, shown)
        check_columns(frame, shown, (ID_COLUMN, WEEK_COLUMN, *TELEMETRY_COLUMNS))
        check_numeric(frame, shown, (WEEK_COLUMN, *TELEMETRY_COLUMNS))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def main(base_dir: str | Path = "/opt/ml/processing", model: str = "model", metric_namespace: str | None = None) -> dict:
    base = Path(base_dir)
    baseline_dir = base / "input" / "baseline"
    for name in ("statistics.json", "scaler.json"):
        if not (baseline_dir / name).is_file():
            raise DataError(f"input/baseline/{name}", "missing (the baseline comes from a successful run's preprocess)")
    scaler = Scaler.load(baseline_dir / "scaler.json")
    statistics = json.loads((baseline_dir / "statistics.json").read_text())
    telemetry = read_scoring(base / "input" / "data", base)
    features = scaler.transform(extract_features(telemetry, TELEMETRY_COLUMNS, scaler.spec.get("recent_weeks", RECENT_WEEKS)))

    per_feature = {
        f["name"]: round(feature_psi(features[f["name"]].to_numpy(), f["numerical_statistics"]["distribution"]["kll"]["buckets"]), 6)
        for f in statistics["features"] if f["name"] in features.columns
    }
    worst = max(per_feature, key=per_feature.get)
    result = {"model": model, "players": int(len(features)), "max_feature_psi": per_feature[worst],
              "feature_of_max": worst, "features": per_feature}
    out = base / "output" / "drift"
    out.mkdir(parents=True, exist_ok=True)
    (out / "drift.json").write_text(json.dumps(result, indent=2))
    print(f"MaxFeaturePSI={per_feature[worst]:.6f}; Feature={worst}; Players={len(features)};", flush=True)
    if metric_namespace:
        import boto3  # in the framework images; credentials are the job role's

        boto3.client("cloudwatch").put_metric_data(Namespace=metric_namespace, MetricData=[{
            "MetricName": "MaxFeaturePSI", "Dimensions": [{"Name": "Model", "Value": model}], "Value": per_feature[worst]}])
    return result


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-dir", default="/opt/ml/processing")
    parser.add_argument("--model", default="model")
    parser.add_argument("--metric-namespace", default=None)
    args, _ = parser.parse_known_args(argv)
    try:
        main(args.base_dir, args.model, args.metric_namespace)
    except DataError as exc:
        print(exc.line(), file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(cli())
