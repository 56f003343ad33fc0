"""What happened in a run, read back from the AWS APIs (the same calls work on AWS and locally):
the execution and its states, the SageMaker jobs and their metrics, the registered models."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

# state name -> the step its SageMaker job belongs to (job names are <prefix>-<run>-<step>-<attempt>)
JOB_STATES = {"Preprocess": "preprocess", "Train": "train", "Evaluate": "evaluate"}


def executions(sfn: Any, state_machine_arn: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn):
        found += page["executions"]
    return sorted(found, key=lambda e: e["startDate"])


def states(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Each state in the order first entered: status (running/succeeded/failed) and seconds spent."""
    seen: dict[str, dict[str, Any]] = {}
    failed_states: set[str] = set()
    current: list[str] = []
    for event in history(sfn, execution_arn):
        kind, at = event["type"], event["timestamp"]
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            entry = seen.setdefault(name, {"name": name, "status": "running", "entered": at, "exited": None, "attempts": 0})
            current.append(name)
            if kind in ("FailStateEntered", "SucceedStateEntered"):  # terminal states never exit
                entry["exited"], entry["status"] = at, "failed" if kind == "FailStateEntered" else "succeeded"
        elif kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            entry = seen[name]
            entry["exited"] = at
            entry["status"] = "failed" if name in failed_states else "succeeded"
        elif kind == "TaskScheduled" and current:  # a retry starts over: an earlier attempt's failure is not the state's
            seen[current[-1]]["attempts"] += 1
            seen[current[-1]]["status"] = "running"
            failed_states.discard(current[-1])
        elif kind in ("TaskFailed", "TaskTimedOut", "MapRunFailed", "MapStateFailed") and current:
            failed_states.add(current[-1])
            seen[current[-1]]["status"] = "failed"
    result = []
    for entry in seen.values():
        end = entry["exited"] or entry["entered"]
        result.append({
            "name": entry["name"],
            "status": entry["status"],
            "seconds": round((end - entry["entered"]).total_seconds(), 1),
            "attempts": entry["attempts"],
        })
    return result


def history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events += page["events"]
    return events


def failure_reason(cause: str | None) -> str | None:
    """The job's own FailureReason out of a .sync task's cause (a Describe*Job document), if there."""
    if not cause:
        return cause
    head, _, document = cause.partition(": ")
    try:
        job = json.loads(document or head)
    except json.JSONDecodeError:
        return cause
    if not isinstance(job, dict):
        return cause
    if "errorMessage" in job:  # a Lambda error
        return f"{head}: {job.get('errorType', 'Error')}: {job['errorMessage']}"
    name = job.get("TrainingJobName") or job.get("ProcessingJobName") or ""
    return f"{head}: {name}: {job.get('FailureReason') or job.get('ExitMessage') or 'no reason given'}"


def training_job(sagemaker: Any, run_id: str) -> dict[str, Any] | None:
    jobs = sagemaker.list_training_jobs(NameContains=run_id, SortBy="CreationTime", SortOrder="Descending")
    summaries = [j for j in jobs["TrainingJobSummaries"] if f"-{run_id}-train-" in j["TrainingJobName"]]
    return sagemaker.describe_training_job(TrainingJobName=summaries[0]["TrainingJobName"]) if summaries else None


def final_metrics(job: dict[str, Any] | None) -> dict[str, float]:
    return {m["MetricName"]: m["Value"] for m in (job or {}).get("FinalMetricDataList", [])}


def last_log_line(logs: Any, group: str, job_name: str, containing: str) -> str | None:
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{job_name}/").get("logStreams", [])
    for stream in reversed(streams):
        events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=False, limit=200)["events"]
        for event in reversed(events):
            if containing in event["message"]:
                return event["message"]
    return None


def models(sagemaker: Any, group: str, run_id: str | None = None) -> list[dict[str, Any]]:
    """Model package versions in the group (of one run, when given), newest last, with their metrics."""
    found = []
    for page in sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group):
        for summary in page["ModelPackageSummaryList"]:
            package = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            metadata = package.get("CustomerMetadataProperties", {})
            if run_id and metadata.get("RunId") != run_id:
                continue
            found.append({
                "arn": package["ModelPackageArn"],
                "version": package.get("ModelPackageVersion"),
                "kind": metadata.get("ModelKind"),
                "run_id": metadata.get("RunId"),
                "approval": package["ModelApprovalStatus"],
                "metrics": {k.removeprefix("Metric."): float(v) for k, v in metadata.items() if k.startswith("Metric.")},
                "metrics_uri": package.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri"),
                "created": _iso(package.get("CreationTime")),
            })
    return sorted(found, key=lambda m: m["version"] or 0)


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value
