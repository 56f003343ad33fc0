"""The embedded local stack: a moto server made into the app's AWS (see moto_patches), with
template.yaml's resources created in it, Lambda's SQS pollers running, and jobs run for real."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from retrainer.code_package import code_version, publish
from retrainer.local import moto_patches
from retrainer.local.address import CREDENTIALS, REGION, client_environment, endpoint, ensure_free  # noqa: F401 - CREDENTIALS: part of this module's interface
from retrainer.local.emitters import (
    AlarmStateEmitter,
    ExecutionStatusEmitter,
    ModelPackageStateEmitter,
    ScheduleEmitter,
)
from retrainer.local.faults import Faults
from retrainer.local.jobs import JobRunner
from retrainer.local.lambdas import LambdaRuntime
from retrainer.local.mlflow_server import LocalMlflow
from retrainer.local.pollers import QueuePoller
from retrainer.local.provision import Provisioned, Provisioner

STACK_NAME = "retrainer-local"
CONTAINER = "scarcegan"
# Values the template leaves to the deployer. Images are not pulled locally (the runner executes the
# code with this machine's Python), so these only have to look like what `make deploy` resolves.
LOCAL_PARAMETERS = {
    "ProcessingImageUri": "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-training:2.16-cpu-py310",
    "TrainingImageUri": "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-training:2.16-cpu-py310",
    "InferenceImageUri": "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-inference:2.16-cpu",
    "ChallengerImageUri": "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-training:2.16-cpu-py310",
    "TriggerBatchingWindowSeconds": "2",
    "TransientRetryWaitSeconds": "1",
}
log = logging.getLogger(__name__)


class LocalStack:
    def __init__(self, project_root: Path, state_dir: Path, port: int, parameters: dict[str, str] | None = None):
        self.root = project_root
        self.state_dir = state_dir
        self.port = port
        self.parameters = {**LOCAL_PARAMETERS, **(parameters or {})}
        self.faults = Faults(state_dir / "faults.json")
        self.server: ThreadedMotoServer | None = None
        self.pollers: list[Any] = []
        self.provisioned: Provisioned | None = None
        self.mlflow = LocalMlflow(project_root, state_dir, port + 1)

    def start(self) -> Provisioned:
        ensure_free(self.port)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.faults.clear()
        os.environ.update({**client_environment(self.port), "MOTO_PORT": str(self.port)})
        self.mlflow.start()  # starts while the stack provisions; waited for below
        session = boto3.Session(region_name=REGION)
        self.runtime = LambdaRuntime(client_environment(self.port))
        self.runner = JobRunner(session, self.state_dir / "work", self.faults, client_environment(self.port))
        moto_patches.install(self.runner, self.runtime)
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

        container_dir = self.root / "training_containers" / CONTAINER
        parameters = {**self.parameters, "CodeVersion": code_version(container_dir)}
        self.provisioner = Provisioner(session, self.root / "template.yaml", STACK_NAME, parameters)
        provisioned = self.provisioner.run()
        publish(session.client("s3"), provisioned.outputs["ArtifactsBucketName"], container_dir)
        for spec in provisioned.functions.values():
            self.runtime.register(spec)
        self.pollers = [QueuePoller(trigger, session, REGION) for trigger in provisioned.queue_triggers]
        self.pollers += [
            ExecutionStatusEmitter(session, [provisioned.outputs["StateMachineArn"], provisioned.outputs["ScoreStateMachineArn"]]),
            ModelPackageStateEmitter(session, [provisioned.outputs["ModelPackageGroupName"]]),
            AlarmStateEmitter(session),
            ScheduleEmitter(session),
        ]
        if self.mlflow.wait():  # the functions log to it as they log to SageMaker's managed MLflow on AWS
            self.runtime.base_environment["MLFLOW_TRACKING_URI"] = self.mlflow.uri
        for poller in self.pollers:
            poller.start()
        self.provisioned = provisioned
        self._write_description(provisioned)
        return provisioned

    def update(self, parameters: dict[str, str]) -> Provisioned:
        """A stack update with new parameter values, as `sam deploy --parameter-overrides` makes it:
        rules, functions' environments and their queues' batching settings change in place."""
        provisioned = self.provisioner.update(parameters)
        self.parameters.update(parameters)
        for spec in provisioned.functions.values():
            self.runtime.register(spec)
        triggers = {t.function: t for t in provisioned.queue_triggers}
        for poller in self.pollers:
            if isinstance(poller, QueuePoller) and poller.trigger.function in triggers:
                poller.retarget(triggers[poller.trigger.function])
        self._write_description(provisioned)
        return provisioned

    def stop(self) -> None:
        if getattr(self, "runner", None):
            self.runner.stop()  # the job processes first: they outlive the server otherwise
        for poller in self.pollers:
            poller.stop()
        for poller in self.pollers:  # let each finish its round before the server goes away
            poller.join(timeout=5)
        if self.server:
            self.server.stop()
        self.mlflow.stop()
        (self.state_dir / "stack.json").unlink(missing_ok=True)

    def _write_description(self, provisioned: Provisioned) -> None:
        description: dict[str, Any] = {
            "pid": os.getpid(),
            "endpoint": endpoint(self.port),
            "region": REGION,
            "stack_name": provisioned.stack_name,
            "outputs": provisioned.outputs,
            "functions": {k: {**asdict(v), "code_dir": str(v.code_dir)} for k, v in provisioned.functions.items()},
            "not_emulated": provisioned.skipped,
            "mlflow": self.mlflow.description(),
        }
        (self.state_dir / "stack.json").write_text(json.dumps(description, indent=2, default=str))
