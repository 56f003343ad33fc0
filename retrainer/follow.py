"""Following a run's execution as it moves, one compact line per change: used by `retrainer demo` and by
`retrainer start | resume --wait`."""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

from retrainer_core.names import FINAL_STATUSES

from retrainer import runs

STEPS = ("Preprocess", "Train", "Evaluate", "RegisterModels")
_PAIR = re.compile(r"(\w+)=([^;\s]+);")


def follow(session: Any, execution: dict[str, Any], out: Any, timeout: float) -> dict[str, Any]:
    """Print one compact line whenever the run moves: the step, its job's state, and while training
    the iteration and validation metrics from the job's log; one line per finished step."""
    sfn, logs, sagemaker = session.client("stepfunctions"), session.client("logs"), session.client("sagemaker")
    printed: set[str] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        found = runs.outcomes(runs.history(sfn, execution["executionArn"]))
        lines = _finished_steps(found)
        running = [name for name, entry in found.items() if entry["outcome"] == "running"]
        current = running[0] if running else next(reversed(found), None)
        step = next((s for s in STEPS if current and current.startswith(s)), current)
        if described["status"] == "RUNNING" and step and not any(line.startswith(f"{step:<15}") for line in lines):
            lines.append(f"{step:<15}{_step_progress(sagemaker, logs, execution['name'], step, current)}")
        if described["status"] in FINAL_STATUSES:
            seconds = ((described.get("stopDate") or described["startDate"]) - described["startDate"]).total_seconds()
            lines.append(f"{'run':<15}{described['status']} in {seconds:.1f}s")
        for line in lines:
            if line not in printed:
                print(f"[{datetime.now():%H:%M:%S}] {line}", file=out, flush=True)
                printed.add(line)
        if described["status"] in FINAL_STATUSES:
            return described
        time.sleep(1)
    raise TimeoutError(f"execution {execution['name']} still running after {timeout:.0f}s")


def _finished_steps(found: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for step in STEPS:
        entry = found.get(step)
        if entry and entry["outcome"] == "cached":
            lines.append(f"{step:<15}cached: an earlier run's output with the same content key")
        elif entry and entry["outcome"] != "running":
            seconds = (entry["last"] - entry["first"]).total_seconds()
            retries = f" after {entry['attempts']} attempts" if entry["attempts"] > entry["entered"] else ""
            outcome = "succeeded" if entry["outcome"] == "retried" else entry["outcome"]
            lines.append(f"{step:<15}{outcome} in {seconds:.1f}s{retries}")
    return lines + [f"{name:<15}failed" for name, entry in found.items()  # the <Step>Failed / RunFailed end
                    if name.endswith("Failed") and entry["outcome"] == "failed"]


def _step_progress(sagemaker: Any, logs: Any, execution: str, step: str, current: str | None) -> str:
    """The running job's state (and training iteration), or what the step is doing around its job."""
    if current != step:
        return "using the step cache" if current and current.endswith(("Cached", "FromCache")) else f"{current}"
    if step == "RegisterModels":
        return "registering candidates"
    if step == "Train":
        jobs = sagemaker.list_training_jobs(NameContains=f"{execution}-train-", SortBy="CreationTime", SortOrder="Descending")
        if not jobs["TrainingJobSummaries"]:
            return "starting the training job"
        job = sagemaker.describe_training_job(TrainingJobName=jobs["TrainingJobSummaries"][0]["TrainingJobName"])
        text = f"job {job['TrainingJobStatus']} ({job.get('SecondaryStatus', '-')})"
        try:
            line = runs.last_log_line(logs, "/aws/sagemaker/TrainingJobs", job["TrainingJobName"], "Iteration=")
        except logs.exceptions.ResourceNotFoundException:  # the job has not written its first line yet
            line = None
        if line:
            values = dict(_PAIR.findall(line))
            total = job.get("HyperParameters", {}).get("iterations")
            text += f"  iteration {values.get('Iteration', '?')}{'/' + total if total else ''}"
            if "Val_Recall_Risky" in values:
                text += f"  val recall {float(values['Val_Recall_Risky']):.3f}"
            if "Val_Precision_Risky" in values:
                text += f" precision {float(values['Val_Precision_Risky']):.3f}"
        return text
    jobs = sagemaker.list_processing_jobs(NameContains=f"{execution}-{step.lower()}-", SortBy="CreationTime", SortOrder="Descending")
    summaries = jobs["ProcessingJobSummaries"]
    return f"job {summaries[0]['ProcessingJobStatus']}" if summaries else "starting the processing job"
