"""A run, once its execution ended, as an MLflow run (docs/decisions/0600-mlflow-tracking.md).

Retraining runs go to the experiment `<model>-retraining`: one MLflow run per run id (found again by
its `retrainer.run_id` tag, so a redelivered event or a resumed run updates the same one) with the
parameters (every family's values: defaults + overrides), data and code versions, trigger, the
ScarceGAN training curves as metric history (step = Iteration, time = the log line's), the
challenger's cross-validation figures, cost and step times; each candidate its own nested run with its
evaluation metrics and intervals, the champion comparison, and its Model Registry version ARN (the
registry stays the place of approval). Scoring runs go to `<model>-scoring` with counts and drift.
Everything is read from the records the run left (ledger, job logs, S3, registry), never from memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from retrainer_core.metric_lines import metric_history

RUN_KEY = "retrainer.run_id"
CANDIDATE_KEY = "retrainer.candidate_id"
PARENT = "mlflow.parentRunId"
STATUS = {"SUCCEEDED": "FINISHED", "FAILED": "FAILED", "TIMED_OUT": "FAILED", "ABORTED": "KILLED"}
CHALLENGER_PREFIX = "challenger."
MODEL_TRAINING = {"mlflow.experimentKind": "custom_model_development"}  # MLflow 3's UI: the model-training view, not GenAI


class Tracker(Protocol):
    def experiment_id(self, name: str, tags: dict[str, str] | None = None) -> str: ...
    def run_once(self, experiment_id: str, key_tag: str, key: str, name: str, start_ms: int, tags: dict[str, str]) -> dict[str, Any]: ...
    def log_batch(self, run_id: str, metrics: list[dict[str, Any]] = (), params: dict[str, str] | None = None,
                  tags: dict[str, str] | None = None) -> None: ...
    def end_run(self, run_id: str, status: str, end_ms: int) -> None: ...
    def log_artifact(self, run_info: dict[str, Any], path: str, content: bytes, s3: Any = None) -> None: ...


class Records(Protocol):
    s3: Any

    def metric_definitions(self, training_job: str) -> list[dict[str, str]]: ...
    def log_events(self, training_job: str) -> list[dict[str, Any]]: ...
    def read_json(self, uri: str) -> Any: ...
    def read_bytes(self, uri: str) -> bytes | None: ...
    def model_package(self, arn: str) -> dict[str, Any]: ...


def track(detail: dict[str, Any], run: dict[str, Any] | None, tracker: Tracker, records: Records,
          registration: Callable[[str, str], dict[str, Any] | None]) -> str:
    """Log the ended execution's run; returns the MLflow run id. `run` is its ledger record (after
    finish_run closed it), `registration(group, content_key)` the ledger's registered-version index."""
    run_input = json.loads(detail["input"])
    if run_input.get("kind") == "scoring":
        return _scoring(detail, run_input, tracker, records)
    return _retraining(detail, {**run_input, **(run or {})}, tracker, records, registration)


def _times(detail: dict[str, Any]) -> tuple[int, int]:
    start = int(detail.get("startDate") or 0)
    return start, int(detail.get("stopDate") or start)


# ---------------------------------------------------------------- retraining runs
def _retraining(detail: dict[str, Any], run: dict[str, Any], tracker: Tracker, records: Records,
                registration: Callable[[str, str], dict[str, Any] | None]) -> str:
    spec = run.get("spec") or run
    run_id, model = spec["run_id"], spec["model"]
    start_ms, end_ms = _times(detail)
    experiment = tracker.experiment_id((spec.get("experiment") or {}).get("name") or f"{model}-retraining",
                                       {"retrainer.model": model, **MODEL_TRAINING, "mlflow.note.content": f"Retraining runs of {model}: one run per run id, "
                                        "one nested run per candidate. Approve in the SageMaker Model Registry."})
    trigger = spec.get("trigger") or {}
    data = spec.get("data") or {}
    tags = {"retrainer.model": model, "retrainer.trigger": trigger.get("type", ""), "retrainer.trigger_event": trigger.get("event_id", ""),
            "retrainer.data_uri": data.get("uri", ""), "retrainer.data_version": data.get("version", ""),
            "retrainer.code_version": spec.get("code_version", ""), "retrainer.execution": detail.get("name", ""),
            "retrainer.status": detail.get("status", ""), "retrainer.overrides": json.dumps(spec.get("overrides") or {}, sort_keys=True),
            "retrainer.model_package_group": spec.get("model_package_group", ""), "mlflow.source.name": "retrainer",
            "mlflow.source.type": "JOB"}
    info = tracker.run_once(experiment, RUN_KEY, run_id, run_id, start_ms, tags)
    params = {f"{family}.{name}": value for family, values in (spec.get("parameters") or {}).items() for name, value in values.items()}
    params.update({"data.version": data.get("version", ""), "data.uri": data.get("uri", ""),
                   "code.version": spec.get("code_version", ""), "trigger.type": trigger.get("type", "")})
    steps = {s["step"]: s for s in run.get("steps") or []}
    metrics = _training_history(steps.get("train", {}).get("job_name"), records)
    metrics += _training_history(steps.get("challenger", {}).get("job_name"), records, CHALLENGER_PREFIX)
    metrics += _costs(run, steps, end_ms)
    tags.update({f"retrainer.step.{name}": f"{s.get('status')}{' (cached)' if s.get('cache_hit') else ''} {s.get('job_name') or ''}".strip()
                 for name, s in steps.items()})

    evaluation = records.read_json(f"{spec['paths']['report']}/evaluation.json") if spec.get("paths", {}).get("report") else None
    if evaluation:
        metrics += _evaluation_metrics(evaluation, end_ms)
        tags.update(_champion_tags(evaluation))
    tracker.log_batch(info["run_id"], metrics, params, tags)
    if evaluation:
        _artifacts(tracker, info, records, spec["paths"]["report"])
        for kind in evaluation.get("candidates", []):
            _candidate(tracker, records, registration, experiment, info["run_id"], spec, kind, evaluation, start_ms, end_ms)
    tracker.end_run(info["run_id"], STATUS.get(detail.get("status", ""), "FAILED"), end_ms)
    return info["run_id"]


