"""Each step of one execution, read from its history: job, status, duration, billable seconds,
attempts (the state machine's retries and SageMaker's own, inside a training job), what each retry
followed, cache hit and estimated cost. Works the same for a first run and a resumed attempt."""

from __future__ import annotations

import json
from typing import Any

from retrainer_core.pricing import estimated_cost

STEPS = ("Preprocess", "Train", "Challenger", "Evaluate", "Score")


def audit(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Task events belong to the state their previousEventId chain leads to, so the two training
    branches that run side by side are told apart (histories without ids: the last state entered)."""
    steps: dict[str, dict[str, Any]] = {}
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
    if reason:
        facts["failure_reason"] = reason
    return facts
