"""Inventory: reserves the stock of every placed order.

Entry point ``inventory.handler``, fed by the inventory queue (SQS event source mapping with
ReportBatchItemFailures). For each SKU of the order, ``reserved`` of the item
``pk=SKU#<sku>``, ``sk=STOCK`` grows by the quantity ordered, and the item
``pk=ORDER#<order id>``, ``sk=RESERVATION`` records what was reserved.

Adding to a counter is not idempotent by nature, so the work is guarded twice: idempotency
skips an order already processed, and the additions are written in one transaction with the
creation of the reservation item, which must not exist yet. An order is thus reserved once
even when it comes back after its idempotency record has expired, and a failed write leaves
nothing half-reserved for the retry to add to.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import TypedDict

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from consumer import (
    Addition,
    ItemExists,
    logger,
    metrics,
    once_per_order,
    order_of,
    orders_table,
    sqs_batch_handler,
)
from orders import InvalidOrder, Order

MAX_SKUS_PER_ORDER = 99
"""A DynamoDB transaction writes at most 100 items: the reservation and 99 stock items."""


class Reservation(TypedDict):
    order_id: str
    reserved: dict[str, int]
    """Quantity reserved per SKU."""


@once_per_order
def reserve_stock(*, order: Order) -> Reservation:
    reserved = Counter[str]()
    for line in order.lines:
        reserved[line.sku] += line.quantity
    if len(reserved) > MAX_SKUS_PER_ORDER:
        raise InvalidOrder(
            f"the order has {len(reserved)} distinct SKUs; stock is reserved in one "
            f"transaction, for at most {MAX_SKUS_PER_ORDER}"
        )
    reservation: Reservation = {"order_id": order.order_id, "reserved": dict(reserved)}
    try:
        orders_table.write_together(
            new_item={
                "pk": order.pk,
                "sk": "RESERVATION",
                "order_id": order.order_id,
                "reserved": reservation["reserved"],
                "reserved_at": datetime.now(UTC).isoformat(),
            },
            additions=[
                Addition(f"SKU#{sku}", "STOCK", "reserved", quantity)
                for sku, quantity in reserved.items()
            ],
        )
    except ItemExists:
        logger.warning(
            "Stock for this order was reserved by an earlier delivery whose idempotency "
            "record has expired; nothing is reserved again"
        )
        metrics.add_metric(name="DuplicateOrdersSkipped", unit=MetricUnit.Count, value=1)
        return _existing_reservation(order)
    metrics.add_metric(name="StockReserved", unit=MetricUnit.Count, value=1)
    logger.info("Stock reserved", extra={"reserved": reservation["reserved"]})
    return reservation


def _existing_reservation(order: Order) -> Reservation:
    item = orders_table.get(order.pk, "RESERVATION")
    if item is None:
        raise RuntimeError(f"the reservation of {order.order_id} exists but cannot be read")
    reserved = {sku: int(quantity) for sku, quantity in item["reserved"].items()}
    return {"order_id": order.order_id, "reserved": reserved}


def record_handler(record: SQSRecord) -> Reservation:
    with order_of(record) as order:
        return reserve_stock(order=order)


handler = sqs_batch_handler(record_handler)
