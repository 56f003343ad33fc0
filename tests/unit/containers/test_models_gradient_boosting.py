"""The gradient-boosting challenger job: trains on preprocess's output, cross-validated, strict about its parameters."""

import json
import re

import pytest

from .conftest import load_entry_point

CV_LINE = re.compile(r"^CV_PR_AUC=([\d.]+); CV_PR_AUC_Std=([\d.]+);.* CV_Recall=([\d.]+);.* Threshold=([\d.]+);$", re.M)


@pytest.fixture(scope="module")
def train_gb():
    return load_entry_point("train_gb")


@pytest.fixture
def processed(preprocess, landing):
    preprocess.main(landing)
    return landing / "output"


def _args(model_dir, processed, *extra):
    return ["--model-dir", str(model_dir), "--train", str(processed / "train"),
            "--validation", str(processed / "validation"), "--output-data-dir", str(model_dir.parent / "out"),
            "--gb-max-iter", "40", *extra]


def test_challenger_trains_with_cross_validated_metrics_and_a_threshold(train_gb, processed, tmp_path, capsys):
    # Given preprocess's splits (train.csv carries the folds)
    model_dir = tmp_path / "model"

    # When the challenger job runs with SageMaker-style arguments
    code = train_gb.cli(_args(model_dir, processed, "--sagemaker_program", '"train_gb.py"'))

    # Then it succeeds and prints the cross-validated metrics for MetricDefinitions
    out = capsys.readouterr().out
    assert code == 0
    assert len(CV_LINE.findall(out)) == 1
    # and writes one candidate with everything needed to score and to compare it
    metadata = json.loads((model_dir / "gradient-boosting" / "metadata.json").read_text())
    assert (model_dir / "gradient-boosting" / "model.joblib").is_file()
    assert metadata["family"] == metadata["kind"] == "gradient-boosting"
    assert "fold" not in metadata["feature_names"] and "label" not in metadata["feature_names"]
    assert 0.0 < metadata["threshold"] < 1.0 and metadata["score_definition"]
    assert metadata["cv"]["pr_auc"]["folds"] == 5
    assert metadata["cv"]["pr_auc"]["min"] <= metadata["cv"]["pr_auc"]["mean"] <= metadata["cv"]["pr_auc"]["max"]
    # validation rows add labelled players to the training rows
    assert metadata["training_rows"]["from_validation"] > 0
    listing = json.loads((model_dir / "candidates.json").read_text())
    assert [c["kind"] for c in listing["candidates"]] == ["gradient-boosting"]


def test_same_data_and_seed_give_the_same_model_file(train_gb, processed, tmp_path, capsys):
    for name in ("a", "b"):
        assert train_gb.cli(_args(tmp_path / name, processed)) == 0
    files = [(tmp_path / n / "gradient-boosting" / "model.joblib").read_bytes() for n in ("a", "b")]
    assert files[0] == files[1]


@pytest.mark.parametrize("argv, message", [
    (["--gb-max-depth", "3"], "ERROR: arguments: unknown parameter --gb-max-depth (allowed: "),
    (["--gb-learning-rate", "fast"], "ERROR: arguments: --gb-learning-rate expects float, got 'fast'"),
])
def test_challenger_refuses_unknown_or_bad_hyperparameters(train_gb, processed, tmp_path, capsys, argv, message):
    code = train_gb.cli(_args(tmp_path / "model", processed, *argv))
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith(message) and "\n" not in err
    assert not (tmp_path / "model").exists()


def test_hyperparameters_json_is_checked_like_arguments(train_gb, processed, tmp_path, capsys):
    (tmp_path / "hyperparameters.json").write_text('{"gb-max-iter": "20", "sagemaker_program": "\\"train_gb.py\\"", '
                                                   '"gb_learning_rate": "0.1"}')
    args = train_gb.parse_args(["--config-dir", str(tmp_path), "--gb-max-iter", "30", "train"])
    assert (args.gb_max_iter, args.gb_learning_rate) == (30, 0.1)
