"""Reference architecture: an "order placed" event fanned out to five consumer teams."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnParameter, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from constructs_lib import FanoutTopic

HIGH_VALUE_ORDER_TOTAL = 1000
ORDER_CONSUMERS_CODE = Path(__file__).resolve().parent.parent / "lambda_src" / "order_consumers"
PARTNER_WEBHOOK_PARAMETER = "PartnerWebhookUrl"
ON_CALL_EMAIL_PARAMETER = "OnCallEmail"


class OrderFanoutStack(Stack):
    """Publishes each placed order once; every interested team gets its own queue.

    * billing, shipping and inventory receive every order (SNS envelope) and process it in
      Lambda functions (``lambda_src/order_consumers``) that report failures per record and
      do their work once per order id (idempotency records in ``idempotency_table``; the
      invoices, shipments and stock reservations they write in ``orders_table``);
    * analytics receives only high-value orders (a filter on the message body's ``total``)
      as the bare JSON body (raw delivery), for a consumer outside this stack;
    * customer notifications receive only orders whose ``customer_contact`` message
      attribute says how to reach the customer;
    * a partner's HTTPS webhook receives every order as its bare JSON body, with retries
      spread over ten minutes and a throttle;
    * every alarm of the fanout (dead letters, message age, undelivered messages) goes to an
      ``Alerts`` topic that emails the on-call address.

    ``partner_webhook_url`` and ``on_call_email`` default to the stack parameters
    ``PartnerWebhookUrl`` (an ``https://`` URL) and ``OnCallEmail``, which CloudFormation checks
    against a pattern at deploy time; pass literal values to have them checked at synth.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        partner_webhook_url: str | None = None,
        on_call_email: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.alerts = FanoutTopic(self, "Alerts", display_name="Order fanout alerts")
        self.on_call = self.alerts.add_email_subscriber(
            "OnCall",
            address=on_call_email
            or CfnParameter(
                self,
                ON_CALL_EMAIL_PARAMETER,
                description="Email address of the on-call engineer, who gets every alarm of "
                "the order fanout (confirm the subscription from the email SNS sends)",
                allowed_pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                constraint_description="must be an email address",
            ).value_as_string,
        )
        self.orders = FanoutTopic(
            self, "OrderPlaced", display_name="Order placed", alarm_topic=self.alerts.topic
        )

        self.orders_table = dynamodb.TableV2(
            self,
            "OrdersTable",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
        )
        self.idempotency_table = dynamodb.TableV2(
            self,
            "IdempotencyTable",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute="expiration",
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
        )
        code = lambda_.Code.from_asset(str(ORDER_CONSUMERS_CODE))
        environment = {
            "ORDERS_TABLE_NAME": self.orders_table.table_name,
            "IDEMPOTENCY_TABLE_NAME": self.idempotency_table.table_name,
            "POWERTOOLS_METRICS_NAMESPACE": "OrderFanout",
        }
        self.billing = self.orders.add_lambda_consumer(
            "Billing", code=code, handler="billing.handler", environment=environment
        )
        self.shipping = self.orders.add_lambda_consumer(
            "Shipping", code=code, handler="shipping.handler", environment=environment
        )
        self.inventory = self.orders.add_lambda_consumer(
            "Inventory", code=code, handler="inventory.handler", environment=environment
        )
        for consumer in (self.billing, self.shipping, self.inventory):
            self.idempotency_table.grant(
                consumer.function,
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
            )
        self.orders_table.grant(self.billing.function, "dynamodb:PutItem")
        self.orders_table.grant(self.shipping.function, "dynamodb:PutItem")
        # Inventory reserves stock in one transaction and reads back a reservation made by an
        # earlier delivery (see lambda_src/order_consumers/inventory.py).
        self.orders_table.grant(
            self.inventory.function, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"
        )

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
        self.partner = self.orders.add_http_subscriber(
            "PartnerWebhook",
            url=partner_webhook_url
            or CfnParameter(
                self,
                PARTNER_WEBHOOK_PARAMETER,
                description="The partner's HTTPS endpoint for placed orders; it must confirm "
                "the subscription SNS sends it before it gets any order",
                allowed_pattern=r"^https://[^\s/$.?#][^\s]*$",
                constraint_description="must be an https:// URL",
            ).value_as_string,
            raw_message_delivery=True,
            delivery_policy=sns.DeliveryPolicy(
                healthy_retry_policy=sns.HealthyRetryPolicy(
                    num_retries=20,
                    min_delay_target=Duration.seconds(10),
                    max_delay_target=Duration.seconds(60),
                    backoff_function=sns.BackoffFunction.EXPONENTIAL,
                ),
                throttle_policy=sns.ThrottlePolicy(max_receives_per_second=50),
            ),
        )
