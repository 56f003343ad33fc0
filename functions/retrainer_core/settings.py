"""Each function's environment as a pydantic model, parsed once by its handler.

Every function's package holds all of them but uses one: each is built (its validator generated) when
its handler first parses the environment, not when the module is imported (docs/decisions/0503)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Environment(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]):
        return cls.model_validate({k.lower(): v for k, v in environ.items()})


class StepResources(BaseModel):
    model_config = ConfigDict(defer_build=True)

    image: str
    instance_type: str
    instance_count: int = Field(ge=1)
    volume_gb: int = 30
    max_runtime_seconds: int = Field(ge=60, le=432000)


class StartRetrainingSettings(_Environment):
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

    @property
    def lock_ttl_seconds(self) -> int:
        """A lock outlives no run: its jobs at their longest (the two trainings run side by side), each
        retried once on an internal error, plus an hour (docs/decisions/0008)."""
        train = self.train_max_wait_seconds if self.train_spot_instances else self.train_max_runtime_seconds
        longest = self.preprocess_max_runtime_seconds + max(train, self.challenger_max_runtime_seconds) + self.evaluate_max_runtime_seconds
        return 2 * longest + 3600

    @field_validator("default_hyperparameters", mode="before")
    @classmethod
    def _json_object_of_strings(cls, value: object) -> object:
        if isinstance(value, str):
            value = json.loads(value)
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        return value

    @field_validator("candidate_kinds", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        return [kind.strip() for kind in value.split(",") if kind.strip()] if isinstance(value, str) else value

    @property
    def parameter_schema_uri(self) -> str:
        return f"s3://{self.artifacts_bucket}/code/{self.code_version}/scarcegan/parameters.json"

    def step(self, name: str) -> StepResources:
        image = {"train": self.training_image_uri, "challenger": self.challenger_image_uri}.get(name, self.processing_image_uri)
        return StepResources(
            image=image,
            instance_type=getattr(self, f"{name}_instance_type"),
            instance_count=getattr(self, f"{name}_instance_count"),
            max_runtime_seconds=getattr(self, f"{name}_max_runtime_seconds"),
        )


class RegisterModelsSettings(_Environment):
    inference_image_uri: str
    challenger_inference_image_uri: str = ""  # the gradient-boosting family's serving image (default: inference_image_uri)
    run_ledger_table: str


class FinishRunSettings(_Environment):
    run_ledger_table: str
    state_machine_arn: str
    notifications_topic_arn: str
    mlflow_tracking_uri: str = ""  # a SageMaker managed MLflow tracking server ARN or an http(s) URL; empty: not tracked
