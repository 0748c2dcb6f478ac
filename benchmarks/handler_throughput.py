"""Throughput of the billing handler's batch path, and the cold import time of its module.

Run from the repository root, with no AWS account and no network:

    .venv/bin/python benchmarks/handler_throughput.py

1. Records per second through ``billing.handler(event, context)`` on batches of 10 records
   (Powertools ``BatchProcessor`` + ``process_partial_response``, ``Logger.inject_lambda_context``
   and ``Metrics.log_metrics``, one EMF document per invocation), against a bare loop that
   calls the same per-record function, ``billing.record_handler``, over the same records in
   the same run. Both sides parse the SNS envelope, validate the order and go through
   Powertools idempotency. To measure the framework rather than DynamoDB, the script swaps
   in, on both sides, an in-memory idempotency persistence layer (a ``BasePersistenceLayer``
   with the DynamoDB layer's conditions) and an in-memory orders store. Logs and metrics go
   to /dev/null. Each side runs several times on fresh stores; the medians are reported.
   Target: the batch path at most 2x the time of the bare loop.
2. Cold import of the billing module, ``import billing`` with the asset folder on sys.path as
   in Lambda (this includes creating the module's boto3 DynamoDB client), in fresh
   subprocesses; median of several runs, against a 300 ms target. For scale, the same is
   measured for what the module cannot do without: boto3, the Powertools modules it uses,
   and one DynamoDB client. The difference to ``import billing`` is the module's own cost.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "lambda_src" / "order_consumers"
ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "benchmark",
    "AWS_SECRET_ACCESS_KEY": "benchmark",
    "AWS_EC2_METADATA_DISABLED": "true",
    "ORDERS_TABLE_NAME": "orders",
    "IDEMPOTENCY_TABLE_NAME": "idempotency",
    "POWERTOOLS_SERVICE_NAME": "billing",
    "POWERTOOLS_METRICS_NAMESPACE": "Orders",
    "AWS_LAMBDA_FUNCTION_NAME": "billing",
}
RECORDS = 5_000
BATCH_SIZE = 10
REPEATS = 5
IMPORT_RUNS = 7
THROUGHPUT_TARGET = 2.0
IMPORT_TARGET_MS = 300.0

os.environ.update(ENVIRONMENT)
sys.path.insert(0, str(SOURCE))

import billing  # noqa: E402
import consumer  # noqa: E402
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord  # noqa: E402
from aws_lambda_powertools.utilities.idempotency import (  # noqa: E402
    BasePersistenceLayer,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (  # noqa: E402
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import (  # noqa: E402
    STATUS_CONSTANTS,
    DataRecord,
)


class InMemoryPersistenceLayer(BasePersistenceLayer):
    """Idempotency records in a dict, under the conditions DynamoDBPersistenceLayer writes.

    A record may be created when none exists for the key, when the one there has expired, or
    when it is in progress past its in-progress expiry; otherwise the put fails with the
    record found, as DynamoDB's ReturnValuesOnConditionCheckFailure gives it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, DataRecord] = {}

    def _get_record(self, idempotency_key: str) -> DataRecord:
        try:
            return _copy(self.records[idempotency_key])
        except KeyError as error:
            raise IdempotencyItemNotFoundError from error

    def _put_record(self, data_record: DataRecord) -> None:
        existing = self.records.get(data_record.idempotency_key)
        now = dt.datetime.now()
        if existing is not None and not _replaceable(existing, now):
            self._validate_payload(data_payload=data_record, stored_data_record=existing)
            raise IdempotencyItemAlreadyExistsError(old_data_record=_copy(existing))
        stored = _copy(data_record)
        if not self.payload_validation_enabled:
            stored.payload_hash = ""
        self.records[data_record.idempotency_key] = stored

    def _update_record(self, data_record: DataRecord) -> None:
        stored = self.records[data_record.idempotency_key]
        stored.response_data = data_record.response_data
        stored.expiry_timestamp = data_record.expiry_timestamp
        stored._status = data_record.status
        if self.payload_validation_enabled:
            stored.payload_hash = data_record.payload_hash

    def _delete_record(self, data_record: DataRecord) -> None:
        self.records.pop(data_record.idempotency_key, None)


