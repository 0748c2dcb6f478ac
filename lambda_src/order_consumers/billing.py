"""Billing: issues one invoice per placed order.

Entry point ``billing.handler``, fed by the billing queue (SQS event source mapping with
ReportBatchItemFailures). Each order gets an item ``pk=ORDER#<order id>``,
``sk=INVOICE#<invoice id>`` in the orders table. The invoice id is new each time the work
runs, so only idempotency stands between a duplicate delivery and a second invoice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypedDict
from uuid import uuid4

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from consumer import logger, metrics, once_per_order, order_of, orders_table, sqs_batch_handler
from orders import Order


class Invoice(TypedDict):
    order_id: str
    invoice_id: str


@once_per_order
def issue_invoice(*, order: Order) -> Invoice:
    invoice_id = str(uuid4())
    orders_table.put(
        {
            "pk": order.pk,
            "sk": f"INVOICE#{invoice_id}",
            "invoice_id": invoice_id,
            "order_id": order.order_id,
            "customer_id": order.customer_id,
            "amount": order.total,
            "currency": order.currency,
            "issued_at": datetime.now(UTC).isoformat(),
        }
    )
    metrics.add_metric(name="InvoicesIssued", unit=MetricUnit.Count, value=1)
    logger.info("Invoice issued", extra={"invoice_id": invoice_id})
    return {"order_id": order.order_id, "invoice_id": invoice_id}


def record_handler(record: SQSRecord) -> Invoice:
    with order_of(record) as order:
        return issue_invoice(order=order)


handler = sqs_batch_handler(record_handler)
