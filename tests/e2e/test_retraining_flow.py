"""Event in, registered models out: the real ASL, real handlers and real training jobs on the local stack."""

import json

import pytest

from retrainer import runs
from retrainer.demo import land_batch
from tests.utils.stack import clients, executions_for, finished, wait_until

pytestmark = pytest.mark.e2e


def run_for(local_stack, batch):
    s3, sfn = clients("s3", "stepfunctions")
    outputs = local_stack.provisioned.outputs
    landing = land_batch(s3, outputs["LandingBucketName"], "scarcegan", batch)
    started = wait_until(lambda: executions_for(sfn, outputs["StateMachineArn"], landing), what="the run to start")
    assert len(started) == 1
    return finished(sfn, started[0]["executionArn"])


def test_landed_data_is_retrained_evaluated_and_registered(local_stack):
    sfn, sagemaker, s3 = clients("stepfunctions", "sagemaker", "s3")

    execution = run_for(local_stack, "e2e-happy")

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    states = {s["name"]: s["status"] for s in runs.states(sfn, execution["executionArn"])}
    assert {states[n] for n in ("Preprocess", "Train", "Challenger", "Evaluate", "RegisterModels")} == {"succeeded"}

    training = runs.training_job(sagemaker, execution["name"])
    metrics = runs.final_metrics(training)
    assert metrics["Iteration"] > 0 and 0 <= metrics["Val_Recall_Risky"] <= 1  # parsed from the job's own log

    run_input = json.loads(execution["input"])
    if local_stack.mlflow.available:  # the run is an MLflow run once finish_run closed it
        from retrainer_core.mlflow_rest import MlflowRest

        assert local_stack.mlflow.ready, f"the local MLflow server did not start: see {local_stack.mlflow.home / 'server.log'}"
        tracking = MlflowRest(local_stack.mlflow.uri)
        experiment = tracking.experiment_id("scarcegan-retraining")
        def closed():  # finish_run ends the MLflow run last, after its metrics and candidates
            found = tracking.find_run(experiment, "retrainer.run_id", run_input["run_id"])
            return found if found and found["status"] == "FINISHED" else None

        tracked = wait_until(closed, 180, what="the run in MLflow")
        assert len({m["step"] for m in tracking.metric_history(tracked["run_id"], "Val_Recall_Risky")}) > 1

    report_key = run_input["quality_gate"]["report_key"]
    evaluation = json.loads(s3.get_object(Bucket=run_input["quality_gate"]["report_bucket"], Key=report_key)["Body"].read())
    models = runs.models(sagemaker, local_stack.provisioned.outputs["ModelPackageGroupName"], execution["name"])
    assert sorted(m["kind"] for m in models) == sorted(r["kind"] for r in evaluation["register"])  # distinct, past the gate
    assert {m["family"] for m in models} == {"scarcegan", "gradient-boosting"}
    assert len({m["content_key"] for m in models}) == len(models)
    for model in models:
        assert model["approval"] == "PendingManualApproval" and model["beats_champion"] is True  # no champion yet
        assert set(model["metrics"]) >= {"recall", "precision", "f1", "pr_auc"}
        pr_auc = model["intervals"]["pr_auc"]
        assert pr_auc["low"] <= pr_auc["value"] <= pr_auc["high"]
        bucket, key = model["metrics_uri"].removeprefix("s3://").split("/", 1)
        statistics = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        assert statistics["binary_classification_metrics"]["recall"]["value"] == pytest.approx(model["metrics"]["recall"], abs=1e-3)


def test_a_failing_job_fails_the_run_through_its_catch_and_registers_nothing(local_stack):
    sagemaker, = clients("sagemaker")
    local_stack.faults.arm("train", "bad-data")

    execution = run_for(local_stack, "e2e-train-fails")

    assert execution["status"] == "FAILED" and execution["error"] == "TrainFailed", execution.get("cause")
    reason = runs.failure_reason(execution["cause"])
    assert "AlgorithmError" in reason and f"{execution['name']}-train-00" in reason
    job = runs.training_job(sagemaker, execution["name"])
    assert job["TrainingJobStatus"] == "Failed" and job["FailureReason"].startswith("AlgorithmError")
    assert runs.models(sagemaker, local_stack.provisioned.outputs["ModelPackageGroupName"], execution["name"]) == []
