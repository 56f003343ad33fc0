"""`retrainer start | resume | runs | show`: manual runs and the audit trail.

start and resume put an event on the default bus, exactly as an EventBridge producer would: the run
goes through the same trigger queue, lock and ledger as data landings and drift alarms."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from getpass import getuser
from pathlib import Path
from typing import Any

from retrainer import runs
from retrainer.local import control

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))  # the ledger's reader is the Lambdas'
from core.ledger import Ledger  # noqa: E402


def add_commands(commands: Any) -> None:
    start = commands.add_parser("start", help="start a run by hand (through the trigger queue), with parameter overrides")
    start.add_argument("--model", required=True)
    start.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="hyperparameter override (repeatable)")
    start.add_argument("--data", help="s3://<landing>/incoming/<model>/<batch>/ (default: the newest complete landing)")
    start.add_argument("--gate", action="append", default=[], metavar="KEY=VALUE",
                       help="quality gate for this run: min_recall=0.9, max_flagged_share=0.03")
    start.add_argument("--no-cache", action="store_true", help="run every step again, even with a cached result")
    start.add_argument("--wait", action="store_true", help="follow the run until it ends")
    start.set_defaults(run=_start)

    resume = commands.add_parser("resume", help="continue a failed run from the step that failed")
    resume.add_argument("run_id")
    resume.add_argument("--wait", action="store_true")
    resume.set_defaults(run=_resume)

    listing = commands.add_parser("runs", help="recent runs from the run ledger")
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=_runs)

    show = commands.add_parser("show", help="one run: trigger, parameters, steps, metrics, models, cost")
    show.add_argument("run_id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=_show)


def _stack() -> tuple[Any, dict[str, Any]]:
    return control.session(control.Location.from_environment())


def request(events: Any, detail_type: str, detail: dict[str, Any]) -> None:
    response = events.put_events(Entries=[{"Source": "retrainer", "DetailType": detail_type, "Detail": json.dumps(detail)}])
    if response.get("FailedEntryCount"):
        raise RuntimeError(f"EventBridge refused the request: {response['Entries']}")


def parameter_schema(session: Any, stack: dict[str, Any]) -> Any:
    """The parameter schema the stack's deployed code publishes (its ParameterSchemaUri output)."""
    from core.aws import split_s3_uri
    from core.parameters import Schema

    bucket, key = split_s3_uri(stack["outputs"]["ParameterSchemaUri"])
    return Schema.from_json(session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def _start(args: argparse.Namespace) -> int:
    from core.parameters import InvalidParameters

    session, stack = _stack()
    try:  # checked here, before anything is queued; the trigger checks again (other producers exist)
        overrides = parameter_schema(session, stack).validate(dict(_pair(p) for p in args.param), "--param ")
    except InvalidParameters as error:
        print(f"retrainer start: {error}", file=sys.stderr)
        return 2
    request_id = str(uuid.uuid4())
    gate = {k: float(v) for k, v in (_pair(g) for g in args.gate)}
    detail = {"model": args.model, "request_id": request_id, "overrides": overrides, "quality_gate": gate, "use_cache": not args.no_cache,
              "requested_by": getuser(), **({"data_uri": args.data} if args.data else {})}
    request(session.client("events"), "Retraining Requested", detail)
    print(f"requested a {args.model} run (request {request_id})")
    run = _wait_for_run(session, stack, lambda r: r.get("trigger", {}).get("event_id") == request_id)
    print(f"run {run['run_id']} {run['status'].lower()}")
    return _follow(session, stack, run["run_id"]) if args.wait else 0


def _resume(args: argparse.Namespace) -> int:
    session, stack = _stack()
    ledger = Ledger(stack["outputs"]["RunLedgerTableName"])
    before = len((ledger.run(args.run_id) or {}).get("attempts", []))
    request(session.client("events"), "Run Resume Requested", {"run_id": args.run_id, "requested_by": getuser()})
    run = _wait_for_run(session, stack, lambda r: r["run_id"] == args.run_id and len(r.get("attempts", [])) > before, timeout=30)
    print(f"run {args.run_id} resumed as {run['attempts'][-1]['execution']}")
    return _follow(session, stack, args.run_id) if args.wait else 0


def _runs(args: argparse.Namespace) -> int:
    _, stack = _stack()
    found = Ledger(stack["outputs"]["RunLedgerTableName"]).runs(args.limit)
    if args.json:
        print(json.dumps([{k: v for k, v in r.items() if k != "spec"} for r in found], default=str))
        return 0
    print(f"{'run':<40} {'status':<10} {'trigger':<13} {'started':<21} {'cost $':>8}  steps")
    for run in found:
        steps = " ".join(f"{s['step']}:{'hit' if s.get('cache_hit') else s['status']}" for s in run.get("steps", []))
        cost = f"{run['cost_usd']:.4f}" if "cost_usd" in run else "-"
        print(f"{run['run_id']:<40} {run['status']:<10} {run['trigger']['type']:<13} {run['started_at']:<21} {cost:>8}  {steps}")
    return 0


def _show(args: argparse.Namespace) -> int:
    session, stack = _stack()
    run = Ledger(stack["outputs"]["RunLedgerTableName"]).run(args.run_id)
    if run is None:
        print(f"no run {args.run_id!r}", file=sys.stderr)
        return 2
    sagemaker = session.client("sagemaker")
    spec = run.pop("spec")
    detail = {
        **run,
        "parameters": {"hyperparameters": {k: v for k, v in spec["train"]["hyperparameters"].items() if not k.startswith("sagemaker_")},
                       "options": spec["options"], "cache_keys": spec["cache_keys"],
                       "instances": {s: {k: spec[s][k] for k in ("instance_type", "instance_count", "image")} for s in ("preprocess", "train", "evaluate")}},
        "experiment": {**spec.get("experiment", {}), "trial_components": [
            c["TrialComponentName"] for c in sagemaker.list_trial_components(TrialName=args.run_id)["TrialComponentSummaries"]
        ] if spec.get("experiment") else []},
        "training_metrics": runs.final_metrics(runs.training_job(sagemaker, args.run_id)),
        "models": runs.models(sagemaker, spec["model_package_group"], args.run_id),
    }
    print(json.dumps(detail, indent=None if args.json else 2, default=str))
    return 0


def _wait_for_run(session: Any, stack: dict[str, Any], match: Any, timeout: float = 60) -> dict[str, Any]:
    ledger = Ledger(stack["outputs"]["RunLedgerTableName"])
    return runs.wait_until("the request to start a run (see the trigger DLQ and `retrainer runs`)",
                           lambda: next((run for run in ledger.runs(200) if match(run)), None), timeout, every=0.5)


def _follow(session: Any, stack: dict[str, Any], run_id: str) -> int:
    from retrainer.demo import follow

    ledger = Ledger(stack["outputs"]["RunLedgerTableName"])
    execution = ledger.run(run_id)["attempts"][-1]["execution"]
    arn = stack["outputs"]["StateMachineArn"].replace(":stateMachine:", ":execution:") + f":{execution}"
    described = follow(session, {"executionArn": arn, "name": execution}, sys.stdout, 3600)
    print(f"{execution}: {described['status']}")
    return 0 if described["status"] == "SUCCEEDED" else 1


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise SystemExit(f"--param takes KEY=VALUE, got {text!r}")
    return key, value
