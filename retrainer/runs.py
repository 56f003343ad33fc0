"""What happened in a run, read back from the AWS APIs (the same calls work on AWS and locally):
the execution and its states, the SageMaker jobs and their metrics, the registered models."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from typing import Any

from retrainer_core.audit import STATUS, outcomes  # noqa: F401 - the one reading of a history, re-exported for the CLI


def executions(sfn: Any, state_machine_arn: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn):
        found += page["executions"]
    return sorted(found, key=lambda e: e["startDate"])


def states(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Each state in the order first entered: status (running/succeeded/failed), seconds, attempts."""
    events = history(sfn, execution_arn)
    found = outcomes(events)
    entered = dict.fromkeys([*(e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")),
                             *found])  # then the steps the execution started with as cache hits
    return [{
        "name": name,
        "status": STATUS.get(found[name]["outcome"], found[name]["outcome"]),
        "seconds": round((found[name]["last"] - found[name]["first"]).total_seconds(), 1),
        "attempts": found[name]["attempts"],
    } for name in entered]


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
    return next((line for line in reversed(log_lines(logs, group, job_name)) if containing in line), None)


def log_lines(logs: Any, group: str, job_name: str) -> list[str]:
    """Every line the job wrote, across its streams (<job>/algo-N-...)."""
    lines: list[str] = []
    try:
        streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{job_name}/")["logStreams"]
    except logs.exceptions.ResourceNotFoundException:
        return lines
    for stream in streams:
        token = None
        while True:
            page = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True,
                                       **({"nextToken": token} if token else {}))
            lines += [e["message"] for e in page["events"]]
            if not page["events"] or page.get("nextForwardToken") == token:
                break
            token = page.get("nextForwardToken")
    return lines


def models(sagemaker: Any, group: str, run_id: str | None = None) -> list[dict[str, Any]]:
    """Model package versions in the group (of one run, when given), oldest first, with their metrics."""
    return [v for v in versions(sagemaker, group) if run_id is None or v["run_id"] == run_id]


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


_INTERVAL = re.compile(r"^\s*(\S+)(?:\s*\[\s*(\S+),\s*(\S+)\s*\])?\s*$")


def interval(text: str) -> dict[str, float | None]:
    """`0.75 [0.5, 0.92]` (registration's Metric.<name> value) -> {value, low, high}."""
    match = _INTERVAL.match(text)
    if not match:
        raise ValueError(f"not a metric value: {text!r}")
    value, low, high = match.groups()
    return {"value": float(value), "low": float(low) if low else None, "high": float(high) if high else None}


def version_row(package: dict[str, Any]) -> dict[str, Any]:
    """One model package version (describe_model_package) as the fields a reviewer compares."""
    metadata = package.get("CustomerMetadataProperties", {}) or {}
    intervals = {k.removeprefix("Metric."): interval(v) for k, v in metadata.items() if k.startswith("Metric.")}
    beats = metadata.get("BeatsChampion")
    return {
        "version": package.get("ModelPackageVersion"),
        "arn": package["ModelPackageArn"],
        "group": package.get("ModelPackageGroupName"),
        "family": metadata.get("ModelFamily"),
        "kind": metadata.get("ModelKind"),
        "run": metadata.get("RunId"),
        "run_id": metadata.get("RunId"),
        "trigger": metadata.get("TriggerType"),
        "data_version": metadata.get("DataVersion"),
        "data_location": metadata.get("DataLocation"),
        "code_version": metadata.get("CodeVersion"),
        "training_job": metadata.get("TrainingJob"),
        "approval": package.get("ModelApprovalStatus"),
        "approval_note": package.get("ApprovalDescription") or metadata.get("ReviewNote"),
        "reviewed_by": metadata.get("ReviewedBy"),
        "reviewed_at": metadata.get("ReviewedAt"),
        "metrics": {name: bounds["value"] for name, bounds in intervals.items()},
        "intervals": intervals,  # each metric's confidence interval on the run's test players
        "beats_champion": None if beats is None else beats == "true",
        "champion_version": int(metadata["ChampionVersion"]) if metadata.get("ChampionVersion") else None,
        "content_key": metadata.get("ContentKey"),
        "hyperparameters": {k.removeprefix("Hp."): v for k, v in metadata.items() if k.startswith("Hp.")},
        "metrics_uri": package.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri"),
        "created": _iso(package.get("CreationTime")),
    }


def versions(sagemaker: Any, group: str, approval: str | None = None) -> list[dict[str, Any]]:
    """Every version in the group (optionally only one approval status), oldest first."""
    query: dict[str, Any] = {"ModelPackageGroupName": group}
    if approval:
        query["ModelApprovalStatus"] = approval
    found = []
    for page in sagemaker.get_paginator("list_model_packages").paginate(**query):
        for summary in page["ModelPackageSummaryList"]:
            found.append(version_row(sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])))
    return sorted(found, key=lambda v: v["version"] or 0)


def latest_approved(sagemaker: Any, group: str) -> dict[str, Any] | None:
    approved = versions(sagemaker, group, "Approved")
    return approved[-1] if approved else None


def wait_until(what: str, check: Any, timeout: float, every: float = 1.0) -> Any:
    """check() until it returns something truthy (returned), or TimeoutError naming what was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
