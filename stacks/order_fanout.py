"""Reference architecture: an "order placed" event fanned out to five consumer teams."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_sns as sns
from constructs import Construct

from constructs_lib import FanoutTopic

HIGH_VALUE_ORDER_TOTAL = 1000


class OrderFanoutStack(Stack):
    """Publishes each placed order once; every interested team gets its own queue.

    * billing, shipping and inventory receive every order (SNS envelope);
    * analytics receives only high-value orders (a filter on the message body's ``total``)
      as the bare JSON body (raw delivery);
    * customer notifications receive only orders whose ``customer_contact`` message
      attribute says how to reach the customer.
    """

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.orders = FanoutTopic(self, "OrderPlaced", display_name="Order placed")
        self.billing = self.orders.add_queue_consumer(
            "Billing", visibility_timeout=Duration.minutes(2)
        )
        self.shipping = self.orders.add_queue_consumer("Shipping")
        self.inventory = self.orders.add_queue_consumer("Inventory")
        self.analytics = self.orders.add_queue_consumer(
            "Analytics",
            raw_message_delivery=True,
            filter_policy_with_message_body={
                "total": sns.FilterOrPolicy.filter(
                    sns.SubscriptionFilter.numeric_filter(
                        greater_than_or_equal_to=HIGH_VALUE_ORDER_TOTAL
                    )
                )
            },
            max_message_age=Duration.hours(1),
        )
        self.notifications = self.orders.add_queue_consumer(
            "CustomerNotifications",
            filter_policy={
                "customer_contact": sns.SubscriptionFilter.string_filter(
                    allowlist=["email", "sms", "push"]
                )
            },
        )
