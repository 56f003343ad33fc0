"""SQS batch of trigger events -> at most one run per complete landing. A message that can never
start a run is dead-lettered with its reason; one that failed for a passing reason is retried."""

import os
from functools import partial

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from core.aws import DeadLetters, S3Objects, Workflow
from core.errors import PermanentTriggerError
from core.observability import logger, metrics, tracer
from core.settings import StartRetrainingSettings
from core.triggering import decide

processor = BatchProcessor(event_type=EventType.SQS)


def handle_record(record: SQSRecord, settings: StartRetrainingSettings, dead_letters: DeadLetters) -> None:
    try:
        decision = decide(record.body, settings, S3Objects(), Workflow(settings.state_machine_arn))
    except PermanentTriggerError as error:
        logger.error("trigger dead-lettered", reason=str(error), message_id=record.message_id)
        metrics.add_metric(name="TriggersDeadLettered", unit=MetricUnit.Count, value=1)
        dead_letters.send(record.body, str(error), record.message_id)
        return
    logger.info("trigger decided", action=decision.action, run_id=decision.run_id, reason=decision.reason)
    metrics.add_metric(name=f"Triggers{decision.action.title()}", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = StartRetrainingSettings.from_environ(os.environ)
    record_handler = partial(handle_record, settings=settings, dead_letters=DeadLetters(settings.dead_letter_queue_url))
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
