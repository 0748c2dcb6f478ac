"""The order fanout reference stack: who receives what, and what each consumer costs."""

from __future__ import annotations

from collections import Counter

import pytest
from helpers import Tmpl, new_app, ref_or_arn

from constructs_lib import FanoutConfigurationError
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


@pytest.mark.parametrize("team", ["Billing", "Shipping", "Inventory"])
def test_core_teams_process_orders_in_lambda_with_partial_batch_failures(
    stack: OrderFanoutStack, t: Tmpl, team: str
) -> None:
    consumer = getattr(stack, team.lower())
    mapping = t.props(consumer.event_source_mapping)
    queue_lid = t.logical_id(stack.orders.consumers[team].queue)
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [queue_lid, "Arn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    function = t.props(consumer.function)
    assert function["Handler"] == f"{team.lower()}.handler"
    assert t.props(queue_lid)["VisibilityTimeout"] >= 6 * function["Timeout"]


@pytest.mark.parametrize("team", ["Billing", "Shipping", "Inventory"])
def test_handlers_find_their_tables_and_may_use_only_what_they_need(
    stack: OrderFanoutStack, t: Tmpl, team: str
) -> None:
    consumer = getattr(stack, team.lower())
    variables = t.props(consumer.function)["Environment"]["Variables"]
    orders_lid = t.logical_id(stack.orders_table)
    idempotency_lid = t.logical_id(stack.idempotency_table)
    assert variables["ORDERS_TABLE_NAME"] == {"Ref": orders_lid}
    assert variables["IDEMPOTENCY_TABLE_NAME"] == {"Ref": idempotency_lid}
    role_lid = t.logical_id(consumer.role)
    grants = {
        s["Resource"]["Fn::GetAtt"][0]: sorted(_as_list(s["Action"]))
        for p in t.of_type("AWS::IAM::Policy").values()
        if {"Ref": role_lid} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "dynamodb:" in str(s["Action"])
    }
    writes = ["dynamodb:PutItem"]
    if team == "Inventory":
        writes = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    assert grants == {
        idempotency_lid: [
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ],
        orders_lid: writes,
    }


def _as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


def test_idempotency_records_expire_and_tables_can_be_restored(
    stack: OrderFanoutStack, t: Tmpl
) -> None:
    idempotency = t.props(stack.idempotency_table)
    assert idempotency["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert idempotency["TimeToLiveSpecification"] == {
        "AttributeName": "expiration",
        "Enabled": True,
    }
    for table in (stack.idempotency_table, stack.orders_table):
        replica = t.props(table)["Replicas"][0]
        assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def _resource_kinds(stack: OrderFanoutStack, t: Tmpl, prefix: str) -> Counter[str]:
    paths = {
        t.stack.resolve(child.logical_id): child.node.path
        for child in stack.node.find_all()
        if hasattr(child, "cfn_resource_type")
    }
    return Counter(t.resources[lid]["Type"] for lid, p in paths.items() if p.startswith(prefix))


QUEUE_CONSUMER_RESOURCES = {
    "AWS::SQS::Queue": 2,
    "AWS::SQS::QueuePolicy": 2,
    "AWS::SNS::Subscription": 1,
}


@pytest.mark.parametrize("team", ["Analytics", "CustomerNotifications"])
def test_a_queue_consumer_costs_five_resources(stack: OrderFanoutStack, t: Tmpl, team: str) -> None:
    """Queue, dead-letter queue, a TLS/SNS policy on each, subscription; its alarms are the
    fanout's."""
    kinds = _resource_kinds(stack, t, f"OrderFanout/OrderPlaced/{team}/")
    assert kinds == QUEUE_CONSUMER_RESOURCES


def test_a_lambda_consumer_adds_seven_more(stack: OrderFanoutStack, t: Tmpl) -> None:
    """Role, its policy, log group, function, event source mapping and two alarms."""
    kinds = _resource_kinds(stack, t, "OrderFanout/OrderPlaced/Billing/")
    assert kinds - Counter(QUEUE_CONSUMER_RESOURCES) == {
        "AWS::IAM::Role": 1,
        "AWS::IAM::Policy": 1,
        "AWS::Logs::LogGroup": 1,
        "AWS::Lambda::Function": 1,
        "AWS::Lambda::EventSourceMapping": 1,
        "AWS::CloudWatch::Alarm": 2,
    }


def test_the_whole_fanout_uses_two_kms_keys_and_the_alerts_topic_one(
    stack: OrderFanoutStack, t: Tmpl
) -> None:
    keys = {t.logical_id(k) for k in (stack.orders.topic_key, stack.orders.queue_key)}
    assert set(t.of_type("AWS::KMS::Key")) == keys | {t.logical_id(stack.alerts.topic_key)}


def test_the_partner_webhook_gets_every_order_as_raw_json_over_https(
    stack: OrderFanoutStack, t: Tmpl
) -> None:
    sub = t.props(stack.partner.subscription)
    assert sub["TopicArn"] == {"Ref": t.logical_id(stack.orders.topic)}
    assert (sub["Protocol"], sub["RawMessageDelivery"]) == ("https", True)
    assert sub["Endpoint"] == {"Ref": "PartnerWebhookUrl"}
    assert "FilterPolicy" not in sub
    assert sub["DeliveryPolicy"]["healthyRetryPolicy"]["numRetries"] == 20
    assert sub["RedrivePolicy"] == {
        "deadLetterTargetArn": t.arn_of(stack.orders.subscription_dead_letter_queue)
    }
    parameter = t.json["Parameters"]["PartnerWebhookUrl"]
    assert parameter["Type"] == "String"
    assert parameter["AllowedPattern"].startswith("^https://")


def test_every_fanout_alarm_reaches_the_on_call_email(stack: OrderFanoutStack, t: Tmpl) -> None:
    alerts = {"Ref": t.logical_id(stack.alerts.topic)}
    alarms = [*stack.orders.dead_letter_alarms, *stack.orders.message_age_alarms]
    alarms += [stack.orders.undelivered_alarm, stack.billing.errors_alarm]
    for alarm in alarms:
        assert t.props(alarm)["AlarmActions"] == [alerts], alarm.node.path
    email = t.props(stack.on_call.subscription)
    assert email["TopicArn"] == alerts
    assert (email["Protocol"], email["Endpoint"]) == ("email", {"Ref": "OnCallEmail"})
    assert set(t.json["Parameters"]) >= {"OnCallEmail", "PartnerWebhookUrl"}


def test_literal_endpoints_replace_the_parameters_and_are_checked_at_synth() -> None:
    given = OrderFanoutStack(
        new_app(),
        "OrderFanout",
        partner_webhook_url="https://partner.example.com/orders",
        on_call_email="oncall@example.com",
    )
    t = Tmpl(given)
    assert t.props(given.partner.subscription)["Endpoint"] == "https://partner.example.com/orders"
    assert "OnCallEmail" not in t.json.get("Parameters", {})
    with pytest.raises(FanoutConfigurationError, match=r"url='http://partner.example.com'"):
        OrderFanoutStack(new_app(), "Plain", partner_webhook_url="http://partner.example.com")


def test_consumers_stay_in_the_stack_and_share_three_query_alarms(
    stack: OrderFanoutStack, t: Tmpl
) -> None:
    """One dead-letter alarm, one age alarm per threshold (15 minutes; analytics 1 hour)."""
    assert stack.orders.consumer_stacks == []
    assert t.of_type("AWS::CloudFormation::Stack") == {}
    assert len(stack.orders.dead_letter_alarms) == 1
    thresholds = sorted(t.props(a)["Threshold"] for a in stack.orders.message_age_alarms)
    assert thresholds == [15 * 60, 3600]
