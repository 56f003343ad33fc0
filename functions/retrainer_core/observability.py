"""The one place that owns the Powertools logger, tracer and metrics.

The tracer is Powertools' Tracer only where tracing can work: on Lambda, unless POWERTOOLS_TRACE_DISABLED
says otherwise (the rule Powertools applies itself). Creating a Tracer imports the X-Ray SDK, which costs
about as much as boto3 does; elsewhere (the local stack, tests, benches) Powertools would disable it
anyway, so a stand-in with the same decorators does nothing and nothing is imported for it
(docs/decisions/0503-tracer-only-where-tracing-is-on.md)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice

TRACED_MODULES = ("botocore",)


def tracing_on(environ: Mapping[str, str] = os.environ) -> bool:
    """As Powertools decides (Tracer._is_tracer_disabled): on Lambda (LAMBDA_TASK_ROOT), not in SAM CLI's
    or Chalice's local emulators, and not turned off with POWERTOOLS_TRACE_DISABLED."""
    if resolve_truthy_env_var_choice(env=environ.get("POWERTOOLS_TRACE_DISABLED", "false")):
        return False
    return bool(environ.get("LAMBDA_TASK_ROOT")) and not environ.get("AWS_SAM_LOCAL") and not environ.get("AWS_CHALICE_CLI_MODE")


class NoTracer:
    """Tracer's decorators and annotations where tracing is off: each returns the function as it is."""

    disabled = True

    def capture_lambda_handler(self, lambda_handler: Callable | None = None, **_: Any) -> Any:
        return lambda_handler if lambda_handler is not None else (lambda handler: handler)

    def capture_method(self, method: Callable | None = None, **_: Any) -> Any:
        return method if method is not None else (lambda function: function)

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str | None = None) -> None:
        pass


def _tracer() -> Any:
    if not tracing_on():
        return NoTracer()
    from aws_lambda_powertools import Tracer

    # Only botocore is patched (every AWS call a subsegment): auto-patching imports and patches every
    # library the X-Ray SDK knows (requests, sqlite3, httplib, database drivers...), which these
    # functions do not use, for about a fifth of a boto3 import at each cold start (0503).
    return Tracer(patch_modules=TRACED_MODULES)


logger = Logger()
tracer = _tracer()
metrics = Metrics()
