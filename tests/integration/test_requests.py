"""Issue 12 (1, 3, 5): every request accounted for, on the local stack. The CLI runs in this process
against the session's stack (its stack.json), as a user's `retrainer` would."""

import json

import pytest

from retrainer.demo import land_batch
from tests.utils.events import s3_object_created, sample
from tests.utils.stack import clients, ended, executions_for, ledger_of, run_where, settled

pytestmark = pytest.mark.integration


@pytest.fixture
def retrainer(cli_run):
    """`retrainer <argv>` on the session's stack: (exit code, stdout, stderr)."""
    return cli_run


def test_a_request_made_during_a_run_is_queued_with_its_parameters_shown_and_run_in_its_turn(local_stack, retrainer):
    s3, sfn = clients("s3", "stepfunctions")
    outputs = local_stack.provisioned.outputs
    settled(local_stack)
    # Given a landing's run holds the model
    first = land_batch(s3, outputs["LandingBucketName"], "scarcegan", "it-busy-a", seed=61)
    holder = run_where(local_stack, lambda r: r["data"]["uri"] == first and r["status"] == "RUNNING", what="the landing's run")

    # When a user asks for a run with parameters of their own, and a newer landing arrives after it
    code, out, err = retrainer("start", "--model", "scarcegan", "--param", "iterations=300", "--param", "sample-interval=50", "--param", "seed=301")
    newer = land_batch(s3, outputs["LandingBucketName"], "scarcegan", "it-busy-b", seed=62)

    # Then the CLI says at once where the request went, and `show` finds it, queued, with its place
    assert code == 0 and f"queued behind run {holder['run_id']} (position 1)" in out, (out, err)
    request_run = out.strip().splitlines()[-1].split()[1]
    code, shown, _ = retrainer("show", request_run)
    assert code == 0 and "QUEUED" in shown.splitlines()[0] and f"behind run {holder['run_id']}, position 1" in shown
    assert "iterations=300" in shown

    # And it runs with its own parameters after the holder, then the newer landing after it
    done = ended(local_stack, request_run, timeout=600)
    assert done["status"] == "SUCCEEDED" and done["trigger"]["follows"] == holder["run_id"]
    assert done["spec"]["train"]["hyperparameters"]["iterations"] == "300"
    landing_run = run_where(local_stack, lambda r: r["data"]["uri"] == newer, what="the newer landing's run")
    assert ended(local_stack, landing_run["run_id"], timeout=600)["trigger"]["follows"] == request_run
    settled(local_stack)
    assert len(executions_for(sfn, outputs["StateMachineArn"], newer)) == 1


@pytest.mark.parametrize("argv, says", [
    (["start", "--model", "nope"], "unknown model 'nope'"),
    (["resume", "no-such-run"], "no run 'no-such-run' in the ledger"),
    (["start", "--model", "scarcegan", "--gate", "min_recall=abc"], "--gate min_recall=abc: not a number"),
    # issue 12 (2): parameters are checked against the schema the stack's code publishes, before queueing
    (["start", "--model", "scarcegan", "--param", "no_such_param=1"], "unknown parameter 'no_such_param' (allowed: "),
    (["start", "--model", "scarcegan", "--param", "iterations=many"], "parameter iterations: expects int, got 'many'"),
    (["start", "--model", "scarcegan", "--param", "input-format=xml"], "'xml' is not one of telemetry, features"),
])
def test_requests_that_cannot_run_are_refused_at_once_and_nothing_is_queued(local_stack, retrainer, argv, says):
    sqs, = clients("sqs")
    before = len(ledger_of(local_stack).runs(1000))

    code, out, err = retrainer(*argv)

    assert code == 2 and says in err and len(err.strip().splitlines()) == 1 and out == ""
    counts = sqs.get_queue_attributes(QueueUrl=local_stack.provisioned.outputs["TriggerQueueUrl"], AttributeNames=["ApproximateNumberOfMessages"])
    assert counts["Attributes"]["ApproximateNumberOfMessages"] == "0" and len(ledger_of(local_stack).runs(1000)) == before


def test_a_reused_event_id_on_another_landing_starts_that_landing(local_stack):
    s3, sqs, events = clients("s3", "sqs", "events")
    outputs = local_stack.provisioned.outputs
    bucket, rule = outputs["LandingBucketName"], f"{local_stack.provisioned.stack_name}-DataLandingRule"
    settled(local_stack)
    local_stack.faults.arm("preprocess", "bad-data", times=2)  # the runs themselves are not the point
    # Given two complete landings whose own events are lost (the rule delivers nowhere for a moment) ...
    targets = events.list_targets_by_rule(Rule=rule)["Targets"]
    events.remove_targets(Rule=rule, Ids=[t["Id"] for t in targets])
    try:
        landings = [land_batch(s3, bucket, "scarcegan", f"it-reused-id-{x}", seed=70 + i) for i, x in enumerate("ab")]
    finally:
        events.put_targets(Rule=rule, Targets=targets)

    # When an exporter announces both markers with the same event id (AWS's documented sample id)
    documented_id = sample("s3_object_created_success.json")["id"]
    for uri in landings:
        key = uri.removeprefix(f"s3://{bucket}/") + "_SUCCESS"
        event = s3_object_created(key, bucket=bucket, event_id=documented_id)
        event["detail"]["object"]["version-id"] = s3.head_object(Bucket=bucket, Key=key)["VersionId"]
        sqs.send_message(QueueUrl=outputs["TriggerQueueUrl"], MessageBody=json.dumps(event))

    # Then each landing gets its run: the second is not taken for a redelivery of the first
    for uri in landings:
        ended(local_stack, run_where(local_stack, lambda r, uri=uri: r["data"]["uri"] == uri, timeout=300, what=f"the run of {uri}")["run_id"])
    settled(local_stack)
