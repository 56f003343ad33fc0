"""One candidate model -> one model package version, pending manual approval."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel

from core.errors import RegistrationError

KEY_METRICS = ("recall", "precision", "f1", "auc")
MAX_METADATA_VALUE = 256  # SageMaker's limit on a CustomerMetadataProperties value


class Candidate(BaseModel):
    """One item of the state machine's RegisterModels Map."""

    kind: str
    run_id: str
    model: str
    model_package_group: str
    model_data_url: str
    quality_url: str
    trigger: dict[str, Any]
    data: dict[str, Any]
    code_version: str
    hyperparameters: dict[str, str]
    training_job: str


class Artifacts(Protocol):
    def read_json(self, uri: str) -> Any: ...
    def exists(self, uri: str) -> bool: ...


class Registry(Protocol):
    def find(self, group: str, metadata: dict[str, str]) -> str | None: ...
    def create(self, request: dict[str, Any]) -> str: ...


def key_metrics(statistics: Any, uri: str) -> dict[str, float]:
    try:
        metrics = statistics["binary_classification_metrics"]
        return {name: float(metrics[name]["value"]) for name in KEY_METRICS}
    except (KeyError, TypeError, ValueError) as error:
        raise RegistrationError(f"{uri}: not a model-quality statistics file ({error!r} missing or invalid)") from error


def metadata(candidate: Candidate, metrics: dict[str, float]) -> dict[str, str]:
    values = {
        "RunId": candidate.run_id,
        "ModelKind": candidate.kind,
        "TriggerType": candidate.trigger.get("type", ""),
        "TriggerEventId": candidate.trigger.get("event_id", ""),
        "DataLocation": candidate.data.get("uri", ""),
        "DataVersion": candidate.data.get("version", ""),
        "CodeVersion": candidate.code_version,
        "TrainingJob": candidate.training_job,
        **{f"Metric.{name}": f"{value:.6g}" for name, value in metrics.items()},
        **{f"Hp.{k}": v for k, v in candidate.hyperparameters.items() if not k.startswith("sagemaker_")},
    }
    return {k: v[:MAX_METADATA_VALUE] for k, v in values.items()}


def register(candidate: Candidate, inference_image: str, artifacts: Artifacts, registry: Registry) -> dict[str, str]:
    identity = {"RunId": candidate.run_id, "ModelKind": candidate.kind}
    existing = registry.find(candidate.model_package_group, identity)
    if existing:  # the Map task was retried after a registration that had succeeded
        return {"kind": candidate.kind, "model_package_arn": existing, "already_registered": True}
    if not artifacts.exists(candidate.model_data_url):
        raise RegistrationError(f"{candidate.model_data_url}: model artifact of candidate {candidate.kind!r} is missing")
    metrics = key_metrics(artifacts.read_json(candidate.quality_url), candidate.quality_url)
    arn = registry.create(
        {
            "ModelPackageGroupName": candidate.model_package_group,
            "ModelPackageDescription": f"{candidate.model} {candidate.kind} candidate of run {candidate.run_id}",
            "ModelApprovalStatus": "PendingManualApproval",
            "InferenceSpecification": {
                "Containers": [{"Image": inference_image, "ModelDataUrl": candidate.model_data_url}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            "ModelMetrics": {
                "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": candidate.quality_url}}
            },
            "CustomerMetadataProperties": metadata(candidate, metrics),
        }
    )
    return {"kind": candidate.kind, "model_package_arn": arn, "already_registered": False, "metrics": metrics}
