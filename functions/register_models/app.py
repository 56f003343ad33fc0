"""RegisterModels: the run's evaluation -> one model package version per distinct candidate that passed
the gate (all checked before any is registered; idempotent by content), or QualityGateNotMet."""

import os

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from retrainer_core.aws import ModelRegistry, S3Objects
from retrainer_core.ledger import Ledger
from retrainer_core.observability import logger, metrics, tracer
from retrainer_core.registration import RunToRegister, register_run
from retrainer_core.settings import RegisterModelsSettings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # one parse at the edge; Powertools' event_parser would add its parser package to every cold start
    run = RunToRegister.model_validate(event)
    settings = RegisterModelsSettings.from_environ(os.environ)
    logger.append_keys(run_id=run.run_id)

    def image_for(family: str) -> str:
        return (settings.challenger_inference_image_uri if family == "gradient-boosting" else "") or settings.inference_image_uri

    results = register_run(run, image_for, S3Objects(), ModelRegistry(), Ledger(settings.run_ledger_table))
    for result in results:
        logger.info("candidate registered", kind=result["kind"], model_package_arn=result["model_package_arn"],
                    already_registered=result["already_registered"])
    metrics.add_metric(name="ModelsRegistered", unit=MetricUnit.Count, value=len(results))
    return {"models": [{"kind": r["kind"], "arn": r["model_package_arn"], "already_registered": r["already_registered"]}
                       for r in results]}
