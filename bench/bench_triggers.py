"""Issue 4: the trigger path, measured side by side in one run.

1. End to end on the local stack: S3 objects of one landing -> EventBridge -> SQS -> start_retraining
   (real handler, real ledger and idempotency writes): events per second until the queue drains.
2. The handler alone, in this process on the same local stack: one SQS batch of 100 records vs 100
   batches of 1 (what the batching window buys).
3. Cold import of each handler in a fresh interpreter vs a bare `import boto3` (the floor), with
   tracing off and on, and the built package sizes when `make build` has run.

Run: .venv/bin/python -m bench.bench_triggers [--events 500] [--cold-import-only] [--repeats 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from bench._stack import ROOT, local_stack


def drain_seconds(stack, s3, sqs, count: int) -> float:
    outputs = stack.provisioned.outputs
    bucket, prefix = outputs["LandingBucketName"], "incoming/scarcegan/bench-trigger/"
    started = time.monotonic()
    for i in range(count):
        s3.put_object(Bucket=bucket, Key=f"{prefix}normal/part-{i:05d}.csv", Body=b"player_id,week\n")
    while True:
        attributes = sqs.get_queue_attributes(QueueUrl=outputs["TriggerQueueUrl"],
                                              AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        if all(v == "0" for v in attributes.values()):
            return time.monotonic() - started
        time.sleep(0.05)


def handler_seconds(stack, batches: list[dict]) -> float:
    spec = stack.runtime.spec("StartRetrainingFunction")
    function = type("F", (), {"function_name": spec.name, "function_arn": f"arn:aws:lambda:us-east-1:123456789012:function:{spec.name}"})
    started = time.perf_counter()
    for batch in batches:
        stack.runtime.invoke(function, json.dumps(batch).encode())
    return time.perf_counter() - started


def cold_import(statement: str, **environment: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) `statement` takes in a fresh interpreter. The CPU time is what the
    import costs on an idle machine, and moves little with the machine's load; the wall time is what a
    user waits, on this machine now."""
    path = os.pathsep.join(p for p in (str(ROOT / "functions"), os.environ.get("PYTHONPATH")) if p)  # as /var/task holds them
    env = {**os.environ, "POWERTOOLS_SERVICE_NAME": "bench", "POWERTOOLS_METRICS_NAMESPACE": "Bench", "PYTHONPATH": path, **environment}
    code = (f"import time; w, c = time.perf_counter(), time.process_time(); {statement}; "
            "print(time.perf_counter() - w, time.process_time() - c)")
    wall, cpu = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    return float(wall), float(cpu)


HANDLERS = ("start_retraining.app", "register_models.app", "finish_run.app")
# On Lambda with tracing on (the template's Tracing: Active) the X-Ray SDK loads with the handler
# (retrainer_core/observability.py); LAMBDA_TASK_ROOT is how Powertools and the handlers know they are there.
ON_LAMBDA_TRACED = {"LAMBDA_TASK_ROOT": str(ROOT / "functions")}


def cold_imports(repeats: int = 15) -> None:
    """Each handler's import vs a bare `import boto3` (the floor: the Lambda runtime's own SDK), each in
    fresh interpreters, interleaved so that a change in the machine's load reaches both sides; medians.
    Handler modules are imported from functions/ as the Lambda runtime imports them from the package."""
    with open("/proc/loadavg") as load:
        print(f"cold import, median of {repeats} fresh interpreters each, load average {load.read().split()[0]} "
              f"on {os.cpu_count()} CPUs (target: <= 1.5x `import boto3`):")
    for label, environment in (("tracing off (local stack, tests, POWERTOOLS_TRACE_DISABLED)", {}),
                               ("tracing on (on Lambda with Tracing: Active)", ON_LAMBDA_TRACED)):
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in ("boto3", *HANDLERS)}
        for _ in range(repeats):
            samples["boto3"].append(cold_import("import boto3", **environment))
            for handler in HANDLERS:
                samples[handler].append(cold_import(f"import {handler}", **environment))
        wall = {n: statistics.median(w for w, _ in v) for n, v in samples.items()}
        cpu = {n: statistics.median(c for _, c in v) for n, v in samples.items()}
        print(f"  {label}: bare `import boto3` {wall['boto3'] * 1000:.0f} ms wall, {cpu['boto3'] * 1000:.0f} ms CPU")
        for handler in HANDLERS:
            print(f"    {handler:<22} {wall[handler] * 1000:6.0f} ms wall = {wall[handler] / wall['boto3']:4.2f}x   "
                  f"{cpu[handler] * 1000:6.0f} ms CPU = {cpu[handler] / cpu['boto3']:4.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--cold-import-only", action="store_true", help="only the handlers' cold import vs `import boto3`")
    parser.add_argument("--repeats", type=int, default=15, help="fresh interpreters per import (medians; the machine is noisy)")
    args = parser.parse_args()
    if args.cold_import_only:
        cold_imports(args.repeats)
        return

    from tests.utils.events import s3_object_created, sqs_batch

    stack = local_stack()
    import boto3

    session = boto3.Session(region_name="us-east-1")
    s3, sqs = session.client("s3"), session.client("sqs")
    bucket = stack.provisioned.outputs["LandingBucketName"]

    end_to_end = drain_seconds(stack, s3, sqs, args.events)
    print(f"end to end: {args.events} part-file events through EventBridge -> SQS -> start_retraining in {end_to_end:.1f}s "
          f"= {args.events / end_to_end:.0f} events/s (batching window {stack.provisioned.queue_triggers[0].batching_window_seconds}s included)")

    def events(tag: str, n: int) -> list[dict]:
        return [s3_object_created(f"incoming/scarcegan/bench-{tag}/normal/part-{i}.csv", bucket=bucket, event_id=f"{tag}-{i}") for i in range(n)]

    one_batch = handler_seconds(stack, [sqs_batch(*events("batched", 100))])
    single = handler_seconds(stack, [sqs_batch(e) for e in events("single", 100)])
    print(f"handler: 100 records in one batch {one_batch * 1000:.0f} ms ({100 / one_batch:.0f} events/s); "
          f"in 100 batches of 1 {single * 1000:.0f} ms ({100 / single:.0f} events/s); batching ratio {single / one_batch:.2f}x")
    stack.stop()

    cold_imports()
    build = ROOT / ".aws-sam" / "build"
    if build.exists():
        subprocess.run([sys.executable, "-m", "retrainer.deploy_checks", str(build)], cwd=ROOT, check=False)
    else:
        print("package sizes: run `make build` first")


if __name__ == "__main__":
    main()
