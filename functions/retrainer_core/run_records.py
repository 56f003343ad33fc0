"""Data access for experiment tracking: what a run left behind in AWS's own records (the training
jobs' MetricDefinitions and CloudWatch log events, documents in S3, registered model package versions)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from retrainer_core.aws import S3Objects, client, split_s3_uri

TRAINING_LOGS = "/aws/sagemaker/TrainingJobs"


class RunRecords:
    def __init__(self) -> None:
        self.s3 = client("s3")

    def metric_definitions(self, training_job: str) -> list[dict[str, str]]:
        described = client("sagemaker").describe_training_job(TrainingJobName=training_job)
        return described.get("AlgorithmSpecification", {}).get("MetricDefinitions", [])

    def log_events(self, training_job: str) -> list[dict[str, Any]]:
        """Every {timestamp, message} the job wrote, stream by stream (<job>/algo-N-...)."""
        logs = client("logs")
        events: list[dict[str, Any]] = []
        try:
            streams = logs.describe_log_streams(logGroupName=TRAINING_LOGS, logStreamNamePrefix=f"{training_job}/")["logStreams"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "ResourceNotFoundException":
                return events
            raise
        for stream in streams:
            token = None
            for _ in range(10_000):  # bounded: a page at a time until the token stops moving
                page = logs.get_log_events(logGroupName=TRAINING_LOGS, logStreamName=stream["logStreamName"], startFromHead=True,
                                           **({"nextToken": token} if token else {}))
                events += [{"timestamp": e["timestamp"], "message": e["message"]} for e in page["events"]]
                if not page["events"] or page.get("nextForwardToken") == token:
                    break
                token = page.get("nextForwardToken")
        return events

    def read_json(self, uri: str) -> Any:
        """The document at uri, or None when there is none."""
        try:
            return S3Objects().read_json(uri)
        except KeyError:
            return None

    def read_bytes(self, uri: str) -> bytes | None:
        bucket, key = split_s3_uri(uri)
        try:
            return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404", "NotFound"):
                return None
            raise

    def model_package(self, arn: str) -> dict[str, Any]:
        """One registered version: {arn, version, approval, model_data_url}."""
        described = client("sagemaker").describe_model_package(ModelPackageName=arn)
        return {"arn": arn, "version": described.get("ModelPackageVersion"), "approval": described.get("ModelApprovalStatus"),
                "model_data_url": described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]}
