"""Each function's environment as a typed msgspec Struct, parsed once by its handler."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar

import msgspec


def _json_object_of_strings(value: object) -> object:
    if isinstance(value, str):
        value = json.loads(value)
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return value


def _comma_list(value: object) -> object:
    return [kind.strip() for kind in value.split(",") if kind.strip()] if isinstance(value, str) else value


class _Environment(msgspec.Struct, kw_only=True, frozen=True):
    # field -> what turns its environment string into the field's value before it is validated
    _before: ClassVar[dict[str, Callable[[Any], Any]]] = {}

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]):
        """Variables named after the fields, case-insensitive (others ignored); their strings are read as
        the fields' types. msgspec.ValidationError naming the field when one is missing or invalid."""
        values = {k.lower(): v for k, v in environ.items()}
        for name, before in cls._before.items():
            if name in values:
                try:
                    values[name] = before(values[name])
                except ValueError as error:
                    raise msgspec.ValidationError(f"{error} - at `$.{name}`") from error
        return msgspec.convert(values, cls, strict=False)


class StepResources(msgspec.Struct, kw_only=True, frozen=True):
    image: str
    instance_type: str
    instance_count: Annotated[int, msgspec.Meta(ge=1)]
    volume_gb: int = 30
    max_runtime_seconds: Annotated[int, msgspec.Meta(ge=60, le=432000)]


class StartRetrainingSettings(_Environment, kw_only=True):
    model_name: str
    state_machine_arn: str
    landing_bucket: str
    artifacts_bucket: str
    dead_letter_queue_url: str
    code_version: str
    processing_image_uri: str
    training_image_uri: str
    challenger_image_uri: str
    preprocess_instance_type: str
    preprocess_instance_count: int
    train_instance_type: str
    train_instance_count: int
    challenger_instance_type: str
    challenger_instance_count: int = 1
    evaluate_instance_type: str
    evaluate_instance_count: int
    preprocess_max_runtime_seconds: int
    train_max_runtime_seconds: int
    challenger_max_runtime_seconds: int = 3600
    evaluate_max_runtime_seconds: int
    train_spot_instances: bool = False
    train_max_wait_seconds: int = 28800
    default_hyperparameters: dict[str, str]
    candidate_kinds: list[str]
    model_package_group: str
    run_ledger_table: str
    idempotency_table: str
    drift_alarm_prefix: str
    drift_cooldown_seconds: int = 3600
    sagemaker_role_arn: str = ""
    job_name_prefix: str = "retrainer"
    drift_metric_namespace: str = "Retrainer/Drift"
    quality_gate_min_recall: float = 0.0
    quality_gate_max_flagged_share: float = 1.0
    transient_retry_wait_seconds: int = 60
    scoring_state_machine_arn: str = ""
    event_bus_name: str = "default"
    rescore_on_approval: bool = True  # an approval re-scores the newest scoring batch with the new champion
    landing_quiet_period_seconds: int = 0  # 0: only a _SUCCESS marker completes a landing
    trigger_queue_url: str = ""  # where quiet-period checks are scheduled (the trigger queue itself)

    _before: ClassVar[dict[str, Callable[[Any], Any]]] = {
        "default_hyperparameters": _json_object_of_strings,
        "candidate_kinds": _comma_list,
    }

    @property
    def lock_ttl_seconds(self) -> int:
        """A lock outlives no run: its jobs at their longest (the two trainings run side by side), each
        retried once on an internal error, plus an hour (docs/decisions/0008)."""
        train = self.train_max_wait_seconds if self.train_spot_instances else self.train_max_runtime_seconds
        longest = self.preprocess_max_runtime_seconds + max(train, self.challenger_max_runtime_seconds) + self.evaluate_max_runtime_seconds
        return 2 * longest + 3600

    @property
    def parameter_schema_uri(self) -> str:
        return f"s3://{self.artifacts_bucket}/code/{self.code_version}/scarcegan/parameters.json"

    def step(self, name: str) -> StepResources:
        image = {"train": self.training_image_uri, "challenger": self.challenger_image_uri}.get(name, self.processing_image_uri)
        return msgspec.convert({
            "image": image,
            "instance_type": getattr(self, f"{name}_instance_type"),
            "instance_count": getattr(self, f"{name}_instance_count"),
            "max_runtime_seconds": getattr(self, f"{name}_max_runtime_seconds"),
        }, StepResources)  # validated: the counts and runtimes are the stack's parameters


class RegisterModelsSettings(_Environment, kw_only=True):
    inference_image_uri: str
    challenger_inference_image_uri: str = ""  # the gradient-boosting family's serving image (default: inference_image_uri)
    run_ledger_table: str


class FinishRunSettings(_Environment, kw_only=True):
    run_ledger_table: str
    state_machine_arn: str
    notifications_topic_arn: str
    mlflow_tracking_uri: str = ""  # a SageMaker managed MLflow tracking server ARN or an http(s) URL; empty: not tracked

