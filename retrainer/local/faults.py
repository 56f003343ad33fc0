"""Fault injection into the local stack's jobs: a JSON file in the stack's state dir, so the CLI (another
process) can arm a fault that the running stack consumes.

Kinds: `bad-data` (the job's staged inputs are emptied, so the real script fails on real bad input),
`internal-error` (the job fails as SageMaker's own InternalServerError does), `capacity` (Create*Job
is refused with ResourceLimitExceeded). Each fault is armed for a step and a number of times.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

KINDS = ("bad-data", "internal-error", "capacity")


class Faults:
    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()

    def arm(self, step: str, kind: str, times: int = 1) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r}; choose one of {', '.join(KINDS)}")
        with self.lock:
            armed = self._read()
            armed[step] = {"kind": kind, "times": times}
            self._write(armed)

    def clear(self) -> None:
        with self.lock:
            self._write({})

    def take(self, step: str, kind: str) -> bool:
        """True (and one fewer left) when a fault of this kind is armed for this step."""
        with self.lock:
            armed = self._read()
            fault = armed.get(step)
            if not fault or fault["kind"] != kind or fault["times"] <= 0:
                return False
            fault["times"] -= 1
            if fault["times"] == 0:
                del armed[step]
            self._write(armed)
            return True

    def _read(self) -> dict:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def _write(self, armed: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(armed))
