"""`retrainer demo`: land a synthetic batch in the landing bucket and follow the run the events start.

The demo never starts an execution itself: it writes data and a _SUCCESS marker, exactly as an
exporter would, and waits for the run that EventBridge -> SQS -> start_retraining starts."""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

from retrainer import runs, synthetic
from retrainer.local import control
from retrainer.local.faults import Faults

FINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def land_batch(s3: Any, bucket: str, model: str, batch: str, seed: int = 7) -> str:
    """Write the five groups as part files, then the marker that says the batch is complete."""
    prefix = f"incoming/{model}/{batch}/"
    with tempfile.TemporaryDirectory() as folder:
        for path in synthetic.write_batch(synthetic.generate(seed=seed), folder):
            s3.upload_file(str(path), bucket, prefix + path.relative_to(folder).as_posix())
    s3.put_object(Bucket=bucket, Key=prefix + "_SUCCESS", Body=b"")
    return f"s3://{bucket}/{prefix}"


def wait_for_execution(sfn: Any, state_machine_arn: str, landing_uri: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for execution in reversed(runs.executions(sfn, state_machine_arn)):
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            if f'"uri": "{landing_uri}"' in described.get("input", ""):
                return described
        time.sleep(0.5)
    raise TimeoutError(f"no execution started for {landing_uri} within {timeout:.0f}s: check the trigger queue's DLQ")


def follow(session: Any, execution: dict[str, Any], out: Any, timeout: float) -> dict[str, Any]:
    """Print progress per step (and training iteration) until the execution ends."""
    sfn, logs = session.client("stepfunctions"), session.client("logs")
    shown = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        states = runs.states(sfn, execution["executionArn"])
        running = [s["name"] for s in states if s["status"] == "running"]
        line = "  ".join(f"{s['name']}:{s['status']}" for s in states)
        if running and running[-1] == "Train":
            progress = runs.last_log_line(logs, "/aws/sagemaker/TrainingJobs", f"retrainer-{execution['name']}-train", "Iteration=")
            if progress:
                line += "  | " + progress.split(";")[0] + (";" + progress.split(";")[5] if progress.count(";") > 5 else "")
        if line != shown:
            print(f"[{datetime.now():%H:%M:%S}] {line}", file=out, flush=True)
            shown = line
        if described["status"] in FINAL:
            return described
        time.sleep(1)
    raise TimeoutError(f"execution {execution['name']} still running after {timeout:.0f}s")


def summary(session: Any, stack: dict[str, Any], described: dict[str, Any], landing_uri: str) -> dict[str, Any]:
    import json

    sfn, sagemaker = session.client("stepfunctions"), session.client("sagemaker")
    run_input = json.loads(described["input"])
    run_id = described["name"]
    job = runs.training_job(sagemaker, run_id)
    return {
        "execution": {
            "name": run_id,
            "arn": described["executionArn"],
            "status": described["status"],
            "error": described.get("error"),
            "cause": runs.failure_reason(described.get("cause")),
            "seconds": round(((described.get("stopDate") or described["startDate"]) - described["startDate"]).total_seconds(), 1),
            "states": runs.states(sfn, described["executionArn"]),
        },
        "trigger": {**run_input["trigger"], "landing": landing_uri},
        "data": run_input["data"],
        "training_job": job["TrainingJobName"] if job else None,
        "training_metrics": runs.final_metrics(job),
        "models": runs.models(sagemaker, stack["outputs"]["ModelPackageGroupName"], run_id),
    }


def run(fail_step: str | None, timeout: float, out: Any = sys.stderr) -> dict[str, Any]:
    location = control.Location.from_environment()
    print(f"local stack: {'already running' if control.describe(location) else 'starting'} (state in {location.state_dir})", file=out, flush=True)
    control.up(location)
    session, stack = control.session(location)
    if fail_step:
        Faults(location.state_dir / "faults.json").arm(fail_step, "bad-data")
        print(f"fault armed: the next {fail_step} job gets emptied input files", file=out, flush=True)
    batch = f"demo-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    landing = land_batch(session.client("s3"), stack["outputs"]["LandingBucketName"], "scarcegan", batch)
    print(f"landed {landing} (+ _SUCCESS); waiting for the trigger to start a run", file=out, flush=True)
    execution = wait_for_execution(session.client("stepfunctions"), stack["outputs"]["StateMachineArn"], landing, 60)
    print(f"run {execution['name']} started by the landing event", file=out, flush=True)
    described = follow(session, execution, out, timeout)
    return summary(session, stack, described, landing)


def render(result: dict[str, Any]) -> str:
    execution = result["execution"]
    lines = [f"Run {execution['name']}: {execution['status']} in {execution['seconds']}s"]
    if execution["error"]:
        lines.append(f"  {execution['error']}: {execution['cause']}")
    lines.append("  states:")
    lines += [f"    {s['name']:<20} {s['status']:<10} {s['seconds']:>7.1f}s" for s in execution["states"]]
    if result["training_metrics"]:
        lines.append(f"  training metrics ({result['training_job']}, parsed from the job log):")
        lines += [f"    {name:<34} {value:.4f}" for name, value in result["training_metrics"].items()]
    lines.append(f"  registered models ({len(result['models'])}):")
    for model in result["models"]:
        metrics = "  ".join(f"{k}={v:.3f}" for k, v in model["metrics"].items())
        lines.append(f"    v{model['version']:<3} {model['kind']:<15} {model['approval']:<22} {metrics}")
    return "\n".join(lines)
