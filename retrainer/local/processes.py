"""The job processes a local stack started, ended from the stack itself or from `retrainer local down`
(no moto here: the CLI imports this)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

PROCESS_FILE = "job-processes.json"  # in the state dir: the process group of each running job


def end_process_groups(pids: list[int], state_dir: Path, grace: float = 3.0) -> None:
    """From another process (`retrainer local down`): SIGTERM each job's process group, SIGKILL what
    is left after `grace` seconds. Only a process that still works in this stack's job folders is
    touched: a pid in the list may have ended and been reused since."""
    ours = [pid for pid in pids if _works_in(pid, state_dir)]
    alive = [pid for pid in ours if signal_group(pid, signal.SIGTERM)]
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if _group_alive(pid)]
        time.sleep(0.1)
    for pid in alive:
        signal_group(pid, signal.SIGKILL)


def signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _works_in(pid: int, folder: Path) -> bool:
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")).resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def _group_alive(pgid: int) -> bool:
    if not signal_group(pgid, 0):
        return False
    try:  # a zombie (ended, not yet reaped) is not running
        return Path(f"/proc/{pgid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True
