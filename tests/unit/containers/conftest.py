"""The ScarceGAN container's entry points as fixtures (tests.utils.container loads them)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.utils.container import load_entry_point

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def preprocess():
    return load_entry_point("preprocess")


@pytest.fixture(scope="session")
def train():
    return load_entry_point("train")


@pytest.fixture(scope="session")
def evaluate():
    return load_entry_point("evaluate")


TINY = dict(n_unlabeled=150, n_risky=15, n_dormant=40, n_normal=60, n_heavy=30, weeks=8)


@pytest.fixture
def tiny_batch():
    """Tiny synthetic groups (dict of frames)."""
    from retrainer.synthetic import generate

    return generate(seed=3, **TINY)


@pytest.fixture
def landing(tmp_path, tiny_batch):
    """A processing base dir with the tiny batch under input/data/<group>/part-00000.csv."""
    from retrainer.synthetic import write_batch

    write_batch(tiny_batch, tmp_path / "input" / "data")
    return tmp_path


@pytest.fixture(scope="session")
def drift():
    return load_entry_point("drift")


from tests.utils.shards import read_output  # noqa: E402,F401 - the tests' reader of preprocess outputs


def stage_evaluation(processed, evaluation_base) -> None:
    """Evaluate's `test` and `artifacts` inputs as the state machine stages them from preprocess's
    outputs (``processed`` = preprocess's output folder)."""
    import shutil

    processed, evaluation_base = Path(processed), Path(evaluation_base)
    for channel in ("test", "artifacts"):
        shutil.copytree(processed / channel, evaluation_base / "input" / channel, dirs_exist_ok=True)
