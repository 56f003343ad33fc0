"""SageMaker Training and Processing jobs, run as local processes under the container contract.

Per job, `/opt/ml` is a folder under the stack's work dir. Inputs are staged from (local) S3 as the
job's channels / ProcessingInputs say, the real entry point runs with the SM_* environment, stdout goes
to CloudWatch Logs (`/aws/sagemaker/TrainingJobs`, `.../ProcessingJobs`) and the job's metrics are
parsed with its own MetricDefinitions; outputs and model.tar.gz go back to S3; the moto job record
moves InProgress -> Completed | Failed (with FailureReason) | Stopped (MaxRuntimeExceeded).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from moto.sagemaker.exceptions import SagemakerClientError
from retrainer_core.metric_lines import MetricDefinitions

from retrainer.local import instances
from retrainer.local.faults import Faults
from retrainer.local.processes import PROCESS_FILE, signal_group
from retrainer.local.staging import InProcessS3, StagingError

log = logging.getLogger(__name__)
CONTAINER_ROOT = Path("/opt/ml")
INTERNAL_ERROR_CODE = "InternalServerError"
INTERNAL_ERROR = f"{INTERNAL_ERROR_CODE}: We encountered an internal error. Please try again."  # SageMaker's own wording


class JobFailed(Exception):
    def __init__(self, reason: str, status: str = "Failed"):
        super().__init__(reason)
        self.reason, self.status = reason, status


class ResourceLimitExceeded(SagemakerClientError):
    def __init__(self, message: str):
        super().__init__("ResourceLimitExceeded", message)


def step_of(job_name: str) -> str:
    """<prefix>-<run id>-<step>-<attempt> -> step."""
    parts = job_name.split("-")
    return parts[-2] if len(parts) >= 3 else job_name


def _now() -> datetime:
    return datetime.now(UTC)


class JobRunner:
    def __init__(self, session: Any, work_dir: Path, faults: Faults, aws_environment: dict[str, str] | None = None,
                 python: str = sys.executable):
        self.s3 = session.client("s3")
        self.sagemaker = session.client("sagemaker")
        self.logs = session.client("logs")
        self.cloudwatch = session.client("cloudwatch")
        self.work_dir = work_dir
        self.faults = faults
        self.aws_environment = aws_environment or {}  # what a job role gives a container on AWS
        self.python = python
        self.threads: list[threading.Thread] = []
        self.processes: dict[int, subprocess.Popen] = {}  # running job processes, each its own process group
        self.process_file = work_dir.parent / PROCESS_FILE  # the same, for `retrainer local down` (control.py)
        self.process_lock = threading.Lock()
        self.staging = InProcessS3()  # inputs and outputs straight from moto's S3 backend (this process)
        self._ends = threading.Condition()  # notified when a job ends: wakes the state machines' .sync tasks
        self._ended = 0

    # ---- called from moto (moto_patches)
    def check_capacity(self, kind: str, name: str) -> None:
        if self.faults.take(step_of(name), "capacity"):
            raise ResourceLimitExceeded(f"The account-level service limit for {kind.lower()} job instances is exceeded (injected)")

    def start(self, kind: str, job: Any) -> None:
        thread = threading.Thread(target=self._run, args=(kind, job), name=f"job-{kind}", daemon=True)
        self.threads.append(thread)
        thread.start()

    def ended_count(self) -> int:
        """How many jobs have ended so far: what a waiter saw before it looked at its own job."""
        return self._ended

    def wait_for_an_end(self, seen: int, timeout: float) -> None:
        """Return when a job has ended since `seen` was read, or after `timeout` seconds."""
        with self._ends:
            self._ends.wait_for(lambda: self._ended != seen, timeout)

    # ---- one job
    def _run(self, kind: str, job: Any) -> None:
        name = job.training_job_name if kind == "Training" else job.processing_job_name
        root = self.work_dir / "jobs" / name / "opt" / "ml"
        started = time.monotonic()
        # SageMaker retries a training job that failed on an internal error, up to RetryStrategy's
        # MaximumRetryAttempts, on fresh instances; each retry is a new "Starting" status transition.
        # Processing jobs have no RetryStrategy: the state machine retries those.
        retries = int(((getattr(job, "retry_strategy", None) or {}) if kind == "Training" else {}).get("MaximumRetryAttempts", 0))
        for attempt in range(retries + 1):
            shutil.rmtree(root.parent.parent, ignore_errors=True)
            status, reason = self._attempt(kind, job, name, root)
            if status != "Failed" or not reason.startswith(INTERNAL_ERROR_CODE) or attempt == retries:
                break
            log.info("job %s: %s; retrying (RetryStrategy, attempt %d of %d)", name, reason, attempt + 2, retries + 1)
            self._transition(job, "Starting", f"Retrying the job after an internal error (attempt {attempt + 2} of {retries + 1})")
        self._finish(kind, job, status, reason, max(1, math.ceil(time.monotonic() - started)))

    def _attempt(self, kind: str, job: Any, name: str, root: Path) -> tuple[str, str | None]:
        try:
            if self.faults.take(step_of(name), "internal-error"):
                log.info("job %s: injected fault internal-error", name)
                raise JobFailed(INTERNAL_ERROR)
            if kind == "Training":
                self._train(job, name, root)
            else:
                self._process(job, name, root)
            return "Completed", None
        except JobFailed as failure:
            return failure.status, failure.reason
        except Exception as error:  # noqa: BLE001 - the runner itself broke: say so on the job
            log.exception("job %s", name)
            return "Failed", f"ClientError: local job runner: {error}"

    def _finish(self, kind: str, job: Any, status: str, reason: str | None, seconds: int) -> None:
        if kind == "Training":
            count = int(job.resource_config.get("InstanceCount", 1))
            job.training_end_time = job.last_modified_time = _now()
            job.training_time_in_seconds = seconds
            job.billable_time_in_seconds = seconds * count
            job.failure_reason = reason
            job.secondary_status = "Completed" if status == "Completed" else status
            job.training_job_status = status
        else:
            job.processing_end_time = job.last_modified_time = _now()
            job.failure_reason = reason
            job.exit_message = reason
            job.processing_job_status = status
        with self._ends:
            self._ended += 1
            self._ends.notify_all()

    def _train(self, job: Any, name: str, root: Path) -> None:
        hyperparameters = dict(job.hyper_parameters or {})
        self._transition(job, "Downloading", "Downloading input data")
        try:
            program = json.loads(hyperparameters["sagemaker_program"])
            submit_directory = json.loads(hyperparameters["sagemaker_submit_directory"])
        except (KeyError, json.JSONDecodeError) as error:
            raise JobFailed(f"ClientError: script mode needs the hyperparameters sagemaker_program and sagemaker_submit_directory ({error})") from error
        code = root / "code"
        self._download_archive(submit_directory, code)
        channels = {}
        for channel in job.input_data_config:
            target = root / "input" / "data" / channel["ChannelName"]
            self._download(channel["DataSource"]["S3DataSource"]["S3Uri"], target)
            channels[channel["ChannelName"]] = target
        config = root / "input" / "config"
        config.mkdir(parents=True, exist_ok=True)
        (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
        (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
        (config / "inputdataconfig.json").write_text(json.dumps({c["ChannelName"]: {"TrainingInputMode": "File"} for c in job.input_data_config}))
        if self.faults.take(step_of(name), "bad-data"):
            _corrupt(channels.values())
        for folder in ("model", "output/data", "checkpoints"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        checkpoints = (job.checkpoint_config or {}).get("S3Uri")
        if checkpoints:  # a restarted (e.g. spot-interrupted) job finds its earlier checkpoints
            self._download(checkpoints, root / "checkpoints", missing_ok=True)

        user_hps = {k: v for k, v in hyperparameters.items() if not k.startswith("sagemaker_")}
        environment = {
            "SM_MODEL_DIR": str(root / "model"),
            "SM_OUTPUT_DATA_DIR": str(root / "output" / "data"),
            "SM_OUTPUT_DIR": str(root / "output"),
            "SM_INPUT_DIR": str(root / "input"),
            "SM_INPUT_CONFIG_DIR": str(config),
            "SM_CHANNELS": json.dumps(sorted(channels)),
            "SM_HPS": json.dumps(user_hps),
            "SM_HOSTS": json.dumps(["algo-1"]),
            "SM_CURRENT_HOST": "algo-1",
            "SM_NUM_GPUS": "0",
            "SM_CHECKPOINT_DIR": str(root / "checkpoints"),
            "SM_NUM_CPUS": str(os.cpu_count() or 1),
            "SM_USER_ENTRY_POINT": program,
            "SM_TRAINING_ENV": json.dumps({"job_name": name, "hyperparameters": user_hps, "hosts": ["algo-1"]}),
            **{f"SM_CHANNEL_{c.upper()}": str(path) for c, path in channels.items()},
        }
        arguments = [a for k, v in user_hps.items() for a in (f"--{k}", str(v))]
        self._transition(job, "Training", "Training image download completed. Training in progress.")
        try:
            self._execute(
                job, "TrainingJobs", name, [self.python, program, *arguments], environment, code,
                int(job.stopping_condition.get("MaxRuntimeInSeconds", 86400)),
                job.algorithm_specification.get("MetricDefinitions", []),
            )
        finally:  # SageMaker syncs checkpoints as they are written, so a failed job's survive it too
            if checkpoints:
                self._upload_dir(root / "checkpoints", checkpoints)
        self._transition(job, "Uploading", "Uploading generated training model")
        self._upload_archive(root / "model", job.model_artifacts["S3ModelArtifacts"])
        output_uri = job.model_artifacts["S3ModelArtifacts"].rsplit("/", 1)[0] + "/output.tar.gz"
        self._upload_archive(root / "output" / "data", output_uri)

    def _process(self, job: Any, name: str, root: Path) -> None:
        def local(path: str) -> str:
            return str(root / Path(path).relative_to(CONTAINER_ROOT)) if path.startswith(str(CONTAINER_ROOT)) else path

        staged = []
        for item in job.processing_inputs:
            source = item["S3Input"]
            target = Path(local(source["LocalPath"]))
            self._download(source["S3Uri"], target)
            if item["InputName"] != "code":
                staged.append(target)
        if self.faults.take(step_of(name), "bad-data"):
            _corrupt(staged)
        outputs = job.processing_output_config.get("Outputs", [])
        for output in outputs:
            Path(local(output["S3Output"]["LocalPath"])).mkdir(parents=True, exist_ok=True)
        app = job.app_specification
        command = [local(a) for a in app.get("ContainerEntrypoint", []) + app.get("ContainerArguments", [])]
        if command and command[0] in ("python", "python3"):
            command[0] = self.python
        max_runtime = int((job.stopping_condition or {}).get("MaxRuntimeInSeconds", 86400))
        if instances.processing_count(job) > 1:  # N instances: instances.py (docs/decisions/0403)
            instances.run_processing(job, root, local, command, outputs, self._upload_dir, lambda host, argv: self._execute(
                job, "ProcessingJobs", name, argv, dict(job.environment), host.root, max_runtime, [], host.host))
            return
        self._execute(job, "ProcessingJobs", name, command, dict(job.environment), root, max_runtime, [])
        for output in outputs:
            self._upload_dir(Path(local(output["S3Output"]["LocalPath"])), output["S3Output"]["S3Uri"])

    # ---- the process
    def _execute(self, job: Any, log_kind: str, name: str, command: list[str], environment: dict[str, str],
                 cwd: Path, max_runtime: int, metric_definitions: list[dict[str, str]], host: str = "algo-1") -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(cwd),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            # Local jobs share this machine's cores (on AWS each has its instance): a thread waiting at
            # an OpenMP barrier sleeps instead of spinning on a core another job's process needs.
            "OMP_WAIT_POLICY": "PASSIVE",
            **self.aws_environment,
            **environment,
        }
        logs = _LogStream(self.logs, f"/aws/sagemaker/{log_kind}", f"{name}/{host}-{int(time.time())}")
        metrics = _MetricParser(metric_definitions)
        tail: deque[str] = deque(maxlen=40)
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   start_new_session=True)  # its own process group: ended with everything it starts
        self._track(process)
        timer = threading.Timer(max_runtime, process.kill)
        timer.start()
        started = time.monotonic()
        try:
            assert process.stdout is not None
            for line in process.stdout:
                line = line.rstrip("\n")
                logs.add(line)
                tail.append(line)
                if metrics.parse(line):
                    job.final_metric_data_list = metrics.final()
            code = process.wait()
        finally:
            timer.cancel()
            logs.flush()
            self._untrack(process)
        metrics.publish(self.cloudwatch, log_kind, name)
        if metric_definitions:
            job.final_metric_data_list = metrics.final()
        if time.monotonic() - started >= max_runtime:
            raise JobFailed(f"MaxRuntimeExceeded: the job ran past MaxRuntimeInSeconds={max_runtime}", status="Stopped")
        if code != 0:
            errors = [line for line in tail if line.startswith("ERROR")] or [line for line in tail if line.strip()][-1:]
            message = errors[-1] if errors else "no output"
            raise JobFailed(f"AlgorithmError: {message} (exit code {code})")

    # ---- the job processes this runner started
    def stop(self, grace: float = 3.0) -> None:
        """End every job process still running (its whole process group), as the stack goes down."""
        with self.process_lock:
            running = list(self.processes.values())
        for process in running:
            signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in running:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            signal_group(process.pid, signal.SIGKILL)  # whatever is left in its group

    def _track(self, process: subprocess.Popen) -> None:
        with self.process_lock:
            self.processes[process.pid] = process
            self._write_processes()

    def _untrack(self, process: subprocess.Popen) -> None:
        with self.process_lock:
            self.processes.pop(process.pid, None)
            self._write_processes()

    def _write_processes(self) -> None:
        self.process_file.parent.mkdir(parents=True, exist_ok=True)
        self.process_file.write_text(json.dumps(sorted(self.processes)))

    def _transition(self, job: Any, status: str, message: str) -> None:
        now = _now()
        transitions = job.secondary_status_transitions
        if transitions:
            transitions[-1]["EndTime"] = now
        transitions.append({"Status": status, "StartTime": now, "StatusMessage": message})
        job.secondary_status = status
        if status == "Training":
            job.training_start_time = now

    # ---- S3 staging: moto's in-process backend, no HTTP round trip (retrainer/local/staging.py)
    def _download(self, uri: str, target: Path, missing_ok: bool = False) -> None:
        try:
            self.staging.download_prefix(uri, target, missing_ok)
        except StagingError as error:
            raise JobFailed(f"ClientError: {error}") from error

    def _download_archive(self, uri: str, target: Path) -> None:
        try:
            self.staging.extract_archive(uri, target)
        except (StagingError, tarfile.TarError) as error:
            raise JobFailed(f"ClientError: cannot download the submit directory {uri}: {error}") from error

    def _upload_dir(self, folder: Path, uri: str) -> None:
        self.staging.upload_dir(folder, uri)

    def _upload_archive(self, folder: Path, uri: str) -> None:
        self.staging.upload_archive(folder, uri)


def _corrupt(folders: Any) -> None:
    """Fault injection 'bad-data': every staged data file loses its content, so the script meets a
    really broken input and must fail on it with its own message."""
    for folder in folders:
        for path in Path(folder).rglob("*"):
            if path.is_file() and path.suffix in (".csv", ".parquet", ".json"):
                path.write_text("")


class _LogStream:
    """A CloudWatch Logs stream, written in batches as the job runs (so progress can be followed)."""

    def __init__(self, client: Any, group: str, stream: str):
        self.client, self.group, self.stream = client, group, stream
        self.pending: list[dict[str, Any]] = []
        self.last_flush = time.monotonic()
        try:
            client.create_log_group(logGroupName=group)
        except client.exceptions.ResourceAlreadyExistsException:
            pass
        client.create_log_stream(logGroupName=group, logStreamName=stream)

    def add(self, line: str) -> None:
        self.pending.append({"timestamp": int(time.time() * 1000), "message": line or " "})
        if len(self.pending) >= 200 or time.monotonic() - self.last_flush > 2:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.client.put_log_events(logGroupName=self.group, logStreamName=self.stream, logEvents=self.pending)
        self.pending, self.last_flush = [], time.monotonic()


class _MetricParser:
    """The job's MetricDefinitions applied to each log line, as SageMaker does."""

    def __init__(self, definitions: list[dict[str, str]]):
        self.definitions = MetricDefinitions(definitions)
        self.values: list[tuple[str, float, datetime]] = []
        self.last: dict[str, tuple[float, datetime]] = {}

    def parse(self, line: str) -> bool:
        """Whether the line gave a value."""
        found = [(name, value, _now()) for name, value in self.definitions.values(line)]
        self.values += found
        self.last.update((name, (value, at)) for name, value, at in found)
        return bool(found)

    def final(self) -> list[dict[str, Any]]:
        return [{"MetricName": n, "Value": v, "Timestamp": at} for n, (v, at) in sorted(self.last.items())]

    def publish(self, client: Any, log_kind: str, job_name: str) -> None:
        data = [
            {"MetricName": n, "Value": v, "Timestamp": at, "Dimensions": [{"Name": "TrainingJobName", "Value": job_name}]}
            for n, v, at in self.values
        ]
        for start in range(0, len(data), 500):
            client.put_metric_data(Namespace=f"/aws/sagemaker/{log_kind}", MetricData=data[start:start + 500])
