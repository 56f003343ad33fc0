"""One item of the RegisterModels Map -> one model package version (idempotent by content)."""

import os

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from retrainer_core.aws import ModelRegistry, S3Objects
from retrainer_core.ledger import Ledger
from retrainer_core.observability import logger, metrics, tracer
from retrainer_core.registration import Candidate, register
from retrainer_core.settings import RegisterModelsSettings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
@event_parser(model=Candidate)
def lambda_handler(candidate: Candidate, context: LambdaContext) -> dict:
    settings = RegisterModelsSettings.from_environ(os.environ)
    logger.append_keys(run_id=candidate.run_id, kind=candidate.kind)
    image = settings.challenger_inference_image_uri if candidate.family == "gradient-boosting" else settings.inference_image_uri
    result = register(candidate, image or settings.inference_image_uri, S3Objects(), ModelRegistry(), Ledger(settings.run_ledger_table))
    logger.info("candidate registered", model_package_arn=result["model_package_arn"], already_registered=result["already_registered"])
    metrics.add_metric(name="ModelsRegistered", unit=MetricUnit.Count, value=1)
    return result
