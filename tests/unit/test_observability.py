"""The tracer is Powertools' Tracer only where tracing can work (docs/decisions/0503): elsewhere its
stand-in leaves handlers as they are and the X-Ray SDK is never imported."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from retrainer_core.observability import NoTracer, tracing_on

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"  # the handlers, as the Lambda runtime imports them


@pytest.mark.parametrize("environ, on", [
    ({}, False),  # the local stack, tests, benches
    ({"LAMBDA_TASK_ROOT": "/var/task"}, True),  # on Lambda
    ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"}, False),
    ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"}, False),  # sam local invoke
])
def test_tracing_is_on_where_powertools_would_trace(environ, on):
    assert tracing_on(environ) is on


def test_the_stand_in_leaves_a_handler_as_it_is_in_both_decorator_forms():
    tracer = NoTracer()

    def handler(event, context):
        return event

    assert tracer.capture_lambda_handler(handler) is handler
    assert tracer.capture_lambda_handler(capture_response=False)(handler) is handler
    assert tracer.capture_method(handler) is handler


def test_handlers_import_without_the_xray_sdk_or_powertools_event_models_where_tracing_is_off():
    code = ("import sys, start_retraining.app, register_models.app, finish_run.app; "
            "print(sorted(m for m in sys.modules if m.startswith(('aws_xray_sdk', 'aws_lambda_powertools.utilities.parser.models'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={"PATH": "", "PYTHONPATH": os.pathsep.join([str(FUNCTIONS), *sys.path]), "POWERTOOLS_SERVICE_NAME": "t",
                               "POWERTOOLS_METRICS_NAMESPACE": "T", "AWS_DEFAULT_REGION": "us-east-1"})

    assert done.stdout.strip() == "[]"


def test_handlers_import_without_pydantic_where_tracing_is_off():
    """Their models are msgspec Structs: pydantic's import alone was a third of boto3's (docs/decisions/0504)."""
    code = "import sys, start_retraining.app, register_models.app, finish_run.app; print('pydantic' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={"PATH": "", "PYTHONPATH": os.pathsep.join([str(FUNCTIONS), *sys.path]), "POWERTOOLS_SERVICE_NAME": "t",
                               "POWERTOOLS_METRICS_NAMESPACE": "T", "AWS_DEFAULT_REGION": "us-east-1",
                               "POWERTOOLS_TRACE_DISABLED": "true"})

    assert done.stdout.strip() == "False"
