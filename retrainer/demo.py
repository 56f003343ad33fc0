"""`retrainer demo`: land a synthetic batch in the landing bucket and follow the run the events start.

The demo never starts an execution itself: it writes data and a _SUCCESS marker, exactly as an
exporter would, and waits for the run that EventBridge -> SQS -> start_retraining starts."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from retrainer_core.ledger import Ledger
from retrainer_core.names import FINAL_STATUSES, execution_arn

from retrainer import runs, synthetic
from retrainer.follow import follow
from retrainer.local import control
from retrainer.local.faults import Faults


def add_arguments(command: str, parser: Any) -> None:
    parser.add_argument("--json", action="store_true", help="also print the summary as one JSON line, last")
    parser.add_argument("--fail-step", choices=["preprocess", "train", "evaluate"], help="make this step's job fail on broken input")
    parser.add_argument("--drift", action="store_true", help="then land drifted scoring data: drift check, alarm, retrain")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the run")
    parser.set_defaults(run=_demo)


def _demo(args: Any) -> int:
    result = run(args.fail_step, args.timeout, drift=args.drift)
    print(render(result))
    if "drift" in result:
        loop = result["drift"]
        print(f"\nDrift: {loop['scoring_data']} -> {loop['drift_check']['job']} ({loop['drift_check']['log']}) -> {loop['alarm']} ALARM -> retrain")
        print(render(loop["retrain"]))
    if args.json:
        print(json.dumps(result, default=str))
    return 0 if result["execution"]["status"] == "SUCCEEDED" or args.fail_step else 1


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


def wait_for_execution(session: Any, stack: dict[str, Any], model: str, landing_uri: str, since: str,
                       timeout: float) -> dict[str, Any]:
    """The execution of the run the landing started, described: the ledger's run of that landing (a query
    on the model's runs started since it landed), once its execution is recorded."""
    ledger = Ledger(stack["outputs"]["RunLedgerTableName"])
    sfn = session.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = ledger.runs(1, model=model, since=since, where={"data.uri": landing_uri})
        if found and found[0].get("attempts"):
            arn = execution_arn(stack["outputs"]["StateMachineArn"], found[0]["attempts"][0]["execution"])
            return sfn.describe_execution(executionArn=arn)
        time.sleep(0.5)
    raise TimeoutError(f"no execution started for {landing_uri} within {timeout:.0f}s: check the trigger queue's DLQ")


def landed_since(now: datetime | None = None, margin_seconds: int = 300) -> str:
    """A start-time bound for the runs a landing made now can start (ISO, as the ledger keeps started_at),
    with a margin for the clocks of the machine and of the stack's functions."""
    return ((now or datetime.now(UTC)) - timedelta(seconds=margin_seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def summary(session: Any, stack: dict[str, Any], described: dict[str, Any], landing_uri: str) -> dict[str, Any]:
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
    batch = f"scoring-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    since = landed_since()
    scoring = land_scoring(session.client("s3"), stack["outputs"]["LandingBucketName"], "scarcegan", batch, drift=drift)
    print(f"landed scoring data {scoring} (+ _SUCCESS); the approved model scores it", file=out, flush=True)
    ledger = Ledger(stack["outputs"]["RunLedgerTableName"])

    def scored() -> dict[str, Any] | None:
        found = ledger.runs(10, model="scarcegan", since=since, where={"kind": "scoring", "batch": batch})
        return next((r for r in found if r["status"] in FINAL_STATUSES), None)

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
    batch, since = f"demo-{datetime.now(UTC):%Y%m%dT%H%M%S}", landed_since()
    landing = land_batch(session.client("s3"), stack["outputs"]["LandingBucketName"], "scarcegan", batch)
    print(f"landed {landing} (+ _SUCCESS); waiting for the trigger to start a run", file=out, flush=True)
    execution = wait_for_execution(session, stack, "scarcegan", landing, since, 60)
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
