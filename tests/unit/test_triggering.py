import json

import pytest
from core.errors import PermanentTriggerError
from core.run_spec import MAX_RUN_ID
from core.settings import StartRetrainingSettings
from core.triggering import decide

from tests.utils.events import s3_object_created
from tests.utils.fakes import FakeObjects, FakeWorkflow

BUCKET = "landing"
ENVIRONMENT = {
    "MODEL_NAME": "scarcegan", "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:1:stateMachine:s", "LANDING_BUCKET": BUCKET,
    "ARTIFACTS_BUCKET": "artifacts", "DEAD_LETTER_QUEUE_URL": "https://sqs/dlq", "CODE_VERSION": "c0de",
    "PROCESSING_IMAGE_URI": "img:processing", "TRAINING_IMAGE_URI": "img:training",
    "PREPROCESS_INSTANCE_TYPE": "ml.m5.xlarge", "PREPROCESS_INSTANCE_COUNT": "1", "TRAIN_INSTANCE_TYPE": "ml.c5.2xlarge",
    "TRAIN_INSTANCE_COUNT": "2", "EVALUATE_INSTANCE_TYPE": "ml.m5.large", "EVALUATE_INSTANCE_COUNT": "1",
    "STEP_MAX_RUNTIME_SECONDS": "3600", "DEFAULT_HYPERPARAMETERS": '{"iterations": 1500, "alpha": "0.7"}',
    "CANDIDATE_KINDS": "best-recall,best-f1", "MODEL_PACKAGE_GROUP": "scarcegan-models",
}


@pytest.fixture
def settings():
    return StartRetrainingSettings.from_environ(ENVIRONMENT)


def landed(batch="2026-11-24", files=("risky/part-0.csv", "normal/part-0.csv", "_SUCCESS"), etag="e"):
    objects = FakeObjects()
    for name in files:
        objects.put(BUCKET, f"incoming/scarcegan/{batch}/{name}", etag=etag)
    return objects


def body(key, event_id="e-1"):
    return json.dumps(s3_object_created(key, bucket=BUCKET, event_id=event_id))


def test_success_marker_starts_one_run_with_its_parameters(settings):
    workflow = FakeWorkflow()

    decision = decide(body("incoming/scarcegan/2026-11-24/_SUCCESS"), settings, landed(), workflow)

    assert decision.action == "start"
    run_input = workflow.started[decision.run_id]
    assert run_input["data"]["uri"] == "s3://landing/incoming/scarcegan/2026-11-24/"
    assert run_input["data"]["objects"] == 2  # the marker is not data
    assert run_input["train"]["instance_count"] == 2 and run_input["train"]["instance_type"] == "ml.c5.2xlarge"
    hps = run_input["train"]["hyperparameters"]
    assert all(isinstance(v, str) for v in hps.values())  # SageMaker takes strings only
    assert hps["iterations"] == "1500" and json.loads(hps["sagemaker_program"]) == "train.py"
    assert json.loads(hps["sagemaker_submit_directory"]) == "s3://artifacts/code/c0de/sourcedir.tar.gz"
    assert run_input["candidates"] == ["best-recall", "best-f1"]
    assert all(p.startswith(f"s3://artifacts/runs/{decision.run_id}/") for k, p in run_input["paths"].items() if k != "code")


def test_the_same_landing_twice_starts_nothing_new(settings):
    workflow, objects = FakeWorkflow(), landed()
    first = decide(body("incoming/scarcegan/2026-11-24/_SUCCESS", "e-1"), settings, objects, workflow)
    again = decide(body("incoming/scarcegan/2026-11-24/_SUCCESS", "e-2"), settings, objects, workflow)

    assert (first.action, again.action) == ("start", "duplicate")
    assert again.run_id == first.run_id and len(workflow.started) == 1


def test_run_id_follows_content_and_fits_job_names(settings):
    one = decide(body("incoming/scarcegan/b/_SUCCESS"), settings, landed("b"), FakeWorkflow()).run_id
    new_data = decide(body("incoming/scarcegan/b/_SUCCESS"), settings, landed("b", etag="changed"), FakeWorkflow()).run_id
    long_batch = "a-very-long-batch-name-exported-by-spark-at-2026-11-24T00:00:00Z"
    long_id = decide(body(f"incoming/scarcegan/{long_batch}/_SUCCESS"), settings, landed(long_batch), FakeWorkflow()).run_id

    assert one != new_data
    assert len(long_id) <= MAX_RUN_ID and len(f"retrainer-{long_id}-preprocess-10") <= 63
    assert long_id == long_id.lower()  # SageMaker lowercases job ARNs; IAM matches on them


def test_part_files_wait_for_the_marker(settings):
    workflow = FakeWorkflow()
    decision = decide(body("incoming/scarcegan/2026-11-24/risky/part-0.csv"), settings, landed(), workflow)
    assert decision.action == "wait" and not workflow.started


@pytest.mark.parametrize(
    "key, objects, says",
    [
        ("incoming/other/b/_SUCCESS", landed(), "unknown model 'other'"),
        ("incoming/scarcegan/b/_SUCCESS", landed("b", files=("_SUCCESS",)), "holds no data files"),
        ("incoming/scarcegan/b/_SUCCESS", landed("b", files=("risky/part-0.csv",)), "marker no longer exists"),
    ],
)
def test_landings_that_cannot_run_are_refused_with_a_reason(settings, key, objects, says):
    workflow = FakeWorkflow()
    with pytest.raises(PermanentTriggerError, match=says):
        decide(body(key), settings, objects, workflow)
    assert not workflow.started


def test_another_buckets_event_is_refused(settings):
    event = s3_object_created("incoming/scarcegan/b/_SUCCESS", bucket="someone-elses")
    with pytest.raises(PermanentTriggerError, match="not this stack's landing bucket"):
        decide(json.dumps(event), settings, landed("b"), FakeWorkflow())
