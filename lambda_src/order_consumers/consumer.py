"""What the billing, shipping and inventory consumers share.

Each consumer is a Lambda function fed by its own SQS queue with ReportBatchItemFailures on;
this module is their common wiring, built once per execution environment:

* ``settings``, read from the environment the CDK stack sets;
* Powertools ``logger`` (structured JSON) and ``metrics`` (CloudWatch EMF);
* ``orders_table``, the orders table through one DynamoDB client, created on first use
  (creating it loads the DynamoDB service model, about 100 ms, which the first record pays
  instead of every import);
* ``once_per_order``, which makes a function of ``order=`` run once per order id
  (Powertools idempotency on the idempotency table), so a message delivered twice does the
  work once;
* ``order_of``, which turns a record into an ``Order`` and reports why a record failed;
* ``sqs_batch_handler``, the Lambda entry point around a consumer's ``record_handler``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple, ParamSpec, TypeVar, cast

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from orders import InvalidOrder, Order, parse_order

P = ParamSpec("P")
R = TypeVar("R")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
IDEMPOTENCY_EXPIRY_SECONDS = 24 * 60 * 60
"""How long a completed order is remembered: well past SNS/SQS redelivery and retries."""


class ConfigurationError(RuntimeError):
    """The function's environment lacks a setting the CDK stack is meant to provide."""


@dataclass(frozen=True, slots=True)
class Settings:
    orders_table_name: str
    idempotency_table_name: str
    service_name: str
    metrics_namespace: str
    log_level: str = "INFO"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from environment variables; raises naming every one missing or invalid."""
        names = {
            "orders_table_name": "ORDERS_TABLE_NAME",
            "idempotency_table_name": "IDEMPOTENCY_TABLE_NAME",
            "service_name": "POWERTOOLS_SERVICE_NAME",
            "metrics_namespace": "POWERTOOLS_METRICS_NAMESPACE",
        }
        problems = [f"{name} is not set" for name in names.values() if not environ.get(name)]
        log_level = environ.get("LOG_LEVEL", "INFO").upper()
        if log_level not in LOG_LEVELS:
            problems.append(
                f"LOG_LEVEL is {environ['LOG_LEVEL']!r}; expected one of {', '.join(LOG_LEVELS)}"
            )
        if problems:
            raise ConfigurationError("the order consumer cannot start: " + "; ".join(problems))
        return cls(**{field: environ[name] for field, name in names.items()}, log_level=log_level)


class ItemExists(Exception):
    """A write meant to create an item found it already there."""


class Addition(NamedTuple):
    """``amount`` added to the number ``attribute`` of the item ``pk``/``sk``."""

    pk: str
    sk: str
    attribute: str
    amount: int


class OrdersTable:
    """The orders table: partition key ``pk`` and sort key ``sk``, both strings.

    Items are plain dicts of Python values (``str``, ``int``, ``Decimal``, lists, dicts).
    """

    def __init__(self, client: Callable[[], Any], name: str) -> None:
        """``client`` returns the boto3 DynamoDB client to use (called on each request)."""
        self._client = client
        self.name = name
        self._serializer = TypeSerializer()
        self._deserializer = TypeDeserializer()

    def put(self, item: Mapping[str, object]) -> None:
        self._client().put_item(TableName=self.name, Item=self._to_dynamodb(item))

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self._client().get_item(
            TableName=self.name, Key=self._to_dynamodb({"pk": pk, "sk": sk}), ConsistentRead=True
        )
        item = response.get("Item")
        return None if item is None else self._from_dynamodb(item)

    def write_together(
        self, *, new_item: Mapping[str, object], additions: Sequence[Addition]
    ) -> None:
        """Creates ``new_item`` and makes the additions, all or nothing (one transaction).

        Raises ``ItemExists``, and writes nothing, when ``new_item`` already exists.
        """
        actions: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.name,
                    "Item": self._to_dynamodb(new_item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        actions += [
            {
                "Update": {
                    "TableName": self.name,
                    "Key": self._to_dynamodb({"pk": pk, "sk": sk}),
                    "UpdateExpression": "ADD #counter :amount",
                    "ExpressionAttributeNames": {"#counter": attribute},
                    "ExpressionAttributeValues": {":amount": {"N": str(amount)}},
                }
            }
            for pk, sk, attribute, amount in additions
        ]
        try:
            self._client().transact_write_items(TransactItems=actions)
        except ClientError as error:
            reasons = error.response.get("CancellationReasons", [])
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                raise ItemExists(f"{new_item['pk']} {new_item['sk']} already exists") from error
            raise

    def _to_dynamodb(self, item: Mapping[str, object]) -> dict[str, Any]:
        return {key: self._serializer.serialize(value) for key, value in item.items()}

    def _from_dynamodb(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {key: self._deserializer.deserialize(value) for key, value in item.items()}


settings = Settings.from_environ(os.environ)
logger = Logger(service=settings.service_name, level=settings.log_level)
metrics = Metrics(namespace=settings.metrics_namespace, service=settings.service_name)


@functools.cache
def dynamodb_client() -> Any:
    """The one DynamoDB client of this execution environment, created on first use."""
    return boto3.client("dynamodb")


orders_table = OrdersTable(dynamodb_client, settings.orders_table_name)


def _on_replay(response: Any, idempotent_data: DataRecord) -> Any:
    """Called instead of the work when the order was already processed."""
    logger.info(
        "Order already processed: this delivery is a duplicate, so the work is skipped and "
        "the earlier result returned",
        extra={"idempotency_key": idempotent_data.idempotency_key},
    )
    metrics.add_metric(name="DuplicateOrdersSkipped", unit=MetricUnit.Count, value=1)
    return response


@functools.cache
def idempotency_store() -> DynamoDBPersistenceLayer:
    """Powertools' persistence layer on the idempotency table, sharing the client."""
    return DynamoDBPersistenceLayer(
        table_name=settings.idempotency_table_name, boto3_client=dynamodb_client()
    )


