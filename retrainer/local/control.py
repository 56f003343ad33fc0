"""`retrainer local up | down | status`: the local stack as a background process that outlives the
command that started it, described by <state dir>/stack.json while it runs. Imports neither moto nor
the stack itself: the stack runs in its own process (retrainer.local.server). Where a command finds its
stack (Location, describe, session) is retrainer.target, re-exported here."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from retrainer.local.address import ensure_free
from retrainer.local.processes import PROCESS_FILE, end_process_groups
from retrainer.target import DEFAULT_PORT, Location, StackNotRunning, describe, session  # noqa: F401 - re-exported

PROJECT_ROOT = Path(__file__).resolve().parents[2]


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
