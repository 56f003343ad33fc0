"""`retrainer local up | down | status` and `retrainer invoke`: the commands that only make sense on the
embedded local stack."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from retrainer.local import control


def add_arguments(command: str, parser: Any) -> None:
    if command == "local":
        parser.add_argument("action", choices=["up", "down", "status"])
        parser.set_defaults(run=_local)
    elif command == "invoke":
        parser.add_argument("function", help="the function's logical id in template.yaml, e.g. StartRetrainingFunction")
        parser.add_argument("-e", "--event", help="event JSON file, e.g. events/s3_object_created_success.json")
        parser.set_defaults(run=_invoke)


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
