"""A run's specification: stack settings, the family schemas' defaults, the landing's manifest and the
trigger's overrides, resolved once into a typed `RunSpec` (the execution input the state machine reads;
every job setting and S3 path is decided here). The trigger builds it, the ledger keeps it, the CLI and
the report read it back with `RunSpec.parse`.

Step outputs live at content-addressed paths, `steps/<step>/<cache key>/`: a step's key covers
everything its output depends on, so a completed step with the same key has already written exactly
those outputs and the state machine can skip it (docs/decisions/0009-step-cache.md)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import msgspec

from retrainer_core.events import Trigger
from retrainer_core.parameters import Schema
from retrainer_core.settings import StartRetrainingSettings

CONTAINER_DIR = "scarcegan"  # training_containers/<CONTAINER_DIR> is what code/<version>/ holds
MAX_RUN_ID = 36  # job names "<prefix≤9>-<run id>-r<n>-<step≤10>-<attempt≤2>" must fit in 63 characters
BASE_DIR = ["--base-dir", "/opt/ml/processing"]
TRAINING_RETRIES = 2  # SageMaker's own RetryStrategy: re-runs a training job that failed on an internal error


class DataVersion(msgspec.Struct, kw_only=True, frozen=True):
    uri: str
    version: str  # sha256 over (key, version id or ETag, size) of every object in the landing
    objects: int


class Champion(msgspec.Struct, kw_only=True, frozen=True):
    """The model package version approved when the run started: evaluate re-scores it on this run's test."""

    version: int
    arn: str
    model_data_url: str


class _Spec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A part of the run spec: a field it does not declare is an error, not ignored."""


class Step(_Spec, kw_only=True):
    image: str
    instance_type: str
    instance_count: int
    volume_gb: int = 30
    max_runtime_seconds: int


class ProcessingStep(Step, kw_only=True):
    arguments: list[str]


class TrainingStep(Step, kw_only=True):
    hyperparameters: dict[str, str]
    stopping_condition: dict[str, int]
    spot: bool = False
    retry_strategy: dict[str, int] = msgspec.field(default_factory=lambda: {"MaximumRetryAttempts": TRAINING_RETRIES})


class Paths(_Spec, kw_only=True):
    code: str
    train: str
    validation: str
    test: str
    preprocess_artifacts: str
    model_output: str
    checkpoints: str
    challenger_output: str
    quality: str
    models: str
    report: str
    champion: str  # evaluate's input/champion: the approved version's artifact, or (none) the code package, which holds no model.tar.gz


class Retries(_Spec, kw_only=True):
    """In-job transient failures (internal error, capacity) re-run the failed step, at most `max` times."""

    attempt: int = 0
    max: int = 2
    wait_seconds: int = 60
    delay_seconds: int = 0  # the state machine's BackOff: wait_seconds for a transient failure's next attempt, else 0


class QualityGate(_Spec, kw_only=True):
    min_recall: float
    max_flagged_share: float
    report_bucket: str
    report_key: str


class RunSpec(_Spec, kw_only=True):
    run_id: str
    model: str
    lock_ttl_seconds: int
    experiment: dict[str, str]
    trigger: dict[str, Any]
    data: DataVersion
    code_version: str
    model_package_group: str
    parameters: dict[str, dict[str, str]]  # family -> every parameter's value (defaults + manifest + overrides)
    overrides: dict[str, str] = {}  # what the trigger and the landing's manifest set, validated
    champion: Champion | None = None
    options: dict[str, bool]
    retries: Retries
    cache_keys: dict[str, str]
    quality_gate: QualityGate
    paths: Paths
    preprocess: ProcessingStep
    train: TrainingStep
    challenger: TrainingStep
    evaluate: ProcessingStep
    # Steps whose output is known when the execution starts (cache hits, decided once: cached_steps);
    # the state machine skips them. Never stored with the run: each attempt looks them up again.
    steps: dict[str, dict[str, Any]] = {}

    @classmethod
    def parse(cls, data: Any) -> RunSpec:
        """An execution input or the ledger's copy of it -> RunSpec; msgspec.ValidationError naming the field if it is not one."""
        return msgspec.convert(data, cls)

    @property
    def hyperparameters(self) -> dict[str, str]:
        """The ScarceGAN job's hyperparameters without SageMaker's own."""
        return {k: v for k, v in self.train.hyperparameters.items() if not k.startswith("sagemaker_")}


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


def arguments(values: dict[str, str]) -> list[str]:
    return [token for name, value in values.items() for token in (f"--{name}", value)]


