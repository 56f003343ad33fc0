"""Unit-tier fixtures: the ledger on moto's in-process DynamoDB (real conditional-write semantics, no
server, no network)."""

from functools import cache
from pathlib import Path

import pytest
from moto import mock_aws

LEDGER_TABLE, IDEMPOTENCY_TABLE = "ledger", "idempotency"
TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@cache
def ledger_table_keys() -> dict:
    """The run ledger's keys and indexes as template.yaml declares them (what deploys, and what the local stack creates)."""
    from retrainer.local.template import load

    properties = load(TEMPLATE)["Resources"]["RunLedgerTable"]["Properties"]
    return {k: properties[k] for k in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes") if k in properties}


@pytest.fixture
def aws(monkeypatch):
    from retrainer_core import aws as data_access

    from retrainer.local.moto_patches import serialise_dynamodb

    serialise_dynamodb()  # as the local stack does: moto's DynamoDB is not thread-safe

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # the session's local stack, if one runs
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    data_access.client.cache_clear()
    with mock_aws():
        dynamodb = data_access.client("dynamodb")
        dynamodb.create_table(TableName=LEDGER_TABLE, BillingMode="PAY_PER_REQUEST", **ledger_table_keys())
        dynamodb.create_table(TableName=IDEMPOTENCY_TABLE, BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
        yield data_access
    data_access.client.cache_clear()


@pytest.fixture
def ledger(aws):
    from retrainer_core.ledger import Ledger

    return Ledger(LEDGER_TABLE)
