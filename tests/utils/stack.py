"""Helpers for tests on the embedded local stack."""

from __future__ import annotations

from typing import Any

import boto3
from retrainer_core.names import FINAL_STATUSES as FINAL

from retrainer import runs
from retrainer.local.address import REGION


def clients(*services: str) -> list[Any]:
    session = boto3.Session(region_name=REGION)
    return [session.client(s) for s in services]


def executions_for(sfn: Any, state_machine_arn: str, landing_uri: str) -> list[dict[str, Any]]:
    found = []
    for execution in sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if f'"uri": "{landing_uri}"' in described["input"]:
            found.append(described)
    return found


def wait_until(condition, timeout: float = 60, every: float = 0.5, what: str = "condition"):
    try:
        return runs.wait_until(what, condition, timeout, every)
    except TimeoutError as error:
        raise AssertionError(str(error)) from None


def finished(sfn: Any, execution_arn: str, timeout: float = 300) -> dict[str, Any]:
    def done():
        described = sfn.describe_execution(executionArn=execution_arn)
        return described if described["status"] in FINAL else None

    return wait_until(done, timeout, 1, f"execution {execution_arn} to end")


def ledger_of(local_stack):
    from retrainer_core.ledger import Ledger

    return Ledger(local_stack.provisioned.outputs["RunLedgerTableName"])


def settled(local_stack, model: str = "scarcegan", timeout: float = 240) -> None:
    """Wait until the model holds no lock and no trigger or run-end message is waiting."""
    sqs, = clients("sqs")
    outputs = local_stack.provisioned.outputs
    ledger = ledger_of(local_stack)

    def quiet():
        for queue in (outputs["TriggerQueueUrl"], outputs["RunEventsQueueUrl"]):
            counts = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            if any(v != "0" for v in counts.values()):
                return False
        return ledger.lock(model) is None

    wait_until(quiet, timeout, 1, "the model's runs to settle")


def run_where(local_stack, predicate, timeout: float = 60, what: str = "the run"):
    ledger = ledger_of(local_stack)
    return wait_until(lambda: next((r for r in ledger.runs(500) if predicate(r)), None), timeout, 0.5, what)


def ended(local_stack, run_id: str, timeout: float = 300):
    ledger = ledger_of(local_stack)
    return wait_until(lambda: (lambda r: r if r and r["status"] in FINAL else None)(ledger.run(run_id)), timeout, 1, f"run {run_id} to end")
