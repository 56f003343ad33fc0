"""The local stack's MLflow tracking server: `mlflow server` from its own venv (.venv-mlflow, built by
make from requirements-mlflow.lock), SQLite backend and artifacts under the state dir, beside moto.
The in-process Lambdas log to it as they log to SageMaker's managed MLflow on AWS (over the REST API);
its UI is what `retrainer ui` opens."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

log = logging.getLogger(__name__)
BINARY_ENV = "RETRAINER_MLFLOW"  # another `mlflow` executable, or "none" (no tracking); default <project>/.venv-mlflow/bin/mlflow
PORT_ENV = "RETRAINER_MLFLOW_PORT"
# No job execution: MLflow 3 otherwise starts five huey consumer processes for its GenAI jobs, which
# tracking never uses (measured: a third of the server's start-up on 2 cores).
SERVER_ENVIRONMENT = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def binary(project_root: Path) -> Path | None:
    if os.environ.get(BINARY_ENV) == "none":
        return None
    chosen = Path(os.environ.get(BINARY_ENV) or project_root / ".venv-mlflow" / "bin" / "mlflow")
    return chosen if chosen.is_file() and os.access(chosen, os.X_OK) else None


def free_port(preferred: int) -> int:
    """`preferred` when nothing listens there, else one the system picks."""
    for port in (preferred, 0):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError("no free port for the MLflow server")


def healthy(uri: str, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(f"{uri}/health", timeout=timeout) as response:  # noqa: S310 - loopback only
            return response.status == 200
    except OSError:
        return False


class LocalMlflow:
    def __init__(self, project_root: Path, state_dir: Path, port: int):
        self.executable = binary(project_root)
        self.home = state_dir / "mlflow"
        self.port = int(os.environ.get(PORT_ENV) or free_port(port))
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.ready = False

    @property
    def available(self) -> bool:
        return self.executable is not None

    def start(self) -> None:
        """Start the server without waiting for it (it takes seconds to import and migrate its
        database): `wait` before anything logs to it."""
        if not self.executable:
            log.warning("no MLflow server (%s): runs are not tracked",
                        f"{BINARY_ENV}=none" if os.environ.get(BINARY_ENV) == "none" else "make .venv-mlflow/.installed")
            return
        self.home.mkdir(parents=True, exist_ok=True)
        command = [str(self.executable), "server", "--backend-store-uri", f"sqlite:///{self.home / 'mlflow.db'}",
                   "--artifacts-destination", str(self.home / "artifacts"), "--host", "127.0.0.1",
                   "--port", str(self.port), "--workers", "1"]
        with open(self.home / "server.log", "ab") as output:
            # its own process group, working in the state dir: `retrainer local down` can end it
            # even after the stack was killed (control.down -> processes.end_process_groups)
            self.process = subprocess.Popen(command, cwd=self.home, stdout=output, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True, env=SERVER_ENVIRONMENT)

    def wait(self, timeout: float = 180, restarts: int = 3) -> bool:
        """True once the server answers /health. A server that exits at start (its port taken meanwhile:
        the probe in `free_port` cannot reserve it) is started again on another port, at most `restarts`
        times; False when there is no server or it did not come up."""
        deadline = time.monotonic() + timeout
        while self.process and time.monotonic() < deadline:
            if self.process.poll() is not None:
                if restarts <= 0:
                    break
                restarts -= 1
                log.warning("the MLflow server exited at start (code %s); starting it on another port", self.process.returncode)
                self.port = free_port(0)
                self.uri = f"http://127.0.0.1:{self.port}"
                self.start()
                continue
            if healthy(self.uri):
                self.ready = True
                return True
            time.sleep(0.5)
        log.error("no MLflow server at %s; see %s", self.uri, self.home / "server.log")
        return False

    def stop(self, grace: float = 10) -> None:
        if not self.process or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=grace)
        except ProcessLookupError:
            pass

    def description(self) -> dict[str, object]:
        if not self.process:
            return {"uri": None, "reason": "no mlflow executable (build .venv-mlflow: make .venv-mlflow/.installed)"}
        return {"uri": self.uri, "ready": self.ready, "pid": self.process.pid, "backend": f"sqlite:///{self.home / 'mlflow.db'}",
                "artifacts": str(self.home / "artifacts"), "log": str(self.home / "server.log")}
