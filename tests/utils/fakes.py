"""In-memory adapters for the logic layer (no AWS, no mocks)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# what the code publishes as s3://<artifacts>/code/<version>/scarcegan/parameters.json
PARAMETER_SCHEMA = Path(__file__).resolve().parents[2] / "training_containers" / "scarcegan" / "parameters.json"


class FakeObjects:
    def __init__(self, objects: dict[str, dict[str, Any]] | None = None, documents: dict[str, Any] | None = None):
        self.objects = objects or {}  # "bucket/key" -> {"etag", "size", "version_id"}
        self.documents = documents or {}

    def put(self, bucket: str, key: str, etag: str = "e", size: int = 1, last_modified: float = 0.0) -> None:
        self.objects[f"{bucket}/{key}"] = {"etag": etag, "size": size, "version_id": None, "last_modified": last_modified}

    def list(self, bucket: str, prefix: str) -> list[dict[str, Any]]:
        return [
            {"key": path.split("/", 1)[1], **meta}
            for path, meta in sorted(self.objects.items())
            if path.startswith(f"{bucket}/{prefix}")
        ]

    def exists(self, uri: str) -> bool:
        return uri.removeprefix("s3://") in self.objects or uri in self.documents

    def read_json(self, uri: str) -> Any:
        if uri not in self.documents and uri.endswith("/scarcegan/parameters.json"):
            return json.loads(PARAMETER_SCHEMA.read_text())
        return self.documents[uri]  # KeyError, as S3Objects.read_json for a missing object


class FakeWorkflow:
    def __init__(self) -> None:
        self.started: dict[str, dict[str, Any]] = {}

    def start(self, name: str, run_input: dict[str, Any]) -> bool:
        if name in self.started:
            return False
        self.started[name] = run_input
        return True


class FakeQuietChecks:
    def __init__(self) -> None:
        self.scheduled: list[tuple[dict[str, str], int]] = []

    def schedule(self, landing: dict[str, str], delay_seconds: int) -> None:
        self.scheduled.append((landing, delay_seconds))


class FakeRegistry:
    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.finds = 0

    def find(self, group: str, metadata: dict[str, str]) -> str | None:
        self.finds += 1
        for i, request in enumerate(self.created):
            properties = request["CustomerMetadataProperties"]
            if request["ModelPackageGroupName"] == group and all(properties.get(k) == v for k, v in metadata.items()):
                return f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{group}/{i + 1}"
        return None

    def create(self, request: dict[str, Any]) -> str:
        self.created.append(request)
        return f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{request['ModelPackageGroupName']}/{len(self.created)}"


class FakeRegisteredContent:
    """The ledger's registrations-by-content index, in memory."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def registration(self, group: str, content_key: str) -> dict[str, Any] | None:
        return self.items.get((group, content_key))

    def claim_registration(self, group: str, content_key: str, run_id: str, kind: str) -> bool:
        if (group, content_key) in self.items:
            return False
        self.items[(group, content_key)] = {"run_id": run_id, "kind": kind}
        return True

    def registered(self, group: str, content_key: str, arn: str) -> None:
        self.items[(group, content_key)]["arn"] = arn


class FakeDeadLetters:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, body: str, reason: str, message_id: str) -> None:
        self.sent.append((message_id, reason))
