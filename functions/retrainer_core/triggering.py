"""What one trigger means for its model: start a run, fold it into the running run's follow-up, or
nothing (and why). Shared by start_retraining and finish_run (which starts follow-ups)."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from retrainer_core.errors import PermanentTriggerError
from retrainer_core.events import LANDING_GROUPS, SUCCESS_MARKER, Trigger
from retrainer_core.parameters import Schema, read_manifest
from retrainer_core.run_spec import Champion, build_run_input, data_version
from retrainer_core.settings import StartRetrainingSettings
from retrainer_core.step_cache import cached_steps

MANIFEST = "_manifest.json"  # beside _SUCCESS: how the landing is to be read (data parameters)


class ObjectLister(Protocol):
    def list(self, bucket: str, prefix: str) -> list[dict[str, Any]]: ...


class Starter(Protocol):
    def start(self, name: str, run_input: dict[str, Any]) -> bool: ...


class Champions(Protocol):
    def approved(self, group: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class Decision:
    action: str  # "start" | "coalesce" (queued) | "duplicate" | "wait" | "ignore" | "score" | "refused"
    model: str
    run_id: str | None = None
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def decide(trigger: Trigger, settings: StartRetrainingSettings, objects: ObjectLister, workflow: Starter, ledger: Any,
           scoring: Any = None, checks: Any = None, registry: Any = None) -> Decision:
    """scoring: starts scoring runs and publishes their events (core.aws.ScoringRuns); checks: schedules
    quiet-period checks; registry: the Model Registry (champion, approved versions)."""
    if trigger.type == "resume":
        return resume(trigger, workflow, ledger, settings.lock_ttl_seconds)  # the stack's current limits
    if trigger.type == "approval" and trigger.model != settings.model_name:
        return Decision("ignore", trigger.model, reason=f"{trigger.model_package_arn}: not this stack's model package group")
    if trigger.type == "approval":
        return rescore_on_approval(trigger, settings, ledger, registry, scoring)
    if trigger.model != settings.model_name:
        raise PermanentTriggerError(f"unknown model {trigger.model!r} (this stack retrains {settings.model_name!r})")
    if trigger.type == "quiet-period":
        from retrainer_core.quiet import complete_if_quiet  # it builds on this module

        _until_complete(msgspec.structs.replace(trigger, complete=True), settings)  # this stack's landing bucket only
        return complete_if_quiet(trigger, settings, objects, workflow, ledger, checks,
                                 lambda data, batch: landing_spec(trigger, settings, objects, registry, data, batch, ledger))

    if trigger.type in ("data-landing", "scoring-landing"):
        waiting = _until_complete(trigger, settings)
        if waiting:
            return waiting
    if trigger.type == "scoring-landing":
        return score_landing(trigger, settings, objects, ledger, registry, scoring)
    schema = parameter_schema(objects, settings.parameter_schema_uri)
    trigger = msgspec.structs.replace(trigger, overrides=schema.validate(trigger.overrides, "--param "))
    if trigger.type == "schedule":
        from retrainer_core.quiet import newest_complete_landing

        found = newest_complete_landing(objects, settings, trigger.model)
        if found is None:
            return Decision("ignore", trigger.model, reason="no complete landing yet: nothing to retrain on")
        batch, data = found
        # no identity of its own: the newest landing's run, which its marker may have started already
        spec = landing_spec(trigger, settings, objects, registry, data, batch, ledger)
        return start_or_coalesce(spec, workflow, ledger, settings.lock_ttl_seconds)
    champion = _champion(registry, settings.model_package_group)
    if trigger.type == "data-landing":
        landing = trigger.landing
        data, manifest = _landed_data(objects, landing.bucket, landing.prefix, trigger.object_key, schema, LANDING_GROUPS)
        ledger.remember_landing(trigger.model, {**msgspec.to_builtins(data), "batch": landing.batch, "manifest": manifest})
        spec = build_run_input(settings, schema, trigger, data, landing.batch, manifest=manifest, champion=champion)
    else:
        latest = _data_for(trigger, objects, ledger, settings)
        if latest is None:
            return Decision("ignore", trigger.model, reason="no complete landing yet: nothing to retrain on")
        if trigger.type == "drift-alarm":
            if trigger.alarm_state != "ALARM":
                return Decision("ignore", trigger.model, reason=f"alarm {trigger.alarm_name} is {trigger.alarm_state}")
            if not ledger.claim_cooldown(trigger.model, trigger.alarm_name, settings.drift_cooldown_seconds):
                return Decision("ignore", trigger.model, reason=f"alarm {trigger.alarm_name} is inside its {settings.drift_cooldown_seconds}s cooldown")
        identity = {"trigger": trigger.type, "event": trigger.event_id}  # each alarm / request is a run of its own
        spec = build_run_input(settings, schema, trigger, _version(latest), latest["batch"], identity,
                               manifest=latest.get("manifest") or {}, champion=champion)
    return start_or_coalesce(spec, workflow, ledger, settings.lock_ttl_seconds)


# Triggers that ask for "a run on the newest data with the stack's parameters": while the model is
# busy, the newest of them stands for all (docs/decisions/0200-queued-requests-keep-their-identity.md).
# A manual request carries parameters (and maybe data) of its own: it is never merged, it runs in turn.
DATA_DRIVEN = ("data-landing", "drift-alarm", "quiet-period", "schedule")
_LOCK_TRIES = 5


def start_or_coalesce(spec: dict[str, Any], workflow: Starter, ledger: Any, lock_ttl_seconds: int,
                      queued_at: float | None = None) -> Decision:
    """Start the run if the model is free; while another run holds the model, queue it behind that
    run (recorded as QUEUED in the ledger, so it can be shown). queued_at keeps a re-queued run's place."""
    model, rid = spec["model"], spec["run_id"]
    for _ in range(_LOCK_TRIES):  # bounded: the holder may end between our two conditional writes
        existing = ledger.run(rid)
        if existing and existing.get("attempts"):
            return Decision("duplicate", model, rid, reason="this run exists already", details={"duplicate_of": rid})
        if existing and existing.get("status") == "QUEUED" and queued_at is None:
            lock = ledger.lock(model) or {}
            if rid in lock.get("pending", {}):
                return Decision("duplicate", model, rid, reason=f"queued already, behind run {lock['run_id']}",
                                details={"duplicate_of": rid, "holder": lock["run_id"], "position": queue_position(lock, rid)})
        holder = ledger.acquire(model, rid, lock_ttl_seconds)
        if holder not in (None, rid):
            entry = {"uri": spec["data"]["uri"], "run_id": rid, "spec": spec, "queued_at": queued_at or time.time()}
            if not ledger.add_pending(model, holder, entry):
                continue  # the holder just ended: try again
            if not ledger.record_run({**_run_record(spec), "status": "QUEUED", "queued_behind": holder}):
                ledger.update_run(rid, status="QUEUED", queued_behind=holder)
            position = queue_position(ledger.lock(model) or {}, rid)
            return Decision("coalesce", model, rid, reason=f"run {holder} is running: queued behind it (position {position})",
                            details={"holder": holder, "position": position})
        # The lock is this run's: new, queued until now, or an earlier try that failed before its
        # execution started (a retried message), or a concurrent invocation with the same trigger.
        # The execution name decides.
        if existing:  # a queued run starts with what it learned while queued (follows, coalesced)
            ledger.update_run(rid, trigger=spec["trigger"], spec=spec, started_at=_now())
        else:
            ledger.record_run(_run_record(spec))
        started = workflow.start(rid, execution_input(spec, ledger))
        ledger.add_attempt(rid, {"execution": rid, "started_at": int(time.time())})  # once per execution, whoever wins
        return Decision("start", model, rid) if started else Decision("duplicate", model, rid, reason="its execution exists already",
                                                                      details={"duplicate_of": rid})
    raise RuntimeError(f"the lock of {model} changed hands {_LOCK_TRIES} times while deciding {rid}: try again")


