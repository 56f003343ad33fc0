"""Every change this project makes to moto's internals, in one place (see docs/decisions/0002).

moto is the local AWS; three things it lacks are added here and nowhere else:

1. Step Functions `arn:aws:states:::sagemaker:create{Training,Processing}Job(.sync)`: moto lists
   `sagemaker` as unsupported and fails the execution. We register a service task that creates the
   job through moto's SageMaker API and, for `.sync`, polls Describe* until the job ends, as AWS does.
2. SageMaker jobs: moto marks them Completed at once and runs nothing. We keep moto's job records
   (so every API reads them) but hand each new job to a runner that executes the real container code.
3. Lambda invoke: moto's Docker-less backend echoes the payload. We call the real handler instead.
4. EventBridge events: moto gives every S3 event the same `id` (AWS's documentation example) and
   drops `account` from events it delivers to targets; AWS gives each event its own id and always
   includes the account. Idempotency on the event id, and parsers that follow AWS, depend on both.
5. `aws-sdk:s3:getObject` tasks: moto passes the response Body on as a botocore stream object; Step
   Functions passes it on as a string (the quality gate parses it with States.StringToJson).
6. DynamoDB requests are handled one at a time: moto's backend is not thread-safe, and the
   threaded server (or a test racing threads) corrupts an item mid-copy otherwise.
7. A Parallel state passes on a branch's error as AWS does, `States.TaskFailed` included: moto
   re-raises it as a custom error name and refuses every `States.*` name with a runtime error.
8. A Step Functions execution announces its end to `on_execution_end` listeners the moment its status
   is final, as AWS emits "Execution Status Change" at once; moto emits nothing, and polling every
   execution's status (a list that grows with every run) cost the stack a steady share of a core.

`install()` refuses to run against any moto but the pinned one, and checks that every patched
symbol is still where we expect it: an upgrade fails loudly here, not subtly in a run.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

import botocore.session
import moto
from moto.awslambda_simple import models as lambda_simple_models
from moto.core.config import default_user_config
from moto.dynamodb import responses as dynamodb_responses
from moto.events import utils as events_utils
from moto.sagemaker import models as sagemaker_models
from moto.sagemaker import responses as sagemaker_responses
from moto.sagemaker.exceptions import ValidationError
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

PINNED_MOTO = "5.2.5"


class JobRunner(Protocol):
    def check_capacity(self, kind: str, name: str) -> None: ...
    def start(self, kind: str, job: Any) -> None: ...
    def ended_count(self) -> int: ...
    def wait_for_an_end(self, seen: int, timeout: float) -> None: ...


class LambdaInvoker(Protocol):
    def invoke(self, function: Any, payload: bytes) -> tuple[bytes, bool]: ...


# ---------------------------------------------------------------- 1. SageMaker service integration

@lru_cache(maxsize=1)
def _sagemaker_model() -> Any:
    return botocore.session.get_session().get_service_model("sagemaker")


_JOB_KINDS = {"createtrainingjob": "Training", "createprocessingjob": "Processing"}
_TERMINAL = {"Completed", "Failed", "Stopped"}


def _json_safe(value: Any) -> Any:
    """Describe* responses as Step Functions hands them on: timestamps in epoch milliseconds."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


# A .sync task describes its job again at the latest this often while waiting (the runner wakes it at
# once when any job ends; this bounds a wait whose wake-up came between a describe and the wait).
_SYNC_RECHECK_SECONDS = 1.0


