"""Trigger events as AWS documents them, parsed once at the edge into a `Trigger`.

Sources: S3 "Object Created" (through EventBridge), CloudWatch "Alarm State Change", the CLI's own
events (`retrainer start`, `retrainer resume`) put on the default bus with source `retrainer`, the
stack's optional schedule (EventBridge Scheduler -> the trigger queue) and start_retraining's own
delayed quiet-period checks (retrainer_core/quiet.py), both with source `retrainer` too.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from retrainer_core.errors import PermanentTriggerError

SUCCESS_MARKER = "_SUCCESS"
LANDING_ROOT = "incoming/"  # training data: incoming/<model>/<batch>/
SCORING_ROOT = "scoring/"  # data being scored, checked for drift: scoring/<model>/<batch>/
# A training landing holds one folder per player group: Preprocess's five inputs (statemachine/
# retrain.asl.json), the container's schema.GROUPS; a unit test keeps the three the same.
LANDING_GROUPS = ("unlabeled", "risky", "dormant", "normal", "heavy")
CLI_SOURCE = "retrainer"
MODEL_PACKAGE_GROUP_SUFFIX = "-models"  # the template names each model's group <model>-models


class EventBridgeModel(msgspec.Struct, kw_only=True, frozen=True):
    """An EventBridge event as AWS documents it: the envelope Powertools' parser models too
    (aws_lambda_powertools.utilities.parser.models.EventBridgeModel, same fields, aliases and
    required-ness). Ours, because importing Powertools' models module builds every AWS event model it
    knows, which cost the handlers' cold start about half a boto3 import (docs/decisions/0503), and
    they are pydantic models: pydantic's import alone costs a third of one (docs/decisions/0504)."""

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: str = msgspec.field(name="detail-type")
    detail: dict[str, Any]
    replay_name: str | None = msgspec.field(default=None, name="replay-name")

    @classmethod
    def parse(cls, raw: Any) -> Any:
        """raw (a decoded event) -> an instance of cls; msgspec.ValidationError naming the field if it is not one."""
        if isinstance(raw, dict) and raw.get("source") == "aws.scheduler" and raw.get("detail") == "{}":
            raw = {**raw, "detail": {}}  # EventBridge Scheduler sends an empty detail as the string '{}' (as Powertools' model allows)
        return msgspec.convert(raw, cls)


class _OneKind(msgspec.Struct, kw_only=True, frozen=True):
    """The detail of one kind of event."""


class _S3Bucket(_OneKind, kw_only=True):
    name: str


class _S3Object(_OneKind, kw_only=True):
    key: str
    size: Annotated[float, msgspec.Meta(ge=0)] | None = None
    etag: str = ""
    version_id: str | None = msgspec.field(default=None, name="version-id")
    sequencer: str | None = None


class _S3ObjectCreatedDetail(_OneKind, kw_only=True):
    """S3's "Object Created" detail (S3 -> EventBridge), the fields required as AWS always sends them."""

    version: str
    bucket: _S3Bucket
    object: _S3Object
    request_id: str = msgspec.field(name="request-id")
    requester: str
    source_ip_address: str | None = msgspec.field(default=None, name="source-ip-address")
    reason: str | None = None


class S3EventNotificationEventBridgeModel(EventBridgeModel, kw_only=True, frozen=True):
    detail: _S3ObjectCreatedDetail  # type: ignore[assignment]


class Landing(msgspec.Struct, kw_only=True, frozen=True):
    """A batch of data under incoming/<model>/<batch>/ in the landing bucket."""

    bucket: str
    model: str
    batch: str
    root: str = LANDING_ROOT

    @property
    def prefix(self) -> str:
        return f"{self.root}{self.model}/{self.batch}/"

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


