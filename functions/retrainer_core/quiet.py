"""Landings without a `_SUCCESS` marker (streaming delivery, database export tasks): complete once no
new object has arrived for the stack's quiet period (docs/decisions/0201-quiet-period-and-schedule.md).

The first part file of a landing schedules one check (a delayed message on the trigger queue itself,
so it goes through the same queue, lock and ledger as every other trigger); later part files find the
check scheduled and add nothing. When the check comes due it lists the landing: quiet long enough ->
a run on exactly what is there (content-derived run id: however many checks, one run per content);
not yet -> it schedules itself again for the rest of the period.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from typing import Any, Protocol

from retrainer_core.events import SUCCESS_MARKER, Trigger
from retrainer_core.run_spec import DataVersion, data_version
from retrainer_core.settings import StartRetrainingSettings
from retrainer_core.triggering import Decision, ObjectLister, Starter, start_or_coalesce

SQS_MAX_DELAY_SECONDS = 900  # a longer quiet period is waited out in several checks


class CheckScheduler(Protocol):
    def schedule(self, landing: dict[str, str], delay_seconds: int) -> None: ...


def wait_for_landing(trigger: Trigger, settings: StartRetrainingSettings, ledger: Any, checks: CheckScheduler,
                     now: Any = time.time) -> dict[str, Any]:
    """A part file: nothing to decide, unless the quiet period is on and no check is due for its landing."""
    quiet = settings.landing_quiet_period_seconds
    if quiet <= 0:
        return asdict(Decision("wait", trigger.model, reason=f"{trigger.object_key}: waiting for the landing's {SUCCESS_MARKER}"))
    landing = trigger.landing
    assert landing is not None
    if not ledger.claim_quiet_check(trigger.model, landing.prefix, int(now()) + quiet):
        return asdict(Decision("wait", trigger.model, reason=f"{trigger.object_key}: a quiet-period check of its landing is scheduled"))
    checks.schedule(_landing_detail(trigger), min(quiet, SQS_MAX_DELAY_SECONDS))
    return asdict(Decision("wait", trigger.model, reason=f"{trigger.object_key}: complete after {quiet}s without new objects (check scheduled)"))


def complete_if_quiet(trigger: Trigger, settings: StartRetrainingSettings, objects: ObjectLister, workflow: Starter,
                      ledger: Any, checks: CheckScheduler, build_spec: Any, now: Any = time.time) -> Decision:
    """build_spec(data, batch) -> the run's spec, the landing remembered as the model's newest
    (triggering.landing_spec: manifest, parameters, champion)."""
    landing = trigger.landing
    assert landing is not None
    listed = objects.list(landing.bucket, landing.prefix)
    if any(o["key"].rsplit("/", 1)[-1] == SUCCESS_MARKER for o in listed):
        return Decision("ignore", trigger.model, reason=f"{landing.uri} has its {SUCCESS_MARKER}: its marker starts its run")
    data_files = [o for o in listed if not o["key"].rsplit("/", 1)[-1].startswith(("_", "."))]
    if not data_files:
        return Decision("ignore", trigger.model, reason=f"{landing.uri}: holds no data files (deleted?)")
    quiet_for = now() - max(o["last_modified"] for o in data_files)
    remaining = settings.landing_quiet_period_seconds - quiet_for
    if remaining > 0:
        delay = min(math.ceil(remaining), SQS_MAX_DELAY_SECONDS)
        ledger.extend_quiet_check(trigger.model, landing.prefix, int(now()) + delay)
        checks.schedule(_landing_detail(trigger), delay)
        return Decision("wait", trigger.model, reason=f"{landing.uri}: last object {quiet_for:.0f}s ago, checking again in {delay}s")
    data = data_version(landing.uri, data_files)
    spec = build_spec(data, landing.batch)
    return start_or_coalesce(spec, workflow, ledger, settings.lock_ttl_seconds)


def newest_complete_landing(objects: ObjectLister, settings: StartRetrainingSettings, model: str,
                            now: Any = time.time) -> tuple[str, DataVersion] | None:
    """The newest landing of the model that is complete (its marker, or quiet for the quiet period
    when that is on), found in S3 itself: a schedule also catches landings whose events never came."""
    root = f"incoming/{model}/"
    batches: dict[str, list[dict[str, Any]]] = {}
    for item in objects.list(settings.landing_bucket, root):
        parts = item["key"][len(root):].split("/")
        if len(parts) >= 2 and parts[0]:
            batches.setdefault(parts[0], []).append(item)
    complete = []
    for batch, items in batches.items():
        data = [o for o in items if not o["key"].rsplit("/", 1)[-1].startswith(("_", "."))]
        if not data:
            continue
        marker = next((o for o in items if o["key"] == f"{root}{batch}/{SUCCESS_MARKER}"), None)
        newest = max(o["last_modified"] for o in data)
        quiet = settings.landing_quiet_period_seconds
        if marker or (quiet > 0 and now() - newest >= quiet):
            complete.append((max(newest, marker["last_modified"] if marker else 0), batch, data))
    if not complete:
        return None
    _, batch, data = max(complete)
    return batch, data_version(f"s3://{settings.landing_bucket}/{root}{batch}/", data)


def _landing_detail(trigger: Trigger) -> dict[str, str]:
    landing = trigger.landing
    assert landing is not None
    return {"bucket": landing.bucket, "model": landing.model, "batch": landing.batch}