class StateTaskServiceSageMaker(StateTaskServiceCallback):
    """`sagemaker:createTrainingJob[.sync]` and `sagemaker:createProcessingJob[.sync]`."""

    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner
        # WaitForTaskToken is listed only so moto creates the callback endpoint that its .sync code
        # path interrupts in a `finally` (moto 5.2.5 crashes there with None otherwise); SageMaker
        # itself offers no callback pattern, so _wait_for_task_token refuses it.
        super().__init__(supported_integration_patterns={ResourceCondition.Sync, ResourceCondition.WaitForTaskToken})

    def _wait_for_task_token(self, env, resource_runtime_part, normalised_parameters) -> None:
        raise RuntimeError(f"SageMaker has no .waitForTaskToken integration ({self.resource.resource_arn})")

    def _kind(self) -> str:
        action = self.resource.api_action.lower()
        if action not in _JOB_KINDS:
            raise ValueError(f"Unsupported sagemaker action '{self.resource.api_action}' on the local stack.")
        return _JOB_KINDS[action]

    def _get_supported_parameters(self) -> set[str]:
        """Every request member of the API action, as Step Functions passes them through."""
        operation = self.resource.api_action[0].upper() + self.resource.api_action[1:]
        return set(_sagemaker_model().operation_model(operation).input_shape.members)

    def _client(self, resource_runtime_part: Any, state_credentials: Any) -> Any:
        return boto_client_for(
            service="sagemaker", region=resource_runtime_part.region, state_credentials=state_credentials
        )

    def _from_error(self, env: Any, ex: Exception) -> FailureEvent:
        code = getattr(ex, "response", {}).get("Error", {}).get("Code")
        if code:
            name = f"SageMaker.{code}"
            return FailureEvent(
                env=env,
                error_name=CustomErrorName(name),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(
                    taskFailedEventDetails=TaskFailedEventDetails(
                        error=name,
                        cause=ex.response["Error"].get("Message", ""),
                        resource=self._get_sfn_resource(),
                        resourceType=self._get_sfn_resource_type(),
                    )
                ),
            )
        return super()._from_error(env=env, ex=ex)

    def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials) -> None:
        client = self._client(resource_runtime_part, state_credentials)
        kind = self._kind()
        response = getattr(client, f"create_{kind.lower()}_job")(**normalised_parameters)
        env.stack.append(_json_safe(response))

    def _build_sync_resolver(
        self, env, resource_runtime_part, normalised_parameters, state_credentials
    ) -> Callable[[], Any]:
        client = self._client(resource_runtime_part, state_credentials)
        kind = self._kind()
        env.stack.pop()  # the Create* response: .sync returns the final Describe* instead
        name = normalised_parameters[f"{kind}JobName"]
        describe = getattr(client, f"describe_{kind.lower()}_job")

        def resolve() -> Any:
            """The job's final Describe*, waited for here (moto's loop would sleep 0.5 s between calls);
            None only when the execution stopped meanwhile."""
            while True:
                seen = self.runner.ended_count()
                job = _json_safe(describe(**{f"{kind}JobName": name}))
                status = job[f"{kind}JobStatus"]
                if status in _TERMINAL:
                    break
                if not env.is_running():
                    return None
                self.runner.wait_for_an_end(seen, _SYNC_RECHECK_SECONDS)
            if status == "Completed":
                return job
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(
                        taskFailedEventDetails=TaskFailedEventDetails(
                            resource=self._get_sfn_resource(),
                            resourceType=self._get_sfn_resource_type(),
                            error=StatesErrorNameType.StatesTaskFailed.to_name(),
                            cause=to_json_str(job),
                        )
                    ),
                )
            )

        return resolve


def _service_task_for(original: Callable[..., Any], runner: JobRunner) -> Callable[..., Any]:
    def state_task_service_for(service_name: str) -> Any:
        if service_name == "sagemaker":
            return StateTaskServiceSageMaker(runner)
        return original(service_name)

    return state_task_service_for


# ---------------------------------------------------------------- 2. SageMaker jobs run for real


