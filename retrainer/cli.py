"""`retrainer`: the command line of the retraining orchestrator."""

from __future__ import annotations

import argparse
import importlib
import json
import signal
import sys
from pathlib import Path

from retrainer.local import control


def _local(args: argparse.Namespace) -> int:
    location = control.Location.from_environment()
    if args.action == "up":
        stack = control.up(location)
        print(f"local stack up at {stack['endpoint']} (pid {stack['pid']}, state in {location.state_dir})")
    elif args.action == "down":
        print("local stack stopped" if control.down(location) else "local stack was not running")
    else:
        stack = control.describe(location)
        if not stack:
            print("local stack: not running")
            return 3
        print(json.dumps({k: stack[k] for k in ("endpoint", "pid", "stack_name", "outputs", "not_emulated", "mlflow") if k in stack}, indent=2))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from retrainer import demo

    result = demo.run(args.fail_step, args.timeout, drift=args.drift)
    print(demo.render(result))
    if "drift" in result:
        loop = result["drift"]
        print(f"\nDrift: {loop['scoring_data']} -> {loop['drift_check']['job']} ({loop['drift_check']['log']}) -> {loop['alarm']} ALARM -> retrain")
        print(demo.render(loop["retrain"]))
    if args.json:
        print(json.dumps(result, default=str))
    return 0 if result["execution"]["status"] == "SUCCEEDED" or args.fail_step else 1


def _invoke(args: argparse.Namespace) -> int:
    location = control.Location.from_environment()
    control.up(location)
    session, stack = control.session(location, deployed_ok=False)
    functions = stack["functions"]
    if args.function not in functions:
        print(f"no function {args.function!r}; the template has {', '.join(functions)}", file=sys.stderr)
        return 2
    payload = Path(args.event).read_bytes() if args.event else b"{}"
    response = session.client("lambda").invoke(FunctionName=functions[args.function]["name"], Payload=payload)
    body = response["Payload"].read().decode()
    print(body)
    return 1 if "FunctionError" in response else 0


# Modules that add their own subcommands: each has `add_commands(subparsers)`.
COMMAND_MODULES: tuple[str, ...] = ("retrainer.run_commands", "retrainer.deploy", "retrainer.review", "retrainer.scores", "retrainer.ui")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="retrainer", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        importlib.import_module(module).add_commands(commands)

    local = commands.add_parser("local", help="the embedded local stack (moto, no AWS account, no Docker)")
    local.add_argument("action", choices=["up", "down", "status"])
    local.set_defaults(run=_local)

    demo = commands.add_parser("demo", help="land synthetic data and follow the retraining run it starts")
    demo.add_argument("--json", action="store_true", help="also print the summary as one JSON line, last")
    demo.add_argument("--fail-step", choices=["preprocess", "train", "evaluate"], help="make this step's job fail on broken input")
    demo.add_argument("--drift", action="store_true", help="then land drifted scoring data: drift check, alarm, retrain")
    demo.add_argument("--timeout", type=float, default=900, help="seconds to wait for the run")
    demo.set_defaults(run=_demo)

    invoke = commands.add_parser("invoke", help="run one function's real handler on the local stack (as sam local invoke)")
    invoke.add_argument("function", help="the function's logical id in template.yaml, e.g. StartRetrainingFunction")
    invoke.add_argument("-e", "--event", help="event JSON file, e.g. events/s3_object_created_success.json")
    invoke.set_defaults(run=_invoke)
    return root


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `retrainer models | head` ends quietly
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (control.StackNotRunning, TimeoutError, RuntimeError) as error:
        print(f"retrainer: {error}", file=sys.stderr)
        return getattr(error, "exit_code", 1)


if __name__ == "__main__":
    sys.exit(main())
