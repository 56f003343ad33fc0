"""Run the real Lambda handlers in-process, as `sam local invoke` would in a container.

Each function keeps one warm "container": its handler module is imported once and its environment
(the template's variables) is in force for the duration of an invocation. Invocations are serialised
because the environment is the process's; that is the one liberty taken against real Lambda.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from retrainer.local.provision import FunctionSpec


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline: float
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class LambdaRuntime:
    def __init__(self, base_environment: dict[str, str]):
        self.base_environment = base_environment  # endpoint, credentials, region of the local stack
        self.functions: dict[str, FunctionSpec] = {}
        self.lock = threading.RLock()
        self.invocations: dict[str, int] = {}

    def register(self, spec: FunctionSpec) -> None:
        self.functions[spec.name] = spec

    def spec(self, name_or_logical_id: str) -> FunctionSpec:
        for spec in self.functions.values():
            if name_or_logical_id in (spec.name, spec.logical_id):
                return spec
        raise KeyError(f"no function {name_or_logical_id!r} in the local stack")

    # called by moto's Lambda backend (see moto_patches)
    def invoke(self, function: Any, payload: bytes) -> tuple[bytes, bool]:
        spec = self.functions[function.function_name]
        try:
            event = json.loads(payload or b"{}")
        except json.JSONDecodeError as error:
            return _error(error), True
        with self.lock, self._environment(spec):
            self.invocations[spec.name] = self.invocations.get(spec.name, 0) + 1
            context = LambdaContext(
                function_name=spec.name,
                memory_limit_in_mb=spec.memory,
                invoked_function_arn=function.function_arn,
                aws_request_id=str(uuid.uuid4()),
                deadline=time.monotonic() + spec.timeout,
                log_group_name=f"/aws/lambda/{spec.name}",
            )
            try:
                result = self._handler(spec)(event, context)
            except Exception as error:  # noqa: BLE001 - reported to the caller as Lambda does
                traceback.print_exc()
                return _error(error), True
        return json.dumps(result).encode(), False

    def _handler(self, spec: FunctionSpec) -> Any:
        module_name, function_name = spec.handler.rsplit(".", 1)
        return getattr(handler_module(spec.code_dir, module_name), function_name)

    @contextmanager
    def _environment(self, spec: FunctionSpec) -> Iterator[None]:
        """The function's variables for the invocation, then each of them as it was before. Only those:
        the process's other threads (the CLI in a test, the jobs, the state machines) read and set the
        environment meanwhile. Restoring a whole snapshot undid what they set during the invocation,
        and clearing it first left every other thread with an empty environment for that moment."""
        variables = {**spec.environment, **self.base_environment, "AWS_LAMBDA_FUNCTION_NAME": spec.name}
        before = {name: os.environ.get(name) for name in variables}
        os.environ.update(variables)
        try:
            yield
        finally:
            for name, value in before.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def handler_module(code_dir: Path, module_name: str) -> ModuleType:
    """The handler's module (`start_retraining.app`) from the function's CodeUri, imported once, as
    the Lambda runtime does; the code it shares (retrainer_core) is an installed package."""
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, code_dir / (module_name.replace(".", "/") + ".py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


def _error(error: BaseException) -> bytes:
    return json.dumps(
        {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "stackTrace": traceback.format_exception(error)[-5:],
        }
    ).encode()