def _replaceable(record: DataRecord, now: dt.datetime) -> bool:
    expired = record.expiry_timestamp is not None and record.expiry_timestamp < int(now.timestamp())
    in_progress_expired = (
        record.status == STATUS_CONSTANTS["INPROGRESS"]
        and record.in_progress_expiry_timestamp is not None
        and record.in_progress_expiry_timestamp < int(now.timestamp() * 1000)
    )
    return expired or in_progress_expired


def _copy(record: DataRecord) -> DataRecord:
    return DataRecord(
        idempotency_key=record.idempotency_key,
        status=record._status,
        expiry_timestamp=record.expiry_timestamp,
        in_progress_expiry_timestamp=record.in_progress_expiry_timestamp,
        response_data=record.response_data,
        payload_hash=record.payload_hash,
        sort_key=record.sort_key,
    )


class InMemoryOrdersStore:
    """Stands in for the orders table: items by (pk, sk)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def put(self, item: dict[str, Any]) -> None:
        self.items[(item["pk"], item["sk"])] = dict(item)

    def invoices(self) -> int:
        return sum(1 for _, sk in self.items if sk.startswith("INVOICE#"))


class Context:
    function_name = "billing"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:billing"
    aws_request_id = "benchmark"

    def get_remaining_time_in_millis(self) -> int:
        return 120_000


UNWRAPPED_ISSUE_INVOICE = billing.issue_invoice.__wrapped__


@contextlib.contextmanager
def in_memory_backends() -> Iterator[InMemoryOrdersStore]:
    """Points billing at fresh in-memory idempotency and orders stores."""
    store = InMemoryOrdersStore()
    saved = billing.issue_invoice, billing.orders_table
    billing.orders_table = store
    billing.issue_invoice = idempotent_function(
        UNWRAPPED_ISSUE_INVOICE,
        data_keyword_argument="order",
        persistence_store=InMemoryPersistenceLayer(),
        config=consumer.idempotency_config,
    )
    try:
        yield store
    finally:
        billing.issue_invoice, billing.orders_table = saved
        billing.metrics.clear_metrics()


def sqs_records(count: int) -> list[dict[str, Any]]:
    """Records as the billing queue delivers them: each order in its SNS envelope."""
    records = []
    for n in range(count):
        order = {
            "order_id": f"o-{n}",
            "customer_id": f"c-{n % 97}",
            "currency": "EUR",
            "lines": [
                {"sku": "SKU-1", "quantity": 2, "unit_price": "19.99"},
                {"sku": f"SKU-{n % 13}", "quantity": 1, "unit_price": 5},
            ],
            "total": "44.98",
        }
        envelope = {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": "arn:aws:sns:eu-west-1:123456789012:order-placed",
            "Message": json.dumps(order),
            "Timestamp": "2026-11-22T04:45:47.490Z",
            "SignatureVersion": "1",
        }
        records.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": f"handle-{n}",
                "body": json.dumps(envelope),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1795322747436",
                    "SenderId": "AIDAIT2UOQQY3AUEKVGXU",
                    "ApproximateFirstReceiveTimestamp": "1795322747497",
                },
                "messageAttributes": {},
                "md5OfBody": "0" * 32,
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:billing",
                "awsRegion": "eu-west-1",
            }
        )
    return records


def batch_path(records: list[dict[str, Any]], context: Context) -> float:
    """Seconds to run every record through billing.handler, 10 per invocation."""
    with in_memory_backends() as store:
        started = time.perf_counter()
        for start in range(0, len(records), BATCH_SIZE):
            response = billing.handler({"Records": records[start : start + BATCH_SIZE]}, context)
            if response["batchItemFailures"]:
                raise RuntimeError(f"records failed: {response['batchItemFailures']}")
        elapsed = time.perf_counter() - started
        _check(store, len(records))
    return elapsed


def bare_loop(records: list[dict[str, Any]], context: Context) -> float:
    """Seconds to call billing.record_handler on every record, one after the other."""
    with in_memory_backends() as store:
        consumer.idempotency_config.register_lambda_context(context)
        started = time.perf_counter()
        for record in records:
            billing.record_handler(SQSRecord(record))
        elapsed = time.perf_counter() - started
        _check(store, len(records))
    return elapsed


def _check(store: InMemoryOrdersStore, expected: int) -> None:
    if store.invoices() != expected:
        raise RuntimeError(f"{store.invoices()} invoices issued for {expected} orders")


def throughput() -> tuple[float, float]:
    """Median records per second of the batch path and of the bare loop."""
    records = sqs_records(RECORDS)
    context = Context()
    with open(os.devnull, "w") as devnull:
        billing.logger.registered_handler.setStream(devnull)
        with contextlib.redirect_stdout(devnull):
            batch_path(records[:200], context)  # warm-up: cold-start metric, caches
            bare_loop(records[:200], context)
            batch_times, bare_times = [], []
            for _ in range(REPEATS):
                batch_times.append(batch_path(records, context))
                bare_times.append(bare_loop(records, context))
    return RECORDS / statistics.median(batch_times), RECORDS / statistics.median(bare_times)


def import_ms(statements: dict[str, str]) -> dict[str, float]:
    """Median milliseconds each statement takes in fresh interpreters run in the asset folder.

    The statements take turns, so that noise from the machine falls on all of them alike.
    """
    environment = {**os.environ, **ENVIRONMENT}
    runs: dict[str, list[float]] = {name: [] for name in statements}
    for _ in range(IMPORT_RUNS):
        for name, statement in statements.items():
            code = (
                "import time; started = time.perf_counter(); "
                f"{statement}; print((time.perf_counter() - started) * 1000)"
            )
            result = subprocess.run(
                [sys.executable, "-c", code],
                cwd=SOURCE,
                env=environment,
                capture_output=True,
                text=True,
                check=True,
            )
            runs[name].append(float(result.stdout.strip().splitlines()[-1]))
    return {name: statistics.median(times) for name, times in runs.items()}


THIRD_PARTY_IMPORTS = (
    "import boto3; "
    "from aws_lambda_powertools import Logger, Metrics; "
    "from aws_lambda_powertools.utilities.batch import BatchProcessor; "
    "from aws_lambda_powertools.utilities.idempotency import idempotent_function"
)


def main() -> None:
    batch_rate, bare_rate = throughput()
    ratio = bare_rate / batch_rate
    imports = import_ms(
        {
            "boto3": "import boto3",
            "third party": THIRD_PARTY_IMPORTS,
            "with client": f"{THIRD_PARTY_IMPORTS}; boto3.client('dynamodb')",
            "billing": "import billing",
            "billing + client": "import billing, consumer; consumer.dynamodb_client()",
        }
    )
    billing_ms = imports["billing"]
    rows = [
        ("measurement", "median", "target", ""),
        (f"batch path: handler() on batches of {BATCH_SIZE}", f"{batch_rate:,.0f} records/s"),
        ("bare loop: record_handler() per record", f"{bare_rate:,.0f} records/s"),
        (
            "batch path time / bare loop time",
            f"{ratio:.2f}x",
            f"<= {THROUGHPUT_TARGET:.0f}x",
            "met" if ratio <= THROUGHPUT_TARGET else "MISSED",
        ),
        ("cold import: boto3 alone", f"{imports['boto3']:.0f} ms"),
        ("cold import: boto3 + Powertools modules used", f"{imports['third party']:.0f} ms"),
        ("  ... + creating one DynamoDB client", f"{imports['with client']:.0f} ms"),
        (
            "cold import: billing",
            f"{billing_ms:.0f} ms",
            f"< {IMPORT_TARGET_MS:.0f} ms",
            "met" if billing_ms < IMPORT_TARGET_MS else "MISSED",
        ),
        (
            "  ... + its DynamoDB client (paid by the first record)",
            f"{imports['billing + client']:.0f} ms",
        ),
    ]
    table = [(*row, "", "")[:4] for row in rows]
    widths = [max(len(row[column]) for row in table) for column in range(4)]
    table.insert(1, tuple("-" * width for width in widths))

    python = os.path.relpath(sys.executable, Path.cwd())
    script = os.path.relpath(__file__, Path.cwd())
    print(f"$ {python} {script}")
    print(
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs.\n"
        f"Throughput: {RECORDS:,} distinct orders in SNS envelopes, median of {REPEATS} runs per "
        "side; both sides use an in-memory idempotency\npersistence layer and an in-memory "
        "orders store, swapped in by this script: the framework is measured, not DynamoDB.\n"
        f"Cold imports: median of {IMPORT_RUNS} fresh interpreters in lambda_src/order_consumers."
    )
    for row in table:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print(" | ".join(cells).rstrip())


if __name__ == "__main__":
    main()
