"""Issue 4: triggers that never lose and never duplicate a run, on the local stack. Counts come from
the run ledger and the execution list."""

import json
import time

import pytest
from retrainer_core.events import LANDING_GROUPS

from retrainer.demo import land_batch
from tests.utils.events import s3_object_created
from tests.utils.stack import clients, ended, executions_for, ledger_of, run_where, settled, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def trained(local_stack):
    """A successful run of the model exists: the newest landing, and the baseline drift is checked against."""
    ledger = ledger_of(local_stack)
    if ledger.latest_succeeded("scarcegan") is None:
        s3, = clients("s3")
        settled(local_stack)
        uri = land_batch(s3, local_stack.provisioned.outputs["LandingBucketName"], "scarcegan", "it-baseline", seed=31)
        ended(local_stack, run_where(local_stack, lambda r: r["data"]["uri"] == uri)["run_id"])
        settled(local_stack)
    return ledger.latest_succeeded("scarcegan")


def test_a_thousand_objects_of_one_batch_start_exactly_one_run(local_stack):
    s3, sfn = clients("s3", "stepfunctions")
    outputs = local_stack.provisioned.outputs
    bucket, prefix = outputs["LandingBucketName"], "incoming/scarcegan/it-thousand/"
    settled(local_stack)
    local_stack.faults.arm("preprocess", "bad-data")  # the run itself is not the point: end it at its first job

    for i in range(999):  # back to back, as an exporter writes them
        group = ("unlabeled", "risky", "dormant", "normal", "heavy")[i % 5]  # every group: the job stages each
        s3.put_object(Bucket=bucket, Key=f"{prefix}{group}/part-{i:05d}.csv", Body=b"player_id,week\n1,1\n")
    s3.put_object(Bucket=bucket, Key=f"{prefix}_SUCCESS", Body=b"")

    landing = f"s3://{bucket}/{prefix}"
    wait_until(lambda: executions_for(sfn, outputs["StateMachineArn"], landing), what="the run to start")
    settled(local_stack)
    assert len(executions_for(sfn, outputs["StateMachineArn"], landing)) == 1
    assert len([r for r in ledger_of(local_stack).runs(500) if r["data"]["uri"] == landing]) == 1


def test_the_same_event_delivered_twice_starts_one_run(local_stack):
    s3, sqs, sfn = clients("s3", "sqs", "stepfunctions")
    outputs = local_stack.provisioned.outputs
    bucket, prefix = outputs["LandingBucketName"], "incoming/scarcegan/it-twice/"
    settled(local_stack)
    local_stack.faults.arm("preprocess", "bad-data")
    for group in LANDING_GROUPS:  # the run itself is not the point: its data is bad
        s3.put_object(Bucket=bucket, Key=f"{prefix}{group}/part-00000.csv", Body=b"player_id,week\n1,1\n")
    s3.put_object(Bucket=bucket, Key=f"{prefix}_SUCCESS", Body=b"")  # its own event, delivered once
    redelivered = json.dumps(s3_object_created(f"{prefix}_SUCCESS", bucket=bucket, event_id="redelivered-event"))
    for _ in range(2):  # at-least-once delivery: the same event arrives twice
        sqs.send_message(QueueUrl=outputs["TriggerQueueUrl"], MessageBody=redelivered)

    settled(local_stack)
    assert len(executions_for(sfn, outputs["StateMachineArn"], f"s3://{bucket}/{prefix}")) == 1


def test_batches_landing_during_a_run_make_exactly_one_follow_up(local_stack):
    s3, sfn = clients("s3", "stepfunctions")
    outputs = local_stack.provisioned.outputs
    bucket = outputs["LandingBucketName"]
    settled(local_stack)

    first = land_batch(s3, bucket, "scarcegan", "it-follow-a", seed=11)
    running = wait_until(lambda: executions_for(sfn, outputs["StateMachineArn"], first), what="the first run")[0]
    second = land_batch(s3, bucket, "scarcegan", "it-follow-b", seed=12)
    third = land_batch(s3, bucket, "scarcegan", "it-follow-c", seed=13)
    assert sfn.describe_execution(executionArn=running["executionArn"])["status"] == "RUNNING"

    follow_up = run_where(local_stack, lambda r: r["data"]["uri"] == third, timeout=300, what="the follow-up")
    ended(local_stack, follow_up["run_id"])
    settled(local_stack)

    assert len(executions_for(sfn, outputs["StateMachineArn"], first)) == 1
    assert len(executions_for(sfn, outputs["StateMachineArn"], third)) == 1
    assert executions_for(sfn, outputs["StateMachineArn"], second) == []  # superseded, not lost:
    runs = {r["data"]["uri"]: r for r in ledger_of(local_stack).runs(500)}
    assert runs[third]["trigger"]["follows"] == runs[first]["run_id"]
    assert len(runs[third]["trigger"]["coalesced"]) == 1  # the second batch, recorded on the run that covers it


def test_a_flapping_drift_alarm_starts_one_run(local_stack, trained):
    cloudwatch, = clients("cloudwatch")
    settled(local_stack)
    alarm = "retrainer-drift-scarcegan-flapping"
    cloudwatch.put_metric_alarm(AlarmName=alarm, MetricName="MaxFeaturePSI", Namespace="Retrainer/Drift", Statistic="Maximum",
                                Period=300, EvaluationPeriods=1, Threshold=0.2, ComparisonOperator="GreaterThanThreshold")
    time.sleep(1.5)  # the emitter has seen the alarm's first state
    for state in ("ALARM", "OK", "ALARM"):
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue=state, StateReason=f"test: {state}")
        time.sleep(1.5)

    run = run_where(local_stack, lambda r: r["trigger"].get("alarm_name") == alarm, what="the drift run")
    ended(local_stack, run["run_id"])
    settled(local_stack)
    assert len([r for r in ledger_of(local_stack).runs(500) if r["trigger"].get("alarm_name") == alarm]) == 1


def test_malformed_and_unknown_model_messages_go_to_the_dlq_with_their_reason(local_stack):
    sqs, = clients("sqs")
    outputs = local_stack.provisioned.outputs
    bodies = ["{not json", json.dumps(s3_object_created("incoming/othermodel/b1/_SUCCESS", bucket=outputs["LandingBucketName"]))]
    for body in bodies:
        sqs.send_message(QueueUrl=outputs["TriggerQueueUrl"], MessageBody=body)

    def dead_letters():
        received = sqs.receive_message(QueueUrl=outputs["TriggerDeadLetterQueueUrl"], MaxNumberOfMessages=10,
                                       MessageAttributeNames=["All"], WaitTimeSeconds=1).get("Messages", [])
        return received or None

    letters = []
    while {m["Body"] for m in letters} < set(bodies):
        letters += wait_until(dead_letters, what="dead letters")
    reasons = {m["Body"]: m["MessageAttributes"]["reason"]["StringValue"] for m in letters}
    assert "not an EventBridge event" in reasons["{not json"]
    assert "unknown model 'othermodel'" in reasons[bodies[1]]
