"""Fixtures for the order consumers: moto, the tables, the fanout, and the handler modules.

The handler modules create their boto3 client and Powertools logger at import, as they do in
Lambda, so they are imported inside ``mock_aws`` with the environment the CDK stack sets, with
``lambda_src/order_consumers`` on ``sys.path``, and removed from ``sys.modules`` afterwards.
To keep the suite fast, the emulated account and the imported handler module last for a test
module; each test gets empty tables, a new topic with new queues, and no pending metrics.

Powertools writes logs and metrics to stdout. Metrics are printed, so capsys sees them; the
log handler keeps the stream that was stdout at import, so it is pointed at whatever stdout is
when a line is written, and capsys sees the logs too.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from helpers import emulated_aws, import_from
from sqs_events import LambdaContext, OrderFanout

from constructs_lib.testing.lambda_service import CurrentStdout

SOURCE = Path(__file__).resolve().parents[3] / "lambda_src" / "order_consumers"
SOURCE_MODULES = ("orders", "consumer", "billing", "shipping", "inventory")
REGION = "eu-west-1"
ORDERS_TABLE = "orders"
IDEMPOTENCY_TABLE = "idempotency"
STACK_ENVIRONMENT = {
    "ORDERS_TABLE_NAME": ORDERS_TABLE,
    "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE,
    "POWERTOOLS_METRICS_NAMESPACE": "Orders",
}


def import_source(name: str) -> ModuleType:
    """Imports a module of the asset folder as Lambda does: with the folder on sys.path."""
    forget_source_modules()
    return import_from(SOURCE, name)


def forget_source_modules() -> None:
    for name in SOURCE_MODULES:
        sys.modules.pop(name, None)


@dataclass
class Account:
    """Clients of the emulated AWS account."""

    dynamodb: Any
    sns: Any
    sqs: Any

    def create_tables(self) -> None:
        """The orders table and the idempotency table, as the CDK stack defines them."""
        self.dynamodb.create_table(
            TableName=ORDERS_TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        self.dynamodb.create_table(
            TableName=IDEMPOTENCY_TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.dynamodb.update_time_to_live(
            TableName=IDEMPOTENCY_TABLE,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"},
        )

    def empty_tables(self) -> None:
        for name in (ORDERS_TABLE, IDEMPOTENCY_TABLE):
            self.dynamodb.delete_table(TableName=name)
        self.create_tables()

    def empty_idempotency_table(self) -> None:
        """What DynamoDB's TTL does to idempotency records once they expire."""
        for item in self.dynamodb.scan(TableName=IDEMPOTENCY_TABLE)["Items"]:
            self.dynamodb.delete_item(TableName=IDEMPOTENCY_TABLE, Key={"id": item["id"]})


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    """An emulated account (moto) and the environment variables the CDK stack sets."""
    with emulated_aws(REGION, environment=STACK_ENVIRONMENT):
        account = Account(
            dynamodb=boto3.client("dynamodb", region_name=REGION),
            sns=boto3.client("sns", region_name=REGION),
            sqs=boto3.client("sqs", region_name=REGION),
        )
        account.create_tables()
        yield account


def _imported(name: str) -> Iterator[ModuleType]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("POWERTOOLS_SERVICE_NAME", name)
        module = import_source(name)
    module.logger.registered_handler.setStream(CurrentStdout())
    try:
        yield module
    finally:
        forget_source_modules()
        # Powertools configures the logger named after the service once per process.
        logging.Logger.manager.loggerDict.pop(name, None)


def _module_fixture(fixture: str, module: str) -> Any:
    """A module-scoped fixture ``fixture``: the source module ``module``, imported in the
    emulated account."""

    @pytest.fixture(scope="module", name=fixture)
    def imported(account: Account) -> Iterator[ModuleType]:
        yield from _imported(module)

    return imported


consumer = _module_fixture("consumer", "consumer")
"""The shared wiring module, on its own."""
billing_module = _module_fixture("billing_module", "billing")
shipping_module = _module_fixture("shipping_module", "shipping")
inventory_module = _module_fixture("inventory_module", "inventory")


def _fresh(module: ModuleType, account: Account) -> ModuleType:
    account.empty_tables()
    module.metrics.clear_metrics()
    return module


@pytest.fixture
def billing(billing_module: ModuleType, account: Account) -> ModuleType:
    """The billing handler module, with empty tables."""
    return _fresh(billing_module, account)


@pytest.fixture
def shipping(shipping_module: ModuleType, account: Account) -> ModuleType:
    """The shipping handler module, with empty tables."""
    return _fresh(shipping_module, account)


@pytest.fixture
def inventory(inventory_module: ModuleType, account: Account) -> ModuleType:
    """The inventory handler module, with empty tables."""
    return _fresh(inventory_module, account)


@pytest.fixture
def fanout(account: Account) -> OrderFanout:
    """A new topic with an enveloped queue and a raw-delivery queue, both empty."""
    return OrderFanout(account.sns, account.sqs, REGION)


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()


class Output:
    """What was written to stdout: Powertools log lines and EMF metric documents."""

    def __init__(self, text: str) -> None:
        documents = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        self.logs = [doc for doc in documents if "_aws" not in doc]
        self.metric_documents = [doc for doc in documents if "_aws" in doc]

    def at(self, level: str) -> list[dict[str, Any]]:
        return [log for log in self.logs if log["level"] == level]

    def metric(self, name: str) -> float:
        """Sum of the values emitted for a metric."""
        total = 0.0
        for document in self.metric_documents:
            value = document.get(name, 0)
            total += sum(value) if isinstance(value, list) else value
        return total


@pytest.fixture
def output(capsys: pytest.CaptureFixture[str]) -> Callable[[], Output]:
    """Call to read what was written to stdout since the last call."""
    return lambda: Output(capsys.readouterr().out)


class OrdersTable:
    """The orders table, read the way the tests need it."""

    def __init__(self, dynamodb: Any) -> None:
        self.dynamodb = dynamodb

    def items(self, sk_prefix: str) -> list[dict[str, Any]]:
        """Items whose sort key starts with ``sk_prefix``, attribute values unwrapped."""
        scanned = self.dynamodb.scan(TableName=ORDERS_TABLE)["Items"]
        return [
            {name: next(iter(value.values())) for name, value in item.items()}
            for item in scanned
            if item["sk"]["S"].startswith(sk_prefix)
        ]

    def reserved(self, sku: str) -> int:
        """Stock of ``sku`` reserved so far."""
        item = self.dynamodb.get_item(
            TableName=ORDERS_TABLE, Key={"pk": {"S": f"SKU#{sku}"}, "sk": {"S": "STOCK"}}
        ).get("Item")
        return int(item["reserved"]["N"]) if item else 0


@pytest.fixture
def table(account: Account) -> OrdersTable:
    return OrdersTable(account.dynamodb)


@pytest.fixture(scope="module")
def orders() -> Iterator[ModuleType]:
    """The order model module (pure: no AWS, no environment)."""
    module = import_source("orders")
    yield module
    forget_source_modules()
