"""`retrainer start | resume | runs | show`: manual runs and the audit trail.

start and resume put an event on the default bus, exactly as an EventBridge producer would: the run
goes through the same trigger queue, lock and ledger as data landings and drift alarms."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from getpass import getuser
from typing import Any

from retrainer_core.ledger import Ledger
from retrainer_core.names import RESUMABLE_STATUSES, execution_arn

from retrainer import runs, target


def add_arguments(command: str, parser: Any) -> None:
    if command == "start":
        parser.add_argument("--model", required=True)
        parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="hyperparameter override (repeatable)")
        parser.add_argument("--data", help="s3://<landing>/incoming/<model>/<batch>/ (default: the newest complete landing)")
        parser.add_argument("--gate", action="append", default=[], metavar="KEY=VALUE",
                            help="quality gate for this run: min_recall=0.9, max_flagged_share=0.03")
        parser.add_argument("--no-cache", action="store_true", help="run every step again, even with a cached result")
        parser.add_argument("--wait", action="store_true", help="follow the run until it ends")
        parser.set_defaults(run=_start)
    elif command == "resume":
        parser.add_argument("run_id")
        parser.add_argument("--wait", action="store_true")
        parser.set_defaults(run=_resume)
    elif command == "runs":
        parser.add_argument("--limit", type=int, default=20)
        parser.add_argument("--json", action="store_true")
        parser.set_defaults(run=_runs)
    elif command == "show":
        parser.add_argument("run_id")
        parser.add_argument("--json", action="store_true")
        parser.set_defaults(run=_show)


def _stack() -> tuple[Any, dict[str, Any]]:
    return target.session(target.Location.from_environment())


def request(events: Any, detail_type: str, detail: dict[str, Any]) -> None:
    response = events.put_events(Entries=[{"Source": "retrainer", "DetailType": detail_type, "Detail": json.dumps(detail)}])
    if response.get("FailedEntryCount"):
        raise RuntimeError(f"EventBridge refused the request: {response['Entries']}")


def parameter_schema(session: Any, stack: dict[str, Any]) -> Any:
    """The parameter schema the stack's deployed code publishes (its ParameterSchemaUri output)."""
    from retrainer_core.names import split_s3_uri
    from retrainer_core.parameters import Schema

    bucket, key = split_s3_uri(stack["outputs"]["ParameterSchemaUri"])
    return Schema.from_json(session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


class InvalidRequest(RuntimeError):
    """A request that cannot run: said in one line (retrainer.cli.main), exit code 2, nothing queued."""

    exit_code = 2


GATE_KEYS = ("min_recall", "max_flagged_share")


def validate_request(stack: dict[str, Any], model: str, params: list[str], gates: list[str], data: str | None,
                     schema: Any = None) -> dict[str, Any]:
    """Everything that can be checked before a request is queued, against the stack it goes to.
    Returns the request's detail (overrides, quality_gate, data_uri); overrides are checked against
    the parameter schema the stack's code publishes (names, types, ranges; docs/decisions/0300)."""
    outputs = stack["outputs"]
    stack_model = target.model_of(stack)
    if model != stack_model:
        raise InvalidRequest(f"unknown model {model!r}: this stack retrains {stack_model!r}")
    overrides = dict(_pair(p, "--param") for p in params)
    if schema is not None:
        from retrainer_core.parameters import InvalidParameters

        try:
            overrides = schema.validate(overrides, "--param ")
        except InvalidParameters as error:
            raise InvalidRequest(str(error)) from None
    gate: dict[str, float] = {}
    for key, value in (_pair(g, "--gate") for g in gates):
        if key not in GATE_KEYS:
            raise InvalidRequest(f"--gate {key}: unknown; choose {' or '.join(GATE_KEYS)}")
        try:
            gate[key] = float(value)
        except ValueError:
            raise InvalidRequest(f"--gate {key}={value}: not a number") from None
        if not 0 <= gate[key] <= 1:
            raise InvalidRequest(f"--gate {key}={value}: must be between 0 and 1")
    landing_root = f"s3://{outputs['LandingBucketName']}/incoming/{model}/"
    if data and (not data.startswith(landing_root) or len(data.rstrip("/")) <= len(landing_root)):
        raise InvalidRequest(f"--data {data}: not a landing of {model} (expected {landing_root}<batch>/)")
    return {"overrides": overrides, "quality_gate": gate, **({"data_uri": data} if data else {})}


def _start(args: argparse.Namespace) -> int:
    session, stack = _stack()
    outputs = stack["outputs"]
    schema = parameter_schema(session, stack) if "ParameterSchemaUri" in outputs else None
    detail = validate_request(stack, args.model, args.param, args.gate, args.data, schema)
    request_id = str(uuid.uuid4())
    request(session.client("events"), "Retraining Requested",
            {"model": args.model, "request_id": request_id, "use_cache": not args.no_cache, "requested_by": getuser(), **detail})
    print(f"requested a {args.model} run (request {request_id})")
    decided = _answer(stack, request_id)
    print(_said(decided))
    if decided["action"] not in ("start", "coalesce", "duplicate"):
        return 1
    return _follow(session, stack, decided["run_id"]) if args.wait else 0


def _resume(args: argparse.Namespace) -> int:
    session, stack = _stack()
    run = Ledger(stack["outputs"]["RunLedgerTableName"]).run(args.run_id)
    if run is None:
        raise InvalidRequest(f"no run {args.run_id!r} in the ledger (see `retrainer runs`)")
    if run["status"] not in RESUMABLE_STATUSES:
        raise InvalidRequest(f"run {args.run_id} is {run['status']}: only a failed, timed out or aborted run can be resumed")
    request_id = str(uuid.uuid4())
    request(session.client("events"), "Run Resume Requested", {"run_id": args.run_id, "request_id": request_id, "requested_by": getuser()})
    decided = _answer(stack, request_id)
    print(_said(decided))
    if decided["action"] != "start":
        return 1
    return _follow(session, stack, args.run_id) if args.wait else 0


def _answer(stack: dict[str, Any], request_id: str, timeout: float = 120) -> dict[str, Any]:
    """What start_retraining decided for the request, read by its id as soon as it is recorded."""
    ledger = Ledger(stack["outputs"]["RunLedgerTableName"])
    return runs.wait_until(f"start_retraining to decide request {request_id} (`retrainer show {request_id}` tells later)",
                           lambda: ledger.decision(request_id), timeout, every=0.3)


def _said(decided: dict[str, Any]) -> str:
    run_id, reason = decided.get("run_id"), decided.get("reason", "")
    if decided["action"] == "start":
        return f"run {run_id} started" + (f" ({reason})" if reason else "")
    if decided["action"] == "coalesce":
        return f"run {run_id} queued behind run {decided['holder']} (position {decided.get('position')}): it starts when that run ends"
    if decided["action"] == "duplicate":
        return f"duplicate of run {decided.get('duplicate_of') or run_id}: {reason}"
    if decided["action"] == "refused":
        return f"refused: {reason}"
    return f"not started: {reason}"


def _runs(args: argparse.Namespace) -> int:
    _, stack = _stack()
    found = Ledger(stack["outputs"]["RunLedgerTableName"]).runs(args.limit, model=target.model_of(stack))
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
    ledger = Ledger(stack["outputs"]["RunLedgerTableName"])
    run = ledger.run(args.run_id)
    if run is None:  # a request id names its run too
        decided = ledger.decision(args.run_id)
        run = ledger.run(decided["run_id"]) if decided and decided.get("run_id") else None
        if run is None:
            print(f"retrainer: no run {args.run_id!r}" + (f" ({_said(decided)})" if decided else ""), file=sys.stderr)
            return 2
    detail = _details(session, stack, ledger, run)
    print(json.dumps(detail, default=str) if args.json else render_run(detail))
    return 0


def _details(session: Any, stack: dict[str, Any], ledger: Ledger, run: dict[str, Any]) -> dict[str, Any]:
    sagemaker, run_id = session.client("sagemaker"), run["run_id"]
    spec = run.pop("spec")
    detail: dict[str, Any] = {
        **run,
        "parameters": {"hyperparameters": {k: v for k, v in spec["train"]["hyperparameters"].items() if not k.startswith("sagemaker_")},
                       "options": spec["options"], "cache_keys": spec["cache_keys"],
                       "instances": {s: {k: spec[s][k] for k in ("instance_type", "instance_count", "image")} for s in ("preprocess", "train", "evaluate")}},
    }
    if run["status"] == "QUEUED":
        from retrainer_core.triggering import queue_position  # the order start_retraining and finish_run keep

        lock = ledger.lock(run["model"]) or {}
        detail["queue"] = {"holder": lock.get("run_id"), "position": queue_position(lock, run_id)}
        return detail
    if run["status"] == "SUPERSEDED":
        return detail
    # the MLflow experiment the run is logged to, as its `retrainer.run_id` tag (retrainer ui opens it)
    detail["experiment"] = {"name": spec.get("experiment", {}).get("name", f"{run['model']}-retraining"), "mlflow_run_tag": run_id}
    detail["training_metrics"] = runs.final_metrics(runs.training_job(sagemaker, run_id))
    detail["models"] = runs.models(sagemaker, spec["model_package_group"], run_id)
    return detail


def one_line(text: str | None, limit: int = 240) -> str:
    """A failure's cause as one readable line: the job's own FailureReason, whitespace folded."""
    line = " ".join((runs.failure_reason(text) or "").split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def render_run(d: dict[str, Any]) -> str:
    trigger = d.get("trigger", {})
    source = trigger.get("alarm_name") or trigger.get("requested_by") or trigger.get("object_key") or trigger.get("event_id", "")
    lines = [f"run {d['run_id']}  {d['status']}",
             f"  trigger     {trigger.get('type')} ({source})" + (f", follows {trigger['follows']}" if trigger.get("follows") else "")
             + (f", covers {len(trigger['coalesced'])} superseded" if trigger.get("coalesced") else ""),
             f"  started     {d.get('started_at', '-')}" + (f"   ended {d['ended_at']}" if d.get("ended_at") else ""),
             f"  data        {d['data']['uri']} ({d['data']['objects']} objects, {d['data']['version'][:19]}…)",
             f"  code        {d.get('code_version')}",
             "  parameters  " + " ".join(f"{k}={v}" for k, v in sorted(d["parameters"]["hyperparameters"].items()))
             + ("" if d["parameters"]["options"].get("use_cache", True) else "  (no cache)")]
    if "queue" in d:
        lines.append(f"  queued      behind run {d['queue']['holder']}, position {d['queue']['position']}")
    if d.get("superseded_by"):
        lines.append(f"  superseded  by run {d['superseded_by']} (newer data; that run covers this one)")
    if d.get("failure"):
        failure = d["failure"]
        lines.append(f"  failure     {failure.get('step', '?')}: {failure.get('error', '')}: {one_line(failure.get('cause'))}")
    if d.get("attempts"):
        lines.append("  executions  " + ", ".join(a["execution"] for a in d["attempts"]))
    if d.get("steps"):
        lines.append("  steps")
        for step in d["steps"]:
            attempts = step.get("attempts", 0)
            cost = f"${step['cost_usd']:.4f}" if step.get("cost_usd") is not None else ""
            seconds = f"{step['seconds']}s" if step.get("seconds") is not None else ""
            lines.append(f"    {step['step']:<11} {('cache hit' if step.get('cache_hit') else step['status']):<10} {seconds:>7} "
                         f"{attempts} attempt{'s' if attempts != 1 else ''}  {cost}  {step.get('job_name') or ''}".rstrip())
            for retry in step.get("retried_after", []):
                lines.append(f"      retried after: {one_line(retry, 160)}")
        if "cost_usd" in d:
            lines.append(f"    total cost ${d['cost_usd']:.4f}")
    if d.get("training_metrics"):
        lines.append("  metrics     " + " ".join(f"{k}={v:g}" for k, v in d["training_metrics"].items()))
    if "models" in d:
        lines.append(f"  models ({len(d['models'])})")
        for m in d["models"]:
            metrics = " ".join(f"{k}={m['metrics'][k]:.3f}" for k in ("recall", "precision", "f1", "auc") if k in m["metrics"])
            lines.append(f"    v{m['version']:<3} {m['kind'] or '-':<15} {m['approval']:<22} {metrics}")
    return "\n".join(lines)


def _follow(session: Any, stack: dict[str, Any], run_id: str) -> int:
    from retrainer.follow import follow

    ledger = Ledger(stack["outputs"]["RunLedgerTableName"])

    def started() -> dict[str, Any] | None:
        run = ledger.run(run_id) or {}
        return run if run.get("attempts") or run.get("status") == "SUPERSEDED" else None

    run = runs.wait_until(f"run {run_id} to leave the queue", started, 24 * 3600, every=2)
    if run["status"] == "SUPERSEDED":
        print(f"run {run_id} superseded by run {run['superseded_by']} (newer data): following that one")
        return _follow(session, stack, run["superseded_by"])
    execution = run["attempts"][-1]["execution"]
    arn = execution_arn(stack["outputs"]["StateMachineArn"], execution)
    described = follow(session, {"executionArn": arn, "name": execution}, sys.stdout, 3600)
    print(f"{execution}: {described['status']}")
    return 0 if described["status"] == "SUCCEEDED" else 1


def _pair(text: str, option: str = "--param") -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise InvalidRequest(f"{option} takes KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()
