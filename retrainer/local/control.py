"""`retrainer local up | down | status`: the local stack as a background process that outlives the
command that started it, described by <state dir>/stack.json while it runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from retrainer.local.processes import PROCESS_FILE, end_process_groups
from retrainer.local.stack import REGION, client_environment, ensure_free

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PORT = 4577


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
    try:
        description = json.loads(location.description_file.read_text())
        os.kill(description["pid"], 0)
        if not description["endpoint"].startswith("http://127.0.0.1:"):
            return None
        urllib.request.urlopen(f"{description['endpoint']}/moto-api/", timeout=2).close()  # noqa: S310 - loopback only
    except (FileNotFoundError, ProcessLookupError, OSError, ValueError, KeyError):
        return None
    return description


def up(location: Location, timeout: float = 300) -> dict[str, Any]:  # the MLflow server takes ~10-60 s to start
    running = describe(location)
    if running:
        return running
    ensure_free(location.port)
    location.state_dir.mkdir(parents=True, exist_ok=True)
    location.description_file.unlink(missing_ok=True)
    with open(location.log_file, "wb") as log:  # one log per stack lifetime
        process = subprocess.Popen(
            [sys.executable, "-m", "retrainer.local.server", "--project-root", str(PROJECT_ROOT),
             "--state-dir", str(location.state_dir), "--port", str(location.port)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            cwd=PROJECT_ROOT,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the local stack exited at start (code {process.returncode}); see {location.log_file}")
        running = describe(location)
        if running and running["pid"] == process.pid:
            return running
        time.sleep(0.3)
    process.terminate()
    raise RuntimeError(f"the local stack did not start within {timeout:.0f}s; see {location.log_file}")


def down(location: Location, timeout: float = 30) -> bool:
    """Stop the stack and every job process it started (it ends them itself; any it could not, e.g.
    after a SIGKILL, are ended here from its list of job process groups)."""
    running = describe(location)
    if not running:
        location.description_file.unlink(missing_ok=True)
        _end_leftover_jobs(location)
        return False
    mlflow_pid = (running.get("mlflow") or {}).get("pid")
    os.kill(running["pid"], signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(running["pid"], 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(running["pid"], signal.SIGKILL)
    _end_leftover_jobs(location)
    if mlflow_pid:  # the stack stops its MLflow server; one it could not (killed) is ended here
        end_process_groups([int(mlflow_pid)], location.state_dir)
    return True


def _end_leftover_jobs(location: Location) -> None:
    try:
        pids = json.loads((location.state_dir / PROCESS_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return
    end_process_groups([int(p) for p in pids], location.state_dir)
    (location.state_dir / PROCESS_FILE).unlink(missing_ok=True)


def session(location: Location, deployed_ok: bool = True) -> tuple[boto3.Session, dict[str, Any]]:
    """A boto3 session on the running local stack, with the stack's description; or, when
    RETRAINER_STACK names a deployed stack, on AWS (your credentials) with that stack's outputs."""
    deployed = os.environ.get("RETRAINER_STACK") if deployed_ok else None
    if deployed:
        aws = boto3.Session()
        stack = aws.client("cloudformation").describe_stacks(StackName=deployed)["Stacks"][0]
        return aws, {"stack_name": deployed, "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}, "functions": {}}
    running = describe(location)
    if not running:
        raise StackNotRunning("the local stack is not running: start it with `retrainer local up` (or `make demo`)")
    os.environ.update(client_environment(location.port))
    return boto3.Session(region_name=REGION), running
