"""Unit-tier fixtures: the ledger on moto's in-process DynamoDB (real conditional-write semantics, no
server, no network)."""

import pytest
from moto import mock_aws

LEDGER_TABLE, IDEMPOTENCY_TABLE = "ledger", "idempotency"


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
        dynamodb.create_table(TableName=LEDGER_TABLE, BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
        dynamodb.create_table(TableName=IDEMPOTENCY_TABLE, BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
        yield data_access
    data_access.client.cache_clear()


@pytest.fixture
def ledger(aws):
    from retrainer_core.ledger import Ledger

    return Ledger(LEDGER_TABLE)
