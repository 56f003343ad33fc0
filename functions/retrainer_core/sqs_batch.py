"""An SQS batch handled record by record, answered with the partial batch response that the event
source mapping reads (FunctionResponseTypes: [ReportBatchItemFailures]): only the records that failed
come back for redelivery, and after maxReceiveCount go to the queue's dead-letter queue.

Ours rather than Powertools' BatchProcessor, which imports asyncio and its async processors into every
cold start of both SQS handlers for a loop of ten lines (docs/decisions/0503). The contract is AWS's:
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from retrainer_core.observability import logger


def each_record(event: dict[str, Any], handle: Callable[[dict[str, Any]], None]) -> dict[str, list[dict[str, str]]]:
    """`handle(record)` for each record of a standard queue's batch; a record whose handling raised is
    logged with its message id and reported back, the others are done (SQS deletes them). A failing
    record does not stop the next: each is a separate event (the queues are not FIFO)."""
    failures = []
    for record in event["Records"]:
        try:
            handle(record)
        except Exception:  # noqa: BLE001 - reported for redelivery, not lost
            logger.exception("record failed: SQS delivers it again", message_id=record["messageId"])
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
