"""Shipping: creates one shipment per placed order.

Entry point ``shipping.handler``, fed by the shipping queue (SQS event source mapping with
ReportBatchItemFailures). Each order gets an item ``pk=ORDER#<order id>``,
``sk=SHIPMENT#<shipment id>`` listing what to ship; idempotency keeps a duplicate delivery
from creating a second shipment.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypedDict
from uuid import uuid4

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from consumer import idempotency_config, logger, metrics, once_per_order, order_of, orders_table
from orders import Order

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class Shipment(TypedDict):
    order_id: str
    shipment_id: str


@once_per_order
def create_shipment(*, order: Order) -> Shipment:
    shipment_id = str(uuid4())
    orders_table.put(
        {
            "pk": order.pk,
            "sk": f"SHIPMENT#{shipment_id}",
            "shipment_id": shipment_id,
            "order_id": order.order_id,
            "customer_id": order.customer_id,
            "lines": [{"sku": line.sku, "quantity": line.quantity} for line in order.lines],
            "created_at": datetime.now(UTC).isoformat(),
        }
    )
    metrics.add_metric(name="ShipmentsCreated", unit=MetricUnit.Count, value=1)
    logger.info("Shipment created", extra={"shipment_id": shipment_id})
    return {"order_id": order.order_id, "shipment_id": shipment_id}


def record_handler(record: SQSRecord) -> Shipment:
    with order_of(record) as order:
        return create_shipment(order=order)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency_config.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
