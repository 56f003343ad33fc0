"""A run's execution ended: record the steps it completed in the step cache (failed runs too), and
either start the run's next attempt (a job that died inside SageMaker, docs/decisions/0303) or close
its ledger record with the audit and the failure, release the model's lock, start the next queued
run (data-driven triggers merged into the newest, requests each in turn; the rest queue again behind
it), and say so once on the topic. Everything it knows comes from the execution history
(retrainer_core.audit), read once."""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

from retrainer_core.audit import audit, failure, is_transient, merge_attempts
from retrainer_core.step_cache import remember
from retrainer_core.triggering import Decision, Starter, queue_order, retry_transient, start_or_coalesce


class Notifier(Protocol):
    def publish(self, subject: str, message: dict[str, Any]) -> None: ...


def finish(detail: dict[str, Any], history: list[dict[str, Any]], ledger: Any, workflow: Starter,
           notifier: Notifier) -> Decision | None:
    run_input = json.loads(detail["input"])
    run_id, model, status = run_input["run_id"], run_input["model"], detail["status"]
    steps = audit(history)
    remember(run_input, steps, ledger)
    run = ledger.run(run_id) or {}
    latest = (run.get("attempts") or [{}])[-1].get("execution")
    if latest not in (None, detail["name"]):
        return None  # an earlier attempt's event, redelivered or late: the run has moved on
    if run_input.get("retries", {}).get("attempt", 0) > 0 and run.get("steps"):  # a transient failure's next attempt
        steps = merge_attempts(run["steps"], steps)
    # a scoring run records its own failure (score.asl.json's HandleFailure); a training run's is read here
    failed = run.get("failure") or ({**found, "execution": detail["name"]} if (found := failure(history)) else None)
    if status == "FAILED" and is_transient(failed) and "retries" in run_input:
        ledger.update_run(run_id, last_execution=detail["name"], steps=steps)
        if retry_transient(run_input, len(run.get("attempts", [])), workflow, ledger):
            return None  # still running: the lock stays, nothing to say yet
    costs = [s["cost_usd"] for s in steps if s.get("cost_usd") is not None]
    ledger.update_run(
        run_id,
        status=status,
        ended_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        last_execution=detail["name"],
        steps=steps,
        cost_usd=round(sum(costs), 6),
        **({"failure": failed} if failed else {}),
    )
    follow_up = None
    pending = ledger.release(model, run_id)
    if pending:
        order, superseded = queue_order(pending)
        for older, newer in superseded.items():
            ledger.supersede(older, newer)
        first, *rest = order
        spec = first["spec"]
        spec["trigger"].setdefault("coalesced", [])
        spec["trigger"]["follows"] = run_id
        follow_up = start_or_coalesce(spec, workflow, ledger, spec["lock_ttl_seconds"], queued_at=first["queued_at"])
        for entry in rest:  # each keeps its place, now behind the follow-up
            start_or_coalesce(entry["spec"], workflow, ledger, entry["spec"]["lock_ttl_seconds"], queued_at=entry["queued_at"])
    notifier.publish(
        f"Retrainer {model}: run {run_id} {status}",
        {
            "run_id": run_id,
            "model": model,
            "status": status,
            "execution": detail["name"],
            "failure": failed,
            "steps": [{k: s.get(k) for k in ("step", "status", "cache_hit", "seconds", "cost_usd")} for s in steps],
            "cost_usd": round(sum(costs), 6),
            "follow_up": follow_up.run_id if follow_up else None,
        },
    )
    return follow_up
