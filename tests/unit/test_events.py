import json

import pytest
from core.errors import PermanentTriggerError
from core.events import parse_trigger

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
        ("{not json", "not an EventBridge S3 'Object Created' event"),
        (json.dumps({"detail-type": "Object Created"}), "not an EventBridge S3 'Object Created' event"),
        (json.dumps({**sample("s3_object_created_success.json"), "detail-type": "Object Deleted"}), "unsupported event"),
        (json.dumps(s3_object_created("incoming/_SUCCESS")), "not under incoming/<model>/<batch>/"),
        (json.dumps(s3_object_created("elsewhere/scarcegan/b1/_SUCCESS")), "not under incoming/<model>/<batch>/"),
    ],
)
def test_malformed_events_say_what_is_wrong(body, says):
    with pytest.raises(PermanentTriggerError, match=says.replace("(", r"\(").replace(")", r"\)")):
        parse_trigger(body)
