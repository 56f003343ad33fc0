"""One item of the RegisterModels Map -> one model package version (idempotent per run and kind)."""

import os

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from core.aws import ModelRegistry, S3Objects
from core.observability import logger, metrics, tracer
from core.registration import Candidate, register
from core.settings import RegisterModelsSettings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
@event_parser(model=Candidate)
def lambda_handler(candidate: Candidate, context: LambdaContext) -> dict:
    settings = RegisterModelsSettings.from_environ(os.environ)
    logger.append_keys(run_id=candidate.run_id, kind=candidate.kind)
    result = register(candidate, settings.inference_image_uri, S3Objects(), ModelRegistry())
    logger.info("candidate registered", model_package_arn=result["model_package_arn"], already_registered=result["already_registered"])
    metrics.add_metric(name="ModelsRegistered", unit=MetricUnit.Count, value=1)
    return result
