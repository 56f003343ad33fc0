"""preprocess -> train -> evaluate through the scripts' main functions, SageMaker paths in tmp dirs."""

import json
import re
import tarfile

import pandas as pd
from scarcegan.hyperparameters import Hyperparameters

from tests.unit.containers.conftest import read_output, stage_evaluation

METRIC = re.compile(
    r"^Iteration=(\d+); Discriminator_Supervised_Loss=([-\d.e]+); Discriminator_UnSupervised_Loss=([-\d.e]+); "
    r"Generator_Loss=([-\d.e]+); Accuracy_Supervised=([-\d.e]+); Val_Recall_Risky=([-\d.e]+); "
    r"Val_Precision_Risky=([-\d.e]+);$", re.M)
KINDS = ("best-recall", "best-precision", "best-f1", "last")


def test_pipeline_writes_every_contract_file(preprocess, train, evaluate, landing, tmp_path, capsys):
    # Given a landing batch, When preprocess runs
    preprocess.main(landing)
    processed = landing / "output"

    # When train runs with SageMaker-style string hyperparameters and channels
    model_dir = tmp_path / "opt_ml_model"
    args, hyper = train.parse_args([
        "--iterations", "40", "--sample-interval", "20", "--batch-size", "8", "--seed", "1",
        "--model-dir", str(model_dir), "--train", str(processed / "train"),
        "--validation", str(processed / "validation"), "--output-data-dir", str(tmp_path / "out"),
        "--sagemaker_program", '"train.py"', "--sagemaker_submit_directory", '"s3://b/k.tar.gz"'])
    summary = train.main(args.model_dir, args.train, args.validation,
                         Hyperparameters.from_values(hyper), args.output_data_dir)

    # Then the metric line is printed every sample interval
    lines = METRIC.findall(capsys.readouterr().out)
    assert [int(m[0]) for m in lines] == [20, 40]
    # and every rule is answered by one distinct candidate (the others as its aliases)
    kinds = [c["kind"] for c in summary["candidates"]]
    assert sorted(kinds + [a for c in summary["candidates"] for a in c["aliases"]]) == sorted(KINDS)
    assert json.loads((model_dir / "candidates.json").read_text())["candidates"][0]["kind"] == "best-recall"
    for kind in kinds:
        metadata = json.loads((model_dir / kind / "metadata.json").read_text())
        assert metadata["class_order"][3] == "risky" and metadata["hyperparameters"]["iterations"] == 40
        assert metadata["family"] == "scarcegan" and metadata["threshold"] == 0.5
        assert "fold" not in metadata["feature_names"]
        assert (model_dir / kind / "model.keras").is_file()

    # When evaluate runs on the training job's model.tar.gz
    evaluation_base = tmp_path / "evaluation"
    (evaluation_base / "input/model").mkdir(parents=True)
    with tarfile.open(evaluation_base / "input/model/model.tar.gz", "w:gz") as tar:
        for path in model_dir.iterdir():
            tar.add(path, arcname=path.name)
    stage_evaluation(processed, evaluation_base)
    report = evaluate.main(evaluation_base, bootstrap_resamples=10)

    # Then each candidate has Model Monitor quality statistics and its own deployable package
    out = evaluation_base / "output"
    n_test = len(read_output(processed, "test/test"))
    for kind in kinds:
        quality = json.loads((out / "quality" / kind / "statistics.json").read_text())
        assert quality["dataset"]["item_count"] == n_test
        metrics = quality["binary_classification_metrics"]
        cm = metrics["confusion_matrix"]
        assert cm["0"]["0"] + cm["0"]["1"] + cm["1"]["0"] + cm["1"]["1"] == n_test
        for key in ("recall", "precision", "accuracy", "auc", "f1", "f2", "f0_5",
                    "recall_best_constant_classifier", "false_positive_rate"):
            assert set(metrics[key]) == {"value", "standard_deviation"}
        with tarfile.open(out / "models" / kind / "model.tar.gz") as tar:
            assert sorted(tar.getnames()) == ["metadata.json", "model.keras", "pipeline.json", "statistics.json"]
    assert report["best"] in kinds
    assert json.loads((out / "report/evaluation.json").read_text())["best"] == report["best"]
    assert list(pd.read_csv(out / "report/evaluation.csv")["kind"]) == kinds
    # and the report carries each candidate's precision-recall and ROC points for plots
    curves = json.loads((out / "report/curves.json").read_text())
    assert sorted(curves) == sorted(kinds)
    assert curves[kinds[0]]["roc"]["true_positive_rate"][-1] == 1.0


def test_a_restarted_training_job_resumes_from_its_checkpoint(preprocess, train, landing, tmp_path, capsys):
    # Given a training job that checkpointed and was interrupted (a spot reclaim) after 200 iterations
    preprocess.main(landing)
    processed, checkpoints = landing / "output", tmp_path / "checkpoints"

    def run(iterations):
        args, hyper = train.parse_args([
            "--iterations", str(iterations), "--sample-interval", "20", "--batch-size", "8", "--seed", "1",
            "--model-dir", str(tmp_path / f"model-{iterations}"), "--train", str(processed / "train"),
            "--validation", str(processed / "validation"), "--checkpoint-dir", str(checkpoints)])
        return train.main(args.model_dir, args.train, args.validation, Hyperparameters.from_values(hyper), None, args.checkpoint_dir)

    run(200)
    capsys.readouterr()

    # When the job starts again with the same checkpoint folder
    summary = run(240)

    # Then it continues from iteration 200 instead of starting over
    out = capsys.readouterr().out
    assert "Resumed from the checkpoint at iteration 200" in out
    assert [int(m[0]) for m in METRIC.findall(out)] == [220, 240]
    assert summary["iterations"] == 240
    assert sorted(k for c in summary["candidates"] for k in (c["kind"], *c["aliases"])) == sorted(KINDS)
