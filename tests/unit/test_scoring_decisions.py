"""Scoring runs: a complete scoring batch is scored by the latest Approved version, independently of
training; no approved version -> a recorded, explained skip and an event; an approval re-scores the
newest batch."""

import json

import msgspec
import pytest
from retrainer_core.events import parse_trigger
from retrainer_core.triggering import decide

from tests.unit.test_triggering import ALARMS, BUCKET, SETTINGS, landed
from tests.utils.events import s3_object_created, sample
from tests.utils.fakes import FakeObjects, FakeWorkflow

APPROVED = {"version": 2, "arn": "arn:aws:sagemaker:us-east-1:1:model-package/scarcegan-models/2",
            "model_data_url": "s3://artifacts/steps/evaluate/k/models/gradient-boosting/model.tar.gz"}


class FakeRegistry:
    def __init__(self, approved=None):
        self.approved_version = approved

    def approved(self, group):
        return self.approved_version

    def package(self, arn):
        return {**APPROVED, "arn": arn, "version": int(arn.rsplit("/", 1)[1])}


class FakeScoring(FakeWorkflow):
    def __init__(self):
        super().__init__()
        self.published = []

    def publish(self, detail_type, detail):
        self.published.append((detail_type, detail))


def scoring_marker(batch="s1", event_id="e-s1"):
    event = s3_object_created(f"scoring/scarcegan/{batch}/_SUCCESS", bucket=BUCKET, event_id=event_id)
    return parse_trigger(json.dumps(event), ALARMS)


def scoring_landed(batch="s1", objects=None):
    objects = objects or FakeObjects()
    for name in ("part-00000.csv", "_SUCCESS"):
        objects.put(BUCKET, f"scoring/scarcegan/{batch}/{name}", etag=f"{batch}-{name}")
    return objects


def approval(arn=APPROVED["arn"], status="Approved"):
    event = sample("sagemaker_model_package_approved.json")
    event["detail"].update(ModelPackageArn=arn, ModelApprovalStatus=status)
    return parse_trigger(json.dumps(event), ALARMS)


def test_a_scoring_batch_is_scored_by_the_approved_version_without_the_training_lock(ledger):
    ledger.acquire("scarcegan", "a-training-run", 3600)  # training is busy: scoring does not wait
    scoring, workflow = FakeScoring(), FakeWorkflow()

    decision = decide(scoring_marker(), SETTINGS, scoring_landed(), workflow, ledger, scoring, registry=FakeRegistry(APPROVED))

    assert decision.action == "score" and workflow.started == {}
    run_input = scoring.started[decision.run_id]
    assert run_input["model_version"] == APPROVED and run_input["batch"] == "s1"
    assert run_input["paths"]["flags"] == "s3://artifacts/flags/scarcegan/s1"
    args = run_input["job"]["arguments"]
    assert args[args.index("--model-version") + 1] == "2"
    record = ledger.run(decision.run_id)
    assert record["kind"] == "scoring" and record["status"] == "RUNNING" and len(record["attempts"]) == 1
    assert ledger.lock("scarcegan")["run_id"] == "a-training-run"  # untouched


def test_the_same_batch_and_version_is_scored_once(ledger):
    scoring, registry = FakeScoring(), FakeRegistry(APPROVED)
    first = decide(scoring_marker(), SETTINGS, scoring_landed(), FakeWorkflow(), ledger, scoring, registry=registry)
    again = decide(scoring_marker(event_id="e-again"), SETTINGS, scoring_landed(), FakeWorkflow(), ledger, scoring, registry=registry)

    assert again.action == "duplicate" and again.run_id == first.run_id and len(scoring.started) == 1


def test_without_an_approved_version_the_batch_is_skipped_with_its_reason_and_an_event(ledger):
    scoring = FakeScoring()

    decision = decide(scoring_marker(), SETTINGS, scoring_landed(), FakeWorkflow(), ledger, scoring, registry=FakeRegistry())

    assert decision.action == "ignore" and scoring.started == {}
    assert "no approved version in scarcegan-models" in decision.reason and "retrainer approve" in decision.reason
    assert ledger.run(decision.run_id)["status"] == "SKIPPED"
    (detail_type, detail), = scoring.published
    assert detail_type == "Scoring Skipped" and detail["batch"] == "s1" and detail["reason"] == decision.reason


def test_an_approval_re_scores_the_newest_batch_with_the_new_version(ledger):
    scoring, registry = FakeScoring(), FakeRegistry(APPROVED)
    objects = scoring_landed("s1", scoring_landed("s2"))
    decide(scoring_marker("s1"), SETTINGS, objects, FakeWorkflow(), ledger, scoring, registry=registry)
    newest = decide(scoring_marker("s2", "e-s2"), SETTINGS, objects, FakeWorkflow(), ledger, scoring, registry=registry)

    new_version = "arn:aws:sagemaker:us-east-1:1:model-package/scarcegan-models/5"
    rescored = decide(approval(new_version), SETTINGS, objects, FakeWorkflow(), ledger, scoring, registry=registry)

    assert rescored.action == "score" and rescored.run_id != newest.run_id
    run_input = scoring.started[rescored.run_id]
    assert run_input["batch"] == "s2" and run_input["model_version"]["version"] == 5


@pytest.mark.parametrize("status, settings_change, says", [
    ("Rejected", {}, "not Approved"), ("Approved", {"rescore_on_approval": False}, "RescoreOnApproval is off"),
])
def test_approvals_that_re_score_nothing_say_why(ledger, status, settings_change, says):
    scoring = FakeScoring()
    settings = msgspec.structs.replace(SETTINGS, **settings_change)

    decision = decide(approval(status=status), settings, landed(), FakeWorkflow(), ledger, scoring, registry=FakeRegistry(APPROVED))

    assert decision.action == "ignore" and says in decision.reason and scoring.started == {}


def test_an_approval_before_any_scoring_batch_re_scores_nothing(ledger):
    decision = decide(approval(), SETTINGS, landed(), FakeWorkflow(), ledger, FakeScoring(), registry=FakeRegistry(APPROVED))
    assert decision.action == "ignore" and "no scoring batch" in decision.reason
