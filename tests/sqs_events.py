"""Lambda SQS events built from messages really received from SQS, and what goes with them.

``OrderFanout`` stands up, on moto, the fanout the consumers sit behind: an SNS topic with two
subscribed SQS queues, one receiving the SNS envelope and one with raw message delivery.
Orders published to the topic are received from a queue with every attribute and turned into
the event Lambda's SQS event source mapping would pass to the handler. ``poison_record``
makes by hand the records no publisher should send.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import uuid4

from constructs_lib.testing.events import lambda_record

Delivery = Literal["envelope", "raw"]


def an_order(order_id: str = "o-123", **changes: Any) -> dict[str, Any]:
    """The JSON of a valid order (two of SKU-1 at 19.99), with ``changes`` applied."""
    order = {
        "order_id": order_id,
        "customer_id": "c-9",
        "currency": "EUR",
        "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price": "19.99"}],
        "total": "39.98",
    }
    return {**order, **changes}


@dataclass
class LambdaContext:
    """The parts of Lambda's context object that Powertools reads."""

    function_name: str = "order-consumer"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:order-consumer"
    aws_request_id: str = field(default_factory=lambda: str(uuid4()))
    remaining_time_in_millis: int = 120_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_time_in_millis


@dataclass(frozen=True)
class Queue:
    url: str
    arn: str


class OrderFanout:
    """A new SNS topic fanning out to an enveloped queue and a raw-delivery queue.

    ``sns`` and ``sqs`` are clients of the (emulated) account; names are made unique, so each
    fanout starts with empty queues.
    """

    def __init__(self, sns: Any, sqs: Any, region: str) -> None:
        self.sns = sns
        self.sqs = sqs
        self.region = region
        suffix = uuid4().hex[:12]
        self.topic_arn = self.sns.create_topic(Name=f"order-placed-{suffix}")["TopicArn"]
        self.queues = {
            "envelope": self._subscribed_queue(f"orders-envelope-{suffix}", raw=False),
            "raw": self._subscribed_queue(f"orders-raw-{suffix}", raw=True),
        }

    def _subscribed_queue(self, name: str, *, raw: bool) -> Queue:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.sns.subscribe(
            TopicArn=self.topic_arn,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "true" if raw else "false"},
        )
        return Queue(url, arn)

    def publish(self, order: Mapping[str, Any]) -> str:
        """Publishes an order as the order service does; returns the SNS message id."""
        return self.sns.publish(
            TopicArn=self.topic_arn,
            Message=json.dumps(order),
            MessageAttributes={
                "customer_contact": {"DataType": "String", "StringValue": "email"},
                "line_count": {"DataType": "Number", "StringValue": str(len(order["lines"]))},
            },
        )["MessageId"]

    def receive(self, delivery: Delivery) -> list[dict[str, Any]]:
        """Lambda records of every message now visible on a queue, at most 10 (one batch)."""
        queue = self.queues[delivery]
        messages = self.sqs.receive_message(
            QueueUrl=queue.url,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            MaxNumberOfMessages=10,
        ).get("Messages", [])
        return [lambda_record(message, queue.arn, self.region) for message in messages]

    def make_visible_again(self, delivery: Delivery, records: Sequence[Mapping[str, Any]]) -> None:
        """What happens when a handler times out: the messages are delivered again."""
        for record in records:
            self.sqs.change_message_visibility(
                QueueUrl=self.queues[delivery].url,
                ReceiptHandle=record["receiptHandle"],
                VisibilityTimeout=0,
            )


def poison_record(
    body: str, queue_arn: str, region: str, *, receive_count: int = 1
) -> dict[str, Any]:
    """A record no publisher should send, as Lambda would hand it over."""
    return {
        "messageId": str(uuid4()),
        "receiptHandle": f"poison-{uuid4()}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": "1795322747436",
            "SenderId": "AIDAIT2UOQQY3AUEKVGXU",
            "ApproximateFirstReceiveTimestamp": "1795322747497",
        },
        "messageAttributes": {},
        "md5OfMessageAttributes": None,
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


POISON_BODIES = {
    "not JSON": "order o-1: 2 x SKU-1",
    "JSON but not an order": json.dumps(["o-1", "c-9", "EUR"]),
    "total mismatch": json.dumps(an_order("o-bad-total", total="40.00")),
    "envelope with garbage Message": json.dumps(
        {
            "Type": "Notification",
            "MessageId": str(uuid4()),
            "TopicArn": "arn:aws:sns:eu-west-1:123456789012:order-placed",
            "Message": "<order id='o-1'/>",
        }
    ),
}
"""Bodies of records that can never be processed, by what is wrong with them."""
