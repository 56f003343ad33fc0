"""Lambda's SQS event source mapping: poll, gather a batch (BatchSize / MaximumBatchingWindowInSeconds),
invoke the function through the Lambda API, delete what succeeded, leave failures for redelivery and,
after the queue's maxReceiveCount, its dead-letter queue (moto applies the RedrivePolicy)."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from retrainer.local.provision import QueueTrigger

log = logging.getLogger(__name__)


class QueuePoller(threading.Thread):
    def __init__(self, trigger: QueueTrigger, session: Any, region: str, window_override: float | None = None):
        super().__init__(name=f"sqs-poller-{trigger.function}", daemon=True)
        self.trigger = trigger
        self.sqs = session.client("sqs")
        self.lambda_ = session.client("lambda")
        self.region = region
        self.window = trigger.batching_window_seconds if window_override is None else window_override
        self.stopping = threading.Event()
        self.batches = 0

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                messages = self._gather()
                if messages:
                    self._deliver(messages)
            except Exception:  # noqa: BLE001 - a poller outlives a bad batch, as Lambda's does
                log.exception("poller %s", self.name)
                time.sleep(1)

    def stop(self) -> None:
        self.stopping.set()

    def retarget(self, trigger: QueueTrigger) -> None:
        """The event source mapping's settings after a stack update (the next batch uses them)."""
        self.trigger, self.window = trigger, trigger.batching_window_seconds

    def _gather(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        deadline: float | None = None
        while len(messages) < self.trigger.batch_size and not self.stopping.is_set():
            wait = 1 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
            received = self.sqs.receive_message(
                QueueUrl=self.trigger.queue_url,
                MaxNumberOfMessages=min(10, self.trigger.batch_size - len(messages)),
                WaitTimeSeconds=int(round(wait)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            messages += received
            if messages and deadline is None:
                deadline = time.monotonic() + self.window
            if deadline is not None and time.monotonic() >= deadline:
                break
        return messages

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        self.batches += 1
        event = {"Records": [self._record(m) for m in messages]}
        response = self.lambda_.invoke(FunctionName=self.trigger.function, Payload=json.dumps(event).encode())
        payload = json.loads(response["Payload"].read() or b"null")
        if "FunctionError" in response:
            log.error("%s failed on a batch of %d: %s", self.trigger.function, len(messages), payload)
            return  # the whole batch becomes visible again after the visibility timeout
        failed = set()
        if self.trigger.report_batch_item_failures and isinstance(payload, dict):
            failed = {f["itemIdentifier"] for f in payload.get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=self.trigger.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start:start + 10])],
            )

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "dataType": value["DataType"],
                    "stringListValues": [],
                    "binaryListValues": [],
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.trigger.queue_arn,
            "awsRegion": self.region,
        }
