"""Trigger events as AWS documents them, parsed once at the edge into a `Trigger`.

Sources: S3 "Object Created" (through EventBridge), CloudWatch "Alarm State Change", the CLI's own
events (`retrainer start`, `retrainer resume`) put on the default bus with source `retrainer`, the
stack's optional schedule (EventBridge Scheduler -> the trigger queue) and start_retraining's own
delayed quiet-period checks (retrainer_core/quiet.py), both with source `retrainer` too.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from retrainer_core.errors import PermanentTriggerError

SUCCESS_MARKER = "_SUCCESS"
LANDING_ROOT = "incoming/"  # training data: incoming/<model>/<batch>/
SCORING_ROOT = "scoring/"  # data being scored, checked for drift: scoring/<model>/<batch>/
CLI_SOURCE = "retrainer"
MODEL_PACKAGE_GROUP_SUFFIX = "-models"  # the template names each model's group <model>-models


class EventBridgeModel(BaseModel):
    """An EventBridge event as AWS documents it: the envelope Powertools' parser models too
    (aws_lambda_powertools.utilities.parser.models.EventBridgeModel, same fields, aliases and
    required-ness). Ours, because importing Powertools' models module builds every AWS event model it
    knows, which cost the handlers' cold start about half a boto3 import (docs/decisions/0503)."""

    model_config = ConfigDict(populate_by_name=True)

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: str = Field(alias="detail-type")
    detail: dict[str, Any]
    replay_name: str | None = Field(None, alias="replay-name")

    @field_validator("detail", mode="before")
    @classmethod
    def _scheduler_detail(cls, value: Any, info: ValidationInfo) -> Any:
        # EventBridge Scheduler sends an empty detail as the string '{}' (as Powertools' model allows)
        return {} if info.data.get("source") == "aws.scheduler" and value == "{}" else value


class _OneKind(BaseModel):
    """The detail of one kind of event: an invocation meets one or two kinds, so each is built (its
    validator generated) when first used, not at import (docs/decisions/0503)."""

    model_config = ConfigDict(defer_build=True)


class _S3Bucket(_OneKind):
    name: str


class _S3Object(_OneKind):
    key: str
    size: float | None = Field(None, ge=0)
    etag: str = ""
    version_id: str | None = Field(None, alias="version-id")
    sequencer: str | None = None


class _S3ObjectCreatedDetail(_OneKind):
    """S3's "Object Created" detail (S3 -> EventBridge), the fields required as AWS always sends them."""

    version: str
    bucket: _S3Bucket
    object: _S3Object
    request_id: str = Field(alias="request-id")
    requester: str
    source_ip_address: str | None = Field(None, alias="source-ip-address")
    reason: str | None = None


class S3EventNotificationEventBridgeModel(EventBridgeModel):
    model_config = ConfigDict(populate_by_name=True, defer_build=True)

    detail: _S3ObjectCreatedDetail  # type: ignore[assignment]


class Landing(BaseModel):
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


class Trigger(BaseModel):
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
    overrides: dict[str, str] = Field(default_factory=dict)
    quality_gate: dict[str, float] = Field(default_factory=dict)  # min_recall / max_flagged_share for this run
    use_cache: bool = True
    data_uri: str | None = None
    run_id: str | None = None  # resume: the run to continue
    requested_by: str | None = None
    model_package_arn: str | None = None  # approval: the version whose status changed
    approval_status: str | None = None


class _ModelPackageDetail(_OneKind):
    """SageMaker "Model Package State Change": the detail carries the package as DescribeModelPackage does."""

    ModelPackageGroupName: str  # noqa: N815 - AWS's field names
    ModelPackageArn: str  # noqa: N815
    ModelApprovalStatus: str  # noqa: N815


class _AlarmState(_OneKind):
    value: str
    timestamp: str | None = None


class _AlarmDetail(_OneKind):
    alarmName: str  # noqa: N815 - AWS's field name
    state: _AlarmState


class _StartDetail(_OneKind):
    model: str
    request_id: str
    overrides: dict[str, str] = Field(default_factory=dict)
    quality_gate: dict[Literal["min_recall", "max_flagged_share"], float] = Field(default_factory=dict)
    use_cache: bool = True
    data_uri: str | None = None
    requested_by: str | None = None


class _QuietCheckDetail(_OneKind):
    bucket: str
    model: str
    batch: str


class _ScheduleDetail(_OneKind):
    model: str


class _ResumeDetail(_OneKind):
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
        envelope = EventBridgeModel.model_validate(raw)
    except (ValueError, ValidationError) as error:
        raise PermanentTriggerError(f"not an EventBridge event ({_problems(error)})") from error
    kind = (envelope.source, envelope.detail_type)
    try:
        if kind == ("aws.s3", "Object Created"):
            return _landing(S3EventNotificationEventBridgeModel.model_validate(raw))
        if kind == ("aws.sagemaker", "SageMaker Model Package State Change"):
            package = _ModelPackageDetail.model_validate(envelope.detail)
            return Trigger(type="approval", source=envelope.source, event_id=envelope.id, time=envelope.time,
                           model=package.ModelPackageGroupName.removesuffix(MODEL_PACKAGE_GROUP_SUFFIX),
                           model_package_arn=package.ModelPackageArn, approval_status=package.ModelApprovalStatus)
        if kind == ("aws.cloudwatch", "CloudWatch Alarm State Change"):
            return _alarm(envelope, _AlarmDetail.model_validate(envelope.detail), alarm_models or {})
        if kind == (CLI_SOURCE, "Retraining Requested"):
            detail = _StartDetail.model_validate(envelope.detail)
            return Trigger(type="manual", source=envelope.source, event_id=detail.request_id, time=envelope.time,
                           model=detail.model, overrides=detail.overrides, quality_gate=detail.quality_gate, use_cache=detail.use_cache,
                           data_uri=detail.data_uri, requested_by=detail.requested_by)
        if kind == (CLI_SOURCE, "Landing Quiet Check"):  # start_retraining's own delayed message (retrainer_core/quiet.py)
            check = _QuietCheckDetail.model_validate(envelope.detail)
            return Trigger(type="quiet-period", source=envelope.source, event_id=envelope.id, time=envelope.time, model=check.model,
                           landing=Landing(bucket=check.bucket, model=check.model, batch=check.batch))
        if kind == (CLI_SOURCE, "Scheduled Retraining"):  # the stack's EventBridge Scheduler schedule
            scheduled = _ScheduleDetail.model_validate(envelope.detail)
            return Trigger(type="schedule", source=envelope.source, event_id=envelope.id, time=envelope.time, model=scheduled.model)
        if kind == (CLI_SOURCE, "Run Resume Requested"):
            detail_resume = _ResumeDetail.model_validate(envelope.detail)
            return Trigger(type="resume", source=envelope.source, event_id=detail_resume.request_id or envelope.id, time=envelope.time,
                           model="", run_id=detail_resume.run_id, requested_by=detail_resume.requested_by)
    except ValidationError as error:
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
    if isinstance(error, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:5])
    return str(error)
