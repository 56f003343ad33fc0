"""A run's parameters: defaults from the stack, overrides from the trigger, resolved into the
execution input the state machine reads (every job setting and S3 path is decided here, once).

Step outputs live at content-addressed paths, `steps/<step>/<cache key>/`: a step's key covers
everything its output depends on, so a completed step with the same key has already written exactly
those outputs and the state machine can skip it (docs/decisions/0009-step-cache.md)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel

from core.events import Trigger
from core.settings import StartRetrainingSettings

CONTAINER_DIR = "scarcegan"  # training_containers/<CONTAINER_DIR> is what code/<version>/ holds
MAX_RUN_ID = 36  # job names "<prefix≤9>-<run id>-r<n>-<step≤10>-<attempt>" must fit in 63 characters
PROCESSING_ARGUMENTS = ["--base-dir", "/opt/ml/processing"]


class DataVersion(BaseModel):
    uri: str
    version: str  # sha256 over (key, version id or ETag, size) of every object in the landing
    objects: int


def data_version(uri: str, objects: list[dict[str, Any]]) -> DataVersion:
    lines = sorted(f"{o['key']}\t{o.get('version_id') or o['etag']}\t{o['size']}" for o in objects)
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return DataVersion(uri=uri, version=f"sha256:{digest}", objects=len(objects))


def content_hash(content: Any, length: int = 16) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:length]


def run_id(model: str, batch: str, content: dict[str, Any]) -> str:
    """Same model, data, code, parameters and trigger identity -> same id: never a second run."""
    slug = re.sub(r"[^a-z0-9]+", "-", batch.lower()).strip("-")[:12].strip("-") or "batch"
    return f"{model[:12]}-{slug}-{content_hash(content, 10)}"[:MAX_RUN_ID]


def build_run_input(
    settings: StartRetrainingSettings,
    trigger: Trigger,
    data: DataVersion,
    batch: str,
    identity: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The execution input of one run (its name is input['run_id'])."""
    hyperparameters = {**settings.default_hyperparameters, **trigger.overrides, "candidates": ",".join(settings.candidate_kinds)}
    steps = {name: settings.step(name).model_dump() for name in ("preprocess", "train", "evaluate")}
    keys = cache_keys(data.version, settings.code_version, steps, hyperparameters)
    rid = run_id(settings.model_name, batch, {"keys": keys, **(identity or {})})
    code = f"s3://{settings.artifacts_bucket}/code/{settings.code_version}"
    step_root = f"s3://{settings.artifacts_bucket}/steps"
    pre, train, evaluate = (f"{step_root}/{s}/{keys[s]}" for s in ("preprocess", "train", "evaluate"))
    return {
        "run_id": rid,
        "model": settings.model_name,
        "lock_ttl_seconds": settings.lock_ttl_seconds,
        "experiment": {"name": f"{settings.model_name}-retraining", "trial": rid},
        "trigger": trigger.model_dump(mode="json", exclude_none=True, exclude_defaults=True),
        "data": data.model_dump(),
        "code_version": settings.code_version,
        "model_package_group": settings.model_package_group,
        "candidates": settings.candidate_kinds,
        "options": {"use_cache": trigger.use_cache},
        "cache_keys": keys,
        "quality_gate": {
            "min_recall": settings.quality_gate_min_recall,
            "max_flagged_share": settings.quality_gate_max_flagged_share,
            **trigger.quality_gate,
            "report_bucket": settings.artifacts_bucket,
            "report_key": f"steps/evaluate/{keys['evaluate']}/report/evaluation.json",
        },
        "paths": {
            "code": f"{code}/{CONTAINER_DIR}/",
            "train": f"{pre}/train",
            "validation": f"{pre}/validation",
            "test": f"{pre}/test",
            "preprocess_artifacts": f"{pre}/artifacts",
            "model_output": f"{train}",
            "checkpoints": f"{train}/checkpoints",
            "quality": f"{evaluate}/quality",
            "models": f"{evaluate}/models",
            "report": f"{evaluate}/report",
        },
        "preprocess": {**steps["preprocess"], "arguments": PROCESSING_ARGUMENTS},
        "train": {
            **steps["train"],
            "spot": settings.train_spot_instances,
            "stopping_condition": {
                "MaxRuntimeInSeconds": steps["train"]["max_runtime_seconds"],
                **({"MaxWaitTimeInSeconds": settings.train_max_wait_seconds} if settings.train_spot_instances else {}),
            },
            "hyperparameters": {
                **hyperparameters,
                # script mode: the framework container runs this program from this archive
                "sagemaker_program": json.dumps("train.py"),
                "sagemaker_submit_directory": json.dumps(f"{code}/sourcedir.tar.gz"),
            },
        },
        "evaluate": {**steps["evaluate"], "arguments": PROCESSING_ARGUMENTS},
    }


def cache_keys(data: str, code: str, steps: dict[str, dict[str, Any]], hyperparameters: dict[str, str]) -> dict[str, str]:
    """Each step's key chains the key of the step it reads from: new hyperparameters change the
    train and evaluate keys, never the preprocess key. Instance types are left out (they change
    where a job runs, not what it writes); the training instance count is in (distribution can)."""
    preprocess = content_hash({"data": data, "code": code, "image": steps["preprocess"]["image"], "arguments": PROCESSING_ARGUMENTS})
    train = content_hash({"preprocess": preprocess, "code": code, "image": steps["train"]["image"],
                          "instances": steps["train"]["instance_count"], "hyperparameters": hyperparameters})
    evaluate = content_hash({"train": train, "code": code, "image": steps["evaluate"]["image"], "arguments": PROCESSING_ARGUMENTS})
    return {"preprocess": preprocess, "train": train, "evaluate": evaluate}
