import json
import re

import pytest
from retrainer_core.errors import PermanentTriggerError
from retrainer_core.events import parse_trigger

from tests.utils.events import s3_object_created, sample


def test_documented_success_marker_event_completes_its_landing():
    trigger = parse_trigger(json.dumps(sample("s3_object_created_success.json")))

    assert trigger.complete
    assert (trigger.landing.model, trigger.landing.batch) == ("scarcegan", "2026-11-24")
    assert trigger.landing.uri == "s3://retrainer-local-landingbucket/incoming/scarcegan/2026-11-24/"


def test_part_file_and_nested_marker_do_not_complete_a_landing():
    assert not parse_trigger(json.dumps(sample("s3_object_created_part.json"))).complete
    assert not parse_trigger(json.dumps(s3_object_created("incoming/scarcegan/b1/risky/_SUCCESS"))).complete


@pytest.mark.parametrize(
    "body, says",
    [
        ("{not json", "not an EventBridge event"),
        (json.dumps({"detail-type": "Object Created"}), "not an EventBridge event"),
        (json.dumps({**sample("s3_object_created_success.json"), "detail": {"bucket": {}}}), "aws.s3 'Object Created' event is malformed"),
        (json.dumps({**sample("cloudwatch_alarm_state_change.json"), "detail": {"alarmName": "x"}}), "'CloudWatch Alarm State Change' event is malformed"),
        (json.dumps({**sample("s3_object_created_success.json"), "detail-type": "Object Deleted"}), "unsupported event"),
        (json.dumps(s3_object_created("incoming/_SUCCESS")), "not under incoming/<model>/<batch>/"),
        (json.dumps(s3_object_created("elsewhere/scarcegan/b1/_SUCCESS")), "not under incoming/<model>/<batch>/"),
    ],
)
def test_malformed_events_say_what_is_wrong(body, says):
    with pytest.raises(PermanentTriggerError, match=re.escape(says)):
        parse_trigger(body)


def test_drift_alarms_and_cli_requests_are_triggers_too():
    alarm = parse_trigger(json.dumps(sample("cloudwatch_alarm_state_change.json")), {"retrainer-drift-": "scarcegan"})
    manual = parse_trigger(json.dumps(sample("retraining_requested.json")))

    assert (alarm.type, alarm.model, alarm.alarm_state) == ("drift-alarm", "scarcegan", "ALARM")
    assert (manual.type, manual.overrides, manual.event_id) == ("manual", {"iterations": "3000"}, "0f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b")
    with pytest.raises(PermanentTriggerError, match="not a drift alarm of this stack"):
        parse_trigger(json.dumps(sample("cloudwatch_alarm_state_change.json")), {"other-prefix-": "scarcegan"})


def test_the_schedule_and_quiet_period_events_parse_as_their_triggers():
    scheduled = parse_trigger(json.dumps(sample("scheduled_retraining.json")))
    check = parse_trigger(json.dumps(sample("landing_quiet_check.json")))

    assert (scheduled.type, scheduled.model, scheduled.event_id) == ("schedule", "scarcegan", sample("scheduled_retraining.json")["id"])
    assert (check.type, check.landing.uri) == ("quiet-period", "s3://retrainer-local-landingbucket/incoming/scarcegan/2026-11-24/")
