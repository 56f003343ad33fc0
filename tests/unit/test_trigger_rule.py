"""Part files cost no Lambda decision where they decide nothing (docs/decisions/0520): the landing rule
delivers markers only, unless landings may complete by a quiet period; the batching window exists only
then. Patterns are checked with moto's EventBridge matcher (the one the local stack routes with) on
AWS-shaped S3 "Object Created" events."""

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from moto.events.models import EventPattern

from retrainer.local.provision import Provisioner
from retrainer.local.template import Resolver, load
from tests.utils.events import s3_object_created

ROOT = Path(__file__).resolve().parents[2]
IMAGES = {"ProcessingImageUri": "p", "TrainingImageUri": "t", "InferenceImageUri": "i", "ChallengerImageUri": "c"}
KEYS = {
    "incoming/scarcegan/b1/_SUCCESS": "marker",
    "incoming/scarcegan/b1/risky/part-00000.csv": "part",
    "incoming/scarcegan/b1/_manifest.json": "part",
    "scoring/scarcegan/s1/_SUCCESS": "scoring marker",
    "scoring/scarcegan/s1/part-00000.csv": "scoring part",
    "incoming/othermodel/b1/_SUCCESS": "another model's marker",  # reaches the function: dead-lettered with its reason
}


def rule_and_window(**parameters: str) -> tuple[EventPattern, int]:
    resolver = Resolver(load(ROOT / "template.yaml"), "s", "us-east-1", {**IMAGES, **parameters})
    resolver.refs["LandingBucket"] = "landing"
    resolver.attributes["TriggerQueue"] = {"Arn": "arn:aws:sqs:us-east-1:123456789012:q"}
    rule = resolver.resolve(resolver.template["Resources"]["DataLandingRule"]["Properties"]["EventPattern"])
    triggers = resolver.template["Resources"]["StartRetrainingFunction"]["Properties"]["Events"]["Triggers"]["Properties"]
    return EventPattern.load(json.dumps(rule)), int(resolver.resolve(triggers["MaximumBatchingWindowInSeconds"]))


def delivered(pattern: EventPattern, bucket: str = "landing") -> set[str]:
    return {what for key, what in KEYS.items() if pattern.matches_event(s3_object_created(key, bucket=bucket))}


def test_without_a_quiet_period_only_markers_reach_the_queue_and_are_decided_at_once():
    pattern, window = rule_and_window()
    assert delivered(pattern) == {"marker", "scoring marker", "another model's marker"}
    assert not pattern.matches_event(s3_object_created("incoming/scarcegan/b1/_SUCCESS", bucket="other-bucket"))
    assert window == 0


def test_with_a_quiet_period_every_landed_object_reaches_the_queue_through_the_batching_window():
    pattern, window = rule_and_window(LandingQuietPeriodSeconds="300", TriggerBatchingWindowSeconds="20")
    assert delivered(pattern) == {"marker", "part", "scoring marker", "another model's marker"}  # scoring: markers only
    assert window == 20


@pytest.fixture
def provisioned():
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        provisioner = Provisioner(session, ROOT / "template.yaml", "t", IMAGES)
        provisioner.run()
        yield provisioner, session


def test_a_stack_update_changes_the_rule_the_environment_and_the_window_in_place(provisioned):
    provisioner, session = provisioned
    events = session.client("events")

    def pattern() -> EventPattern:
        return EventPattern.load(events.describe_rule(Name="t-DataLandingRule")["EventPattern"])

    bucket = provisioner.result.outputs["LandingBucketName"]
    assert delivered(pattern(), bucket) == {"marker", "scoring marker", "another model's marker"}
    result = provisioner.update({"LandingQuietPeriodSeconds": "4"})

    assert "part" in delivered(pattern(), bucket)
    assert result.functions["StartRetrainingFunction"].environment["LANDING_QUIET_PERIOD_SECONDS"] == "4"
    trigger = next(t for t in result.queue_triggers if t.function == "t-StartRetrainingFunction")
    assert trigger.batching_window_seconds == 20 and len(result.queue_triggers) == 2
    configuration = session.client("lambda").get_function_configuration(FunctionName="t-StartRetrainingFunction")
    assert configuration["Environment"]["Variables"]["LANDING_QUIET_PERIOD_SECONDS"] == "4"


def test_a_stack_update_refuses_what_it_cannot_change_in_place(provisioned):
    provisioner, _ = provisioned
    with pytest.raises(NotImplementedError, match="RetrainStateMachine"):
        provisioner.update({"JobNamePrefix": "other"})
    assert provisioner.resolver.refs["JobNamePrefix"] == "retrainer"  # refused whole: nothing applied
    with pytest.raises(KeyError, match="NoSuchParameter"):
        provisioner.update({"NoSuchParameter": "1"})