def _run_jobs(backend_cls: type, runner: JobRunner) -> None:
    create_training = backend_cls.create_training_job
    create_processing = backend_cls.create_processing_job

    def create_training_job(self, training_job_name: str, **kwargs: Any) -> Any:
        _refuse_duplicate(self.training_jobs, training_job_name, "Training")
        runner.check_capacity("Training", training_job_name)
        metric_definitions = list(kwargs["algorithm_specification"].get("MetricDefinitions", []))
        job = create_training(self, training_job_name, **kwargs)
        # moto replaces the caller's MetricDefinitions and reports a fake finished job: undo both
        job.algorithm_specification["MetricDefinitions"] = metric_definitions
        job.training_job_status, job.secondary_status = "InProgress", "Starting"
        job.final_metric_data_list = []
        job.training_end_time = None
        job.failure_reason = None
        job.billable_time_in_seconds = None
        return job  # started by the request handler, once it has kept what moto drops

    def create_processing_job(self, processing_job_name: str, **kwargs: Any) -> Any:
        _refuse_duplicate(self.processing_jobs, processing_job_name, "Processing")
        runner.check_capacity("Processing", processing_job_name)
        job = create_processing(self, processing_job_name=processing_job_name, **kwargs)
        job.processing_job_status = "InProgress"
        job.processing_start_time = job.creation_time
        job.processing_end_time = None
        job.failure_reason = None
        job.exit_message = None
        return job

    def create_processing_job_request(self) -> Any:
        result = create_processing_request(self)
        # moto's record drops ProcessingResources and Environment; keep them, then run the job
        job = self.sagemaker_backend.processing_jobs[self._get_param("ProcessingJobName")]
        job.processing_resources = self._get_param("ProcessingResources")
        job.environment = self._get_param("Environment") or {}
        runner.start("Processing", job)
        return result

    def create_training_job_request(self) -> Any:
        result = create_training_request(self)
        # moto's record drops RetryStrategy; keep it (the runner retries internal errors as SageMaker does)
        job = self.sagemaker_backend.training_jobs[self._get_param("TrainingJobName")]
        job.retry_strategy = self._get_param("RetryStrategy")
        runner.start("Training", job)
        return result

    create_processing_request = sagemaker_responses.SageMakerResponse.create_processing_job
    create_training_request = sagemaker_responses.SageMakerResponse.create_training_job
    sagemaker_responses.SageMakerResponse.create_processing_job = create_processing_job_request
    sagemaker_responses.SageMakerResponse.create_training_job = create_training_job_request
    backend_cls.create_training_job = create_training_job
    backend_cls.create_processing_job = create_processing_job


def _refuse_duplicate(jobs: dict, name: str, kind: str) -> None:
    # AWS refuses a second job of the same name; moto silently overwrites the first
    if name in jobs:
        raise ValidationError(message=f"{kind} job names must be unique within an AWS account and region, "
                              f"and a {kind.lower()} job with this name already exists ({name})")


# ---------------------------------------------------------------- 3. Lambda runs the real handler


def _invoke_handlers(backend_cls: type, invoker: LambdaInvoker) -> None:
    def invoke(self, function_name, qualifier, body, headers, response_headers):  # noqa: ANN001
        function = self.get_function(function_name, qualifier)
        payload = body.encode() if isinstance(body, str) else (body or b"{}")
        result, failed = invoker.invoke(function, payload)
        if failed:
            response_headers["x-amz-function-error"] = "Unhandled"
        return result

    backend_cls.invoke = invoke


# ---------------------------------------------------------------- 4. events as AWS delivers them
_DELIVERED_EVENT = (
    '{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", "account": "<account>", '
    '"time": <time>, "region": "<region>", "resources": <resources>, "detail": <detail>}'
)


class _FreshEventId(dict):
    """moto deep-copies this base message for each S3 event: each copy gets an id of its own."""

    def __deepcopy__(self, memo: dict) -> dict:
        return {**copy.deepcopy(dict(self), memo), "id": str(uuid.uuid4())}


# ---------------------------------------------------------------- 5. response bodies as strings


def _read_bodies(original: Callable[..., Any]) -> Callable[..., Any]:
    def eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials) -> None:  # noqa: ANN001
        original(self, env, resource_runtime_part, normalised_parameters, state_credentials)
        response = env.stack[-1]
        if isinstance(response, dict) and hasattr(response.get("Body"), "read"):
            response["Body"] = response["Body"].read().decode("utf-8")

    return eval_service_task


# ---------------------------------------------------------------- 6. DynamoDB one request at a time

_DYNAMODB_LOCK = threading.RLock()


def serialise_dynamodb() -> None:
    """moto's DynamoDB is not thread-safe: an update deep-copies an item while another thread writes
    it ("dictionary changed size during iteration"). DynamoDB itself serialises writes per item, so
    handling one request at a time changes no semantics a caller can see. Idempotent; used by the
    local stack (threaded server) and by unit tests that race threads on moto in-process."""
    handler = dynamodb_responses.DynamoHandler
    if getattr(handler.call_action, "_serialised", False):
        return
    original = handler.call_action

    def call_action(self):  # noqa: ANN001, ANN202
        with _DYNAMODB_LOCK:
            return original(self)

    call_action._serialised = True  # type: ignore[attr-defined]
    handler.call_action = call_action


# ---------------------------------------------------------------- 7. a Parallel passes States.* errors on


