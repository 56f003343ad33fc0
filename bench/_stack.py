"""An embedded local stack for a benchmark, in this process, on a free port, in a temporary folder."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def local_stack():
    import logging

    from retrainer.local.stack import LocalStack

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)  # Choice on absent cache items logs as errors

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    stack = LocalStack(ROOT, Path(tempfile.mkdtemp(prefix="retrainer-bench-")), port)
    stack.start()
    return stack
