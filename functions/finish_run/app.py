"""Step Functions "Execution Status Change" (through SQS) -> the run is closed, its lock released,
its follow-up started, its end notified. Idempotent: a redelivered event changes nothing more."""

import json
import os
from functools import partial

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from retrainer_core.aws import ExecutionHistory, Topic, Workflow
from retrainer_core.finishing import finish
from retrainer_core.ledger import Ledger
from retrainer_core.mlflow_rest import MlflowRest
from retrainer_core.observability import logger, metrics, tracer
from retrainer_core.run_records import RunRecords
from retrainer_core.settings import FinishRunSettings
from retrainer_core.sqs_batch import each_record
from retrainer_core.tracking import track


def handle_record(record: dict, settings: FinishRunSettings) -> None:
    detail = json.loads(record["body"])["detail"]
    logger.append_keys(run_id=json.loads(detail["input"])["run_id"], execution=detail["name"])
    ledger = Ledger(settings.run_ledger_table)
    follow_up = finish(
        detail,
        ExecutionHistory().events(detail["executionArn"]),
        ledger,
        Workflow(settings.state_machine_arn),
        Topic(settings.notifications_topic_arn),
    )
    logger.info("run closed", status=detail["status"], follow_up=follow_up.run_id if follow_up else None)
    metrics.add_metric(name=f"Runs{detail['status'].title().replace('_', '')}", unit=MetricUnit.Count, value=1)
    if settings.mlflow_tracking_uri:
        _track(detail, ledger, settings.mlflow_tracking_uri)


def _track(detail: dict, ledger: Ledger, tracking_uri: str) -> None:
    """The run in MLflow (docs/decisions/0600). MLflow is a view of the run and the ledger its record: a
    tracking failure is logged and counted (TrackingFailures), it never keeps a run from closing."""
    try:
        run = ledger.run(json.loads(detail["input"])["run_id"])
        logger.info("run tracked", mlflow_run=track(detail, run, MlflowRest(tracking_uri), RunRecords(), ledger.registration))
    except Exception:  # noqa: BLE001 - see the docstring
        logger.exception("run not tracked in MLflow", tracking_uri=tracking_uri)
        metrics.add_metric(name="TrackingFailures", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = FinishRunSettings.from_environ(os.environ)
    return each_record(event, partial(handle_record, settings=settings))
