"""Processing job: landing batch -> validated, featurised, split and scaled CSVs.

Inputs and outputs follow training_containers/README.md (preprocess.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scarcegan.baseline_statistics import baseline_statistics
from scarcegan.errors import DataError
from scarcegan.features import RECENT_WEEKS, STATISTICS, extract_features
from scarcegan.inputs import part_files, read_batch
from scarcegan.scaling import Scaler
from scarcegan.schema import (
    GROUPS,
    ID_COLUMN,
    INPUT_FORMATS,
    LABEL_COLUMN,
    LABELLED_GROUPS,
    TELEMETRY_COLUMNS,
    UNLABELED_GROUP,
    WEEK_COLUMN,
)
from scarcegan.splits import assign_folds, stratified_split
from scarcegan.tabular import categorical_levels, column_kinds, encode


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-dir", default="/opt/ml/processing")
    parser.add_argument("--input-format", default="telemetry", choices=INPUT_FORMATS)
    parser.add_argument("--val-fraction", type=float, default=0.2)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--recent-weeks", type=int, default=RECENT_WEEKS)
    args, _unknown = parser.parse_known_args(argv)
    return args


def main(base_dir: str | Path = "/opt/ml/processing", input_format: str = "telemetry",
         val_fraction: float = 0.2, test_fraction: float = 0.2, folds: int = 5, seed: int = 0,
         recent_weeks: int = RECENT_WEEKS) -> dict:
    """Run the step; returns the data-quality report. Raises DataError on bad input."""
    base = Path(base_dir)
    if not (0 <= val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise DataError("arguments", "--val-fraction and --test-fraction must be in [0, 1) "
                                     "with a sum below 1 and a test fraction above 0")
    if folds < 2:
        raise DataError("arguments", f"--folds must be >= 2, got {folds}")
    data_dir = base / "input" / "data"
    groups = read_batch(data_dir, base, input_format)

    if input_format == "telemetry":
        features = {g: extract_features(f, TELEMETRY_COLUMNS, recent_weeks) for g, f in groups.items()}
        spec = {"telemetry_columns": list(TELEMETRY_COLUMNS), "statistics": list(STATISTICS),
                "recent_weeks": recent_weeks}
    else:
        features, spec = _encode_feature_groups(groups, base, data_dir)

    labelled = pd.concat(
        [features[g].assign(**{LABEL_COLUMN: g}) for g in LABELLED_GROUPS])
    labels = labelled[LABEL_COLUMN].to_numpy()
    split = stratified_split(labels, val_fraction, test_fraction, seed)
    unlabeled = features[UNLABELED_GROUP]

    feature_cols = [c for c in labelled.columns if c != LABEL_COLUMN]
    train_mask = split == "train"
    scaler = Scaler.fit(pd.concat([labelled.loc[train_mask, feature_cols], unlabeled[feature_cols]]),
                        input_format, spec)

    def table(frame: pd.DataFrame, label: np.ndarray | str) -> pd.DataFrame:
        scaled = scaler.transform(frame[feature_cols])
        scaled.insert(0, LABEL_COLUMN, label)
        return scaled.reset_index()

    out = base / "output"
    written = {
        "train/train.csv": table(labelled[train_mask], labels[train_mask]),
        "train/unlabeled.csv": table(unlabeled, ""),
        "validation/val.csv": table(labelled[split == "validation"], labels[split == "validation"]),
        "test/test.csv": table(labelled[split == "test"], labels[split == "test"]),
    }
    for name, frame in written.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False, float_format="%.6g")

    artifacts = out / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    scaler.save(artifacts / "scaler.json")
    train_labels = labels[train_mask]
    pd.DataFrame({ID_COLUMN: labelled.index[train_mask], LABEL_COLUMN: train_labels,
                  "fold": assign_folds(train_labels, folds, seed)}).to_csv(
        artifacts / "folds.csv", index=False)
    baseline = pd.concat([written["train/train.csv"], written["train/unlabeled.csv"]])[feature_cols]
    (artifacts / "statistics.json").write_text(json.dumps(baseline_statistics(baseline), indent=2))
    report = _quality_report(groups, base, data_dir, input_format, written, feature_cols, seed)
    (artifacts / "data_quality.json").write_text(json.dumps(report, indent=2))
    return report


def _encode_feature_groups(groups: dict[str, pd.DataFrame], base: Path,
                           data_dir: Path) -> tuple[dict[str, pd.DataFrame], dict]:
    reference = groups[LABELLED_GROUPS[0]]
    numeric, categorical = column_kinds(reference)
    if not numeric and not categorical:
        raise DataError(str(part_files(data_dir / LABELLED_GROUPS[0])[0].relative_to(base)),
                        "no feature columns besides player_id")
    for group, frame in groups.items():
        n, c = column_kinds(frame)
        if set(n) != set(numeric) or set(c) != set(categorical):
            raise DataError(str(part_files(data_dir / group)[0].relative_to(base)),
                            f"columns differ from group {LABELLED_GROUPS[0]}: expected numeric "
                            f"{sorted(numeric)} and categorical {sorted(categorical)}")
    levels = categorical_levels(pd.concat(groups.values()), categorical)
    encoded = {g: encode(f, numeric, levels) for g, f in groups.items()}
    return encoded, {"numeric_columns": numeric, "categorical_levels": levels}


def _quality_report(groups: dict[str, pd.DataFrame], base: Path, data_dir: Path,
                    input_format: str, written: dict[str, pd.DataFrame],
                    feature_cols: list[str], seed: int) -> dict:
    report: dict = {"input_format": input_format, "seed": seed, "groups": {}, "splits": {},
                    "n_features": len(feature_cols), "warnings": []}
    for group in GROUPS:
        frame = groups[group]
        entry = {"files": [str(p.relative_to(base)) for p in part_files(data_dir / group)],
                 "rows": int(len(frame)), "players": int(frame[ID_COLUMN].nunique())}
        if input_format == "telemetry":
            weeks = frame.groupby(ID_COLUMN)[WEEK_COLUMN].nunique()
            all_weeks = int(frame[WEEK_COLUMN].nunique())
            entry["weeks"] = {"min": int(frame[WEEK_COLUMN].min()),
                              "max": int(frame[WEEK_COLUMN].max()), "distinct": all_weeks}
            entry["players_with_missing_weeks"] = int((weeks < all_weeks).sum())
            negative = {c: int((frame[c] < 0).sum()) for c in TELEMETRY_COLUMNS
                        if c != "net_loss" and (frame[c] < 0).any()}
            if negative:
                entry["negative_values"] = negative
                report["warnings"].append(f"{group}: negative values in {sorted(negative)}")
            if entry["players_with_missing_weeks"]:
                report["warnings"].append(
                    f"{group}: {entry['players_with_missing_weeks']} player(s) miss some weeks")
        report["groups"][group] = entry
    for name, frame in written.items():
        counts = frame[LABEL_COLUMN].replace("", UNLABELED_GROUP).value_counts()
        report["splits"][name] = {str(k): int(v) for k, v in counts.items()}
    return report


def cli(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = main(args.base_dir, args.input_format, args.val_fraction, args.test_fraction,
                      args.folds, args.seed, args.recent_weeks)
    except DataError as exc:
        print(exc.line(), file=sys.stderr, flush=True)
        return 1
    print(json.dumps({"splits": report["splits"], "warnings": report["warnings"]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(cli())