class Trigger(msgspec.Struct, kw_only=True, frozen=True):
    """Why a run starts: kept in the run ledger and the registry metadata."""

    type: Literal["data-landing", "scoring-landing", "drift-alarm", "manual", "resume", "quiet-period", "schedule", "approval"]
    source: str
    event_id: str
    time: datetime
    model: str
    landing: Landing | None = None
    object_key: str | None = None
    object_version: str | None = None  # S3 version id, else ETag/sequencer: with the key, which object this is
    complete: bool = False  # a landing's _SUCCESS marker
    alarm_name: str | None = None
    alarm_state: str | None = None
    overrides: dict[str, str] = {}
    quality_gate: dict[str, float] = {}  # min_recall / max_flagged_share for this run
    use_cache: bool = True
    data_uri: str | None = None
    run_id: str | None = None  # resume: the run to continue
    requested_by: str | None = None
    model_package_arn: str | None = None  # approval: the version whose status changed
    approval_status: str | None = None

    @classmethod
    def parse(cls, data: Any) -> Trigger:
        """A dumped trigger (any of its forms) -> Trigger; msgspec.ValidationError naming the field if it is not one."""
        return msgspec.convert(data, cls)

    def dump(self, *, exclude_none: bool = False, exclude_defaults: bool = False) -> dict[str, Any]:
        """Its JSON form, without the fields that are None and/or at their default (a landing's too).
        Not Struct's omit_defaults: that compares a default by identity, and a landing's root is rebuilt."""
        return _dump(self, exclude_none, exclude_defaults)


def _dump(struct: msgspec.Struct, exclude_none: bool, exclude_defaults: bool) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for field in msgspec.structs.fields(struct):
        value = getattr(struct, field.name)
        default = field.default if field.default_factory is msgspec.NODEFAULT else field.default_factory()
        if (exclude_none and value is None) or (exclude_defaults and default is not msgspec.NODEFAULT and value == default):
            continue
        found[field.encode_name] = _dump(value, exclude_none, exclude_defaults) if isinstance(value, msgspec.Struct) else value
    return msgspec.to_builtins(found)


class _ModelPackageDetail(_OneKind, kw_only=True):
    """SageMaker "Model Package State Change": the detail carries the package as DescribeModelPackage does."""

    ModelPackageGroupName: str  # noqa: N815 - AWS's field names
    ModelPackageArn: str  # noqa: N815
    ModelApprovalStatus: str  # noqa: N815


class _AlarmState(_OneKind, kw_only=True):
    value: str
    timestamp: str | None = None


class _AlarmDetail(_OneKind, kw_only=True):
    alarmName: str  # noqa: N815 - AWS's field name
    state: _AlarmState


class _StartDetail(_OneKind, kw_only=True):
    model: str
    request_id: str
    overrides: dict[str, str] = {}
    quality_gate: dict[Literal["min_recall", "max_flagged_share"], float] = {}
    use_cache: bool = True
    data_uri: str | None = None
    requested_by: str | None = None


class _QuietCheckDetail(_OneKind, kw_only=True):
    bucket: str
    model: str
    batch: str


class _ScheduleDetail(_OneKind, kw_only=True):
    model: str


class _ResumeDetail(_OneKind, kw_only=True):
    run_id: str
    request_id: str | None = None  # the CLI's, so it can read what became of the request by key
    requested_by: str | None = None


def parse_landing_key(bucket: str, key: str) -> tuple[Landing, bool]:
    """incoming|scoring/<model>/<batch>/<anything> -> (landing, is_success_marker)."""
    parts = key.split("/")
    root = f"{parts[0]}/"
    if root not in (LANDING_ROOT, SCORING_ROOT) or len(parts) < 4 or not parts[1] or not parts[2]:
        raise PermanentTriggerError(
            f"s3://{bucket}/{key}: not under incoming/<model>/<batch>/ or scoring/<model>/<batch>/ — a landing needs a model and a batch folder"
        )
    return Landing(bucket=bucket, model=parts[1], batch=parts[2], root=root), parts[-1] == SUCCESS_MARKER and len(parts) == 4


