"""Scoring runs: a complete scoring landing (or an approval, for the newest landing) -> the latest
Approved version scores every player of the batch. Independent of training: no model lock is taken or
waited for; the run is recorded in the ledger (kind "scoring") and audited like a training run."""

from __future__ import annotations

import re
import time
from typing import Any, Protocol

import msgspec

from retrainer_core.run_spec import CONTAINER_DIR, DataVersion, Retries, content_hash
from retrainer_core.settings import StartRetrainingSettings

MAX_SCORING_ID = 40  # job names "<prefix≤9>-<id>-score-<attempt≤2>" fit in 63 characters


class ModelVersion(msgspec.Struct, kw_only=True, frozen=True):
    version: int
    arn: str
    model_data_url: str


class Registry(Protocol):
    def approved(self, group: str) -> dict[str, Any] | None: ...
    def package(self, arn: str) -> dict[str, Any]: ...


class Publisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class ScoringStarter(Protocol):
    def start(self, name: str, run_input: dict[str, Any]) -> bool: ...


def scoring_run_id(model: str, batch: str, data_version: str, model_arn: str) -> str:
    """The same batch scored by the same model version is the same run: never scored twice."""
    slug = re.sub(r"[^a-z0-9]+", "-", batch.lower()).strip("-")[:12].strip("-") or "batch"
    return f"score-{model[:10]}-{slug}-{content_hash([data_version, model_arn], 10)}"[:MAX_SCORING_ID]


def scoring_input(settings: StartRetrainingSettings, landing: dict[str, Any], model_version: ModelVersion,
                  trigger: dict[str, Any], data_parameters: dict[str, str]) -> dict[str, Any]:
    """The scoring execution's input. `landing`: {uri, version, objects, batch, manifest}."""
    data = DataVersion(uri=landing["uri"], version=landing["version"], objects=landing["objects"])
    run_id = scoring_run_id(settings.model_name, landing["batch"], data.version, model_version.arn)
    flags = f"s3://{settings.artifacts_bucket}/flags/{settings.model_name}/{landing['batch']}"
    arguments = ["--base-dir", "/opt/ml/processing", "--model", settings.model_name,
                 "--model-version", str(model_version.version), "--metric-namespace", settings.drift_metric_namespace]
    if "id-column" in data_parameters:
        arguments += ["--id-column", data_parameters["id-column"]]
    return {
        "run_id": run_id,
        "kind": "scoring",
        "model": settings.model_name,
        "batch": landing["batch"],
        "trigger": trigger,
        "data": msgspec.to_builtins(data),
        "code_version": settings.code_version,
        "model_version": msgspec.to_builtins(model_version),
        "retries": msgspec.to_builtins(Retries(wait_seconds=settings.transient_retry_wait_seconds)),
        "job": {**msgspec.to_builtins(settings.step("evaluate")), "arguments": arguments},
        "paths": {
            "code": f"s3://{settings.artifacts_bucket}/code/{settings.code_version}/{CONTAINER_DIR}/",
            "flags": flags,
            "drift": f"s3://{settings.artifacts_bucket}/drift/{settings.model_name}/{landing['batch']}",
            "summary_bucket": settings.artifacts_bucket,
            "summary_key": f"flags/{settings.model_name}/{landing['batch']}/summary.json",
        },
    }


def start_scoring(settings: StartRetrainingSettings, landing: dict[str, Any], trigger: dict[str, Any],
                  registry: Registry, scorer: ScoringStarter, ledger: Any, events: Publisher,
                  model_arn: str | None = None) -> tuple[str, str | None, str]:
    """-> (action, run id, reason). No approved version: the run is recorded as SKIPPED with its reason
    and a "Scoring Skipped" event says so (no error, nothing to retry)."""
    found = registry.package(model_arn) if model_arn else registry.approved(settings.model_package_group)
    if found is None:
        reason = (f"no approved version in {settings.model_package_group}: nothing scores {landing['uri']} "
                  "(approve one with `retrainer approve <version> --note ...`; the newest batch is then scored)")
        run_id = scoring_run_id(settings.model_name, landing["batch"], landing["version"], "no-approved-version")
        ledger.record_run({"run_id": run_id, "kind": "scoring", "model": settings.model_name, "status": "SKIPPED",
                           "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "trigger": trigger,
                           "batch": landing["batch"], "data": {k: landing[k] for k in ("uri", "version", "objects")},
                           "reason": reason})
        events.publish("Scoring Skipped", {"model": settings.model_name, "batch": landing["batch"], "data_uri": landing["uri"],
                                           "run_id": run_id, "reason": reason})
        return "ignore", run_id, reason
    run_input = scoring_input(settings, landing, msgspec.convert(found, ModelVersion), trigger, landing.get("manifest") or {})
    run_id = run_input["run_id"]
    existing = ledger.run(run_id)
    if existing and existing.get("attempts"):
        return "duplicate", run_id, "this batch was scored by this model version already"
    if not existing:
        ledger.record_run({"run_id": run_id, "kind": "scoring", "model": settings.model_name, "status": "STARTING",
                           "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "trigger": trigger,
                           "data": run_input["data"], "code_version": settings.code_version,
                           "model_version": run_input["model_version"], "batch": landing["batch"], "spec": run_input})
    if not scorer.start(run_id, run_input):
        return "duplicate", run_id, "its execution exists already"
    ledger.add_attempt(run_id, {"execution": run_id, "started_at": int(time.time())})
    return "score", run_id, f"v{found['version']} scores {landing['uri']}"
