"""Orchestration overhead: one retraining run on the embedded local stack against the monolith doing the
same work, on the same data, interleaved (warm-up, then monolith / stack pairs), on this machine.

* ``stack``: a landing's ``_SUCCESS`` marker is put, and the clock runs until the run is closed in the
  ledger (finish_run done): EventBridge -> SQS -> start_retraining -> Step Functions -> the four
  SageMaker jobs (local processes under the container contract) -> RegisterModels -> finish_run. The
  part files are uploaded before the clock starts (landing data is the producer's work in both).
* ``monolith``: the same four processes, with the SAME argv, environment and input files, run from one
  shell script with the same concurrency as the state machine (preprocess; train & challenger; evaluate),
  each reading its inputs from local disk. The commands are recorded from the warm-up run's own jobs
  and replayed on a copy of each job's staged inputs (copied before the clock starts): the scripts and
  the bytes they read are identical (the steps are deterministic), so the difference is orchestration:
  trigger, staging to and from S3, job start and status polling, the cache and ledger tasks between
  steps, registration and closing the run.

Each stack run lands a new batch (same seed, same bytes) so no step is a cache hit. The ratio is the
median stack time over the median monolith time (target <= 1.10); per-pair ratios give the spread.
Then the decomposition of the stack runs (medians): trigger -> execution start, each job's state time
against its script's own time and its staging, registration, finish; and `uptime` before and after.

    .venv/bin/python -m bench.bench_overhead [--pairs 3] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench._stack import local_stack

STEPS = ("preprocess", "train", "challenger", "evaluate")
STATES = {"preprocess": "Preprocess", "train": "Train", "challenger": "Challenger", "evaluate": "Evaluate"}


class Probe:
    """Bench-side instrumentation of the in-process stack: per job, the process it starts (argv, env,
    cwd: the monolith replays them) and how long its script and its staging take."""

    def __init__(self, stack: Any):
        from retrainer_core.ledger import Ledger

        from retrainer.local import jobs

        self.jobs: dict[str, dict[str, Any]] = {}
        self.lambdas: list[tuple[str, float, float]] = []
        # when finish_run released each run's lock (the run is closed), and a wake-up for each release or
        # finished Lambda invocation: the bench waits on these instead of polling the ledger, whose
        # reads through moto's serializer cost a steady share of a core that the scripts then lack
        self.released: dict[str, float] = {}
        self.changed = threading.Condition()
        self.snapshot_dir: Path | None = None
        self.current = threading.local()
        runner, runtime = stack.runner, stack.runtime
        probe = self

        run, execute = runner._run, runner._execute

        def _run(kind: str, job: Any) -> None:
            name = job.training_job_name if kind == "Training" else job.processing_job_name
            probe.current.name = name
            record = probe.jobs.setdefault(name, {"staging": 0.0})
            record["started"] = time.time()
            try:
                run(kind, job)
            finally:
                record["ended"] = time.time()

        def _execute(*args: Any, **kwargs: Any) -> Any:
            record = probe.jobs[probe.current.name]
            record["script_started"] = time.time()
            try:
                return execute(*args, **kwargs)
            finally:
                record["script_ended"] = time.time()

        runner._run, runner._execute = _run, _execute
        for method in ("_download", "_download_archive", "_upload_dir", "_upload_archive"):
            setattr(runner, method, self._timed(getattr(runner, method)))

        class _Popen(subprocess.Popen):  # the job's process as the runner starts it
            def __init__(self, args: Any, *rest: Any, cwd: Any = None, env: Any = None, **kwargs: Any):
                record = probe.jobs[probe.current.name]
                record.update(argv=list(args), cwd=str(cwd), env=dict(env or {}))
                if probe.snapshot_dir is not None:
                    root = _job_root(str(cwd))
                    record["snapshot"] = str(probe.snapshot_dir / Path(root).parts[-3])
                    record["root"] = root
                    shutil.copytree(root, record["snapshot"])
                super().__init__(args, *rest, cwd=cwd, env=env, **kwargs)

        jobs.subprocess = _Shim(_Popen)

        invoke = runtime.invoke

        def _invoke(function: Any, payload: bytes) -> Any:
            started = time.time()
            try:
                return invoke(function, payload)
            finally:
                with probe.changed:
                    probe.lambdas.append((function.function_name, started, time.time()))
                    probe.changed.notify_all()

        runtime.invoke = _invoke
        release = Ledger.release

        def _release(ledger: Any, model: str, run_id: str) -> Any:
            try:
                return release(ledger, model, run_id)
            finally:
                with probe.changed:
                    probe.released[run_id] = time.time()
                    probe.changed.notify_all()

        Ledger.release = _release

    def wait_for(self, condition: Any, timeout: float, what: str) -> Any:
        with self.changed:
            value = self.changed.wait_for(condition, timeout)
        if not value:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f}s")
        return value

    def _timed(self, method: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                record = self.jobs[self.current.name]
                seconds = time.perf_counter() - started
                record["staging"] += seconds
                direction = "down" if method.__name__.startswith("_download") else "up"
                record[f"staging {direction}"] = record.get(f"staging {direction}", 0.0) + seconds

        return timed


class _Shim:
    """`subprocess` as retrainer.local.jobs sees it, with Popen recorded."""

    def __init__(self, popen: Any):
        self.Popen = popen

    def __getattr__(self, name: str) -> Any:
        return getattr(subprocess, name)


def _job_root(cwd: str) -> str:
    return cwd[: cwd.index("/opt/ml") + len("/opt/ml")]


def _step(job_name: str) -> str:
    return job_name.split("-")[-2]


# ---------------------------------------------------------------- the stack
def stack_run(stack: Any, probe: Probe, batch: str, seed: int) -> dict[str, Any]:
    import boto3
    from retrainer_core.ledger import Ledger

    from retrainer.demo import land_batch

    session = boto3.Session(region_name="us-east-1")
    s3, sfn = session.client("s3"), session.client("stepfunctions")
    outputs = stack.provisioned.outputs
    ledger = Ledger(outputs["RunLedgerTableName"])
    bucket, machine = outputs["LandingBucketName"], outputs["StateMachineArn"]
    uri = land_batch(s3, bucket, "scarcegan", batch, seed=seed, marker=False)
    known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    probe.jobs.clear()
    probe.lambdas.clear()

    started = time.time()
    s3.put_object(Bucket=bucket, Key=f"incoming/scarcegan/{batch}/_SUCCESS", Body=b"")
    execution = None
    while execution is None:
        for listed in sfn.list_executions(stateMachineArn=machine)["executions"]:
            if listed["executionArn"] not in known:
                described = sfn.describe_execution(executionArn=listed["executionArn"])
                if f'"uri": "{uri}"' in described["input"]:
                    execution = described
        if time.time() - started > 120:
            raise TimeoutError(f"no execution for {uri}: check the trigger queue's DLQ")
        time.sleep(0.05)
    run_id = execution["name"]
    closed = probe.wait_for(lambda: probe.released.get(run_id), 1800, f"run {run_id}'s close")
    # finish_run goes on to log the run in MLflow: wait for it, so that its work is not in the next
    # monolith's time (the stack is idle when the monolith starts, as the monolith is when the stack does)
    probe.wait_for(lambda: any("FinishRun" in f and s <= closed <= e for f, s, e in probe.lambdas), 600, "finish_run's end")
    run = ledger.run(run_id)
    if run["status"] != "SUCCEEDED":
        raise RuntimeError(f"run {run_id} {run['status']}: {run.get('failure')}")
    execution = sfn.describe_execution(executionArn=execution["executionArn"])
    history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
    return {"total": closed - started, "started": started, "closed": closed, "execution": execution,
            "states": _state_times(history), "jobs": {_step(n): dict(r) for n, r in probe.jobs.items()},
            "lambdas": list(probe.lambdas)}


def _state_times(history: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """state name -> (first entered, last exited), epoch seconds."""
    entered: dict[str, float] = {}
    exited: dict[str, float] = {}
    for event in history:
        at = event["timestamp"].timestamp()
        if "stateEnteredEventDetails" in event:
            entered.setdefault(event["stateEnteredEventDetails"]["name"], at)
        if "stateExitedEventDetails" in event:
            exited[event["stateExitedEventDetails"]["name"]] = at
    return {name: (entered[name], exited[name]) for name in entered if name in exited}


# ---------------------------------------------------------------- the monolith
def monolith_script(jobs: dict[str, dict[str, Any]], work: Path) -> tuple[Path, dict[str, Path]]:
    """One shell script running the recorded processes on fresh copies of their staged inputs."""
    work.mkdir(parents=True)
    lines = ["set -e"]
    marks: dict[str, Path] = {}

    def command(step: str) -> str:
        job = jobs[step]
        root = work / step / "opt" / "ml"
        shutil.copytree(job["snapshot"], root)

        def moved(value: str) -> str:
            return value.replace(job["root"], str(root))

        env = " ".join(shlex.quote(f"{k}={moved(v)}") for k, v in job["env"].items())
        argv = " ".join(shlex.quote(moved(a)) for a in job["argv"])
        marks[step] = work / f"{step}.times"
        return (f"(cd {shlex.quote(moved(job['cwd']))} && date +%s.%N > {marks[step]} && "
                f"env -i {env} {argv} > {work / step}.log 2>&1 && date +%s.%N >> {marks[step]})")

    lines.append(command("preprocess"))
    lines.append(f"{command('train')} & a=$!; {command('challenger')} & b=$!; wait $a; wait $b")
    lines.append(command("evaluate"))
    script = work / "monolith.sh"
    script.write_text("\n".join(lines) + "\n")
    return script, marks


def monolith_run(jobs: dict[str, dict[str, Any]], root: Path, index: int) -> dict[str, Any]:
    script, marks = monolith_script(jobs, root / f"monolith-{index}")
    started = time.time()
    subprocess.run([shutil.which("bash") or "/bin/bash", str(script)], check=True)
    total = time.time() - started
    steps = {}
    for step, mark in marks.items():
        begin, end = (float(v) for v in mark.read_text().split())
        steps[step] = end - begin
    shutil.rmtree(script.parent, ignore_errors=True)
    return {"total": total, "steps": steps}


# ---------------------------------------------------------------- report
def decomposition(run: dict[str, Any]) -> dict[str, float]:
    states, jobs, execution = run["states"], run["jobs"], run["execution"]
    start, stop = execution["startDate"].timestamp(), execution["stopDate"].timestamp()
    parts = {"trigger -> execution start": start - run["started"]}
    for step in STEPS:
        entered, exited = states[STATES[step]]
        job = jobs[step]
        script = job["script_ended"] - job["script_started"]
        parts[f"{step}: state"] = exited - entered
        parts[f"{step}:   script"] = script
        parts[f"{step}:   staging (inputs down / outputs up)"] = job["staging"]
        parts[f"{step}:     down"] = job.get("staging down", 0.0)
        parts[f"{step}:     up"] = job.get("staging up", 0.0)
        parts[f"{step}:   job start/poll/other"] = (exited - entered) - script - job["staging"]
    register = states.get("RegisterModels")
    parts["RegisterModels (Map)"] = register[1] - register[0] if register else 0.0
    registrations = [(s, e) for f, s, e in run["lambdas"] if "RegisterModels" in f]
    parts["  register_models invocations"] = float(len(registrations))
    parts["  register_models sum of durations"] = sum(e - s for s, e in registrations)
    steps_critical = (states["Preprocess"][1] - states["Preprocess"][0]) + (states["Training"][1] - states["Training"][0]) \
        + (states["Evaluate"][1] - states["Evaluate"][0]) + parts["RegisterModels (Map)"]
    parts["between states (cache/ledger tasks, choices)"] = (stop - start) - steps_critical
    parts["execution end -> run closed (finish_run)"] = run["closed"] - stop
    parts["total"] = run["total"]
    parts["scripts' critical path (preprocess + max(train, challenger) + evaluate)"] = critical_path(run)
    parts["orchestration = total - scripts' critical path"] = run["total"] - critical_path(run)
    return parts


def critical_path(run: dict[str, Any]) -> float:
    """The run's own scripts on its critical path: what the stack would take with free orchestration."""
    seconds = {step: job["script_ended"] - job["script_started"] for step, job in run["jobs"].items()}
    return seconds["preprocess"] + max(seconds["train"], seconds["challenger"]) + seconds["evaluate"]


