"""Issue 12 (4): a job that fails inside SageMaker for a transient reason is retried; one that fails on
its data is not. Faults are injected into the real jobs on the local stack (docs/decisions/0007)."""

import uuid

import pytest

from retrainer.demo import land_batch
from retrainer.run_commands import render_run
from tests.integration.test_recovery_and_cache import FAST, start
from tests.utils.jobs import script_training_job
from tests.utils.stack import clients, ended, run_where, settled, wait_until

pytestmark = pytest.mark.integration
INTERNAL_ERROR = "InternalServerError: We encountered an internal error. Please try again."


@pytest.fixture(scope="module")
def landed(local_stack):
    s3, = clients("s3")
    settled(local_stack)
    uri = land_batch(s3, local_stack.provisioned.outputs["LandingBucketName"], "scarcegan", "it-transient", seed=41)
    ended(local_stack, run_where(local_stack, lambda r: r["data"]["uri"] == uri)["run_id"])
    settled(local_stack)
    return uri


READS_ITS_DATA = (b"import os, sys\nrows = open(os.path.join(os.environ['SM_CHANNEL_TRAIN'], 'rows.csv')).read()\n"
                  b"if not rows.strip():\n    print('ERROR rows.csv: file is empty')\n    sys.exit(1)\n"
                  b"open(os.path.join(os.environ['SM_MODEL_DIR'], 'm.txt'), 'w').write(rows)\n")


def tiny_training_job(local_stack, retries):
    s3, sagemaker = clients("s3", "sagemaker")
    name = f"retrainer-it{uuid.uuid4().hex[:8]}-train-0"
    script_training_job(s3, sagemaker, local_stack.provisioned.outputs["ArtifactsBucketName"], name, READS_ITS_DATA, retries)
    return wait_until(lambda: (lambda j: j if j["TrainingJobStatus"] in ("Completed", "Failed", "Stopped") else None)(
        sagemaker.describe_training_job(TrainingJobName=name)), 120, what=f"training job {name}")


def starts(job):
    return [t for t in job["SecondaryStatusTransitions"] if t["Status"] == "Starting"]


def test_an_internal_error_fails_a_job_with_sagemakers_own_words(local_stack):
    local_stack.faults.arm("train", "internal-error")

    job = tiny_training_job(local_stack, retries=0)

    assert job["TrainingJobStatus"] == "Failed" and job["FailureReason"] == INTERNAL_ERROR


def test_a_training_job_retries_an_internal_error_as_its_retry_strategy_says(local_stack):
    local_stack.faults.arm("train", "internal-error", times=2)

    job = tiny_training_job(local_stack, retries=2)

    assert job["TrainingJobStatus"] == "Completed"
    assert len(starts(job)) == 3  # SageMaker: "When the job is retried, its SecondaryStatus is changed to STARTING"


def test_a_failure_on_bad_data_is_not_retried_even_with_a_retry_strategy(local_stack):
    local_stack.faults.arm("train", "bad-data")

    job = tiny_training_job(local_stack, retries=2)

    assert job["TrainingJobStatus"] == "Failed" and job["FailureReason"].startswith("AlgorithmError")
    assert len(starts(job)) == 1


def test_bad_data_fails_the_run_at_once(local_stack, landed):
    local_stack.faults.arm("preprocess", "bad-data")

    run = start(local_stack, {**FAST, "seed": "201"}, use_cache=False)

    assert run["status"] == "FAILED" and run["failure"]["step"] == "Preprocess"
    (preprocess,) = [s for s in run["steps"] if s["step"] == "preprocess"]
    assert preprocess["attempts"] == 1 and "retried_after" not in preprocess


def test_internal_errors_in_preprocess_and_train_are_retried_and_the_run_succeeds(local_stack, landed):
    local_stack.faults.arm("preprocess", "internal-error")
    local_stack.faults.arm("train", "internal-error")

    run = start(local_stack, {**FAST, "seed": "202"}, use_cache=False)

    assert run["status"] == "SUCCEEDED", run.get("failure")
    steps = {s["step"]: s for s in run["steps"]}
    assert steps["preprocess"]["attempts"] == 2 and steps["train"]["attempts"] == 2
    assert INTERNAL_ERROR in steps["preprocess"]["retried_after"][0]
    shown = render_run({**run, "parameters": {"hyperparameters": {}, "options": {}}})
    assert "preprocess  succeeded" in shown and shown.count("2 attempts") == 2
