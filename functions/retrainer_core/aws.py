"""Data access: the only module that talks to AWS. Logic receives these adapters (fakes in unit tests)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from retrainer_core.names import split_s3_uri


@cache
def client(service: str) -> Any:
    # botocore reads AWS_ENDPOINT_URL itself, which is how the local stack points handlers at moto
    return boto3.client(service, config=Config(retries={"mode": "standard", "max_attempts": 5}))


class S3Objects:
    def list(self, bucket: str, prefix: str) -> list[dict[str, Any]]:
        """Every current object under prefix, with the version id where the bucket is versioned."""
        objects: list[dict[str, Any]] = []
        for page in client("s3").get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
            for version in page.get("Versions", []):
                if version["IsLatest"]:
                    objects.append(
                        {
                            "key": version["Key"],
                            "etag": version["ETag"].strip('"'),
                            "size": version["Size"],
                            "version_id": None if version.get("VersionId") in (None, "null") else version["VersionId"],
                            "last_modified": version["LastModified"].timestamp(),
                        }
                    )
        return objects

    def read_json(self, uri: str) -> Any:
        """The JSON document at uri; KeyError when there is none."""
        bucket, key = split_s3_uri(uri)
        try:
            body = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404", "NotFound"):
                raise KeyError(uri) from None
            raise
        return json.loads(body)

    def exists(self, uri: str) -> bool:
        bucket, key = split_s3_uri(uri)
        try:
            client("s3").head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True


class Workflow:
    def __init__(self, state_machine_arn: str):
        self.state_machine_arn = state_machine_arn

    def start(self, name: str, run_input: dict[str, Any]) -> bool:
        """Start the named execution; False when that name has run already (the run exists)."""
        try:
            client("stepfunctions").start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(run_input)
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ExecutionAlreadyExists":
                return False
            raise
        return True


class DeadLetters:
    def __init__(self, queue_url: str):
        self.queue_url = queue_url

    def send(self, body: str, reason: str, message_id: str) -> None:
        client("sqs").send_message(
            QueueUrl=self.queue_url,
            MessageBody=body,
            MessageAttributes={
                "reason": {"DataType": "String", "StringValue": reason[:1024]},
                "original_message_id": {"DataType": "String", "StringValue": message_id},
            },
        )


class QuietChecks:
    """Quiet-period checks: a delayed message on the trigger queue (retrainer_core/quiet.py), shaped as an
    EventBridge event like everything else the queue carries."""

    def __init__(self, queue_url: str):
        self.queue_url = queue_url

    def schedule(self, landing: dict[str, str], delay_seconds: int) -> None:
        sqs = client("sqs")
        account = self.queue_url.rstrip("/").split("/")[-2]
        event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Landing Quiet Check", "source": "retrainer",
                 "account": account, "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": sqs.meta.region_name,
                 "resources": [], "detail": landing}
        sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(event), DelaySeconds=int(delay_seconds))


class ModelRegistry:
    def approved(self, group: str) -> dict[str, Any] | None:
        """The group's latest Approved version (the champion): {version, arn, model_data_url}, or None."""
        sagemaker = client("sagemaker")
        try:
            found = sagemaker.list_model_packages(ModelPackageGroupName=group, ModelApprovalStatus="Approved",
                                                  SortBy="CreationTime", SortOrder="Descending", MaxResults=1)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("ValidationException", "ResourceNotFound"):
                return None  # no group yet: nothing was ever registered
            raise
        if not found["ModelPackageSummaryList"]:
            return None
        arn = found["ModelPackageSummaryList"][0]["ModelPackageArn"]
        described = sagemaker.describe_model_package(ModelPackageName=arn)
        return {"version": described["ModelPackageVersion"], "arn": arn,
                "model_data_url": described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]}

    def package(self, arn: str) -> dict[str, Any]:
        """One version as the scoring run needs it: {version, arn, model_data_url}."""
        described = client("sagemaker").describe_model_package(ModelPackageName=arn)
        return {"version": described["ModelPackageVersion"], "arn": arn,
                "model_data_url": described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]}

    def find(self, group: str, metadata: dict[str, str]) -> str | None:
        """The ARN of the version in group whose metadata includes all of `metadata`, if any."""
        sagemaker = client("sagemaker")
        for page in sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group):
            for summary in page["ModelPackageSummaryList"]:
                described = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
                properties = described.get("CustomerMetadataProperties", {})
                if all(properties.get(k) == v for k, v in metadata.items()):
                    return summary["ModelPackageArn"]
        return None

    def create(self, request: dict[str, Any]) -> str:
        return client("sagemaker").create_model_package(**request)["ModelPackageArn"]


class ScoringRuns(Workflow):
    """Starts scoring executions; says on the event bus what became of a scoring landing."""

    def __init__(self, state_machine_arn: str, event_bus: str = "default"):
        super().__init__(state_machine_arn)
        self.event_bus = event_bus

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        response = client("events").put_events(Entries=[{"Source": "retrainer", "DetailType": detail_type,
                                                          "EventBusName": self.event_bus, "Detail": json.dumps(detail, default=str)}])
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused {detail_type!r}: {response['Entries']}")


class ExecutionHistory:
    def events(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for page in client("stepfunctions").get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events += page["events"]
        return events


class Topic:
    def __init__(self, topic_arn: str):
        self.topic_arn = topic_arn

    def publish(self, subject: str, message: dict[str, Any]) -> None:
        client("sns").publish(TopicArn=self.topic_arn, Subject=subject[:100], Message=json.dumps(message, default=str))