idempotency_config = IdempotencyConfig(
    event_key_jmespath="order_id",
    # The same order id with different content is a publisher bug: fail, do not replay.
    payload_validation_jmespath="[customer_id, currency, total, lines]",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=IDEMPOTENCY_EXPIRY_SECONDS,
    response_hook=_on_replay,
)


def once_per_order(work: Callable[P, R]) -> Callable[P, R]:
    """``work(order=...)`` done at most once per order id; later calls return its result.

    A call that raises leaves no record, so the order is worked on again when retried. The
    result is stored as JSON: return only JSON values (str, int, lists, dicts).
    Call ``idempotency_config.register_lambda_context(context)`` in the handler.
    """

    @functools.cache
    def guarded() -> Callable[P, R]:
        once = idempotent_function(
            work,
            data_keyword_argument="order",
            persistence_store=idempotency_store(),
            config=idempotency_config,
        )
        return cast("Callable[P, R]", once)

    @functools.wraps(work)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        return guarded()(*args, **kwargs)

    return call


@contextmanager
def order_of(record: SQSRecord) -> Iterator[Order]:
    """The record's order, for the work in the ``with`` block; says why a record failed.

    Every log line inside carries the record's message id and the order id. A record that
    fails is logged once, with why, and the exception propagates so that the batch processor
    reports that record alone as a batch item failure:

    * ``InvalidOrder`` (not JSON, not an order, a broken rule) will fail on every delivery:
      the record goes to the dead-letter queue once it has been received as many times as
      the queue's redrive policy allows (maxReceiveCount);
    * anything else is unexpected and logged with its traceback; the record is retried.
    """
    receive_count = _receive_count(record)
    logger.append_keys(message_id=record.message_id)
    try:
        order = parse_order(record.body)
        logger.append_keys(order_id=order.order_id)
        yield order
    except InvalidOrder as error:
        logger.error(
            "Invalid order, not processed: %s. The record is reported as a batch item failure "
            "and moves to the dead-letter queue after the queue's maxReceiveCount receives.",
            error.reason,
            extra={
                "reason": error.reason,
                "approximate_receive_count": receive_count,
                "outcome": "dead-lettered after maxReceiveCount",
            },
        )
        metrics.add_metric(name="InvalidOrders", unit=MetricUnit.Count, value=1)
        raise
    except Exception as error:
        logger.exception(
            "Order processing failed unexpectedly (%s). The record is reported as a batch item "
            "failure and retried; it moves to the dead-letter queue after the queue's "
            "maxReceiveCount receives.",
            type(error).__name__,
            extra={
                "approximate_receive_count": receive_count,
                "outcome": "retried",
            },
        )
        metrics.add_metric(name="OrderProcessingErrors", unit=MetricUnit.Count, value=1)
        raise
    finally:
        logger.remove_keys(["message_id", "order_id"])


def _receive_count(record: SQSRecord) -> int | None:
    """How many times SQS has handed out the record, this delivery included."""
    count = record.attributes.get("ApproximateReceiveCount")
    return int(count) if isinstance(count, str) and count.isdigit() else None


def sqs_batch_handler(
    record_handler: Callable[[SQSRecord], object],
) -> Callable[[dict[str, Any], LambdaContext], PartialItemFailureResponse]:
    """The Lambda entry point of a consumer: partial batch responses around ``record_handler``.

    Each record is handled on its own; the ones that raise are reported in
    ``batchItemFailures`` (a batch in which every record fails is answered the same way,
    not with an error), so only they are retried and, after the queue's maxReceiveCount,
    dead-lettered. Logs carry the Lambda context; metrics are flushed per invocation.
    """
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    @logger.inject_lambda_context
    @metrics.log_metrics(capture_cold_start_metric=True)
    def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        idempotency_config.register_lambda_context(context)
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    # The Powertools decorators are untyped; the signature above is what they return.
    return cast("Callable[[dict[str, Any], LambdaContext], PartialItemFailureResponse]", handler)
