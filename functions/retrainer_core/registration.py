"""A run's evaluation -> one model package version per distinct candidate that passed the gate, pending
manual approval. Every candidate is checked (artifact there, statistics readable) before any is
registered, so a bad one registers none; registration is idempotent by content: a candidate whose
artifact was registered before (a retried task, a cached re-run) gets the existing version back, found
by its content key in the ledger, in constant work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import msgspec

from retrainer_core.errors import RegistrationError

# The binary_classification_metrics a model-quality statistics file must hold for registration to accept
# it (their values come back in the result). What a reviewer sees first is another list: retrainer.review.
REQUIRED_STATISTICS = ("recall", "precision", "f1", "auc")
MAX_METADATA_VALUE = 256  # SageMaker's limit on a CustomerMetadataProperties value
MAX_METADATA_ENTRIES = 50  # ... and on their number


class Interval(msgspec.Struct, kw_only=True, frozen=True):
    value: float
    low: float | None = None
    high: float | None = None

    def __str__(self) -> str:
        bounds = f" [{self.low:.4g}, {self.high:.4g}]" if self.low is not None and self.high is not None else ""
        return f"{self.value:.4g}{bounds}"


class Champion(msgspec.Struct, kw_only=True, frozen=True):
    version: int
    arn: str


class QualityGateNotMet(Exception):
    """No distinct candidate passed the run's absolute thresholds: nothing is registered. Its name is
    the error the run fails with (the Lambda's errorType)."""


class Candidate(msgspec.Struct, kw_only=True, frozen=True):
    """An entry of evaluate's `register` list plus the run's lineage."""

    kind: str
    family: str
    content_key: str
    beats_champion: bool
    metrics: dict[str, Interval]
    run_id: str
    model: str
    model_package_group: str
    model_data_url: str
    quality_url: str
    trigger: dict[str, Any]
    data: dict[str, Any]
    code_version: str
    parameters: dict[str, dict[str, str]]  # family -> values, as the run spec resolved them
    training_jobs: dict[str, str]  # family -> the training job that produced it
    champion: Champion | None = None


class Artifacts(Protocol):
    def read_json(self, uri: str) -> Any: ...
    def exists(self, uri: str) -> bool: ...


class Registry(Protocol):
    def find(self, group: str, metadata: dict[str, str]) -> str | None: ...
    def create(self, request: dict[str, Any]) -> str: ...


class RegisteredContent(Protocol):
    """The ledger's index of registered versions by content key."""

    def registration(self, group: str, content_key: str) -> dict[str, Any] | None: ...
    def claim_registration(self, group: str, content_key: str, run_id: str, kind: str) -> bool: ...
    def registered(self, group: str, content_key: str, arn: str) -> None: ...


def required_statistics(statistics: Any, uri: str) -> dict[str, float]:
    """REQUIRED_STATISTICS' values out of a model-quality statistics document; RegistrationError if any is missing."""
    try:
        metrics = statistics["binary_classification_metrics"]
        return {name: float(metrics[name]["value"]) for name in REQUIRED_STATISTICS}
    except (KeyError, TypeError, ValueError) as error:
        raise RegistrationError(f"{uri}: not a model-quality statistics file ({error!r} missing or invalid)") from error


def metadata(candidate: Candidate) -> dict[str, str]:
    values = {
        "RunId": candidate.run_id,
        "ModelFamily": candidate.family,
        "ModelKind": candidate.kind,
        "ContentKey": candidate.content_key,
        "BeatsChampion": str(candidate.beats_champion).lower(),
        "ChampionVersion": str(candidate.champion.version) if candidate.champion else "",
        "TriggerType": candidate.trigger.get("type", ""),
        "TriggerEventId": candidate.trigger.get("event_id", ""),
        "DataLocation": candidate.data.get("uri", ""),
        "DataVersion": candidate.data.get("version", ""),
        "CodeVersion": candidate.code_version,
        "TrainingJob": candidate.training_jobs.get(candidate.family, ""),
        # "value [low, high]": the point estimate and its confidence interval on the test players
        **{f"Metric.{name}": str(interval) for name, interval in sorted(candidate.metrics.items())},
        **{f"Hp.{k}": v for k, v in candidate.parameters.get(candidate.family, {}).items()},
    }
    present = [(k, v) for k, v in values.items() if v]  # SageMaker refuses empty values
    return {k: v[:MAX_METADATA_VALUE] for k, v in present[:MAX_METADATA_ENTRIES]}


def register(candidate: Candidate, inference_image: str, artifacts: Artifacts, registry: Registry,
             index: RegisteredContent) -> dict[str, Any]:
    group, key = candidate.model_package_group, candidate.content_key
    known = index.registration(group, key)
    if known and known.get("arn"):  # this very artifact is a version already
        return {"kind": candidate.kind, "model_package_arn": known["arn"], "already_registered": True}
    if not index.claim_registration(group, key, candidate.run_id, candidate.kind):
        # an earlier try claimed it and stopped before recording the version: did it create one?
        found = registry.find(group, {"ContentKey": key})
        if found:
            index.registered(group, key, found)
            return {"kind": candidate.kind, "model_package_arn": found, "already_registered": True}
    if not artifacts.exists(candidate.model_data_url):
        raise RegistrationError(f"{candidate.model_data_url}: model artifact of candidate {candidate.kind!r} is missing")
    metrics = required_statistics(artifacts.read_json(candidate.quality_url), candidate.quality_url)
    arn = registry.create(
        {
            "ModelPackageGroupName": group,
            "ModelPackageDescription": f"{candidate.model} {candidate.family} {candidate.kind} candidate of run {candidate.run_id}",
            "ModelApprovalStatus": "PendingManualApproval",
            "InferenceSpecification": {
                "Containers": [{"Image": inference_image, "ModelDataUrl": candidate.model_data_url}],
                "SupportedContentTypes": ["text/csv", "application/x-parquet"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            "ModelMetrics": {
                "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": candidate.quality_url}}
            },
            "CustomerMetadataProperties": metadata(candidate),
        }
    )
    index.registered(group, key, arn)
    return {"kind": candidate.kind, "model_package_arn": arn, "already_registered": False, "metrics": metrics}


class _Paths(msgspec.Struct, kw_only=True, frozen=True):
    models: str
    quality: str


class _Gate(msgspec.Struct, kw_only=True, frozen=True):
    min_recall: float
    max_flagged_share: float
    report_bucket: str
    report_key: str


class RunToRegister(msgspec.Struct, kw_only=True, frozen=True):
    """The part of the execution's state RegisterModels reads (the run spec plus the steps' outputs)."""

    run_id: str
    model: str
    model_package_group: str
    trigger: dict[str, Any]
    data: dict[str, Any]
    code_version: str
    parameters: dict[str, dict[str, str]]
    champion: Champion | None = None
    paths: _Paths
    quality_gate: _Gate
    steps: dict[str, dict[str, Any]] = {}

    @classmethod
    def parse(cls, state: Any) -> RunToRegister:
        """The execution's state -> RunToRegister (what else it holds ignored); msgspec.ValidationError naming the field if it is not one."""
        return msgspec.convert(state, cls)

    @property
    def report_uri(self) -> str:
        return f"s3://{self.quality_gate.report_bucket}/{self.quality_gate.report_key}"


def candidates(run: RunToRegister, report: dict[str, Any]) -> list[Candidate]:
    """The evaluation's `register` list with the run's lineage; QualityGateNotMet when it is empty."""
    if not report.get("register"):
        gate, summary = run.quality_gate, report.get("summary", {})
        raise QualityGateNotMet(
            f"no candidate has recall >= {gate.min_recall:g} while flagging <= {gate.max_flagged_share:g} of players "
            f"(best: {summary.get('best')}, recall {summary.get('recall')}, flagged {summary.get('share_flagged')}): "
            "no model registered")
    jobs = {"scarcegan": run.steps.get("train", {}).get("job_name", ""),
            "gradient-boosting": run.steps.get("challenger", {}).get("job_name", "")}
    return [msgspec.convert({**{k: entry[k] for k in ("kind", "family", "content_key", "beats_champion", "metrics")},
                             "run_id": run.run_id, "model": run.model, "model_package_group": run.model_package_group,
                             "model_data_url": f"{run.paths.models}/{entry['kind']}/model.tar.gz",
                             "quality_url": f"{run.paths.quality}/{entry['kind']}/statistics.json",
                             "trigger": run.trigger, "data": run.data, "code_version": run.code_version, "parameters": run.parameters,
                             "champion": run.champion, "training_jobs": {k: v for k, v in jobs.items() if v}},
                            Candidate)  # evaluate's entries validated as they were
            for entry in report["register"]]


def register_run(run: RunToRegister, image_for: Callable[[str], str], artifacts: Artifacts, registry: Registry,
                 index: RegisteredContent) -> list[dict[str, Any]]:
    """Every candidate that passed the gate, or none: all are checked before the first is registered."""
    found = candidates(run, artifacts.read_json(run.report_uri))
    for candidate in found:
        if not artifacts.exists(candidate.model_data_url):
            raise RegistrationError(f"{candidate.model_data_url}: model artifact of candidate {candidate.kind!r} is missing")
        required_statistics(artifacts.read_json(candidate.quality_url), candidate.quality_url)
    return [register(candidate, image_for(candidate.family), artifacts, registry, index) for candidate in found]
