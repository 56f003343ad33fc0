"""preprocess.py reads each landing as it declares itself: format, id column, CSV or Parquet."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retrainer.synthetic import featurised_batch, write_batch
from tests.unit.containers.conftest import read_output

CONTAINER = Path(__file__).resolve().parents[3] / "training_containers" / "scarcegan"
SMALL = dict(n_unlabeled=200, n_risky=20, n_dormant=60, n_normal=100, n_heavy=50, weeks=8)


def _error(preprocess, base, capsys, *argv):
    code = preprocess.cli(["--base-dir", str(base), *argv])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(lines) == 1, lines
    return lines[0]


def _features(base):
    frame = read_output(base / "output", "test/test")
    return frame.set_index("player_id").sort_index()


def test_parquet_landing_gives_the_same_splits_as_csv(preprocess, tmp_path, tiny_batch):
    # Given the same batch landed as CSV and as two Parquet part files per group
    write_batch(tiny_batch, tmp_path / "csv/input/data")
    write_batch(tiny_batch, tmp_path / "pq/input/data", fmt="parquet", parts=2)
    # When both are preprocessed
    preprocess.main(tmp_path / "csv")
    preprocess.main(tmp_path / "pq")
    # Then the model inputs are the same
    pd.testing.assert_frame_equal(_features(tmp_path / "csv"), _features(tmp_path / "pq"))


def test_truncated_parquet_names_the_file_and_the_problem(preprocess, landing, capsys):
    part = landing / "input/data/normal/part-00000.parquet"
    pd.read_csv(landing / "input/data/normal/part-00000.csv").to_parquet(part)
    (landing / "input/data/normal/part-00000.csv").unlink()
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    line = _error(preprocess, landing, capsys)
    assert line.startswith("ERROR: input/data/normal/part-00000.parquet: cannot be read as Parquet (truncated or corrupt?)")


def test_truncated_csv_names_the_cut_line(preprocess, landing, capsys):
    part = landing / "input/data/heavy/part-00000.csv"
    text = part.read_text()
    part.write_text(text[: len(text) - 20])  # cut inside the last row
    line = _error(preprocess, landing, capsys)
    assert line.startswith("ERROR: input/data/heavy/part-00000.csv: last line has ")
    assert "(file truncated?)" in line


def test_featurised_rows_read_as_telemetry_say_how_to_declare_the_format(preprocess, tmp_path, capsys):
    write_batch(featurised_batch(seed=1, **SMALL), tmp_path / "input/data")
    line = _error(preprocess, tmp_path, capsys)
    assert line == ("ERROR: input/data/unlabeled/part-00000.csv: missing column(s) week, sessions, "
                    "minutes_played, deposits, deposit_amount, bets, net_loss, night_share for input "
                    "format 'telemetry' (declare another with input-format=features in the landing's "
                    "_manifest.json or --param input-format=features)")


def test_a_declared_id_column_is_read_and_written_as_player_id(preprocess, tmp_path, capsys):
    groups = {g: f.rename(columns={"player_id": "account"}) for g, f in featurised_batch(seed=2, **SMALL).items()}
    write_batch(groups, tmp_path / "input/data")
    # undeclared: the error says which id column was expected and how to declare another
    line = _error(preprocess, tmp_path, capsys, "--input-format", "features")
    assert "missing column(s) player_id for input format 'features'" in line
    assert "declare another with id-column=NAME" in line
    # declared: outputs say player_id, raw test rows too
    assert preprocess.cli(["--base-dir", str(tmp_path), "--input-format", "features", "--id-column", "account"]) == 0
    test = read_output(tmp_path / "output", "test/test")
    raw = read_output(tmp_path / "output", "test/raw")
    assert test.columns[0] == "player_id" and raw.columns[:2].tolist() == ["player_id", "label"]
    assert "account" not in raw.columns
    assert set(test["player_id"]) == set(raw["player_id"]) <= set(groups["risky"]["account"]) | set(
        groups["normal"]["account"]) | set(groups["dormant"]["account"]) | set(groups["heavy"]["account"])


def test_the_landing_manifest_declares_the_format_and_arguments_win(preprocess, tmp_path, capsys):
    write_batch(featurised_batch(seed=3, **SMALL), tmp_path / "input/data")
    (tmp_path / "input/data/_manifest.json").write_text(json.dumps(
        {"input-format": "features", "categorical_columns": "platform,country,payment_method",
         "heavy-tail": "none", "description": "ignored by preprocess"}))
    report = preprocess.main(tmp_path, folds=3)
    params = report["parameters"]
    assert params["input_format"] == {"value": "features", "source": "manifest"}
    assert params["folds"] == {"value": 3, "source": "argument"}
    assert params["test_fraction"]["source"] == "default"
    assert report["features"]["signed_log"] == []
    report = preprocess.main(tmp_path, heavy_tail="signed-log")
    assert report["parameters"]["heavy_tail"]["source"] == "argument" and report["features"]["signed_log"]
    (tmp_path / "input/data/_manifest.json").write_text(json.dumps({"input-format": "csv"}))
    assert _error(preprocess, tmp_path, capsys) == (
        "ERROR: input/data/_manifest.json: --input-format must be one of telemetry, features, got 'csv'")


def test_a_declared_categorical_column_keeps_codes_as_text(preprocess, tmp_path):
    groups = featurised_batch(seed=5, **SMALL)
    for frame in groups.values():
        frame["tier"] = np.where(frame.index % 2 == 0, "007", "010")
    write_batch(groups, tmp_path / "input/data")
    preprocess.main(tmp_path, input_format="features",
                    categorical_columns="platform,country,payment_method,tier")
    columns = read_output(tmp_path / "output", "train/train").columns
    assert {"tier=007", "tier=010"} <= set(columns)


def test_unknown_parameter_stops_the_script_in_one_line(landing):
    done = subprocess.run([sys.executable, str(CONTAINER / "preprocess.py"), "--base-dir", str(landing),
                           "--val-fraction", "0.2"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "ERROR: arguments: unknown parameter --val-fraction (allowed: --base-dir, --chunk-rows, --input-format, "
        "--id-column, --categorical-columns, --heavy-tail, --folds, --test-fraction, --split-seed)"]
    assert not (landing / "output").exists()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_featurised_landing_runs_end_to_end(preprocess, tmp_path, fmt):
    write_batch(featurised_batch(seed=6, **SMALL), tmp_path / "input/data", fmt=fmt)
    report = preprocess.main(tmp_path, input_format="features")
    assert report["splits"]["test/test.parquet"]["risky"] >= 1
    assert "payment_method=__unseen__" in read_output(tmp_path / "output", "validation/val").columns


def test_telemetry_with_declared_categoricals_and_heavy_tails(preprocess, tmp_path):
    from scarcegan.pipeline import FeaturePipeline

    from retrainer.synthetic import generate

    # Given weekly telemetry with whales and per-player attributes, declared as categoricals
    write_batch(generate(seed=2, heavy_tails=True, categoricals=True, **SMALL), tmp_path / "input/data",
                fmt="parquet")
    preprocess.main(tmp_path, categorical_columns="platform,payment_method")
    out = tmp_path / "output"
    pipeline = FeaturePipeline.load(out / "artifacts/pipeline.json")
    # Then the attributes are one-hot model inputs and the test split is the pipeline on raw rows
    assert {"platform=ios", "payment_method=crypto", "payment_method=__unseen__"} <= set(pipeline.feature_names)
    assert not any(name.startswith("country") for name in pipeline.feature_names)  # not declared
    test = _features(tmp_path)
    scored = pipeline.transform(read_output(out, "test/raw")).sort_index()
    np.testing.assert_allclose(scored.to_numpy(), test[pipeline.feature_names].to_numpy(), rtol=1e-6, atol=1e-6)


def test_a_label_column_in_the_landing_is_never_a_feature(preprocess, tmp_path):
    groups = featurised_batch(seed=8, **SMALL)
    for name, frame in groups.items():
        frame["label"] = name  # a leak: the group itself
    write_batch(groups, tmp_path / "input/data")
    report = preprocess.main(tmp_path, input_format="features")
    columns = read_output(tmp_path / "output", "train/train").columns
    assert not any(c.startswith("label=") for c in columns)
    assert any("['label'] ignored" in w for w in report["warnings"])
    raw = read_output(tmp_path / "output", "test/raw")
    assert list(raw.columns).count("label") == 1 and set(raw["label"]) <= {"risky", "dormant", "normal", "heavy"}
