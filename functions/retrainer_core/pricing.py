"""Estimated cost of a step: billable instance-seconds times an on-demand price per instance type.

Example SageMaker on-demand prices (USD per instance-hour, us-east-1, training/processing, as listed
in 2026; check https://aws.amazon.com/sagemaker/pricing/ for your region). Unknown types cost 0 and
say so, rather than guessing."""

PRICE_PER_HOUR = {
    "ml.t3.medium": 0.05,
    "ml.m5.large": 0.115,
    "ml.m5.xlarge": 0.23,
    "ml.m5.2xlarge": 0.461,
    "ml.m5.4xlarge": 0.922,
    "ml.c5.xlarge": 0.204,
    "ml.c5.2xlarge": 0.408,
    "ml.c5.4xlarge": 0.816,
    "ml.g4dn.xlarge": 0.736,
    "ml.g5.xlarge": 1.408,
    "ml.p3.2xlarge": 3.825,
}


def estimated_cost(instance_type: str, billable_seconds: float) -> float | None:
    price = PRICE_PER_HOUR.get(instance_type)
    return None if price is None else round(price * billable_seconds / 3600, 6)
