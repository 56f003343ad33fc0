"""`retrainer demo`: land a synthetic batch in the landing bucket and follow the run the events start.

The demo never starts an execution itself: it writes data and a _SUCCESS marker, exactly as an
exporter would, and waits for the run that EventBridge -> SQS -> start_retraining starts."""

from __future__ import annotations

import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retrainer import runs, synthetic
from retrainer.local import control
from retrainer.local.faults import Faults

FINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def land_batch(s3: Any, bucket: str, model: str, batch: str, seed: int = 7, fmt: str = "csv", marker: bool = True) -> str:
    """Write the five groups as part files (CSV or Parquet), then (unless marker=False, as exporters
    without one do) the marker that says the batch is complete."""
    prefix = f"incoming/{model}/{batch}/"
    with tempfile.TemporaryDirectory() as folder:
        for path in synthetic.write_batch(synthetic.generate(seed=seed), folder, fmt=fmt):
            s3.upload_file(str(path), bucket, prefix + path.relative_to(folder).as_posix())
    if marker:
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
        if described["status"] in FINAL:
            seconds = ((described.get("stopDate") or described["startDate"]) - described["startDate"]).total_seconds()
            lines.append(f"{'run':<15}{described['status']} in {seconds:.1f}s")
        for line in lines:
            if line not in printed:
                print(f"[{datetime.now():%H:%M:%S}] {line}", file=out, flush=True)
                printed.add(line)
        if described["status"] in FINAL:
            return described
        time.sleep(1)
    raise TimeoutError(f"execution {execution['name']} still running after {timeout:.0f}s")


def _finished_steps(found: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for step in STEPS:
        entry = found.get(step)
        if f"{step}FromCache" in found:
            lines.append(f"{step:<15}cached: an earlier run's output with the same content key")
        elif entry and entry["outcome"] != "running":
            seconds = (entry["last"] - entry["first"]).total_seconds()
            retries = f" after {entry['attempts']} attempts" if entry["attempts"] > entry["entered"] else ""
            outcome = "succeeded" if entry["outcome"] == "retried" else entry["outcome"]
            lines.append(f"{step:<15}{outcome} in {seconds:.1f}s{retries}")
    return lines + [f"{name:<15}{found[name]['outcome']}" for name in ("HandleFailure", "RunFailed")
                    if name in found and found[name]["outcome"] != "running"]


def _step_progress(sagemaker: Any, logs: Any, execution: str, step: str, current: str | None) -> str:
    """The running job's state (and training iteration), or what the step is doing around its job."""
    if current != step:
        return "checking the step cache" if current and current.endswith(("CacheLookup", "Cached")) else f"{current}"
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
        "quality_gate": run_input["quality_gate"],
        "data": run_input["data"],
        "training_job": job["TrainingJobName"] if job else None,
        "training_metrics": runs.final_metrics(job),
        "models": runs.models(sagemaker, stack["outputs"]["ModelPackageGroupName"], run_id),
    }


def land_scoring(s3: Any, bucket: str, model: str, batch: str, drift: float) -> str:
    """Telemetry of players being scored, under scoring/<model>/<batch>/, then its marker."""
    prefix = f"scoring/{model}/{batch}/"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "part-00000.csv"
        synthetic.scoring_batch(seed=8, drift=drift).to_csv(path, index=False)
        s3.upload_file(str(path), bucket, prefix + "part-00000.csv")
    s3.put_object(Bucket=bucket, Key=prefix + "_SUCCESS", Body=b"")
    return f"s3://{bucket}/{prefix}"


def approve_pick(session: Any, result: dict[str, Any], out: Any) -> dict[str, Any]:
    """Approve the version of evaluate's pick (the report's `best`), as a reviewer would after `retrainer compare`."""
    import json

    from retrainer import review

    s3, sagemaker = session.client("s3"), session.client("sagemaker")
    gate = result["quality_gate"]
    best = json.loads(s3.get_object(Bucket=gate["report_bucket"], Key=gate["report_key"])["Body"].read())["best"]
    pick = next((m for m in result["models"] if m["kind"] == best), result["models"][0])
    row = review.review(sagemaker, pick["arn"], "Approved", f"demo: evaluate's pick ({best})")
    print(f"approved v{row['version']} ({row['family']} {row['kind']}), evaluate's pick", file=out, flush=True)
    return row


