"""Issue 5: retries that fit the error, the failure recorded, resume from the failed step, the step cache.
Faults are injected into the real jobs; what ran is asserted from SageMaker's job records."""

import uuid

import pytest

from retrainer.demo import land_batch
from retrainer.run_commands import request
from tests.utils.stack import clients, ended, ledger_of, run_where, settled

pytestmark = pytest.mark.integration
FAST = {"iterations": "300", "sample-interval": "50"}


@pytest.fixture(scope="module")
def landed(local_stack):
    s3, = clients("s3")
    settled(local_stack)
    uri = land_batch(s3, local_stack.provisioned.outputs["LandingBucketName"], "scarcegan", "it-recovery", seed=21)
    ended(local_stack, run_where(local_stack, lambda r: r["data"]["uri"] == uri)["run_id"])
    settled(local_stack)
    return uri


def start(local_stack, overrides, use_cache=True, quality_gate=None):
    events, = clients("events")
    request_id = str(uuid.uuid4())
    request(events, "Retraining Requested", {"model": "scarcegan", "request_id": request_id, "overrides": overrides,
                                             "use_cache": use_cache, "quality_gate": quality_gate or {}})
    run = run_where(local_stack, lambda r: r["trigger"].get("event_id") == request_id)
    return ended(local_stack, run["run_id"])


def jobs(run_id):
    sagemaker, = clients("sagemaker")
    training = sagemaker.list_training_jobs(NameContains=run_id, MaxResults=100)["TrainingJobSummaries"]
    processing = sagemaker.list_processing_jobs(NameContains=run_id, MaxResults=100)["ProcessingJobSummaries"]
    return sorted([j["TrainingJobName"] for j in training] + [j["ProcessingJobName"] for j in processing])


def versions():
    sagemaker, = clients("sagemaker")
    pages = sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName="scarcegan-models")
    return [p["ModelPackageArn"] for page in pages for p in page["ModelPackageSummaryList"]]


def steps(run):
    return {s["step"]: s for s in run["steps"]}


def test_a_transient_error_in_train_is_retried_and_the_run_succeeds(local_stack, landed):
    local_stack.faults.arm("train", "capacity")  # CreateTrainingJob refused once: ResourceLimitExceeded

    run = start(local_stack, {**FAST, "seed": "101"})

    assert run["status"] == "SUCCEEDED"
    assert steps(run)["train"]["attempts"] == 2 and steps(run)["train"]["status"] == "succeeded"
    assert jobs(run["run_id"]) == [f"retrainer-{run['run_id']}-evaluate-00", f"retrainer-{run['run_id']}-train-01"]


def test_a_failed_evaluate_is_recorded_and_resume_runs_only_what_is_left(local_stack, landed):
    events, = clients("events")
    local_stack.faults.arm("evaluate", "bad-data")

    failed = start(local_stack, {**FAST, "seed": "102"})

    assert failed["status"] == "FAILED"
    assert failed["failure"]["step"] == "Evaluate" and "AlgorithmError" in failed["failure"]["cause"]
    assert ledger_of(local_stack).lock("scarcegan") is None  # released by finish_run
    before = jobs(failed["run_id"])

    request(events, "Run Resume Requested", {"run_id": failed["run_id"]})
    run_where(local_stack, lambda r: r["run_id"] == failed["run_id"] and len(r["attempts"]) == 2, what="the resumed attempt")
    resumed = ended(local_stack, failed["run_id"])

    assert resumed["status"] == "SUCCEEDED" and resumed["last_execution"] == f"{failed['run_id']}-r1"
    new_jobs = sorted(set(jobs(failed["run_id"])) - set(before))
    assert new_jobs == [f"retrainer-{failed['run_id']}-r1-evaluate-00"]  # preprocess and train not run again
    assert {s: steps(resumed)[s]["cache_hit"] for s in ("preprocess", "train", "evaluate")} == {"preprocess": True, "train": True, "evaluate": False}


def test_the_same_data_and_parameters_again_are_all_cache_hits_and_register_nothing_new(local_stack, landed):
    first = start(local_stack, {**FAST, "seed": "103"})
    registered = len(versions())
    again = start(local_stack, {**FAST, "seed": "103"})

    assert (first["status"], again["status"]) == ("SUCCEEDED", "SUCCEEDED")
    assert all(s["cache_hit"] for s in again["steps"]) and len(again["steps"]) == 4
    assert jobs(again["run_id"]) == []  # no job started at all
    assert again["cost_usd"] == 0
    assert len(versions()) == registered  # the same artifacts: registration is idempotent by content


def test_new_hyperparameters_only_rerun_train_and_evaluate(local_stack, landed):
    run = start(local_stack, {**FAST, "seed": "104"})

    assert {s: steps(run)[s]["cache_hit"] for s in ("preprocess", "train", "evaluate")} == {"preprocess": True, "train": False, "evaluate": False}


def test_caching_can_be_switched_off_for_a_run(local_stack, landed):
    run = start(local_stack, {**FAST, "seed": "103"}, use_cache=False)

    assert run["status"] == "SUCCEEDED" and not any(s["cache_hit"] for s in run["steps"])
    assert len(jobs(run["run_id"])) == 4  # preprocess, both trainings, evaluate


def test_a_run_below_the_quality_gate_registers_nothing_and_says_why(local_stack, landed):
    sagemaker, = clients("sagemaker")

    run = start(local_stack, {**FAST, "seed": "103"}, quality_gate={"min_recall": 1.01})

    assert run["status"] == "FAILED" and run["failure"]["error"] == "QualityGateNotMet"
    assert "recall >= 1.01" in run["failure"]["cause"] and "no model registered" in run["failure"]["cause"]
    # nothing upstream of the gate runs again; evaluate does, since it applies the run's thresholds (0301)
    assert {s["step"]: s["cache_hit"] for s in run["steps"]} == {"preprocess": True, "train": True, "challenger": True, "evaluate": False}
    packages = sagemaker.list_model_packages(ModelPackageGroupName="scarcegan-models", MaxResults=100)["ModelPackageSummaryList"]
    described = [sagemaker.describe_model_package(ModelPackageName=p["ModelPackageArn"]) for p in packages]
    assert not [d for d in described if d.get("CustomerMetadataProperties", {}).get("RunId") == run["run_id"]]
