"""The handler's contract with Lambda's SQS event source: partial batch response, nothing lost, each
event decided once."""

import json
from pathlib import Path

import pytest
from retrainer_core.ledger import Ledger

from retrainer.local.lambdas import handler_module
from tests.unit.conftest import LEDGER_TABLE
from tests.unit.test_triggering import BUCKET, ENVIRONMENT, landed
from tests.utils.events import s3_object_created, sample, sqs_batch
from tests.utils.fakes import FakeDeadLetters, FakeWorkflow

app = handler_module(Path(__file__).resolve().parents[2] / "functions", "start_retraining.app")


class Context:
    function_name, memory_limit_in_mb, aws_request_id = "start", 256, "r-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:start"

    def get_remaining_time_in_millis(self):
        return 60_000


@pytest.fixture
def wired(aws, monkeypatch):
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    workflow, dead_letters = FakeWorkflow(), FakeDeadLetters()
    monkeypatch.setattr(app, "S3Objects", lambda: landed("b"))
    monkeypatch.setattr(app, "Workflow", lambda arn: workflow)
    monkeypatch.setattr(app, "DeadLetters", lambda url: dead_letters)
    return workflow, dead_letters


def test_a_malformed_record_is_dead_lettered_and_the_rest_of_the_batch_processed(wired):
    workflow, dead_letters = wired
    event = sqs_batch("{not json", s3_object_created("incoming/scarcegan/b/_SUCCESS", bucket=BUCKET))

    response = app.lambda_handler(event, Context())

    assert response == {"batchItemFailures": []}  # nothing left to redeliver: the bad one is in the DLQ
    assert [m for m, _ in dead_letters.sent] == ["m-0"] and "not an EventBridge event" in dead_letters.sent[0][1]
    assert len(workflow.started) == 1


def test_a_redelivered_event_is_decided_once(wired):
    workflow, _ = wired
    event = s3_object_created("incoming/scarcegan/b/_SUCCESS", bucket=BUCKET, event_id="same-event")

    app.lambda_handler(sqs_batch(event), Context())
    app.lambda_handler(sqs_batch(json.dumps(event)), Context())

    assert len(workflow.started) == 1


def test_a_transient_failure_is_reported_for_redelivery_alone(wired, monkeypatch):
    workflow, dead_letters = wired

    def throttled(name, run_input):
        raise ConnectionError("StartExecution throttled")

    monkeypatch.setattr(workflow, "start", throttled)
    event = sqs_batch(
        s3_object_created("incoming/scarcegan/b/part-0.csv", bucket=BUCKET, event_id="e-part"),
        s3_object_created("incoming/scarcegan/b/_SUCCESS", bucket=BUCKET, event_id="e-marker"),
    )
    response = app.lambda_handler(event, Context())

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}  # retried by SQS, then its DLQ
    assert dead_letters.sent == []


def test_an_event_id_reused_for_another_landing_gets_a_decision_of_its_own(wired, monkeypatch):
    # Given two landings, and AWS's documented sample id on both markers' events (producers reuse ids)
    workflow, dead_letters = wired
    monkeypatch.setattr(app, "S3Objects", lambda: landed("b", "c"))
    documented_id = sample("s3_object_created_success.json")["id"]

    # When both are delivered, and the first is redelivered
    for batch in ("b", "c", "b"):
        app.lambda_handler(sqs_batch(s3_object_created(f"incoming/scarcegan/{batch}/_SUCCESS", bucket=BUCKET, event_id=documented_id)), Context())

    # Then the first runs, the second is its follow-up (not "duplicate" of the first), the redelivery changes nothing
    lock = Ledger(LEDGER_TABLE).lock("scarcegan")
    (started,) = workflow.started.values()
    assert started["data"]["uri"].endswith("/b/")
    assert [p["spec"]["data"]["uri"].rsplit("/", 2)[-2] for p in lock["pending"].values()] == ["c"]
    assert dead_letters.sent == []
