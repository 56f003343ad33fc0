"""preprocess.py: outputs on good data; one clear ERROR line per kind of bad data."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.unit.containers.conftest import read_output

GROUP_FILE = "input/data/{}/part-00000.csv"


def _edit(base, group, change):
    path = base / GROUP_FILE.format(group)
    frame = pd.read_csv(path, dtype={"player_id": str})
    changed = change(frame)
    (frame if changed is None else changed).to_csv(path, index=False)


def _run_and_expect_error(preprocess, base, capsys):
    code = preprocess.cli(["--base-dir", str(base)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and err[0].startswith("ERROR: ")
    return err[0]


def test_good_batch_writes_every_contract_file(preprocess, landing):
    report = preprocess.main(landing)
    out = landing / "output"
    shard = "00000-of-00001"
    for name in (f"train/train-{shard}.parquet", f"train/unlabeled-{shard}.parquet",
                 f"validation/val-{shard}.parquet", f"test/test-{shard}.parquet", f"test/raw-{shard}.parquet",
                 f"train/_partials/{shard}.json", f"artifacts/_partials/{shard}.json",
                 "artifacts/pipeline.json", "artifacts/scaler.json", "artifacts/folds.csv",
                 "artifacts/data_quality.json", "artifacts/statistics.json"):
        assert (out / name).is_file(), name
    train = read_output(out, "train/train")
    assert list(train.columns[:3]) == ["player_id", "label", "fold"]
    assert set(read_output(out, "train/unlabeled")["label"]) == {""}
    for split in ("train/train", "validation/val", "test/test"):
        labels = set(read_output(out, split)["label"])
        assert "risky" in labels, f"the hash split keeps the rare class in {split} here"
    # the scaler is fitted on the training data: train + unlabeled features are standardised
    features = [c for c in train.columns if c not in ("player_id", "label", "fold")]
    both = pd.concat([train, read_output(out, "train/unlabeled")])[features]
    np.testing.assert_allclose(both.mean().to_numpy(), 0.0, atol=1e-4)
    stats = json.loads((out / "artifacts/statistics.json").read_text())
    assert stats["dataset"]["item_count"] == len(both)
    first = stats["features"][0]
    assert first["inferred_type"] == "Fractional"
    assert {"common", "mean", "sum", "std_dev", "min", "max", "distribution"} <= set(
        first["numerical_statistics"])
    assert report["groups"]["risky"]["players"] == 15


def test_features_input_format_one_hot_encodes_categoricals(preprocess, tmp_path, tiny_batch):
    from retrainer.synthetic import featurised, write_batch

    write_batch(featurised(tiny_batch), tmp_path / "input" / "data")
    preprocess.main(tmp_path, input_format="features")
    columns = read_output(tmp_path / "output", "train/train").columns
    assert "platform=ios" in columns and "region=north" in columns
    assert "avg_sessions" in columns


@pytest.mark.parametrize("group, change, problem", [
    ("normal", lambda f: f.drop(columns=["deposits"]), "missing column(s) deposits"),
    ("heavy", lambda f: f.__setitem__("sessions", f["sessions"].astype(object).where(
        f.index != 3, "lots")), "column sessions has non-numeric value 'lots'"),
    ("dormant", lambda f: f.loc.__setitem__((5, "net_loss"), np.nan), "column net_loss has 1 missing/NaN"),
    ("normal", lambda f: f.loc.__setitem__((2, "deposit_amount"), np.inf), "column deposit_amount has 1 infinite"),
    ("risky", lambda f: f.loc.__setitem__((1, "week"), f.loc[0, "week"]), "duplicate player-week row"),
])
def test_bad_values_name_the_file_and_problem(preprocess, landing, capsys, group, change, problem):
    _edit(landing, group, change)
    line = _run_and_expect_error(preprocess, landing, capsys)
    assert line.startswith(f"ERROR: {GROUP_FILE.format(group)}: ")
    assert problem in line


def test_empty_group_is_an_error(preprocess, landing, capsys):
    (landing / GROUP_FILE.format("heavy")).unlink()
    line = _run_and_expect_error(preprocess, landing, capsys)
    assert line == "ERROR: input/data/heavy/: no data files (group is empty)"


def test_header_only_group_is_an_error(preprocess, landing, capsys):
    _edit(landing, "dormant", lambda f: f.iloc[:0])
    assert "no rows (group is empty)" in _run_and_expect_error(preprocess, landing, capsys)


def test_no_risky_labels_is_an_error(preprocess, landing, capsys):
    _edit(landing, "risky", lambda f: f.iloc[:0])
    line = _run_and_expect_error(preprocess, landing, capsys)
    assert line.startswith("ERROR: input/data/risky/: no risky labels")


def test_player_in_two_groups_is_an_error(preprocess, landing, capsys):
    stolen = pd.read_csv(landing / GROUP_FILE.format("normal"), dtype={"player_id": str})["player_id"][0]
    _edit(landing, "heavy", lambda f: f.__setitem__("player_id", f["player_id"].where(
        f["player_id"] != f["player_id"][0], stolen)))
    line = _run_and_expect_error(preprocess, landing, capsys)
    assert f"player {stolen} also appears in group normal" in line


def test_markers_are_ignored(preprocess, landing):
    (landing / "input/data/_SUCCESS").write_text("")
    (landing / "input/data/risky/_SUCCESS").write_text("")
    preprocess.main(landing)
    assert (landing / "output/test/test-00000-of-00001.parquet").is_file()


def test_script_exits_1_with_the_error_line(landing):
    import subprocess
    import sys

    container = Path(__file__).resolve().parents[3] / "training_containers" / "scarcegan"
    (landing / GROUP_FILE.format("normal")).unlink()
    done = subprocess.run([sys.executable, str(container / "preprocess.py"), "--base-dir", str(landing)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == "ERROR: input/data/normal/: no data files (group is empty)"
