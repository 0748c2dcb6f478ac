"""Shipping: creates one shipment per placed order.

Entry point ``shipping.handler``, fed by the shipping queue (SQS event source mapping with
ReportBatchItemFailures). Each order gets an item ``pk=ORDER#<order id>``,
``sk=SHIPMENT#<shipment id>`` listing what to ship; idempotency keeps a duplicate delivery
from creating a second shipment.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypedDict
from uuid import uuid4

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from consumer import logger, metrics, once_per_order, order_of, orders_table, sqs_batch_handler
from orders import Order


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


handler = sqs_batch_handler(record_handler)
