"""Issue 12 (7, 10): Parquet landings, landings without a marker (quiet period) and the schedule, on the
local stack. Counts come from the run ledger and the execution list."""

import io
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from retrainer import synthetic
from retrainer.demo import land_batch
from tests.utils.stack import clients, ended, executions_for, ledger_of, run_where, settled

pytestmark = pytest.mark.integration
QUIET_SECONDS = 4


@pytest.fixture
def quiet_period(local_stack):
    """The stack updated with LandingQuietPeriodSeconds=4 (start_retraining's environment, the landing
    rule's pattern: part files reach it now, and the trigger queue's batching window), restored afterwards."""
    before = local_stack.parameters.get("LandingQuietPeriodSeconds", "0")
    local_stack.update({"LandingQuietPeriodSeconds": str(QUIET_SECONDS)})
    yield QUIET_SECONDS
    local_stack.update({"LandingQuietPeriodSeconds": before})


def test_a_parquet_landing_runs_end_to_end(local_stack):
    s3, = clients("s3")
    settled(local_stack)

    uri = land_batch(s3, local_stack.provisioned.outputs["LandingBucketName"], "scarcegan", "it-parquet", seed=81, fmt="parquet")

    run = ended(local_stack, run_where(local_stack, lambda r: r["data"]["uri"] == uri, what="the Parquet landing's run")["run_id"], timeout=600)
    assert run["status"] == "SUCCEEDED", run.get("failure")
    settled(local_stack)


def test_a_truncated_parquet_file_fails_the_run_naming_the_file(local_stack):
    s3, = clients("s3")
    bucket = local_stack.provisioned.outputs["LandingBucketName"]
    settled(local_stack)
    prefix = "incoming/scarcegan/it-parquet-cut/"
    groups = synthetic.generate(seed=82)
    for name, frame in groups.items():
        body = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), body)
        data = body.getvalue()
        if name == "risky":
            data = data[: len(data) // 2]  # the upload was cut off half way
        s3.put_object(Bucket=bucket, Key=f"{prefix}{name}/part-00000.parquet", Body=data)
    s3.put_object(Bucket=bucket, Key=f"{prefix}_SUCCESS", Body=b"")

    run = ended(local_stack, run_where(local_stack, lambda r: r["data"]["uri"] == f"s3://{bucket}/{prefix}", what="the run")["run_id"])

    assert run["status"] == "FAILED" and run["failure"]["step"] == "Preprocess"
    assert "risky/part-00000.parquet" in run["failure"]["cause"]
    assert ledger_of(local_stack).lock("scarcegan") is None
    settled(local_stack)


def test_landings_without_a_marker_run_once_after_the_quiet_period_even_during_a_run(local_stack, quiet_period):
    s3, sfn = clients("s3", "stepfunctions")
    outputs = local_stack.provisioned.outputs
    bucket, machine = outputs["LandingBucketName"], outputs["StateMachineArn"]
    settled(local_stack)

    # Given an exporter that writes part files and no marker
    first = land_batch(s3, bucket, "scarcegan", "it-quiet-a", seed=91, marker=False)
    running = run_where(local_stack, lambda r: r["data"]["uri"] == first, timeout=120, what="the quiet landing's run")

    # When another such landing arrives while that run goes, in two bursts
    second = land_batch(s3, bucket, "scarcegan", "it-quiet-b", seed=92, marker=False)
    land_batch(s3, bucket, "scarcegan", "it-quiet-b", seed=92, marker=False)  # the same parts again (a retried upload)

    # Then each landing runs exactly once, the second as the first's follow-up
    parts = s3.list_objects_v2(Bucket=bucket, Prefix=first.removeprefix(f"s3://{bucket}/"))["KeyCount"]
    assert running["trigger"]["type"] == "quiet-period" and running["data"]["objects"] == parts
    follow_up = run_where(local_stack, lambda r: r["data"]["uri"] == second, timeout=120, what="the second landing's run")
    assert follow_up["status"] == "QUEUED"
    ended(local_stack, follow_up["run_id"], timeout=600)
    settled(local_stack)
    for uri in (first, second):
        assert len(executions_for(sfn, machine, uri)) == 1
        assert len([r for r in ledger_of(local_stack).runs(1000) if r["data"]["uri"] == uri and r["status"] != "SUPERSEDED"]) == 1


def test_the_schedule_starts_a_run_on_the_newest_complete_landing(local_stack):
    s3, events, scheduler = clients("s3", "events", "scheduler")
    outputs = local_stack.provisioned.outputs
    bucket, rule = outputs["LandingBucketName"], f"{local_stack.provisioned.stack_name}-DataLandingRule"
    settled(local_stack)
    local_stack.faults.arm("preprocess", "bad-data")  # that it starts is the point
    # Given a complete landing whose events never arrived
    targets = events.list_targets_by_rule(Rule=rule)["Targets"]
    events.remove_targets(Rule=rule, Ids=[t["Id"] for t in targets])
    try:
        uri = land_batch(s3, bucket, "scarcegan", "it-scheduled", seed=95)
    finally:
        events.put_targets(Rule=rule, Targets=targets)

    # When the stack's schedule comes due (moved to a moment from now, as an operator could)
    name = f"{local_stack.provisioned.stack_name}-RetrainingSchedule"
    schedule = scheduler.get_schedule(Name=name)
    at = (datetime.now(UTC) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S")
    scheduler.update_schedule(Name=name, ScheduleExpression=f"at({at})", FlexibleTimeWindow=schedule["FlexibleTimeWindow"],
                              Target=schedule["Target"])
    try:
        run = run_where(local_stack, lambda r: r["data"]["uri"] == uri, timeout=120, what="the scheduled run")
    finally:
        scheduler.update_schedule(Name=name, ScheduleExpression="rate(1 day)", FlexibleTimeWindow=schedule["FlexibleTimeWindow"],
                                  Target=schedule["Target"])

    # Then a run on that landing starts, through the same queue, lock and ledger
    assert run["trigger"]["type"] == "schedule"
    ended(local_stack, run["run_id"])
    settled(local_stack)
