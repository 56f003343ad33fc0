"""What one trigger message means for its model: start a run, or nothing (and why)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from core.errors import PermanentTriggerError
from core.events import SUCCESS_MARKER, parse_trigger
from core.run_spec import build_run_input, data_version
from core.settings import StartRetrainingSettings


class ObjectLister(Protocol):
    def list(self, bucket: str, prefix: str) -> list[dict[str, Any]]: ...


class Starter(Protocol):
    def start(self, name: str, run_input: dict[str, Any]) -> bool: ...


@dataclass(frozen=True)
class Decision:
    action: str  # "start" | "duplicate" | "wait"
    model: str
    run_id: str | None = None
    reason: str = ""


def decide(body: str, settings: StartRetrainingSettings, objects: ObjectLister, workflow: Starter) -> Decision:
    trigger = parse_trigger(body)
    landing = trigger.landing
    assert landing is not None
    if landing.bucket != settings.landing_bucket:
        raise PermanentTriggerError(f"s3://{landing.bucket}/{trigger.object_key}: not this stack's landing bucket")
    if landing.model != settings.model_name:
        raise PermanentTriggerError(
            f"{landing.uri}: unknown model {landing.model!r} (this stack retrains {settings.model_name!r})"
        )
    if not trigger.complete:
        return Decision("wait", landing.model, reason=f"{trigger.object_key}: waiting for {SUCCESS_MARKER}")

    listed = objects.list(landing.bucket, landing.prefix)
    if not any(o["key"] == trigger.object_key for o in listed):
        raise PermanentTriggerError(f"s3://{landing.bucket}/{trigger.object_key}: marker no longer exists")
    data_files = [o for o in listed if not o["key"].rsplit("/", 1)[-1].startswith(("_", "."))]
    if not data_files:
        raise PermanentTriggerError(f"{landing.uri}: complete but holds no data files")

    run_input = build_run_input(settings, trigger, data_version(landing.uri, data_files))
    started = workflow.start(run_input["run_id"], run_input)
    return Decision("start" if started else "duplicate", landing.model, run_input["run_id"])
