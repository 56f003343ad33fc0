"""The container's entry points (preprocess.py, train.py, ...), loaded by file under unique names as the
image runs them from its code folder; its `scarcegan` package is installed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

CONTAINER = Path(__file__).resolve().parents[2] / "training_containers" / "scarcegan"


def load_entry_point(name: str):
    """Import training_containers/scarcegan/<name>.py as module ``scarcegan_<name>``."""
    module_name = f"scarcegan_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, CONTAINER / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
