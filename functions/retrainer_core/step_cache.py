"""The step cache (docs/decisions/0009, 0510): a completed step's job, indexed by the step's content
key. Hits are decided once, when an execution starts (they go into its input as `steps`, which the
state machine skips); entries are recorded from the execution history when it ends (finish_run), for
failed executions too, so the next attempt of a run skips what completed."""

from __future__ import annotations

from typing import Any, Protocol

STEPS = ("preprocess", "train", "challenger", "evaluate")


class StepIndex(Protocol):
    def cached_step(self, step: str, key: str) -> dict[str, Any] | None: ...
    def remember_step(self, step: str, key: str, entry: dict[str, Any]) -> None: ...


def cached_steps(spec: dict[str, Any], index: StepIndex) -> dict[str, dict[str, Any]]:
    """Each step whose outputs exist already, as the state machine's `steps` entry. A run that uses
    the cache takes every hit; one that does not takes only what its own earlier attempts completed
    (a transient failure's next attempt goes on from the failed step either way)."""
    use_cache = spec.get("options", {}).get("use_cache", True)
    found: dict[str, dict[str, Any]] = {}
    for step in STEPS:
        key = spec.get("cache_keys", {}).get(step)
        entry = index.cached_step(step, key) if key else None
        if entry is None or (not use_cache and entry.get("run_id") != spec["run_id"]):
            continue
        found[step] = {"job_name": entry.get("job_name"), "cache_hit": True,
                       **({"model_artifacts": entry["model_artifacts"]} if entry.get("model_artifacts") else {})}
    return found


def remember(run_input: dict[str, Any], steps: list[dict[str, Any]], index: StepIndex) -> list[str]:
    """Index every step that completed in this execution (the audit of its history) under its key;
    returns the steps recorded. A training without its model artifact is not a usable hit."""
    recorded = []
    for entry in steps:
        step, key = entry["step"], run_input.get("cache_keys", {}).get(entry["step"])
        if not key or entry.get("status") != "succeeded" or entry.get("cache_hit") or not entry.get("job_name"):
            continue
        if step in ("train", "challenger") and not entry.get("model_artifacts"):
            continue
        index.remember_step(step, key, {"job_name": entry["job_name"], "run_id": run_input["run_id"],
                                        **({"model_artifacts": entry["model_artifacts"]} if entry.get("model_artifacts") else {})})
        recorded.append(step)
    return recorded
