"""Event builders on top of the real-shaped samples in events/."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[2] / "events"


def sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def s3_object_created(key: str, bucket: str = "retrainer-local-landingbucket", event_id: str = "e-1") -> dict[str, Any]:
    event = copy.deepcopy(sample("s3_object_created_success.json"))
    event["id"] = event_id
    event["detail"]["bucket"]["name"] = bucket
    event["resources"] = [f"arn:aws:s3:::{bucket}"]
    event["detail"]["object"]["key"] = key
    return event


def sqs_batch(*bodies: Any) -> dict[str, Any]:
    record = sample("sqs_landing_batch.json")["Records"][0]
    records = []
    for i, body in enumerate(bodies):
        records.append({**record, "messageId": f"m-{i}", "body": body if isinstance(body, str) else json.dumps(body)})
    return {"Records": records}


def alarm_state_change(alarm: str, state: str, event_id: str = "a-1") -> dict[str, Any]:
    event = sample("cloudwatch_alarm_state_change.json")
    event["id"] = event_id
    event["detail"]["alarmName"] = alarm
    event["detail"]["state"]["value"] = state
    return event


def manual_request(overrides: dict[str, str] | None = None, use_cache: bool = True, request_id: str = "req-1") -> dict[str, Any]:
    event = sample("retraining_requested.json")
    event["detail"].update(overrides=overrides or {}, use_cache=use_cache, request_id=request_id)
    return event


def resume_request(run_id: str) -> dict[str, Any]:
    event = sample("retraining_requested.json")
    event["detail-type"] = "Run Resume Requested"
    event["detail"] = {"run_id": run_id, "requested_by": "analyst"}
    return event
