"""A run's parameters: defaults from the stack, overrides from the trigger, resolved into the
execution input the state machine reads (every job setting and S3 path is decided here, once)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel

from core.events import Trigger
from core.settings import StartRetrainingSettings, StepResources

CONTAINER_DIR = "scarcegan"  # training_containers/<CONTAINER_DIR> is what code/<version>/ holds
MAX_RUN_ID = 42  # job names are "<prefix>-<run id>-<step>-<attempt>" and may have 63 characters


class DataVersion(BaseModel):
    uri: str
    version: str  # sha256 over (key, version id or ETag, size) of every object in the landing
    objects: int


def data_version(uri: str, objects: list[dict[str, Any]]) -> DataVersion:
    lines = sorted(f"{o['key']}\t{o.get('version_id') or o['etag']}\t{o['size']}" for o in objects)
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return DataVersion(uri=uri, version=f"sha256:{digest}", objects=len(objects))


def run_id(model: str, batch: str, content: dict[str, Any]) -> str:
    """Same model, data and parameters -> same id: a repeated event can never start a second run."""
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:10]
    slug = re.sub(r"[^a-z0-9]+", "-", batch.lower()).strip("-")[:14].strip("-") or "batch"
    return f"{model[:16]}-{slug}-{digest}"[:MAX_RUN_ID]


def build_run_input(
    settings: StartRetrainingSettings,
    trigger: Trigger,
    data: DataVersion,
    overrides: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The execution input of one run (its name is input['run_id'])."""
    assert trigger.landing is not None
    hyperparameters = {**settings.default_hyperparameters, **(overrides or {})}
    identity = {
        "data": data.version,
        "code": settings.code_version,
        "hyperparameters": hyperparameters,
        "candidates": settings.candidate_kinds,
    }
    rid = run_id(settings.model_name, trigger.landing.batch, identity)
    code = f"s3://{settings.artifacts_bucket}/code/{settings.code_version}"
    out = f"s3://{settings.artifacts_bucket}/runs/{rid}"
    return {
        "run_id": rid,
        "model": settings.model_name,
        "trigger": trigger.model_dump(mode="json", exclude_none=True),
        "data": data.model_dump(),
        "code_version": settings.code_version,
        "model_package_group": settings.model_package_group,
        "candidates": settings.candidate_kinds,
        "paths": {
            "code": f"{code}/{CONTAINER_DIR}/",
            "train": f"{out}/preprocess/train",
            "validation": f"{out}/preprocess/validation",
            "test": f"{out}/preprocess/test",
            "preprocess_artifacts": f"{out}/preprocess/artifacts",
            "model_output": f"{out}/train",
            "quality": f"{out}/evaluate/quality",
            "models": f"{out}/evaluate/models",
            "report": f"{out}/evaluate/report",
        },
        "preprocess": _step(settings.step("preprocess"), arguments=["--base-dir", "/opt/ml/processing"]),
        "train": _step(
            settings.step("train"),
            hyperparameters={
                **hyperparameters,
                "candidates": ",".join(settings.candidate_kinds),
                # script mode: the framework container runs this program from this archive
                "sagemaker_program": json.dumps("train.py"),
                "sagemaker_submit_directory": json.dumps(f"{code}/sourcedir.tar.gz"),
            },
        ),
        "evaluate": _step(settings.step("evaluate"), arguments=["--base-dir", "/opt/ml/processing"]),
    }


def _step(resources: StepResources, **extra: Any) -> dict[str, Any]:
    return {**resources.model_dump(), **extra}
