"""SQS batch of trigger events -> per model: start a run, fold it into the running run's follow-up, or
nothing. A message that can never start a run is dead-lettered with its reason; one that failed for a
passing reason is reported for redelivery; each event is decided once (Powertools Idempotency)."""

import os
from dataclasses import asdict
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from retrainer_core.aws import DeadLetters, ModelRegistry, QuietChecks, S3Objects, ScoringRuns, Workflow
from retrainer_core.errors import PermanentTriggerError
from retrainer_core.events import Trigger, parse_trigger
from retrainer_core.ledger import Ledger
from retrainer_core.observability import logger, metrics, tracer
from retrainer_core.quiet import wait_for_landing
from retrainer_core.settings import StartRetrainingSettings
from retrainer_core.sqs_batch import each_record
from retrainer_core.triggering import Decision, answer, decide

DECISION_MEMORY_SECONDS = 24 * 3600  # a redelivered event within a day gets the same decision back
# "The same event" is the same id about the same object: an id alone is not enough, producers (and
# AWS's own documentation samples) reuse ids, and a new landing must never get an old one's answer.
DECISION_KEY = "[event_id, landing.bucket, object_key, object_version]"


@cache
def _persistence(table_name: str) -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=table_name)


def decider(settings: StartRetrainingSettings, context: LambdaContext) -> Any:
    config = IdempotencyConfig(event_key_jmespath=DECISION_KEY, expires_after_seconds=DECISION_MEMORY_SECONDS)
    config.register_lambda_context(context)
    persistence = _persistence(settings.idempotency_table)

    @idempotent_function(data_keyword_argument="trigger", config=config, persistence_store=persistence)
    def decide_once(trigger: dict) -> dict:
        decision = decide(Trigger.parse(trigger), settings, S3Objects(), Workflow(settings.state_machine_arn),
                          Ledger(settings.run_ledger_table), ScoringRuns(settings.scoring_state_machine_arn, settings.event_bus_name),
                          QuietChecks(settings.trigger_queue_url),
                          ModelRegistry())
        return asdict(decision)

    return decide_once


def handle_record(record: dict, settings: StartRetrainingSettings, decide_once: Any, dead_letters: Any, ledger: Any) -> None:
    trigger = None
    try:
        trigger = parse_trigger(record["body"], {settings.drift_alarm_prefix: settings.model_name})
        if trigger.type == "data-landing" and not trigger.complete and trigger.model == settings.model_name:
            decision = wait_for_landing(trigger, settings, ledger, QuietChecks(settings.trigger_queue_url))
        else:
            decision = decide_once(trigger=trigger.dump())
    except PermanentTriggerError as error:
        logger.error("trigger dead-lettered", reason=str(error), message_id=record["messageId"])
        metrics.add_metric(name="TriggersDeadLettered", unit=MetricUnit.Count, value=1)
        dead_letters.send(record["body"], str(error), record["messageId"])
        if trigger:
            answer(trigger, Decision("refused", trigger.model, reason=str(error)), ledger)
        return
    answer(trigger, Decision(**decision), ledger)  # outside decide_once: a redelivery answers the same
    logger.info("trigger decided", trigger=trigger.type, event_id=trigger.event_id, **{k: decision[k] for k in ("action", "run_id", "reason")})
    metrics.add_metric(name=f"Triggers{decision['action'].title().replace('-', '')}", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = StartRetrainingSettings.from_environ(os.environ)
    decide_once, dead_letters = decider(settings, context), DeadLetters(settings.dead_letter_queue_url)
    ledger = Ledger(settings.run_ledger_table)

    return each_record(event, lambda record: handle_record(record, settings, decide_once, dead_letters, ledger))