def parse_trigger(body: str, alarm_models: dict[str, str] | None = None) -> Trigger:
    """One SQS message body (an EventBridge event) -> Trigger, or PermanentTriggerError saying why not.

    alarm_models maps an alarm-name prefix to the model its alarms retrain."""
    try:
        raw: Any = json.loads(body)
        envelope = EventBridgeModel.parse(raw)
    except (ValueError, msgspec.ValidationError) as error:
        raise PermanentTriggerError(f"not an EventBridge event ({_problems(error)})") from error
    kind = (envelope.source, envelope.detail_type)
    try:
        if kind == ("aws.s3", "Object Created"):
            return _landing(S3EventNotificationEventBridgeModel.parse(raw))
        if kind == ("aws.sagemaker", "SageMaker Model Package State Change"):
            package = msgspec.convert(envelope.detail, _ModelPackageDetail)
            return Trigger(type="approval", source=envelope.source, event_id=envelope.id, time=envelope.time,
                           model=package.ModelPackageGroupName.removesuffix(MODEL_PACKAGE_GROUP_SUFFIX),
                           model_package_arn=package.ModelPackageArn, approval_status=package.ModelApprovalStatus)
        if kind == ("aws.cloudwatch", "CloudWatch Alarm State Change"):
            return _alarm(envelope, msgspec.convert(envelope.detail, _AlarmDetail), alarm_models or {})
        if kind == (CLI_SOURCE, "Retraining Requested"):
            detail = msgspec.convert(envelope.detail, _StartDetail)
            return Trigger(type="manual", source=envelope.source, event_id=detail.request_id, time=envelope.time,
                           model=detail.model, overrides=detail.overrides, quality_gate=detail.quality_gate, use_cache=detail.use_cache,
                           data_uri=detail.data_uri, requested_by=detail.requested_by)
        if kind == (CLI_SOURCE, "Landing Quiet Check"):  # start_retraining's own delayed message (retrainer_core/quiet.py)
            check = msgspec.convert(envelope.detail, _QuietCheckDetail)
            return Trigger(type="quiet-period", source=envelope.source, event_id=envelope.id, time=envelope.time, model=check.model,
                           landing=Landing(bucket=check.bucket, model=check.model, batch=check.batch))
        if kind == (CLI_SOURCE, "Scheduled Retraining"):  # the stack's EventBridge Scheduler schedule
            scheduled = msgspec.convert(envelope.detail, _ScheduleDetail)
            return Trigger(type="schedule", source=envelope.source, event_id=envelope.id, time=envelope.time, model=scheduled.model)
        if kind == (CLI_SOURCE, "Run Resume Requested"):
            detail_resume = msgspec.convert(envelope.detail, _ResumeDetail)
            return Trigger(type="resume", source=envelope.source, event_id=detail_resume.request_id or envelope.id, time=envelope.time,
                           model="", run_id=detail_resume.run_id, requested_by=detail_resume.requested_by)
    except msgspec.ValidationError as error:
        raise PermanentTriggerError(f"{envelope.source} {envelope.detail_type!r} event is malformed ({_problems(error)})") from error
    raise PermanentTriggerError(f"unsupported event {envelope.source!r} / {envelope.detail_type!r}")


def _landing(event: S3EventNotificationEventBridgeModel) -> Trigger:
    key = event.detail.object.key
    landing, complete = parse_landing_key(event.detail.bucket.name, key)
    obj = event.detail.object
    version = obj.version_id or "/".join(v for v in (obj.etag, obj.sequencer) if v) or None
    return Trigger(type="data-landing" if landing.root == LANDING_ROOT else "scoring-landing", source=event.source, event_id=event.id, time=event.time,
                   model=landing.model, landing=landing, object_key=key, object_version=version, complete=complete)


def _alarm(envelope: EventBridgeModel, detail: _AlarmDetail, alarm_models: dict[str, str]) -> Trigger:
    model = next((m for prefix, m in alarm_models.items() if detail.alarmName.startswith(prefix)), None)
    if model is None:
        raise PermanentTriggerError(f"alarm {detail.alarmName!r} is not a drift alarm of this stack")
    return Trigger(type="drift-alarm", source=envelope.source, event_id=envelope.id, time=envelope.time,
                   model=model, alarm_name=detail.alarmName, alarm_state=detail.state.value)


def _problems(error: Exception) -> str:
    """"path: message", as msgspec names the first problem it met (`Expected `str`, got `int` - at `$.detail.object.key``)."""
    if isinstance(error, msgspec.ValidationError):
        message, _, at = str(error).partition(" - at `$")
        path = at.removesuffix("`").removeprefix(".")
        missing = re.fullmatch(r"Object missing required field `(.+)`", message)
        if missing:
            path, message = ".".join(p for p in (path, missing[1]) if p), "field required"
        return f"{path or '(event)'}: {message}"
    return str(error)