def _uptime() -> str:
    return subprocess.run([shutil.which("uptime") or "/usr/bin/uptime"], capture_output=True, text=True).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    out = sys.stdout  # the in-process handlers log (and print EMF metrics) to stdout: not this report's
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the whole run

    def say(line: str = "") -> None:
        print(line, file=out, flush=True)

    say(f"load before: {_uptime()}  (cpus: {os.cpu_count()})")
    stack = local_stack()
    probe = Probe(stack)
    root = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    tag = str(int(time.time()))
    try:
        probe.snapshot_dir = root / "snapshots"
        warm = stack_run(stack, probe, f"bench-{tag}-warm", args.seed)
        probe.snapshot_dir = None
        jobs = {step: warm["jobs"][step] for step in STEPS}
        say(f"warm-up stack run: {warm['total']:.1f}s (snapshots of each job's staged inputs taken: not timed below)")
        monoliths, stacks = [], []
        for i in range(args.pairs):
            monoliths.append(monolith_run(jobs, root, i))
            stacks.append(stack_run(stack, probe, f"bench-{tag}-{i}", args.seed))
            say(f"pair {i + 1}: monolith {monoliths[-1]['total']:6.1f}s   stack {stacks[-1]['total']:6.1f}s   "
                f"ratio {stacks[-1]['total'] / monoliths[-1]['total']:.3f}   ({_uptime()})")
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)

    mono = [m["total"] for m in monoliths]
    local = [s["total"] for s in stacks]
    ratios = [s / m for s, m in zip(local, mono, strict=True)]
    own = [s["total"] / critical_path(s) for s in stacks]
    say()
    say(f"monolith  median {statistics.median(mono):6.1f}s  (min {min(mono):.1f}, max {max(mono):.1f})")
    say(f"stack     median {statistics.median(local):6.1f}s  (min {min(local):.1f}, max {max(local):.1f})")
    say(f"overhead ratio (median stack / median monolith): {statistics.median(local) / statistics.median(mono):.3f}"
        f"   per pair: median {statistics.median(ratios):.3f}, min {min(ratios):.3f}, max {max(ratios):.3f}   (target <= 1.10)")
    say(f"stack total / its own scripts' critical path (same run, load-robust): median {statistics.median(own):.3f}, "
        f"min {min(own):.3f}, max {max(own):.3f}")
    say()
    say("monolith step times (median, s): " + ", ".join(
        f"{step} {statistics.median(m['steps'][step] for m in monoliths):.1f}" for step in STEPS))
    say("stack run decomposition (median over the pairs' stack runs, seconds; each run in brackets):")
    parts = [decomposition(s) for s in stacks]
    for name in parts[0]:
        values = [p[name] for p in parts]
        say(f"  {name:<72} {statistics.median(values):7.2f}   ({' '.join(f'{v:.2f}' for v in values)})")
    say()
    say(f"load after: {_uptime()}")
    say(json.dumps({"ratio": statistics.median(local) / statistics.median(mono), "stack": local, "monolith": mono}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
