"""Reading runs back from the local stack's MLflow server with the official client (mlflow.search_runs),
which lives in the MLflow venv (.venv-mlflow), not in the tests' own."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from retrainer.local.mlflow_server import binary

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("mlflow_probe.py")


def mlflow_python() -> Path:
    found = binary(ROOT)
    if found is None:
        pytest.skip("no MLflow venv: build it with `make .venv-mlflow/.installed` (make test and make demo do)")
    return found.parent / "python"


def search_runs(uri: str, experiment: str, run_id: str) -> list[dict[str, Any]]:
    """The MLflow run tagged with the retrainer run id, and its nested candidate runs."""
    done = subprocess.run([str(mlflow_python()), str(PROBE), uri, experiment, run_id], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