def score_batch(session: Any, stack: dict[str, Any], out: Any, timeout: float, drift: float = 0.0) -> dict[str, Any]:
    """A fresh scoring batch lands -> the scoring run of the approved version -> flagged players."""
    from retrainer_core.ledger import Ledger

    batch = f"scoring-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    scoring = land_scoring(session.client("s3"), stack["outputs"]["LandingBucketName"], "scarcegan", batch, drift=drift)
    print(f"landed scoring data {scoring} (+ _SUCCESS); the approved model scores it", file=out, flush=True)
    ledger = Ledger(stack["outputs"]["RunLedgerTableName"])

    def scored() -> dict[str, Any] | None:
        found = [r for r in ledger.runs(200) if r.get("kind") == "scoring" and r.get("batch") == batch]
        return next((r for r in found if r["status"] in FINAL), None)

    run = runs.wait_until(f"the scoring run of {batch}", scored, timeout)
    if run["status"] != "SUCCEEDED":
        raise RuntimeError(f"scoring run {run['run_id']} {run['status']}: {(run.get('failure') or {}).get('cause')}")
    figures = run["scoring"]
    print(f"scoring run {run['run_id']}: {figures['rows']} players scored by v{figures['model_version']}, "
          f"{figures['flagged']} flagged (max feature PSI {figures['max_feature_psi']}) -> {figures['flags_uri']}",
          file=out, flush=True)
    return {"batch": batch, "run_id": run["run_id"], "rows": figures["rows"], "flagged": figures["flagged"],
            "model_version": figures["model_version"], "flags_uri": figures["flags_uri"],
            "max_feature_psi": figures["max_feature_psi"]}


def close_the_loop(session: Any, stack: dict[str, Any], out: Any, timeout: float) -> dict[str, Any]:
    """Drifted scoring data lands -> its scoring run puts MaxFeaturePSI -> alarm -> retrain."""
    cloudwatch, sfn = session.client("cloudwatch"), session.client("stepfunctions")
    known = {e["name"] for e in runs.executions(sfn, stack["outputs"]["StateMachineArn"])}
    scored = score_batch(session, stack, out, timeout, drift=2.0)
    alarm = "retrainer-drift-scarcegan-psi"
    runs.wait_until("the drift alarm", lambda: cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"] == "ALARM", 60)
    print(f"alarm {alarm} -> ALARM; waiting for the retrain it starts", file=out, flush=True)
    retrain = runs.wait_until("the drift-triggered run", lambda: next(
        (e for e in runs.executions(sfn, stack["outputs"]["StateMachineArn"]) if e["name"] not in known), None), 60)
    described = follow(session, retrain, out, timeout)
    return {"scoring_data": scored["batch"], "drift_check": {"job": scored["run_id"], "status": "Completed",
                                                              "log": f"MaxFeaturePSI={scored['max_feature_psi']};"},
            "alarm": alarm, "retrain": summary(session, stack, described, scored["batch"])}


def run(fail_step: str | None, timeout: float, out: Any = sys.stderr, drift: bool = False) -> dict[str, Any]:
    location = control.Location.from_environment()
    print(f"local stack: {'already running' if control.describe(location) else 'starting'} (state in {location.state_dir})", file=out, flush=True)
    control.up(location)
    session, stack = control.session(location, deployed_ok=False)  # the demo never touches a deployed stack
    if fail_step:
        Faults(location.state_dir / "faults.json").arm(fail_step, "bad-data")
        print(f"fault armed: the next {fail_step} job gets emptied input files", file=out, flush=True)
    batch = f"demo-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    landing = land_batch(session.client("s3"), stack["outputs"]["LandingBucketName"], "scarcegan", batch)
    print(f"landed {landing} (+ _SUCCESS); waiting for the trigger to start a run", file=out, flush=True)
    execution = wait_for_execution(session.client("stepfunctions"), stack["outputs"]["StateMachineArn"], landing, 60)
    print(f"run {execution['name']} started by the landing event", file=out, flush=True)
    described = follow(session, execution, out, timeout)
    result = summary(session, stack, described, landing)
    result["mlflow"] = (stack.get("mlflow") or {}).get("uri")  # finish_run logs the run there as it closes it
    if described["status"] == "SUCCEEDED" and result["models"]:
        result["approved"] = approve_pick(session, result, out)
        result["scoring"] = score_batch(session, stack, out, timeout)
        if drift:
            result["drift"] = close_the_loop(session, stack, out, timeout)
    return result


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
        shown = {k: model["intervals"][k] for k in ("pr_auc", "recall", "precision") if k in model.get("intervals", {})}
        metrics = "  ".join(f"{k}={v['value']:.3f} [{v['low']:.2f},{v['high']:.2f}]" for k, v in shown.items())
        lines.append(f"    v{model['version']:<3} {model['family'] or '-':<17} {model['kind']:<15} {model['approval']:<22} {metrics}")
    if "scoring" in result:
        scoring = result["scoring"]
        lines.append(f"  scoring: {scoring['batch']}: {scoring['rows']} players scored by v{scoring['model_version']}, "
                     f"{scoring['flagged']} flagged -> {scoring['flags_uri']}")
    if result.get("mlflow"):
        lines.append(f"  tracked in MLflow: {result['mlflow']} (retrainer ui {execution['name']})")
    return "\n".join(lines)