def _training_history(job: str | None, records: Records, prefix: str = "") -> list[dict[str, Any]]:
    if not job:
        return []
    points = metric_history(records.log_events(job), records.metric_definitions(job))
    return [{**p, "key": prefix + p["key"]} for p in points]


def _costs(run: dict[str, Any], steps: dict[str, dict[str, Any]], at: int) -> list[dict[str, Any]]:
    figures = {"cost_usd": run.get("cost_usd")}
    for name, step in steps.items():
        figures[f"step.{name}.seconds"] = step.get("seconds")
        figures[f"step.{name}.cost_usd"] = step.get("cost_usd")
        figures[f"step.{name}.attempts"] = step.get("attempts")
    return [_point(k, v, at) for k, v in figures.items() if isinstance(v, int | float)]


def _point(key: str, value: float, at: int, step: int = 0) -> dict[str, Any]:
    return {"key": key, "value": float(value), "step": step, "timestamp": at}


def _interval_metrics(prefix: str, intervals: dict[str, dict[str, Any]], at: int) -> list[dict[str, Any]]:
    """{metric: {value, low, high, standard_deviation}} -> metric, metric_low, metric_high, metric_std."""
    points = []
    for name, figures in (intervals or {}).items():
        for suffix, field in (("", "value"), ("_low", "low"), ("_high", "high"), ("_std", "standard_deviation")):
            if isinstance(figures.get(field), int | float):
                points.append(_point(f"{prefix}{name}{suffix}", figures[field], at))
    return points


def _evaluation_metrics(evaluation: dict[str, Any], at: int) -> list[dict[str, Any]]:
    """On the run itself: every candidate's figures as `<kind>.<metric>`, the champion's as `champion.<metric>`."""
    points = []
    for kind in evaluation.get("candidates", []):
        points += _interval_metrics(f"{kind}.", evaluation[kind].get("metrics"), at)
    champion = evaluation.get("champion") or {}
    if champion.get("comparable"):
        points += _interval_metrics("champion.", champion.get("metrics"), at)
    return points


def _champion_tags(evaluation: dict[str, Any]) -> dict[str, str]:
    champion = evaluation.get("champion") or {}
    return {"retrainer.best_candidate": evaluation.get("best", ""), "retrainer.champion_version": str(champion.get("version") or ""),
            "retrainer.champion_note": evaluation.get("champion_note", ""),
            "retrainer.registered": ",".join(r["kind"] for r in evaluation.get("register", []))}