def queue_order(pending: dict[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The runs queued behind a holder, in the order they will run, and the ones superseded (run id ->
    the run that covers it). First come, first served, except that data-driven triggers merge into
    the newest of them, which keeps its own place and lists the others in trigger.coalesced."""
    entries = sorted(copy.deepcopy(list(pending.values())), key=lambda e: e["queued_at"])
    data = [e for e in entries if e["spec"]["trigger"].get("type") in DATA_DRIVEN]
    superseded: dict[str, str] = {}
    if data:
        newest = data[-1]
        covered = list(newest["spec"]["trigger"].get("coalesced", []))
        for older in data[:-1]:
            covered += [*older["spec"]["trigger"].get("coalesced", []), older["run_id"]]
            superseded[older["run_id"]] = newest["run_id"]
        newest["spec"]["trigger"]["coalesced"] = list(dict.fromkeys(covered))
    return [e for e in entries if e["run_id"] not in superseded], superseded


def queue_position(lock: dict[str, Any], run_id: str) -> int | None:
    """1 = the next to run when the holder ends; None when run_id is not queued behind it."""
    order, _ = queue_order(lock.get("pending", {}))
    return next((i for i, e in enumerate(order, 1) if e["run_id"] == run_id), None)


def answer(trigger: Trigger, decision: Decision, ledger: Any) -> None:
    """What became of a CLI request, kept under the request's id so `retrainer start` reads it by key."""
    if trigger.type in ("manual", "resume"):
        ledger.record_decision(trigger.event_id, {"action": decision.action, "model": decision.model, "run_id": decision.run_id,
                                                  "reason": decision.reason, **decision.details})


def resume(trigger: Trigger, workflow: Starter, ledger: Any, lock_ttl_seconds: int) -> Decision:
    """A new attempt of a failed run, named <run>-r<n>, with the same input: the step cache makes it
    continue from the step that failed (docs/decisions/0010-resume-through-the-cache.md)."""
    run = ledger.run(trigger.run_id)
    if run is None:
        raise PermanentTriggerError(f"resume: no run {trigger.run_id!r} in the ledger")
    if run["status"] not in ("FAILED", "TIMED_OUT", "ABORTED"):
        return Decision("ignore", run["model"], trigger.run_id, reason=f"resume: run is {run['status']}, not failed")
    holder = ledger.acquire(run["model"], trigger.run_id, lock_ttl_seconds)
    if holder not in (None, trigger.run_id):
        return Decision("ignore", run["model"], trigger.run_id, reason=f"resume: model busy with run {holder}; resume it later")
    name = f"{trigger.run_id}-r{len(run.get('attempts', []))}"
    spec = {**run["spec"], "options": {**run["spec"]["options"], "use_cache": True},
            "retries": {**run["spec"]["retries"], "attempt": 0}}  # a new attempt has its transient re-runs again
    if not workflow.start(name, execution_input(spec, ledger)):
        return Decision("duplicate", run["model"], trigger.run_id, reason=f"attempt {name} exists already")
    ledger.add_attempt(trigger.run_id, {"execution": name, "started_at": int(time.time()), "requested_by": trigger.requested_by})
    return Decision("start", run["model"], trigger.run_id, reason=f"resumed as {name}")


def execution_input(spec: dict[str, Any], ledger: Any, delay_seconds: int = 0) -> dict[str, Any]:
    """What one execution of a run starts with: its spec, the steps whose outputs exist already (cache
    hits, looked up now, once) and how long to back off before the first step."""
    paths = spec["paths"]
    if "champion" not in paths:  # a run recorded before evaluate's champion input was always present (0510)
        paths = {**paths, "champion": (spec.get("champion") or {}).get("model_data_url") or paths["code"]}
    return {**spec, "paths": paths, "retries": {**spec["retries"], "delay_seconds": delay_seconds},
            "steps": cached_steps(spec, ledger)}


def retry_transient(ended_input: dict[str, Any], attempts: int, workflow: Starter, ledger: Any) -> str | None:
    """A job of the run died inside SageMaker (docs/decisions/0303): its next attempt `<run>-r<n>` backs
    off, then goes on from the failed step (what completed is a hit of the run's own). None when the
    ended execution (`ended_input`) was the run's `retries.max`-th such attempt. The lock stays."""
    retries = ended_input["retries"]
    if retries.get("attempt", 0) >= retries.get("max", 0):
        return None
    spec = {k: v for k, v in ended_input.items() if k != "steps"}
    spec["retries"] = {**retries, "attempt": retries.get("attempt", 0) + 1, "delay_seconds": 0}
    run_id = spec["run_id"]
    name = f"{run_id}-r{attempts}"
    workflow.start(name, execution_input(spec, ledger, retries.get("wait_seconds", 0)))  # False: started already (a redelivery)
    ledger.add_attempt(run_id, {"execution": name, "started_at": int(time.time()), "requested_by": "transient-failure"})
    return name


def score_landing(trigger: Trigger, settings: StartRetrainingSettings, objects: ObjectLister, ledger: Any,
                  registry: Any, scoring: Any) -> Decision:
    """A complete scoring batch -> a scoring run with the latest Approved version (independent of the
    training lock); the batch is remembered as the one an approval re-scores."""
    from retrainer_core.scoring import start_scoring

    landing = trigger.landing
    schema = parameter_schema(objects, settings.parameter_schema_uri)
    data, manifest = _landed_data(objects, landing.bucket, landing.prefix, trigger.object_key, schema)
    found = {**msgspec.to_builtins(data), "batch": landing.batch, "manifest": manifest}
    ledger.remember_landing(trigger.model, found, scoring=True)
    action, run_id, reason = start_scoring(settings, found, trigger.dump(exclude_none=True),
                                           registry, scoring, ledger, scoring)
    return Decision(action, trigger.model, run_id, reason=reason)


def rescore_on_approval(trigger: Trigger, settings: StartRetrainingSettings, ledger: Any, registry: Any, scoring: Any) -> Decision:
    """A version became Approved: the newest scoring batch is scored again with it (RescoreOnApproval)."""
    from retrainer_core.scoring import start_scoring

    if trigger.approval_status != "Approved":
        return Decision("ignore", trigger.model, reason=f"{trigger.model_package_arn} is {trigger.approval_status}, not Approved")
    if not settings.rescore_on_approval:
        return Decision("ignore", trigger.model, reason="RescoreOnApproval is off")
    landing = ledger.latest_landing(trigger.model, scoring=True)
    if landing is None:
        return Decision("ignore", trigger.model, reason="no scoring batch has landed yet: nothing to re-score")
    action, run_id, reason = start_scoring(settings, landing, trigger.dump(exclude_none=True),
                                           registry, scoring, ledger, scoring, model_arn=trigger.model_package_arn)
    return Decision(action, trigger.model, run_id, reason=reason)


def _until_complete(trigger: Trigger, settings: StartRetrainingSettings) -> Decision | None:
    """A landing's objects wait for its marker; another bucket's are not ours."""
    landing = trigger.landing
    assert landing is not None
    if landing.bucket != settings.landing_bucket:
        raise PermanentTriggerError(f"s3://{landing.bucket}/{trigger.object_key}: not this stack's landing bucket")
    return None if trigger.complete else Decision("wait", trigger.model, reason=f"{trigger.object_key}: waiting for {SUCCESS_MARKER}")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _run_record(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "run_id": spec["run_id"],
        "model": spec["model"],
        "status": "STARTING",
        "started_at": _now(),
        "trigger": spec["trigger"],
        "data": spec["data"],
        "code_version": spec["code_version"],
        "spec": spec,
    }


def _landed_data(objects: ObjectLister, bucket: str, prefix: str, marker: str | None = None,
                 schema: Schema | None = None, groups: tuple[str, ...] = ()) -> tuple[Any, dict[str, str]]:
    """The landing's data version and, when it has a `_manifest.json`, its validated data parameters.
    A landing without data under one of `groups` is refused here, before a run is queued (its job
    would fail at staging: SageMaker finds no object under that input's prefix)."""
    listed = objects.list(bucket, prefix)
    if marker and not any(o["key"] == marker for o in listed):
        raise PermanentTriggerError(f"s3://{bucket}/{marker}: marker no longer exists")
    data_files = [o for o in listed if not o["key"].rsplit("/", 1)[-1].startswith(("_", "."))]
    if not data_files:
        raise PermanentTriggerError(f"s3://{bucket}/{prefix}: holds no data files")
    missing = [group for group in groups if not any(o["key"].startswith(f"{prefix}{group}/") for o in data_files)]
    if missing:
        raise PermanentTriggerError(f"s3://{bucket}/{prefix}: no data files under {', '.join(g + '/' for g in missing)} "
                                    f"(a training landing has a folder for each of {', '.join(groups)})")
    manifest: dict[str, str] = {}
    if schema is not None and any(o["key"] == prefix + MANIFEST for o in listed):
        uri = f"s3://{bucket}/{prefix}{MANIFEST}"
        try:
            document = objects.read_json(uri)
        except ValueError as error:
            raise PermanentTriggerError(f"{uri}: not valid JSON ({error})") from None
        manifest = schema.only("data", read_manifest(document, uri), f"{uri}: ")
    return data_version(f"s3://{bucket}/{prefix}", data_files), manifest


_schemas: dict[str, Schema] = {}


def parameter_schema(objects: Any, uri: str) -> Schema:
    """The parameter schema published with the stack's code version (immutable, so kept per URI)."""
    if uri not in _schemas:
        try:
            _schemas[uri] = Schema(objects.read_json(uri))
        except KeyError as error:
            raise PermanentTriggerError(f"{uri}: no parameter schema published with this code version ({error})") from None
    return _schemas[uri]


def landing_spec(trigger: Trigger, settings: StartRetrainingSettings, objects: Any, registry: Champions | None,
                 data: Any, batch: str, ledger: Any = None) -> dict[str, Any]:
    """The run of a complete landing found without its marker event (quiet period, schedule): its
    manifest read, the landing remembered as the model's newest, the champion of the moment."""
    schema = parameter_schema(objects, settings.parameter_schema_uri)
    _, manifest = _landed_data(objects, settings.landing_bucket, f"incoming/{trigger.model}/{batch}/", schema=schema, groups=LANDING_GROUPS)
    if ledger is not None:
        ledger.remember_landing(trigger.model, {**msgspec.to_builtins(data), "batch": batch, "manifest": manifest})
    return build_run_input(settings, schema, trigger, data, batch, manifest=manifest,
                           champion=_champion(registry, settings.model_package_group))


def _champion(registry: Champions | None, group: str) -> Champion | None:
    found = registry.approved(group) if registry else None
    return msgspec.convert(found, Champion) if found else None


def _data_for(trigger: Trigger, objects: ObjectLister, ledger: Any, settings: StartRetrainingSettings) -> dict[str, Any] | None:
    if trigger.data_uri:
        bucket, _, prefix = trigger.data_uri.removeprefix("s3://").partition("/")
        if bucket != settings.landing_bucket or not prefix.startswith(f"incoming/{trigger.model}/"):
            raise PermanentTriggerError(f"{trigger.data_uri}: not a landing of {trigger.model} in this stack's landing bucket")
        prefix = prefix if prefix.endswith("/") else prefix + "/"
        data, manifest = _landed_data(objects, bucket, prefix, schema=parameter_schema(objects, settings.parameter_schema_uri), groups=LANDING_GROUPS)
        return {**msgspec.to_builtins(data), "batch": prefix.rstrip("/").rsplit("/", 1)[-1], "manifest": manifest}
    return ledger.latest_landing(trigger.model)


def _version(latest: dict[str, Any]):
    from retrainer_core.run_spec import DataVersion

    return DataVersion(uri=latest["uri"], version=latest["version"], objects=latest["objects"])
