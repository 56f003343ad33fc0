"""S3 -> EventBridge -> SQS -> start_retraining on the local stack: exactly one run per complete
landing, and a bad message dead-lettered with its reason while the rest of its batch goes on."""

import json

import pytest

from tests.utils.events import s3_object_created
from tests.utils.stack import clients, executions_for, wait_until

pytestmark = pytest.mark.integration


def test_part_files_and_a_repeated_marker_start_exactly_one_run(local_stack):
    s3, sfn = clients("s3", "stepfunctions")
    outputs = local_stack.provisioned.outputs
    bucket, prefix = outputs["LandingBucketName"], "incoming/scarcegan/it-once/"
    local_stack.faults.arm("preprocess", "bad-data")  # keep the run short: it ends at its first job

    for i in range(20):
        s3.put_object(Bucket=bucket, Key=f"{prefix}normal/part-{i:05d}.csv", Body=b"player_id,week\n")
    s3.put_object(Bucket=bucket, Key=f"{prefix}_SUCCESS", Body=b"")
    s3.put_object(Bucket=bucket, Key=f"{prefix}_SUCCESS", Body=b"")  # an exporter's retried upload

    landing = f"s3://{bucket}/{prefix}"
    wait_until(lambda: executions_for(sfn, outputs["StateMachineArn"], landing), what="the run to start")
    queue_attributes = lambda: clients("sqs")[0].get_queue_attributes(  # noqa: E731
        QueueUrl=outputs["TriggerQueueUrl"], AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    wait_until(lambda: all(v == "0" for v in queue_attributes().values()), what="the trigger queue to drain")
    assert len(executions_for(sfn, outputs["StateMachineArn"], landing)) == 1


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
    while len(letters) < 2:
        letters += wait_until(dead_letters, what="dead letters")
    reasons = {m["Body"]: m["MessageAttributes"]["reason"]["StringValue"] for m in letters}
    assert "not an EventBridge S3 'Object Created' event" in reasons["{not json"]
    assert "unknown model 'othermodel'" in reasons[bodies[1]]
