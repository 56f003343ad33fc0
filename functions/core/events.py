"""Trigger events as AWS documents them, parsed once at the edge into a `Trigger`."""

from __future__ import annotations

from datetime import datetime

from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from pydantic import BaseModel, ValidationError

from core.errors import PermanentTriggerError

SUCCESS_MARKER = "_SUCCESS"
LANDING_ROOT = "incoming/"


class Landing(BaseModel):
    """A batch of data under incoming/<model>/<batch>/ in the landing bucket."""

    bucket: str
    model: str
    batch: str

    @property
    def prefix(self) -> str:
        return f"{LANDING_ROOT}{self.model}/{self.batch}/"

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


class Trigger(BaseModel):
    """Why a run starts: what the user sees in the ledger and the registry metadata."""

    type: str  # "data-landing"
    source: str
    event_id: str
    time: datetime
    landing: Landing | None = None
    object_key: str | None = None
    complete: bool = False  # True when this event closes a landing (its _SUCCESS marker)


def parse_landing_key(bucket: str, key: str) -> tuple[Landing, bool]:
    """incoming/<model>/<batch>/<anything> -> (landing, is_success_marker)."""
    parts = key.split("/")
    if not key.startswith(LANDING_ROOT) or len(parts) < 4 or not parts[1] or not parts[2]:
        raise PermanentTriggerError(
            f"s3://{bucket}/{key}: not under incoming/<model>/<batch>/ — a landing needs a model and a batch folder"
        )
    return Landing(bucket=bucket, model=parts[1], batch=parts[2]), parts[-1] == SUCCESS_MARKER and len(parts) == 4


def parse_trigger(body: str) -> Trigger:
    """One SQS message body (an EventBridge event) -> Trigger, or PermanentTriggerError saying why not."""
    try:
        event = S3EventNotificationEventBridgeModel.model_validate_json(body)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:5])
        raise PermanentTriggerError(f"not an EventBridge S3 'Object Created' event ({problems})") from error
    if event.source != "aws.s3" or event.detail_type != "Object Created":
        raise PermanentTriggerError(f"unsupported event {event.source!r} / {event.detail_type!r}")
    key = event.detail.object.key
    landing, complete = parse_landing_key(event.detail.bucket.name, key)
    return Trigger(
        type="data-landing",
        source=event.source,
        event_id=event.id,
        time=event.time,
        landing=landing,
        object_key=key,
        complete=complete,
    )