def _candidate(tracker: Tracker, records: Records, registration: Callable[[str, str], dict[str, Any] | None],
               experiment: str, parent: str, spec: dict[str, Any], kind: str, evaluation: dict[str, Any],
               start_ms: int, end_ms: int) -> None:
    entry = evaluation[kind]
    run_id = spec["run_id"]
    # not RUN_KEY: that tag finds the run itself; a candidate is found by its own key or its parent
    tags = {PARENT: parent, "retrainer.of_run": run_id, "retrainer.candidate": kind, "retrainer.family": entry.get("family", ""),
            "retrainer.aliases": ",".join(entry.get("aliases") or []), "retrainer.rule": entry.get("rule", ""),
            "retrainer.gate": "passed" if entry.get("gate", {}).get("passed") else "; ".join(entry.get("gate", {}).get("reasons", [])),
            "retrainer.beats_champion": str(entry.get("beats_champion")).lower(), "mlflow.source.name": "retrainer"}
    info = tracker.run_once(experiment, CANDIDATE_KEY, f"{run_id}/{kind}", f"{run_id} · {kind}", start_ms, tags)
    metrics = _interval_metrics("", entry.get("metrics"), end_ms)
    metrics += [_point(k, entry[k], end_ms) for k in ("threshold", "share_flagged", "tp", "fp", "tn", "fn", "n", "iteration")
                if isinstance(entry.get(k), int | float)]
    metrics.append(_point("beats_champion", 1.0 if entry.get("beats_champion") else 0.0, end_ms))
    vs = entry.get("vs_champion") or {}
    for suffix, field in (("", "value"), ("_low", "low"), ("_high", "high")):
        if isinstance(vs.get(field), int | float):
            metrics.append(_point(f"vs_champion.{vs.get('metric', 'metric')}{suffix}", vs[field], end_ms))
    registered = registration(spec["model_package_group"], entry.get("content_key", "")) if entry.get("content_key") else None
    if registered and registered.get("arn"):
        package = records.model_package(registered["arn"])
        tags.update({"sagemaker.model_package_arn": package["arn"], "sagemaker.model_package_version": str(package["version"]),
                     "sagemaker.model_data_url": package["model_data_url"]})
        link = {"model_package_arn": package["arn"], "version": package["version"], "model_data_url": package["model_data_url"],
                "approval": "in the SageMaker Model Registry (retrainer approve / reject)"}
        tracker.log_artifact(info, "model_package.json", json.dumps(link, indent=2).encode(), records.s3)
    parameters = (spec.get("parameters") or {}).get(entry.get("family", ""), {})
    tracker.log_batch(info["run_id"], metrics, {f"{entry.get('family')}.{k}": v for k, v in parameters.items()}, tags)
    statistics = records.read_bytes(f"{spec['paths']['quality']}/{kind}/statistics.json") if spec.get("paths", {}).get("quality") else None
    if statistics:
        tracker.log_artifact(info, "statistics.json", statistics, records.s3)
    tracker.end_run(info["run_id"], "FINISHED", end_ms)


def _artifacts(tracker: Tracker, info: dict[str, Any], records: Records, report_uri: str) -> None:
    for name in ("evaluation.json", "curves.json"):
        content = records.read_bytes(f"{report_uri}/{name}")
        if content:
            tracker.log_artifact(info, f"evaluation/{name}", content, records.s3)


# ---------------------------------------------------------------- scoring runs
def _scoring(detail: dict[str, Any], run_input: dict[str, Any], tracker: Tracker, records: Records) -> str:
    model, run_id = run_input["model"], run_input["run_id"]
    start_ms, end_ms = _times(detail)
    experiment = tracker.experiment_id(f"{model}-scoring", {"retrainer.model": model, **MODEL_TRAINING})
    version = run_input.get("model_version") or {}
    data = run_input.get("data") or {}
    tags = {"retrainer.model": model, "retrainer.batch": run_input.get("batch", ""), "retrainer.execution": detail.get("name", ""),
            "retrainer.status": detail.get("status", ""), "sagemaker.model_package_arn": version.get("arn", ""),
            "retrainer.trigger": (run_input.get("trigger") or {}).get("type", ""), "mlflow.source.name": "retrainer"}
    info = tracker.run_once(experiment, RUN_KEY, run_id, run_id, start_ms, tags)
    params = {"model.version": str(version.get("version", "")), "data.version": data.get("version", ""),
              "data.uri": data.get("uri", ""), "code.version": run_input.get("code_version", "")}
    paths = run_input.get("paths") or {}
    summary = records.read_json(f"s3://{paths['summary_bucket']}/{paths['summary_key']}") if paths.get("summary_key") else None
    drift = records.read_json(f"{paths['drift']}/drift.json") if paths.get("drift") else None
    metrics = [_point(k, (summary or {})[k], end_ms) for k in ("rows", "flagged", "flagged_share", "max_feature_psi", "landed_rows")
               if isinstance((summary or {}).get(k), int | float)]
    metrics += [_point(f"psi.{name}", value, end_ms) for name, value in ((drift or {}).get("features") or {}).items()
                if isinstance(value, int | float)]
    if drift:
        tags["retrainer.feature_of_max_psi"] = str(drift.get("feature_of_max") or "")
    tracker.log_batch(info["run_id"], metrics, params, tags)
    for name, document in (("summary.json", summary), ("drift.json", drift)):
        if document:
            tracker.log_artifact(info, name, json.dumps(document, indent=2).encode(), records.s3)
    tracker.end_run(info["run_id"], STATUS.get(detail.get("status", ""), "FAILED"), end_ms)
    return info["run_id"]