def build_run_input(
    settings: StartRetrainingSettings,
    schema: Schema,
    trigger: Trigger,
    data: DataVersion,
    batch: str,
    identity: dict[str, Any] | None = None,
    manifest: dict[str, str] | None = None,
    champion: Champion | None = None,
) -> dict[str, Any]:
    """The execution input of one run (its name is input['run_id']). `manifest` and the trigger's
    overrides must be validated already (Schema.validate): this only layers them."""
    stack_layer = schema.validate({**settings.default_hyperparameters, "candidates": ",".join(settings.candidate_kinds)},
                                  "stack parameter DefaultHyperparameters: ")
    overrides = {**(manifest or {}), **trigger.overrides}
    params = schema.resolve(stack_layer, overrides)
    resources = {name: settings.step(name) for name in ("preprocess", "train", "challenger", "evaluate")}
    gate = {"min_recall": settings.quality_gate_min_recall, "max_flagged_share": settings.quality_gate_max_flagged_share,
            **trigger.quality_gate}
    evaluate_arguments = [*BASE_DIR, *arguments(params["evaluation"]), "--min-recall", str(gate["min_recall"]),
                          "--max-flagged-share", str(gate["max_flagged_share"]),
                          *(["--champion-version", str(champion.version)] if champion else [])]
    keys = cache_keys(data.version, settings.code_version, resources, params, evaluate_arguments, champion)
    rid = run_id(settings.model_name, batch, {"keys": keys, **(identity or {})})
    code = f"s3://{settings.artifacts_bucket}/code/{settings.code_version}"
    step_root = f"s3://{settings.artifacts_bucket}/steps"
    pre, train, challenger, evaluate = (f"{step_root}/{s}/{keys[s]}" for s in ("preprocess", "train", "challenger", "evaluate"))

    def training(name: str, family: str, program: str) -> TrainingStep:
        step = resources[name]
        return TrainingStep(
            **msgspec.structs.asdict(step),
            spot=settings.train_spot_instances and name == "train",
            stopping_condition={
                "MaxRuntimeInSeconds": step.max_runtime_seconds,
                **({"MaxWaitTimeInSeconds": settings.train_max_wait_seconds} if settings.train_spot_instances and name == "train" else {}),
            },
            hyperparameters={
                **params[family],
                # script mode: the framework container runs this program from this archive
                "sagemaker_program": json.dumps(program),
                "sagemaker_submit_directory": json.dumps(f"{code}/sourcedir.tar.gz"),
            },
        )

    spec = RunSpec(
        run_id=rid,
        model=settings.model_name,
        lock_ttl_seconds=settings.lock_ttl_seconds,
        experiment={"name": f"{settings.model_name}-retraining", "trial": rid},
        trigger=trigger.dump(exclude_none=True, exclude_defaults=True),
        data=data,
        code_version=settings.code_version,
        model_package_group=settings.model_package_group,
        parameters=params,
        overrides=overrides,
        champion=champion,
        options={"use_cache": trigger.use_cache},
        retries=Retries(wait_seconds=settings.transient_retry_wait_seconds),
        cache_keys=keys,
        quality_gate=QualityGate(**gate, report_bucket=settings.artifacts_bucket,
                                 report_key=f"steps/evaluate/{keys['evaluate']}/report/evaluation.json"),
        paths=Paths(
            code=f"{code}/{CONTAINER_DIR}/", train=f"{pre}/train", validation=f"{pre}/validation", test=f"{pre}/test",
            preprocess_artifacts=f"{pre}/artifacts", model_output=train, checkpoints=f"{train}/checkpoints",
            challenger_output=challenger, quality=f"{evaluate}/quality", models=f"{evaluate}/models", report=f"{evaluate}/report",
            champion=champion.model_data_url if champion else f"{code}/{CONTAINER_DIR}/",
        ),
        preprocess=ProcessingStep(**msgspec.structs.asdict(resources["preprocess"]), arguments=[*BASE_DIR, *arguments(params["data"])]),
        train=training("train", "scarcegan", "train.py"),
        challenger=training("challenger", "gradient-boosting", "train_gb.py"),
        evaluate=ProcessingStep(**msgspec.structs.asdict(resources["evaluate"]), arguments=evaluate_arguments),
    )
    run_input = msgspec.to_builtins(spec)
    del run_input["steps"]  # never stored with the run (RunSpec.steps)
    return run_input


def cache_keys(data: str, code: str, steps: dict[str, Any], params: dict[str, dict[str, str]],
               evaluate_arguments: list[str], champion: Champion | None) -> dict[str, str]:
    """Each step's key chains the keys of the steps it reads from: new ScarceGAN hyperparameters change
    the train and evaluate keys, never preprocess or the challenger; a new champion re-runs evaluate
    only. Instance types are left out (they change where a job runs, not what it writes); training
    instance counts are in (distribution can)."""
    preprocess = content_hash({"data": data, "code": code, "image": steps["preprocess"].image, "parameters": params["data"]})

    def trained(name: str, family: str) -> str:
        return content_hash({"preprocess": preprocess, "code": code, "image": steps[name].image,
                             "instances": steps[name].instance_count, "hyperparameters": params[family]})

    train, challenger = trained("train", "scarcegan"), trained("challenger", "gradient-boosting")
    evaluate = content_hash({"train": train, "challenger": challenger, "code": code, "image": steps["evaluate"].image,
                             "arguments": evaluate_arguments, "champion": champion.arn if champion else None})
    return {"preprocess": preprocess, "train": train, "challenger": challenger, "evaluate": evaluate}
