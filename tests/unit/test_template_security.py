"""template.yaml's security and observability promises, read as CloudFormation would (no AWS)."""

import json
from pathlib import Path

import pytest

from retrainer.local.template import Resolver, load

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load(ROOT / "template.yaml")
IMAGES = {"ProcessingImageUri": "p", "TrainingImageUri": "t", "InferenceImageUri": "i", "ChallengerImageUri": "c"}
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def resolver(**parameters):
    return Resolver(load(ROOT / "template.yaml"), "s", "eu-west-1", {**IMAGES, **parameters})


def resources(kind):
    return {name: r for name, r in TEMPLATE["Resources"].items() if r["Type"] == kind}


def statements():
    """Every IAM statement in the template: inline role policies and SAM function/state machine Policies."""
    for name, resource in TEMPLATE["Resources"].items():
        properties = resource.get("Properties", {})
        policies = properties.get("Policies", [])
        for policy in policies if isinstance(policies, list) else [policies]:
            for branch in policy["Fn::If"][1:] if "Fn::If" in policy else [policy]:
                if isinstance(branch, dict):
                    document = branch.get("PolicyDocument", branch)
                    for statement in document.get("Statement", []) if isinstance(document, dict) else []:
                        yield name, statement


# -- conditions in the local template reader
def test_conditions_choose_sse_s3_by_default_and_kms_when_a_key_is_given():
    default, kms = resolver(), resolver(KmsKeyArn=KEY)
    assert default.conditions["UseKms"] is False and kms.conditions["UseKms"] is True
    encryption = TEMPLATE["Resources"]["ArtifactsBucket"]["Properties"]["BucketEncryption"]
    assert default.resolve(encryption)["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert kms.resolve(encryption)["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY
    }


def test_no_value_removes_the_key_or_the_list_item_as_in_cloudformation():
    r = resolver()
    assert r.resolve({"A": {"Ref": "AWS::NoValue"}, "B": 1}) == {"B": 1}
    assert r.resolve([1, {"Fn::If": ["UseKms", 2, {"Ref": "AWS::NoValue"}]}, 3]) == [1, 3]
    assert resolver(KmsKeyArn=KEY).resolve([{"Fn::If": ["UseKms", 2, {"Ref": "AWS::NoValue"}]}]) == [2]


def test_condition_functions_and_resource_conditions():
    template = {
        "Parameters": {"Env": {"Type": "String", "Default": "dev"}},
        "Conditions": {
            "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
            "NotProd": {"Fn::Not": [{"Condition": "IsProd"}]},
            "Either": {"Fn::Or": [{"Condition": "IsProd"}, {"Condition": "NotProd"}]},
            "Both": {"Fn::And": [{"Condition": "IsProd"}, {"Condition": "NotProd"}]},
        },
        "Resources": {"OnlyInProd": {"Type": "AWS::SNS::Topic", "Condition": "IsProd"}, "Always": {"Type": "AWS::SNS::Topic"}},
    }
    r = Resolver(template, "s", "eu-west-1")
    assert r.conditions == {"IsProd": False, "NotProd": True, "Either": True, "Both": False}
    assert [name for name, _ in r.resources()] == ["Always"]
    with pytest.raises(KeyError, match="Missing"):
        r.resolve({"Fn::If": ["Missing", 1, 2]})


# -- IAM
def test_no_statement_allows_every_action_and_star_resources_are_only_for_apis_without_resource_level():
    no_resource_level = {
        "cloudwatch:PutMetricData", "ecr:GetAuthorizationToken", "logs:CreateLogDelivery", "logs:GetLogDelivery",
        "logs:UpdateLogDelivery", "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    }
    found = list(statements())
    assert len(found) > 10
    for name, statement in found:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert "*" not in actions and not any(a.endswith(":*") for a in actions), (name, statement)
        if statement.get("Resource") == "*":
            assert set(actions) <= no_resource_level, (name, statement)


def test_the_state_machine_runs_and_passes_only_this_apps_jobs_and_role():
    policies = TEMPLATE["Resources"]["RetrainStateMachine"]["Properties"]["Policies"]
    by_sid = {s.get("Sid"): s for p in policies if "Statement" in p for s in p["Statement"]}
    jobs = by_sid["RunThisAppsJobsOnly"]["Resource"]
    assert all("${JobNamePrefix}-*" in r["Fn::Sub"] for r in jobs)
    assert by_sid["PassOnlyTheJobRole"]["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_the_buckets_are_private_encrypted_versioned_and_tls_only():
    buckets = resources("AWS::S3::Bucket")
    policies = {p["Properties"]["Bucket"]["Ref"]: p["Properties"]["PolicyDocument"] for p in resources("AWS::S3::BucketPolicy").values()}
    assert set(buckets) <= set(policies)
    for name, bucket in buckets.items():
        p = bucket["Properties"]
        assert p["VersioningConfiguration"] == {"Status": "Enabled"}
        assert all(p["PublicAccessBlockConfiguration"].values())
        assert "BucketEncryption" in p and p["LifecycleConfiguration"]["Rules"]
        deny = [s for s in policies[name]["Statement"] if s["Effect"] == "Deny"]
        assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_run_outputs_are_never_expired_because_registered_models_point_into_them():
    rules = TEMPLATE["Resources"]["ArtifactsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert not any("ExpirationInDays" in r or "ExpirationDate" in r for r in rules)


def test_queues_topics_and_tables_are_encrypted_and_tables_recoverable():
    for name, queue in resources("AWS::SQS::Queue").items():
        assert queue["Properties"].get("SqsManagedSseEnabled") or "KmsMasterKeyId" in queue["Properties"], name
    for name, topic in resources("AWS::SNS::Topic").items():
        assert "KmsMasterKeyId" in topic["Properties"], name
    for name, table in resources("AWS::DynamoDB::Table").items():
        assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, name


# -- observability
def test_alarms_watch_failed_runs_the_dead_letter_queue_and_drift():
    alarms = {(str(a["Properties"]["Namespace"]), a["Properties"]["MetricName"]) for a in resources("AWS::CloudWatch::Alarm").values()}
    assert ("AWS/States", "ExecutionsFailed") in alarms
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in alarms
    assert ("{'Ref': 'DriftMetricNamespace'}", "MaxFeaturePSI") in alarms


def test_the_dashboard_is_json_once_substituted_and_shows_runs_steps_dlq_and_errors():
    r = resolver()
    for name, value in [("RetrainStateMachine", "arn:sm"), ("StartRetrainingFunction", "f1"), ("RegisterModelsFunction", "f2"),
                        ("FinishRunFunction", "f3"), ("StateMachineLogGroup", "/aws/vendedlogs/states/s-retrain")]:
        r.refs[name] = value
    r.attributes.update({"TriggerDeadLetterQueue": {"QueueName": "dlq"}, "TriggerQueue": {"QueueName": "q"},
                         "RunEventsDeadLetterQueue": {"QueueName": "dlq2"}, "FailedRunsAlarm": {"Arn": "a1"},
                         "TriggerDeadLetterAlarm": {"Arn": "a2"}, "RunEventsDeadLetterAlarm": {"Arn": "a3"}})
    (dashboard,) = resources("AWS::CloudWatch::Dashboard").values()
    body = json.loads(r.resolve(dashboard["Properties"]["DashboardBody"]))
    metrics = {m[1] for w in body["widgets"] if w["type"] == "metric" for m in w["properties"]["metrics"]}
    assert {"ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ServiceIntegrationRunTime",
            "ApproximateNumberOfMessagesVisible", "Errors"} <= metrics
