"""The one reading of an execution history (docs/decisions/0511): each step's job, status, duration,
billable seconds, attempts (the state machine's retries and SageMaker's own, inside a training job),
what each retry followed, cache hit and estimated cost (`audit`); why the execution failed
(`failure`); and each state's outcome, for the CLI's run view and graph (`outcomes`). Works the same
for a first run, a resumed attempt and a transient failure's next attempt."""

from __future__ import annotations

import json
from typing import Any

from retrainer_core.pricing import estimated_cost

STEPS = ("Preprocess", "Train", "Challenger", "Evaluate", "Score")
# A job that died inside SageMaker, not on its data: its step runs again (docs/decisions/0303)
TRANSIENT_CAUSES = ("InternalServerError", "CapacityError", "Insufficient capacity")


def execution_input(history: list[dict[str, Any]]) -> dict[str, Any]:
    started = next((e for e in history if e["type"] == "ExecutionStarted"), None)
    return _document((started or {}).get("executionStartedEventDetails", {}).get("input")) or {}


def cached_at_start(history: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """State name -> the cache hit the execution started with (its input's `steps`, decided once)."""
    known = execution_input(history).get("steps") or {}
    return {step: known[step.lower()] for step in STEPS if (known.get(step.lower()) or {}).get("cache_hit")}


def audit(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Task events belong to the state their previousEventId chain leads to, so the two training
    branches that run side by side are told apart (histories without ids: the last state entered)."""
    steps: dict[str, dict[str, Any]] = {
        step: {"step": step.lower(), "status": "cached", "attempts": 0, "cache_hit": True, "billable_seconds": 0,
               "cost_usd": 0.0, "job_name": hit.get("job_name")}
        for step, hit in cached_at_start(history).items()
    }
    owner: dict[Any, str | None] = {}
    current: str | None = None
    for event in history:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            current = event["stateEnteredEventDetails"]["name"]
            owner[event.get("id")] = current
            step = current.removesuffix("FromCache")
            if step in STEPS:
                steps.setdefault(step, {"step": step.lower(), "status": "running", "attempts": 0, "cache_hit": False})
                if current.endswith("FromCache"):
                    steps[step].update(status="cached", cache_hit=True, billable_seconds=0, cost_usd=0.0)
            continue
        if "previousEventId" in event:
            current = owner.get(event["previousEventId"], current)
            owner[event.get("id")] = current
        if current in STEPS and kind == "TaskScheduled":
            entry = steps[current]
            entry["attempts"] += 1
            if entry.pop("pending_failure", None):  # the state machine retried the failed task
                entry.setdefault("retried_after", []).append(entry["failure_reason"])
        elif current in STEPS and kind in ("TaskSucceeded", "TaskFailed", "TaskTimedOut"):
            details = event.get("taskSucceededEventDetails") or event.get("taskFailedEventDetails") or event.get("taskTimedOutEventDetails") or {}
            text = details.get("output") or details.get("cause")
            job = _document(text)
            entry = steps[current]
            entry["status"] = "succeeded" if kind == "TaskSucceeded" else "failed"
            if job:
                entry.update(_job_facts(job))
                # SageMaker's own retries inside the job (training RetryStrategy): one "Starting" each
                restarts = [t for t in job.get("SecondaryStatusTransitions", []) if t.get("Status") == "Starting"][1:]
                entry["attempts"] += len(restarts)
                entry.setdefault("retried_after", []).extend(t.get("StatusMessage", "restarted") for t in restarts)
                if not entry["retried_after"]:
                    del entry["retried_after"]
            if kind != "TaskSucceeded":
                entry["error"] = details.get("error")
                entry["failure_reason"] = (job or {}).get("FailureReason") or f"{details.get('error')}: {text or ''}".strip()
                entry["pending_failure"] = True
            else:
                entry.pop("failure_reason", None)
        elif kind.endswith("StateExited") and event["stateExitedEventDetails"]["name"].endswith("FromCache"):
            name = event["stateExitedEventDetails"]["name"].removesuffix("FromCache")
            output = _document(event["stateExitedEventDetails"].get("output")) or {}
            steps[name]["job_name"] = output.get("steps", {}).get(name.lower(), {}).get("job_name")
    for entry in steps.values():
        entry.pop("pending_failure", None)
    return [steps[s] for s in STEPS if s in steps]


def _document(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _job_facts(job: dict[str, Any]) -> dict[str, Any]:
    if "TrainingJobName" in job:
        resources = job.get("ResourceConfig", {})
        start, end = job.get("TrainingStartTime"), job.get("TrainingEndTime")
        billable = job.get("BillableTimeInSeconds")
        name, reason = job["TrainingJobName"], job.get("FailureReason")
    else:
        resources = job.get("ProcessingResources", {}).get("ClusterConfig", {})
        start, end = job.get("ProcessingStartTime"), job.get("ProcessingEndTime")
        billable = None
        name, reason = job.get("ProcessingJobName"), job.get("FailureReason")
    instance_type, count = resources.get("InstanceType", "?"), int(resources.get("InstanceCount", 1))
    seconds = round((end - start) / 1000, 1) if isinstance(start, int | float) and isinstance(end, int | float) else None
    if billable is None and seconds is not None:
        billable = max(1, round(seconds)) * count
    facts = {"job_name": name, "instance_type": instance_type, "instance_count": count, "seconds": seconds,
             "billable_seconds": billable, "cost_usd": estimated_cost(instance_type, billable or 0)}
    if job.get("ModelArtifacts", {}).get("S3ModelArtifacts"):
        facts["model_artifacts"] = job["ModelArtifacts"]["S3ModelArtifacts"]
    if reason:
        facts["failure_reason"] = reason
    return facts


def failure(history: list[dict[str, Any]]) -> dict[str, str] | None:
    """Which step failed the execution, with its error and cause (the job's own, or registration's
    message), from the execution's end. None unless it failed (timed out and aborted runs end
    without an error of a step)."""
    ended = next((e for e in reversed(history) if e["type"] == "ExecutionFailed"), None)
    if ended is None:
        return None
    details = ended.get("executionFailedEventDetails", {})
    error, cause = details.get("error") or "", details.get("cause") or ""
    # <Step>Failed names the step; registration's own errors (QualityGateNotMet, RegistrationError) do not
    step = error.removesuffix("Failed") if error.endswith("Failed") else (
        "QualityGate" if error == "QualityGateNotMet" else "RegisterModels")
    lambda_error = _document(cause)
    if lambda_error and "errorMessage" in lambda_error:  # a Lambda's error document: its message is the cause
        cause = lambda_error["errorMessage"]
    return {"step": step, "error": error, "cause": cause}


def is_transient(found: dict[str, str] | None) -> bool:
    """A job step that failed inside SageMaker (internal error, capacity), not on its data."""
    return bool(found) and found["step"] in ("Preprocess", "Train", "Evaluate") and any(
        reason in found["cause"] for reason in TRANSIENT_CAUSES)


def merge_attempts(earlier: list[dict[str, Any]], latest: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One run's steps over its attempts (a transient failure's next attempt): a step that ran in an
    earlier attempt and is a hit of it now is the earlier job; a step that failed before and ran
    again has both attempts, and what the retry followed."""
    before = {s["step"]: s for s in earlier}
    merged = []
    for step in latest:
        prior = before.get(step["step"])
        if prior and step.get("cache_hit") and not prior.get("cache_hit") and prior.get("status") == "succeeded":
            step = prior
        elif prior and prior.get("status") == "failed" and not step.get("cache_hit"):
            step = {**step, "attempts": prior.get("attempts", 0) + step.get("attempts", 0),
                    "retried_after": [*prior.get("retried_after", []), prior.get("failure_reason") or prior.get("error") or "failed",
                                      *step.get("retried_after", [])],
                    "cost_usd": round((prior.get("cost_usd") or 0) + (step.get("cost_usd") or 0), 6)}
        merged.append(step)
    return merged


# ---------------------------------------------------------------- every state's outcome (the CLI's view)

_TASK_FAILED = {"TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed", "LambdaFunctionFailed",
                "LambdaFunctionTimedOut", "LambdaFunctionStartFailed", "MapStateFailed", "MapRunFailed",
                "ParallelStateFailed", "ActivityFailed", "ActivityTimedOut"}
_TASK_SUCCEEDED = {"TaskSucceeded", "LambdaFunctionSucceeded", "MapStateSucceeded", "MapRunSucceeded",
                   "ParallelStateSucceeded", "ActivitySucceeded"}
_EXECUTION_ENDED = {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}
# what an outcome means as a state's status: a retried or cached state did its work
STATUS = {"retried": "succeeded", "cached": "succeeded"}


def outcomes(history: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per state entered: outcome (succeeded, failed, cached, retried, running), times entered,
    attempts (TaskScheduled), first entered and last exited. Events are attributed to states through
    previousEventId, so the interleaved iterations of a Map are counted right. A step the execution
    started with as a cache hit counts as cached, entered or not."""
    owner: dict[int, str | None] = {}
    seen: dict[str, dict[str, Any]] = {}
    last_entered: str | None = None
    execution_ended = False
    entries: list[tuple[int, str]] = []  # (position in the history, state entered)
    for position, event in enumerate(history):
        kind, at = event["type"], event.get("timestamp")
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            entry = seen.setdefault(name, {"entered": 0, "exited": 0, "attempts": 0, "failures": 0, "successes": 0,
                                           "terminal": None, "first": at, "last": at})
            entry["entered"] += 1
            entries.append((position, name))
            if kind in ("FailStateEntered", "SucceedStateEntered"):
                entry["terminal"] = "failed" if kind == "FailStateEntered" else "succeeded"
            owner[event["id"]] = last_entered = name
            continue
        previous = event.get("previousEventId")
        name = owner.get(previous, last_entered) if previous else last_entered
        owner[event["id"]] = name
        if kind in _EXECUTION_ENDED:
            execution_ended = True
        if kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            entry = seen.get(name)
            if entry:
                entry["exited"] += 1
                entry["last"] = at
            continue
        entry = seen.get(name) if name else None
        if entry is None:
            continue
        if kind == "TaskScheduled":
            entry["attempts"] += 1
        elif kind in _TASK_FAILED:
            entry["failures"] += 1
            entry["failed_at"] = position
            entry["last"] = at
        elif kind in _TASK_SUCCEEDED:
            entry["successes"] += 1
    for name, entry in seen.items():  # a failure that a Catch turned into another state has ended its state
        entry["caught"] = "failed_at" in entry and any(p > entry["failed_at"] and n != name for p, n in entries)
    result = {name: {"outcome": _outcome(name, entry, execution_ended), "entered": entry["entered"],
                     "attempts": entry["attempts"], "first": entry["first"], "last": entry["last"]}
              for name, entry in seen.items()}
    for name in list(result):  # the step a cache hit stood in for counts as cached too
        step = name.removesuffix("FromCache")
        if step != name and step not in result:
            result[step] = {**result[name], "attempts": 0, "outcome": "cached"}
    started = history[0].get("timestamp") if history else None
    for step in cached_at_start(history):
        result.setdefault(step, {"outcome": "cached", "entered": 0, "attempts": 0, "first": started, "last": started})
    return result


def _outcome(name: str, entry: dict[str, Any], execution_ended: bool) -> str:
    if entry["terminal"]:
        return entry["terminal"]
    if name.endswith("FromCache"):
        return "cached"
    if entry["exited"] < entry["entered"]:  # still in it (a retry may be on its way) unless the run moved on
        return "failed" if execution_ended or entry["caught"] else "running"
    if entry["failures"] and entry["successes"] < entry["entered"]:
        return "failed"
    if entry["attempts"] > entry["entered"]:
        return "retried"
    return "succeeded"
