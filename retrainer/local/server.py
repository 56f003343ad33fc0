"""`python -m retrainer.local.server`: the local stack as a long-lived process (`retrainer local up`)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from retrainer.local.stack import LocalStack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--project-root", type=Path, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    stack = LocalStack(args.project_root, args.state_dir, args.port)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    stack.start()
    logging.info("local stack listening on port %d", args.port)
    stopping.wait()
    stack.stop()


if __name__ == "__main__":
    main()
