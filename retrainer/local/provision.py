"""Create template.yaml's resources in moto, through the AWS APIs, as CloudFormation + SAM would.

Physical names are deterministic (`<stack>-<LogicalId>`), so a restarted stack has the same names.
Resource types moto cannot host are listed in `Provisioned.skipped`, never silently dropped.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrainer.local.template import ACCOUNT_ID, Resolver, load, substitute_definition


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    memory: int


@dataclass(frozen=True)
class QueueTrigger:
    """An SQS event source of a function, with the template's batching settings."""

    function: str
    queue_arn: str
    queue_url: str
    batch_size: int
    batching_window_seconds: int
    report_batch_item_failures: bool


@dataclass
class Provisioned:
    stack_name: str
    refs: dict[str, Any]
    outputs: dict[str, Any]
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    queue_triggers: list[QueueTrigger] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


_EMPTY_ZIP = io.BytesIO()
with zipfile.ZipFile(_EMPTY_ZIP, "w") as _zip:
    _zip.writestr("README", "The local stack runs the handler from its CodeUri folder, not from this archive.")
_ASSUME = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule (AWS::S3::Bucket Rule) as the S3 API's LifecycleRule."""
    api: dict[str, Any] = {"ID": rule.get("Id", "rule"), "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    expiration = {k: v for k, v in {"Days": rule.get("ExpirationInDays"), "Date": rule.get("ExpirationDate"),
                                    "ExpiredObjectDeleteMarker": rule.get("ExpiredObjectDeleteMarker")}.items() if v is not None}
    if expiration:
        api["Expiration"] = {k: int(v) if k == "Days" else v for k, v in expiration.items()}
    if "NoncurrentVersionExpiration" in rule:
        api["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])}
    if "Transitions" in rule:
        api["Transitions"] = [{"Days": int(t["TransitionInDays"]), "StorageClass": t["StorageClass"]} for t in rule["Transitions"]]
    if "AbortIncompleteMultipartUpload" in rule:
        api["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        }
    return api


class Provisioner:
    def __init__(self, session: Any, template_path: Path, stack_name: str, parameters: dict[str, str]):
        self.session = session
        self.root = template_path.parent
        self.stack_name = stack_name
        self.resolver = Resolver(load(template_path), stack_name, session.region_name, parameters)
        self.result = Provisioned(stack_name, self.resolver.refs, {})

    def client(self, service: str) -> Any:
        return self.session.client(service)

    def run(self) -> Provisioned:
        for logical_id, resource in self.resolver.resources():
            kind = resource["Type"]
            create = getattr(self, "_" + kind.replace("::", "_").lower(), None)
            if create is None:
                self.result.skipped[logical_id] = kind
                self.resolver.refs[logical_id] = logical_id
                continue
            properties = self.resolver.resolve(resource.get("Properties", {}))
            create(logical_id, properties)
        self._outputs()
        return self.result

    def _outputs(self) -> None:
        for name, output in self.resolver.template.get("Outputs", {}).items():
            self.result.outputs[name] = self.resolver.resolve(output["Value"])

    # what a stack update with new parameter values changes in place
    UPDATABLE = ("AWS::Events::Rule", "AWS::Serverless::Function")

    def update(self, parameters: dict[str, str]) -> Provisioned:
        """`sam deploy --parameter-overrides` on the running stack, for the changes this stack's
        parameters make in place: rules' event patterns, functions' environments and SQS event source
        settings (e.g. LandingQuietPeriodSeconds, docs/decisions/0520). Any other resource whose
        definition would change, appear or go raises, naming it: the local stack never diverges silently."""
        declared = self.resolver.template.get("Parameters", {})
        unknown = sorted(set(parameters) - set(declared))
        if unknown:
            raise KeyError(f"template parameter {', '.join(unknown)}: not defined in Parameters")
        before, saved = self._definitions(), {name: self.resolver.refs[name] for name in parameters}
        for name, value in parameters.items():
            listed = declared[name]["Type"] == "CommaDelimitedList"
            self.resolver.refs[name] = [v.strip() for v in str(value).split(",")] if listed else str(value)
        self.resolver.conditions.clear()
        after = self._definitions()
        changed = [k for k in before.keys() | after.keys() if before.get(k) != after.get(k)]
        beyond = sorted(k for k in changed if k not in after or k not in before or after[k][0] not in self.UPDATABLE)
        if beyond:  # nothing applied: the stack keeps its parameters
            self.resolver.refs.update(saved)
            self.resolver.conditions.clear()
            raise NotImplementedError(f"a local stack update cannot change {', '.join(beyond)}: start the stack with these parameters")
        for logical_id in sorted(changed):
            kind, properties = after[logical_id]
            if kind == "AWS::Events::Rule":
                self._aws_events_rule(logical_id, properties)
            else:
                self._update_function(logical_id, properties)
        self._outputs()
        return self.result

    def _definitions(self) -> dict[str, tuple[str, Any]]:
        return {logical_id: (resource["Type"], self.resolver.resolve(resource.get("Properties", {})))
                for logical_id, resource in self.resolver.resources() if logical_id not in self.result.skipped}

    def _name(self, logical_id: str, lower: bool = False) -> str:
        name = f"{self.stack_name}-{logical_id}"
        return name.lower()[:63] if lower else name[:64]

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.session.region_name}:{ACCOUNT_ID}:{resource}"

    def _set(self, logical_id: str, ref: Any, **attributes: Any) -> None:
        self.resolver.refs[logical_id] = ref
        self.resolver.attributes[logical_id] = attributes

    # ---- S3
    def _aws_s3_bucket(self, logical_id: str, p: dict[str, Any]) -> None:
        s3, name = self.client("s3"), p.get("BucketName") or self._name(logical_id, lower=True)
        s3.create_bucket(Bucket=name)
        if "VersioningConfiguration" in p:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=p["VersioningConfiguration"])
        if "BucketEncryption" in p:
            rules = [  # CloudFormation's ServerSideEncryptionByDefault is the API's Apply...
                {"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"],
                 **({"BucketKeyEnabled": r["BucketKeyEnabled"]} if "BucketKeyEnabled" in r else {})}
                for r in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        if "PublicAccessBlockConfiguration" in p:
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"])
        if "LifecycleConfiguration" in p:
            s3.put_bucket_lifecycle_configuration(
                Bucket=name, LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in p["LifecycleConfiguration"]["Rules"]]}
            )
        if p.get("NotificationConfiguration", {}).get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )
        self._set(logical_id, name, Arn=f"arn:aws:s3:::{name}", DomainName=f"{name}.s3.amazonaws.com")

    def _aws_s3_bucketpolicy(self, logical_id: str, p: dict[str, Any]) -> None:
        # The local endpoint is plain HTTP on loopback and moto enforces bucket policies: a TLS-only
        # Deny would refuse every local request, so such statements are kept out (and listed).
        document = dict(p["PolicyDocument"])
        statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
        local = [st for st in statements if "aws:SecureTransport" not in json.dumps(st.get("Condition", {}))]
        if len(local) < len(statements):
            self.result.skipped[f"{logical_id} (TLS-only statements)"] = "AWS::S3::BucketPolicy"
        if local:
            self.client("s3").put_bucket_policy(Bucket=p["Bucket"], Policy=json.dumps({**document, "Statement": local}))
        self._set(logical_id, logical_id)

    # ---- CloudWatch (alarms and dashboards: stored, so `retrainer local status` users and tests can see them)
    def _aws_logs_loggroup(self, logical_id: str, p: dict[str, Any]) -> None:
        logs, name = self.client("logs"), p.get("LogGroupName") or self._name(logical_id)
        logs.create_log_group(logGroupName=name)  # KmsKeyId is not applied locally: moto has no keys to use
        if "RetentionInDays" in p:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(p["RetentionInDays"]))
        self._set(logical_id, name, Arn=self._arn("logs", f"log-group:{name}:*"))

    def _aws_cloudwatch_alarm(self, logical_id: str, p: dict[str, Any]) -> None:
        name = p.get("AlarmName") or self._name(logical_id)
        fields = ("AlarmDescription", "Namespace", "MetricName", "Dimensions", "Statistic", "ExtendedStatistic",
                  "Period", "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator",
                  "TreatMissingData", "AlarmActions", "OKActions", "InsufficientDataActions", "Unit", "Metrics")
        args = {k: p[k] for k in fields if k in p}
        for number in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
            if number in args:
                args[number] = int(args[number])
        if "Threshold" in args:
            args["Threshold"] = float(args["Threshold"])
        self.client("cloudwatch").put_metric_alarm(AlarmName=name, **args)
        self._set(logical_id, name, Arn=self._arn("cloudwatch", f"alarm:{name}"))

    def _aws_cloudwatch_dashboard(self, logical_id: str, p: dict[str, Any]) -> None:
        name = p.get("DashboardName") or self._name(logical_id)
        json.loads(p["DashboardBody"])  # CloudFormation rejects a body that is not JSON; so does the local stack
        self.client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=p["DashboardBody"])
        self._set(logical_id, name)

    # ---- SQS
    def _aws_sqs_queue(self, logical_id: str, p: dict[str, Any]) -> None:
        name = p.get("QueueName") or self._name(logical_id)
        attributes = {
            k: json.dumps(v) if isinstance(v, dict) else str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in p.items()
            if k in ("VisibilityTimeout", "MessageRetentionPeriod", "RedrivePolicy", "SqsManagedSseEnabled",
                     "KmsMasterKeyId", "DelaySeconds", "ReceiveMessageWaitTimeSeconds")
        }
        url = self.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        self._set(logical_id, url, Arn=self._arn("sqs", name), QueueName=name, QueueUrl=url)

    def _aws_sqs_queuepolicy(self, logical_id: str, p: dict[str, Any]) -> None:
        for url in p["Queues"]:
            self.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(p["PolicyDocument"])})
        self._set(logical_id, logical_id)

    # ---- SNS
    def _aws_sns_topic(self, logical_id: str, p: dict[str, Any]) -> None:
        name = p.get("TopicName") or self._name(logical_id)
        attributes = {"KmsMasterKeyId": p["KmsMasterKeyId"]} if "KmsMasterKeyId" in p else {}
        arn = self.client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
        self._set(logical_id, arn, TopicArn=arn, TopicName=name)

    # ---- DynamoDB
    def _aws_dynamodb_table(self, logical_id: str, p: dict[str, Any]) -> None:
        name = p.get("TableName") or self._name(logical_id)
        args = {k: p[k] for k in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes") if k in p}
        table = self.client("dynamodb").create_table(TableName=name, BillingMode=p.get("BillingMode", "PAY_PER_REQUEST"), **args)
        if p.get("TimeToLiveSpecification"):
            self.client("dynamodb").update_time_to_live(TableName=name, TimeToLiveSpecification=p["TimeToLiveSpecification"])
        self._set(logical_id, name, Arn=table["TableDescription"]["TableArn"])

    # ---- EventBridge
    def _aws_events_rule(self, logical_id: str, p: dict[str, Any]) -> None:
        events, name = self.client("events"), p.get("Name") or self._name(logical_id)
        rule = {"Name": name, "State": p.get("State", "ENABLED"), "Description": p.get("Description", "")}
        if "EventPattern" in p:
            rule["EventPattern"] = json.dumps(p["EventPattern"])
        if "ScheduleExpression" in p:
            rule["ScheduleExpression"] = p["ScheduleExpression"]
        arn = events.put_rule(**rule)["RuleArn"]
        targets = [{k: v for k, v in t.items() if k in ("Id", "Arn", "Input", "InputPath", "RoleArn")} for t in p.get("Targets", [])]
        if targets:
            events.put_targets(Rule=name, Targets=targets)
        self._set(logical_id, name, Arn=arn)

    # ---- EventBridge Scheduler (stored by moto, fired by the local stack's ScheduleEmitter)
    def _aws_scheduler_schedule(self, logical_id: str, p: dict[str, Any]) -> None:
        name = p.get("Name") or self._name(logical_id)
        target = {k: v for k, v in p["Target"].items() if k in ("Arn", "RoleArn", "Input", "RetryPolicy", "DeadLetterConfig")}
        arn = self.client("scheduler").create_schedule(
            Name=name, ScheduleExpression=p["ScheduleExpression"], FlexibleTimeWindow=p["FlexibleTimeWindow"],
            Target=target, State=p.get("State", "ENABLED"), Description=p.get("Description", ""),
        )["ScheduleArn"]
        self._set(logical_id, name, Arn=arn)

    # ---- IAM
    def _aws_iam_role(self, logical_id: str, p: dict[str, Any]) -> None:
        iam, name = self.client("iam"), p.get("RoleName") or self._name(logical_id)
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(p["AssumeRolePolicyDocument"]))["Role"]["Arn"]
        for policy in p.get("Policies", []):
            iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"]))
        self._set(logical_id, name, Arn=arn, RoleId=name)

    def _implicit_role(self, logical_id: str, service: str) -> str:
        """SAM's generated <Logical>Role. Its policies are checked by cfn-lint/checkov, not enforced by moto."""
        assume = json.loads(json.dumps(_ASSUME).replace("lambda.amazonaws.com", service))
        return self.client("iam").create_role(RoleName=self._name(f"{logical_id}Role"), AssumeRolePolicyDocument=json.dumps(assume))["Role"]["Arn"]

    # ---- SageMaker
    def _aws_sagemaker_modelpackagegroup(self, logical_id: str, p: dict[str, Any]) -> None:
        name = p["ModelPackageGroupName"]
        arn = self.client("sagemaker").create_model_package_group(
            ModelPackageGroupName=name, ModelPackageGroupDescription=p.get("ModelPackageGroupDescription", "")
        )["ModelPackageGroupArn"]
        self._set(logical_id, arn, ModelPackageGroupArn=arn)  # CloudFormation has no GetAtt for the name

    # ---- SAM
    def _aws_serverless_function(self, logical_id: str, raw: dict[str, Any]) -> None:
        p = self.resolver.function_properties(raw)
        name = p.get("FunctionName") or self._name(logical_id)
        environment = {k: str(v) for k, v in p.get("Environment", {}).get("Variables", {}).items()}
        arn = self.client("lambda").create_function(
            FunctionName=name,
            Runtime=p["Runtime"],
            Role=self._implicit_role(logical_id, "lambda.amazonaws.com"),
            Handler=p["Handler"],
            Code={"ZipFile": _EMPTY_ZIP.getvalue()},
            Timeout=int(p.get("Timeout", 3)),
            MemorySize=int(p.get("MemorySize", 128)),
            Environment={"Variables": environment},
        )["FunctionArn"]
        self._function(logical_id, name, p, environment)
        self._set(logical_id, name, Arn=arn)

    def _update_function(self, logical_id: str, raw: dict[str, Any]) -> None:
        p = self.resolver.function_properties(raw)
        name = self.result.functions[logical_id].name
        environment = {k: str(v) for k, v in p.get("Environment", {}).get("Variables", {}).items()}
        self.client("lambda").update_function_configuration(FunctionName=name, Environment={"Variables": environment})
        self.result.queue_triggers = [t for t in self.result.queue_triggers if t.function != name]
        self._function(logical_id, name, p, environment)

    def _function(self, logical_id: str, name: str, p: dict[str, Any], environment: dict[str, str]) -> None:
        """The function as the local runtime runs it, and its SQS event sources."""
        self.result.functions[logical_id] = FunctionSpec(
            logical_id, name, (self.root / p["CodeUri"]).resolve(), p["Handler"], environment,
            int(p.get("Timeout", 3)), int(p.get("MemorySize", 128)),
        )
        for event in p.get("Events", {}).values():
            if event["Type"] != "SQS":
                raise NotImplementedError(f"{logical_id}: event source {event['Type']} is not emulated locally")
            ep = event["Properties"]
            queue_name = ep["Queue"].rsplit(":", 1)[-1]
            self.result.queue_triggers.append(
                QueueTrigger(
                    function=name,
                    queue_arn=ep["Queue"],
                    queue_url=self.client("sqs").get_queue_url(QueueName=queue_name)["QueueUrl"],
                    batch_size=int(ep.get("BatchSize", 10)),
                    batching_window_seconds=int(ep.get("MaximumBatchingWindowInSeconds", 0)),
                    report_batch_item_failures="ReportBatchItemFailures" in ep.get("FunctionResponseTypes", []),
                )
            )

    def _aws_serverless_statemachine(self, logical_id: str, p: dict[str, Any]) -> None:
        name = p.get("Name") or self._name(logical_id)
        definition = substitute_definition((self.root / p["DefinitionUri"]).read_text(), p.get("DefinitionSubstitutions", {}))
        arn = self.client("stepfunctions").create_state_machine(
            name=name, definition=definition, roleArn=self._implicit_role(logical_id, "states.amazonaws.com")
        )["stateMachineArn"]
        self._set(logical_id, arn, Name=name, Arn=arn)
