"""A deployed fanout seen from outside: its topic, and per consumer its queues and subscription.

Everything is found through the construct paths CDK writes into the template
(``aws:cdk:path``), so scenarios name consumers as the stack does (``"Billing"``) and never
rely on generated logical ids or physical names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .harness import DeployedStack


@dataclass(frozen=True)
class Consumer:
    """One consumer of the fanout, as deployed."""

    id: str
    queue: str
    dead_letter_queue: str
    subscription: str
    deployed: DeployedStack

    @property
    def queue_url(self) -> str:
        return self.deployed.queue_url(self.queue)

    @property
    def dead_letter_queue_url(self) -> str:
        return self.deployed.queue_url(self.dead_letter_queue)

    @property
    def raw(self) -> bool:
        props = self.deployed.resources[self.subscription]["Properties"]
        return bool(props.get("RawMessageDelivery", False))

    @property
    def max_receive_count(self) -> int:
        props = self.deployed.resources[self.queue]["Properties"]
        return int(props["RedrivePolicy"]["maxReceiveCount"])


class DeployedFanout:
    """The ``FanoutTopic`` at ``path`` (e.g. ``"OrderFanout/OrderPlaced"``) in a deployed stack."""

    def __init__(self, deployed: DeployedStack, path: str) -> None:
        self.deployed = deployed
        self.path = path
        self.topic_arn = deployed.physical_id(deployed.logical_id_at(f"{path}/Topic/Resource"))
        self.consumers: dict[str, Consumer] = {}
        # The fanout's own stack, then its nested consumer stacks (Consumers2, ...).
        holders = [(deployed, path)] + [
            (child, nested_path)
            for nested_path, child in deployed.nested.items()
            if nested_path.startswith(f"{path}/")
        ]
        for holder, holder_path in holders:
            prefix = f"{holder_path}/"
            for lid, resource in holder.of_type("AWS::SNS::Subscription").items():
                subscription_path = resource.get("Metadata", {}).get("aws:cdk:path", "")
                if not subscription_path.startswith(prefix):
                    continue  # another fanout's consumer in the same stack
                if resource.get("Properties", {}).get("Protocol") != "sqs":
                    continue  # a subscriber other than a queue (webhook, email, ...)
                consumer_id = subscription_path.removeprefix(prefix).split("/")[0]
                base = f"{holder_path}/{consumer_id}"
                self.consumers[consumer_id] = Consumer(
                    id=consumer_id,
                    queue=holder.logical_id_at(f"{base}/Queue/Resource"),
                    dead_letter_queue=holder.logical_id_at(f"{base}/DeadLetterQueue/Resource"),
                    subscription=lid,
                    deployed=holder,
                )
        # Created with the first consumer: a fanout without consumers has none.
        self.subscription_dead_letter_queue_url = (
            deployed.queue_url(
                deployed.logical_id_at(f"{path}/SubscriptionDeadLetterQueue/Resource")
            )
            if self.consumers
            else None
        )
        self.sns = deployed.client("sns")
        self.sqs = deployed.client("sqs")

    def publish(
        self,
        message: str | Mapping[str, Any],
        *,
        attributes: Mapping[str, str] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
    ) -> str:
        """Publish ``message`` (JSON-encoded unless a string) with string attributes."""
        request: dict[str, Any] = {
            "TopicArn": self.topic_arn,
            "Message": message if isinstance(message, str) else json.dumps(message),
            "MessageAttributes": {
                name: {"DataType": "String", "StringValue": value}
                for name, value in (attributes or {}).items()
            },
        }
        if group_id is not None:
            request["MessageGroupId"] = group_id
        if deduplication_id is not None:
            request["MessageDeduplicationId"] = deduplication_id
        message_id: str = self.sns.publish(**request)["MessageId"]
        return message_id

    def receive_all(
        self, queue_url: str, *, visibility_timeout: int = 300, delete: bool = True
    ) -> list[dict[str, Any]]:
        """:func:`receive_all` on one of this fanout's queues."""
        return receive_all(
            self.sqs, queue_url, visibility_timeout=visibility_timeout, delete=delete
        )

    def depth(self, queue_url: str) -> int:
        """Messages in the queue, visible or in flight."""
        return sum(queue_counts(self.sqs, queue_url))

    def empty(self) -> None:
        """Delete every visible message of the fanout's queues (consumer queues, their DLQs,
        the undelivered DLQ). ``PurgeQueue`` is allowed once a minute per queue, too seldom
        for a test per scenario."""
        urls = [u for u in (self.subscription_dead_letter_queue_url,) if u is not None]
        for consumer in self.consumers.values():
            urls += [consumer.queue_url, consumer.dead_letter_queue_url]
        for url in urls:
            self.receive_all(url)


IN_QUEUE = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
"""The counts of a queue's messages that are visible, and in flight."""


def queue_counts(sqs: Any, queue_url: str, attributes: Sequence[str] = IN_QUEUE) -> list[int]:
    """The queue's approximate message counts named by ``attributes`` (by default: visible,
    then in flight), in that order."""
    counts = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=list(attributes))
    return [int(counts["Attributes"][name]) for name in attributes]


def receive_all(
    sqs: Any, queue_url: str, *, visibility_timeout: int = 300, delete: bool = True
) -> list[dict[str, Any]]:
    """Every message now visible in the queue, each received once.

    Received messages are deleted (a consumer that processed them), unless ``delete`` is
    False: then they come back after ``visibility_timeout`` seconds. Each receive is a short
    poll (``WaitTimeSeconds=0``): a consumer queue long-polls by default, and the last,
    empty receive would otherwise wait its ``receive_message_wait_time``.
    """
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=visibility_timeout,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return messages
        messages += batch
        if delete:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)
                ],
            )
        elif visibility_timeout == 0:
            return messages  # the same messages would come straight back


def published_body(message: Mapping[str, Any], *, raw: bool) -> Any:
    """What a consumer's queue message carries of the published message: body or envelope."""
    body = json.loads(message["Body"]) if message["Body"].startswith(("{", "[")) else None
    if raw:
        return body if body is not None else message["Body"]
    assert body is not None and body.get("Type") == "Notification", message["Body"]
    inner = body["Message"]
    return json.loads(inner) if inner.startswith(("{", "[")) else inner
