"""The order fanout reference stack: who receives what, and what each consumer costs."""

from __future__ import annotations

from collections import Counter

import pytest
from helpers import Tmpl, new_app, ref_or_arn

from stacks import OrderFanoutStack

CONSUMERS = ["Billing", "Shipping", "Inventory", "Analytics", "CustomerNotifications"]


@pytest.fixture(scope="module")
def stack() -> OrderFanoutStack:
    return OrderFanoutStack(new_app(), "OrderFanout")


@pytest.fixture(scope="module")
def t(stack: OrderFanoutStack) -> Tmpl:
    return Tmpl(stack)


def test_five_teams_subscribe_to_the_order_placed_topic(stack: OrderFanoutStack, t: Tmpl) -> None:
    assert list(stack.orders.consumers) == CONSUMERS
    topic = {"Ref": t.logical_id(stack.orders.topic)}
    for consumer in stack.orders.consumers.values():
        sub = t.props(consumer.subscription)
        assert sub["TopicArn"] == topic
        assert sub["Protocol"] == "sqs"
        assert sub["Endpoint"] in ref_or_arn(t.logical_id(consumer.queue))


@pytest.mark.parametrize("team", ["Billing", "Shipping", "Inventory"])
def test_core_teams_get_every_order_in_the_sns_envelope(
    stack: OrderFanoutStack, t: Tmpl, team: str
) -> None:
    sub = t.props(stack.orders.consumers[team].subscription)
    assert "FilterPolicy" not in sub
    assert sub.get("RawMessageDelivery", False) is False


def test_analytics_gets_only_high_value_orders_as_raw_json(
    stack: OrderFanoutStack, t: Tmpl
) -> None:
    sub = t.props(stack.analytics.subscription)
    assert sub["FilterPolicyScope"] == "MessageBody"
    assert sub["FilterPolicy"] == {"total": [{"numeric": [">=", 1000]}]}
    assert sub["RawMessageDelivery"] is True


def test_customer_notifications_filter_on_the_contact_attribute(
    stack: OrderFanoutStack, t: Tmpl
) -> None:
    sub = t.props(stack.notifications.subscription)
    assert sub["FilterPolicy"] == {"customer_contact": ["email", "sms", "push"]}
    assert "FilterPolicyScope" not in sub


def test_billing_queue_gives_handlers_two_minutes(stack: OrderFanoutStack, t: Tmpl) -> None:
    assert t.props(stack.billing.queue)["VisibilityTimeout"] == 120


def test_each_consumer_costs_seven_resources(stack: OrderFanoutStack, t: Tmpl) -> None:
    """Queue, dead-letter queue, a TLS/SNS policy on each, subscription and two alarms."""
    paths = {
        lid: t.stack.resolve(child.node.path)
        for child in stack.node.find_all()
        if hasattr(child, "cfn_resource_type")
        for lid in [t.stack.resolve(child.logical_id)]
    }
    for team in CONSUMERS:
        prefix = f"OrderFanout/OrderPlaced/{team}/"
        kinds = Counter(
            t.resources[lid]["Type"] for lid, p in paths.items() if p.startswith(prefix)
        )
        assert kinds == {
            "AWS::SQS::Queue": 2,
            "AWS::SQS::QueuePolicy": 2,
            "AWS::SNS::Subscription": 1,
            "AWS::CloudWatch::Alarm": 2,
        }, team


def test_the_whole_fanout_uses_two_kms_keys(t: Tmpl) -> None:
    assert len(t.of_type("AWS::KMS::Key")) == 2
