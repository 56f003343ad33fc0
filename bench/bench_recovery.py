"""Issue 5: what resuming and caching save, measured side by side in one run on the local stack.

1. Recovery ratio. A run fails in its last job (Evaluate, on broken input). Compute seconds (billable
   job seconds, from the run ledger's audit) spent to reach success:
   - resumed: `retrainer resume` -> only Evaluate runs again;
   - restarted from scratch, the monolith's way: the same run with the cache off -> all three jobs.
2. Cache ratio: wall time of a fully cached re-run (same data and parameters) vs the cold run.

Run: .venv/bin/python -m bench.bench_recovery [--iterations 6000]
"""

from __future__ import annotations

import argparse
import time
import uuid

from bench._stack import local_stack


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", default="6000")
    args = parser.parse_args()

    import boto3

    from retrainer.demo import land_batch
    from retrainer.run_commands import request
    from tests.utils.stack import ended, run_where, settled

    stack = local_stack()
    session = boto3.Session(region_name="us-east-1")
    events = session.client("events")
    landing = land_batch(session.client("s3"), stack.provisioned.outputs["LandingBucketName"], "scarcegan", "bench-recovery", seed=5)
    ended(stack, run_where(stack, lambda r: r["data"]["uri"] == landing)["run_id"], timeout=600)
    settled(stack)

    def start(overrides: dict, use_cache: bool = True) -> tuple[dict, float]:
        request_id, began = str(uuid.uuid4()), time.monotonic()
        request(events, "Retraining Requested", {"model": "scarcegan", "request_id": request_id, "overrides": overrides, "use_cache": use_cache})
        run = ended(stack, run_where(stack, lambda r: r["trigger"].get("event_id") == request_id)["run_id"], timeout=900)
        settled(stack)
        return run, time.monotonic() - began

    def compute(run: dict) -> float:
        return sum(s.get("billable_seconds") or 0 for s in run["steps"])

    params = {"iterations": args.iterations, "seed": "77"}
    stack.faults.arm("evaluate", "bad-data")
    failed, _ = start(params)
    assert failed["status"] == "FAILED", failed["status"]
    spent_before_failure = compute(failed)

    began = time.monotonic()
    request(events, "Run Resume Requested", {"run_id": failed["run_id"]})
    run_where(stack, lambda r: r["run_id"] == failed["run_id"] and len(r["attempts"]) == 2)
    resumed = ended(stack, failed["run_id"], timeout=900)
    resume_wall = time.monotonic() - began
    settled(stack)
    restarted, restart_wall = start(params, use_cache=False)
    assert resumed["status"] == restarted["status"] == "SUCCEEDED"

    print(f"run failed in Evaluate after {spent_before_failure:.0f} compute-seconds; to reach success then:")
    print(f"  resumed   : {compute(resumed):5.0f} compute-seconds, {resume_wall:5.1f}s wall  ({', '.join(s['step'] + (' (cached)' if s['cache_hit'] else '') for s in resumed['steps'])})")
    print(f"  restarted : {compute(restarted):5.0f} compute-seconds, {restart_wall:5.1f}s wall  (all three jobs again, the monolith's way)")
    print(f"  recovery ratio (restarted / resumed compute): {compute(restarted) / max(compute(resumed), 1):.1f}x")

    cold, cold_wall = start({**params, "seed": "78"}, use_cache=False)
    cached, cached_wall = start({**params, "seed": "78"})
    assert all(s["cache_hit"] for s in cached["steps"])
    print(f"cold run {cold_wall:.1f}s wall vs fully cached re-run {cached_wall:.1f}s wall: {cold_wall / cached_wall:.1f}x faster, "
          f"{compute(cached):.0f} compute-seconds instead of {compute(cold):.0f}")
    stack.stop()


if __name__ == "__main__":
    main()
