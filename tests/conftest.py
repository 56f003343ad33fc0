"""Shared fixtures."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# what template.yaml's Globals give every function (Powertools reads them at import)
os.environ.update(POWERTOOLS_SERVICE_NAME="retrainer", POWERTOOLS_METRICS_NAMESPACE="Retrainer", POWERTOOLS_TRACE_DISABLED="true")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory):
    """The embedded local stack, in this process, built from template.yaml (one per test session:
    moto's patches are process-wide)."""
    from retrainer.local.stack import LocalStack

    # A schedule that never comes due in a test session: tests move it (update_schedule) to fire it
    stack = LocalStack(ROOT, tmp_path_factory.mktemp("local-stack"), _free_port(), {"RetrainingScheduleExpression": "rate(1 day)"})
    stack.start()
    yield stack
    stack.stop()
