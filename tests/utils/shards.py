"""Reading a preprocess's sharded outputs and comparing two of them (unit and integration tests)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scarcegan import shards

SPLITS = ("train/train", "train/unlabeled", "validation/val", "test/test")


def read_output(out, name: str) -> pd.DataFrame:
    """A preprocess output folder's split as scaled model inputs (``train/train``, ``train/unlabeled``,
    ``validation/val``, ``test/test``), or the test players' landed rows (``test/raw``)."""
    out = Path(out)
    folder, split = name.removesuffix(".csv").removesuffix(".parquet").split("/")
    if split == "raw":
        return pd.concat([pd.read_parquet(p) for p in shards.split_files(out / folder, "raw")],
                         ignore_index=True)
    return shards.read_split(out / folder, split, shards.load_pipeline(out / "train"))


def assert_same_outputs(one: Path, many: Path) -> None:
    a = json.loads((one / "artifacts/pipeline.json").read_text())
    b = json.loads((many / "artifacts/pipeline.json").read_text())
    for key in ("feature_names", "numeric_columns", "categorical_levels", "medians", "heavy_tail"):
        assert a[key] == b[key], key
    np.testing.assert_allclose(a["scaler"]["mean"], b["scaler"]["mean"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a["scaler"]["scale"], b["scaler"]["scale"], rtol=1e-9)
    assert json.loads((one / "artifacts/statistics.json").read_text()) == \
        json.loads((many / "artifacts/statistics.json").read_text())
    for name in SPLITS:
        x = read_output(one, name).sort_values("player_id", ignore_index=True)
        y = read_output(many, name).sort_values("player_id", ignore_index=True)
        assert len(x) and list(x.columns) == list(y.columns), name
        pd.testing.assert_frame_equal(x, y, check_exact=False, rtol=1e-5, atol=1e-6)
    raw_x = read_output(one, "test/raw").sort_values(["player_id", *read_output(one, "test/raw").columns[2:3]],
                                                      ignore_index=True)
    raw_y = read_output(many, "test/raw").sort_values(["player_id", *raw_x.columns[2:3]], ignore_index=True)
    pd.testing.assert_frame_equal(raw_x, raw_y)
    qa = json.loads((one / "artifacts/data_quality.json").read_text())
    qb = json.loads((many / "artifacts/data_quality.json").read_text())
    assert qa["splits"] == qb["splits"] and qa["folds"] == qb["folds"]
    assert {g: e["players"] for g, e in qa["groups"].items()} == {g: e["players"] for g, e in qb["groups"].items()}