def _branch_error_name(error_name: str) -> Any:
    """What `branches_decl` builds a branch's error from: `States.*` names (AWS's own) stay what they
    are, so a Catch on the Parallel sees `States.TaskFailed` with the job's cause, as on AWS."""
    if error_name and error_name.startswith("States."):
        try:
            return StatesErrorName.from_name(error_name)
        except ValueError:  # a States.* name moto does not know: as before
            pass
    return CustomErrorName(error_name=error_name)


# ---------------------------------------------------------------- 8. executions announce their end

_execution_end_listeners: list[Callable[[str], None]] = []


def on_execution_end(listener: Callable[[str], None]) -> Callable[[], None]:
    """Call `listener(execution_arn)` whenever an execution ends (any status), from the execution's own
    thread, after its final status is set; returns what removes the listener again."""
    _execution_end_listeners.append(listener)
    return lambda: _execution_end_listeners.remove(listener)


def _announce_end(original: Callable[..., Any]) -> Callable[..., Any]:
    def terminated(self) -> None:  # noqa: ANN001
        original(self)
        for listener in list(_execution_end_listeners):
            listener(self.execution.exec_arn)

    return terminated


# ---------------------------------------------------------------- install


_PATCHED: list[tuple[object, str]] = [
    (state_task_service_factory, "state_task_service_for"),
    (state_task_factory, "state_task_service_for"),
    (sagemaker_models.SageMakerModelBackend, "create_training_job"),
    (sagemaker_models.SageMakerModelBackend, "create_processing_job"),
    (sagemaker_responses.SageMakerResponse, "create_processing_job"),
    (sagemaker_responses.SageMakerResponse, "create_training_job"),
    (lambda_simple_models.LambdaSimpleBackend, "invoke"),
    (events_utils, "_BASE_EVENT_MESSAGE"),
    (events_utils.EventTemplateParser, "DEFAULT_EVENT_INPUT_TEMPLATE"),
    (StateTaskServiceAwsSdk, "_eval_service_task"),
    (dynamodb_responses.DynamoHandler, "call_action"),
    (branches_decl, "CustomErrorName"),
    (BaseExecutionWorkerCommunication, "terminated"),
]
_installed = False


def check_moto() -> None:
    """Fail loudly when moto is not the version these patches were written and tested against."""
    if moto.__version__ != PINNED_MOTO:
        raise RuntimeError(
            f"retrainer's local stack patches moto {PINNED_MOTO} internals, but moto {moto.__version__} is installed. "
            "Re-check retrainer/local/moto_patches.py against the new moto, then update PINNED_MOTO."
        )
    missing = [f"{getattr(owner, '__name__', owner)}.{name}" for owner, name in _PATCHED if not hasattr(owner, name)]
    if missing:
        raise RuntimeError(f"moto {moto.__version__} no longer has {', '.join(missing)}: the local stack cannot run")
    if "sagemaker" not in state_task_service_factory._UNSUPPORTED_SERVICE_NAMES:
        raise RuntimeError("moto now implements the sagemaker service task: drop our integration and use moto's")


def install(runner: JobRunner, invoker: LambdaInvoker) -> None:
    """Turn moto into the local stack's AWS: execute state machines, run jobs and handlers for real."""
    global _installed
    check_moto()
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    default_user_config["lambda"] = {"use_docker": False}
    if _installed:
        raise RuntimeError("moto patches are installed once per process")
    factory = _service_task_for(state_task_service_factory.state_task_service_for, runner)
    state_task_service_factory.state_task_service_for = factory
    state_task_factory.state_task_service_for = factory  # imported by name there
    _run_jobs(sagemaker_models.SageMakerModelBackend, runner)
    _invoke_handlers(lambda_simple_models.LambdaSimpleBackend, invoker)
    events_utils._BASE_EVENT_MESSAGE = _FreshEventId(events_utils._BASE_EVENT_MESSAGE)
    events_utils.EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = _DELIVERED_EVENT
    StateTaskServiceAwsSdk._eval_service_task = _read_bodies(StateTaskServiceAwsSdk._eval_service_task)
    serialise_dynamodb()
    branches_decl.CustomErrorName = _branch_error_name  # the only name it is used for there
    BaseExecutionWorkerCommunication.terminated = _announce_end(BaseExecutionWorkerCommunication.terminated)
    _installed = True

