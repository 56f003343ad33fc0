"""Drift of newly landed scoring telemetry against the training baseline (a Processing job).

Superseded by score.py (scores the batch with the approved model and checks drift on the model's own
features against the baseline packaged in its artifact); kept as a thin wrapper over
`scarcegan.drift` until the stack stops starting it.

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

import pandas as pd
from scarcegan.drift import drift_of, feature_psi, psi, put_max_psi
from scarcegan.errors import DataError
from scarcegan.features import RECENT_WEEKS, extract_features
from scarcegan.inputs import check_columns, check_numeric, read_part
from scarcegan.scaling import Scaler
from scarcegan.schema import ID_COLUMN, TELEMETRY_COLUMNS, WEEK_COLUMN

__all__ = ["cli", "feature_psi", "main", "psi", "read_scoring"]


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

    figures = drift_of(features, statistics)
    worst = figures["feature_of_max"]
    if worst is None:
        raise DataError("input/baseline/statistics.json", "shares no feature with the scoring features")
    result = {"model": model, **figures}
    out = base / "output" / "drift"
    out.mkdir(parents=True, exist_ok=True)
    (out / "drift.json").write_text(json.dumps(result, indent=2))
    print(f"MaxFeaturePSI={figures['max_feature_psi']:.6f}; Feature={worst}; Players={len(features)};", flush=True)
    if metric_namespace:
        put_max_psi(metric_namespace, model, figures["max_feature_psi"])
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
