"""Which stack a command talks to: the running local stack (its <state dir>/stack.json), or the deployed
stack RETRAINER_STACK names. Loads boto3 only to open a session, and never moto or the local stack."""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrainer.local.address import REGION, client_environment

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PORT = 4577
BUSY_PATIENCE_SECONDS = 20  # a command waits this long for a live stack whose port does not answer yet


@dataclass(frozen=True)
class Location:
    state_dir: Path
    port: int

    @classmethod
    def from_environment(cls) -> Location:
        state_dir = Path(os.environ.get("RETRAINER_STATE_DIR", PROJECT_ROOT / ".retrainer"))
        return cls(state_dir.resolve(), int(os.environ.get("RETRAINER_LOCAL_PORT", DEFAULT_PORT)))

    @property
    def description_file(self) -> Path:
        return self.state_dir / "stack.json"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "server.log"


class StackNotRunning(RuntimeError):
    pass


def describe(location: Location) -> dict[str, Any] | None:
    """The running stack's description, or None when no live stack answers."""
    return look(location)[0]


def look(location: Location, patience: float = 0.0) -> tuple[dict[str, Any] | None, str]:
    """(the stack's description, "") when the stack described in the state dir is alive: its process
    runs and its port accepts a connection (the kernel accepts while the server is busy, where an HTTP
    answer can take seconds on a machine whose cores are training: a busy stack is not a stopped one);
    else (None, what is not so). While its process lives, a refused or timed-out connection is tried
    again for `patience` seconds."""
    try:
        description = json.loads(location.description_file.read_text())
    except FileNotFoundError:
        return None, f"no {location.description_file}"
    except ValueError as error:
        return None, f"{location.description_file} is unreadable ({error})"
    try:
        os.kill(description["pid"], 0)
    except ProcessLookupError:
        return None, f"its process {description['pid']} has ended"
    except KeyError:
        return None, f"{location.description_file} names no process"
    host, _, port = str(description.get("endpoint", "")).removeprefix("http://").partition(":")
    if host != "127.0.0.1":
        return None, f"{location.description_file} names no local endpoint"
    deadline = time.monotonic() + patience
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=10).close()
            return description, ""
        except (OSError, ValueError) as error:
            if time.monotonic() >= deadline:
                return None, f"nothing accepts connections on {description['endpoint']} ({error})"
        time.sleep(1)


def session(location: Location, deployed_ok: bool = True) -> tuple[Any, dict[str, Any]]:
    """A boto3 session on the running local stack, with the stack's description; or, when
    RETRAINER_STACK names a deployed stack, on AWS (your credentials) with that stack's outputs."""
    import boto3  # here, not at import: `--help` and `local up | down | status` need none of it

    deployed = os.environ.get("RETRAINER_STACK") if deployed_ok else None
    if deployed:
        aws = boto3.Session()
        stack = aws.client("cloudformation").describe_stacks(StackName=deployed)["Stacks"][0]
        return aws, {"stack_name": deployed, "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}, "functions": {}}
    running, why_not = look(location, patience=BUSY_PATIENCE_SECONDS)
    if not running:
        raise StackNotRunning(f"the local stack is not running ({why_not}): start it with `retrainer local up` (or `make demo`)")
    os.environ.update(client_environment(location.port))
    return boto3.Session(region_name=REGION), running


def model_of(stack: dict[str, Any]) -> str:
    """The model the stack retrains (its ModelName output; older stacks: the model package group's name)."""
    outputs = stack["outputs"]
    return outputs.get("ModelName") or outputs.get("ModelPackageGroupName", "").removesuffix("-models")
