"""Reference architecture: an order topic in one region, a disaster-recovery copy in another."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from constructs import Construct

from constructs_lib import ConsumerQueue, FanoutTopic

PRIMARY_REGION = "us-east-1"
RECOVERY_REGION = "us-west-2"


class OrdersPrimaryStack(Stack):
    """The order topic and its in-region consumer, in the primary region.

    The topic has a physical name (``<stack name>-OrderPlaced``): a stack in another region
    can only reference a resource whose name is known at synth, and CDK then writes its ARN,
    formatted for this stack's region, into that stack's template (no export, no custom
    resource). The fanout's subscription dead-letter queue has a known name too, and serves
    the other region's subscription, which SNS keeps in this region.
    """

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.orders = FanoutTopic(
            self,
            "OrderPlaced",
            topic_name=f"{self.stack_name}-OrderPlaced",
            display_name="Order placed",
        )
        self.fulfilment = self.orders.add_queue_consumer(
            "Fulfilment", visibility_timeout=Duration.minutes(2)
        )


class OrdersRecoveryStack(Stack):
    """A copy of every order in the recovery region, from the primary region's topic.

    ``replica`` is a :class:`ConsumerQueue` in this stack's region subscribed to ``orders``
    across regions: the subscription carries ``Region`` = the topic's region, the queue
    policy and the queue key's policy admit SNS for that topic ARN only, and undeliverable
    messages go to the fanout's subscription dead-letter queue in the topic's region (SNS
    requires the subscription's region), whose alarm is the fanout's. A reference by
    physical name adds no stack dependency, so this stack declares one on ``orders``' stack:
    ``cdk deploy`` creates the topic before the subscription.
    """

    def __init__(self, scope: Construct, id: str, *, orders: FanoutTopic, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.replica = ConsumerQueue(
            self,
            "OrdersReplica",
            topic=orders.topic,
            subscription_dead_letter_queue=orders.subscription_dead_letter_queue,
            retention_period=Duration.days(7),
            max_message_age=Duration.hours(1),
        )
        self.add_stack_dependency(
            Stack.of(orders), "the replica subscribes to the topic that stack creates"
        )
