"""What the app's names and statuses mean, in one place for the Lambdas, the CLI and the local stack:
S3 URIs, execution ARNs, and the statuses a Step Functions execution (so a run) ends in.
Pure: no AWS call, no third-party import."""

from __future__ import annotations

SUCCEEDED = "SUCCEEDED"
# The statuses an execution ends in (DescribeExecution, "Execution Status Change"); a run record takes them too.
FINAL_STATUSES = frozenset({SUCCEEDED, "FAILED", "TIMED_OUT", "ABORTED"})
# A run that ended in one of these can be resumed from the step that failed.
RESUMABLE_STATUSES = FINAL_STATUSES - {SUCCEEDED}


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/key` -> ("bucket", "some/key"): the key exactly as written (S3 keys may hold
    `?`, `#` or a leading `/`, so this is no URL parse). ValueError for anything else."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket:
        raise ValueError(f"not an s3:// URI: {uri!r}")
    return bucket, key


def execution_arn(state_machine_arn: str, execution_name: str) -> str:
    """The ARN of the state machine's execution called execution_name (a run id or its retry's name)."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{execution_name}"
