"""Consumers outside the FanoutTopic's stack: another stack, another region, another account."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from aws_cdk import Environment, Stack
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from helpers import Tmpl, new_app

from constructs_lib import ConsumerQueue, FanoutConfigurationError, FanoutTopic

TOPIC_ACCOUNT = "111122223333"
CONSUMER_ACCOUNT = "444455556666"
TOPIC_ARN = f"arn:aws:sns:us-east-1:{TOPIC_ACCOUNT}:OrderPlaced"


# -- another stack of the same app and environment -----------------------------------------


@pytest.fixture(scope="module")
def same_env() -> SimpleNamespace:
    app = new_app()
    topic_stack = Stack(app, "Orders")
    orders = FanoutTopic(topic_stack, "OrderPlaced")
    orders.add_queue_consumer("Billing")
    reporting_stack = Stack(app, "Reporting")
    reporting = ConsumerQueue(reporting_stack, "Reporting", topic=orders.topic)
    audit_stack = Stack(app, "Audit")
    audit = ConsumerQueue(
        audit_stack,
        "Audit",
        topic=orders.topic,
        subscription_dead_letter_queue=orders.subscription_dead_letter_queue,
    )
    return SimpleNamespace(
        orders=orders,
        reporting=reporting,
        audit=audit,
        topic_stack=topic_stack,
        stacks=(reporting_stack, audit_stack),
        topic_t=Tmpl(topic_stack),
        reporting_t=Tmpl(reporting_stack),
        audit_t=Tmpl(audit_stack),
    )


def _output_of(t: Tmpl, value: dict[str, Any]) -> dict[str, Any]:
    """How another stack of the environment reads the output of ``t`` whose value is ``value``.

    With cdk.json's ``@aws-cdk/core:defaultCrossStackReferences: weak`` CDK writes
    ``Fn::GetStackOutput`` (no export that would lock the topic stack); without it, an export
    and ``Fn::ImportValue``.
    """
    (name, output) = next((n, o) for n, o in t.json["Outputs"].items() if o["Value"] == value)
    if "Export" in output:
        return {"Fn::ImportValue": output["Export"]["Name"]}
    stack_name = t.stack.stack_name
    region = {"Ref": "AWS::Region"}
    return {"Fn::GetStackOutput": {"StackName": stack_name, "Region": region, "OutputName": name}}


def test_consumer_stack_subscribes_with_the_topic_arn_the_topic_stack_outputs(
    same_env: SimpleNamespace,
) -> None:
    topic_arn = _output_of(
        same_env.topic_t, {"Ref": same_env.topic_t.logical_id(same_env.orders.topic)}
    )
    t = same_env.reporting_t
    sub = t.props(same_env.reporting.subscription)
    assert sub["TopicArn"] == topic_arn
    assert "Region" not in sub
    allow = next(
        s
        for s in t.policies_of_queue(t.logical_id(same_env.reporting.queue))
        if s["Effect"] == "Allow"
    )
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": topic_arn}}
    key_lid = t.key_of_queue(t.logical_id(same_env.reporting.queue))
    sns_statement = next(
        s
        for s in t.props(key_lid)["KeyPolicy"]["Statement"]
        if s.get("Principal", {}).get("Service") == "sns.amazonaws.com"
    )
    assert sns_statement["Condition"] == {"ArnEquals": {"aws:SourceArn": topic_arn}}


def test_consumer_stack_keeps_its_own_subscription_dead_letter_queue_by_default(
    same_env: SimpleNamespace,
) -> None:
    t = same_env.reporting_t
    own = t.logical_id(same_env.reporting.subscription_dead_letter_queue)
    assert t.props(same_env.reporting.subscription)["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [own, "Arn"]}
    }


def test_a_shared_fanout_dead_letter_queue_is_imported_and_admits_the_topic_in_its_stack(
    same_env: SimpleNamespace,
) -> None:
    topic_t = same_env.topic_t
    dlq_lid = topic_t.logical_id(same_env.orders.subscription_dead_letter_queue)
    sub = same_env.audit_t.props(same_env.audit.subscription)
    assert sub["RedrivePolicy"] == {
        "deadLetterTargetArn": _output_of(topic_t, {"Fn::GetAtt": [dlq_lid, "Arn"]})
    }
    allow = [s for s in topic_t.policies_of_queue(dlq_lid) if s["Effect"] == "Allow"]
    topic = {"Ref": topic_t.logical_id(same_env.orders.topic)}
    assert [s["Condition"] for s in allow] == [{"ArnEquals": {"aws:SourceArn": topic}}]


def test_topic_stack_references_nothing_in_the_consumer_stacks(same_env: SimpleNamespace) -> None:
    topic_template = json.dumps(same_env.topic_t.json)
    assert "Fn::ImportValue" not in topic_template and "Fn::GetStackOutput" not in topic_template
    assert "Reporting" not in topic_template and "Audit" not in topic_template
    assert same_env.topic_stack.dependencies == []
    for stack in same_env.stacks:
        assert stack.dependencies == [same_env.topic_stack]


# -- another region ------------------------------------------------------------------------


def _two_regions() -> tuple[Stack, Stack]:
    app = new_app()
    return (
        Stack(app, "Primary", env=Environment(region="us-east-1")),
        Stack(app, "Recovery", env=Environment(region="us-west-2")),
    )


def test_fails_when_a_cross_region_consumer_has_no_subscription_dead_letter_queue() -> None:
    primary, recovery = _two_regions()
    orders = FanoutTopic(primary, "Orders", topic_name="orders")
    with pytest.raises(
        FanoutConfigurationError,
        match=r"subscription_dead_letter_queue=None: the topic is in us-east-1 and this stack in "
        r"us-west-2: the subscription lives in us-east-1 and SNS requires its dead-letter queue "
        r"there",
    ):
        ConsumerQueue(recovery, "Replica", topic=orders.topic)


def test_fails_when_the_subscription_dead_letter_queue_is_outside_the_topic_region() -> None:
    primary, recovery = _two_regions()
    orders = FanoutTopic(primary, "Orders", topic_name="orders")
    local = sqs.Queue(recovery, "Undelivered")
    with pytest.raises(
        FanoutConfigurationError,
        match=r"subscription_dead_letter_queue='Recovery/Undelivered': is in us-west-2 but the "
        r"topic, and so the subscription, is in us-east-1",
    ):
        ConsumerQueue(recovery, "Replica", topic=orders.topic, subscription_dead_letter_queue=local)


def test_a_topic_in_another_region_needs_a_physical_name() -> None:
    primary, recovery = _two_regions()
    orders = FanoutTopic(primary, "Orders")
    ConsumerQueue(
        recovery,
        "Replica",
        topic=orders.topic,
        subscription_dead_letter_queue=orders.subscription_dead_letter_queue,
    )
    with pytest.raises(RuntimeError, match="physical name must be explicit"):
        Tmpl(recovery)


def test_cross_region_references_with_weak_references_read_the_topic_stack_outputs() -> None:
    """With cdk.json's weak references, CDK passes values across regions natively."""
    app = new_app()
    primary = Stack(app, "Primary", env=Environment(region="us-east-1"))
    recovery = Stack(
        app, "Recovery", env=Environment(region="us-west-2"), cross_region_references=True
    )
    orders = FanoutTopic(primary, "Orders")  # no physical name needed this way
    replica = ConsumerQueue(
        recovery,
        "Replica",
        topic=orders.topic,
        subscription_dead_letter_queue=orders.subscription_dead_letter_queue,
    )
    primary_t, recovery_t = Tmpl(primary), Tmpl(recovery)
    sub = recovery_t.props(replica.subscription)
    assert sub["Region"] == "us-east-1"
    topic_output = {"Ref": primary_t.logical_id(orders.topic)}
    (output_name,) = [n for n, o in primary_t.json["Outputs"].items() if o["Value"] == topic_output]
    assert sub["TopicArn"] == {
        "Fn::GetStackOutput": {
            "StackName": "Primary",
            "Region": "us-east-1",
            "OutputName": output_name,
        }
    }
    for t in (primary_t, recovery_t):
        assert not [r for r in t.resources.values() if r["Type"].startswith("Custom::")]


def test_topic_imported_by_arn_from_another_region_of_an_agnostic_account() -> None:
    stack = Stack(new_app(), "Recovery", env=Environment(region="us-west-2"))
    topic = sns.Topic.from_topic_arn(
        stack, "Orders", stack.format_arn(service="sns", region="us-east-1", resource="orders")
    )
    undelivered = sqs.Queue.from_queue_arn(
        stack,
        "Undelivered",
        stack.format_arn(service="sqs", region="us-east-1", resource="orders-undelivered"),
    )
    replica = ConsumerQueue(
        stack, "Replica", topic=topic, subscription_dead_letter_queue=undelivered
    )
    sub = Tmpl(stack).props(replica.subscription)
    assert sub["Region"] == "us-east-1"
    assert sub["TopicArn"] == {
        "Fn::Join": ["", ["arn:aws:sns:us-east-1:", {"Ref": "AWS::AccountId"}, ":orders"]]
    }


# -- another account -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def accounts() -> SimpleNamespace:
    app = new_app()
    owner = Stack(app, "Orders", env=Environment(account=TOPIC_ACCOUNT, region="us-east-1"))
    orders = FanoutTopic(owner, "OrderPlaced", topic_name="OrderPlaced")
    grant = orders.grant_subscribe(CONSUMER_ACCOUNT)
    consumer = Stack(app, "Fraud", env=Environment(account=CONSUMER_ACCOUNT, region="us-east-1"))
    imported = sns.Topic.from_topic_arn(consumer, "Orders", TOPIC_ARN)
    fraud = ConsumerQueue(consumer, "Fraud", topic=imported)
    return SimpleNamespace(
        orders=orders, grant=grant, fraud=fraud, owner_t=Tmpl(owner), consumer_t=Tmpl(consumer)
    )


def test_grant_subscribe_lets_the_account_subscribe_only_its_own_sqs_queues(
    accounts: SimpleNamespace,
) -> None:
    t = accounts.owner_t
    topic_lid = t.logical_id(accounts.orders.topic)
    allow = [s for s in t.topic_policy_statements(topic_lid) if s["Effect"] == "Allow"]
    assert allow == [
        {
            "Action": "sns:Subscribe",
            "Condition": {
                "StringEquals": {"sns:Protocol": "sqs"},
                "StringLike": {"sns:Endpoint": f"arn:aws:sqs:*:{CONSUMER_ACCOUNT}:*"},
            },
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{CONSUMER_ACCOUNT}:root"},
            "Resource": {"Ref": topic_lid},
            "Sid": allow[0].get("Sid"),
        }
    ]
    assert accounts.grant.success


def test_grant_subscribe_leaves_the_topic_key_to_the_topic_account(
    accounts: SimpleNamespace,
) -> None:
    t = accounts.owner_t
    statements = t.props(accounts.orders.topic_key)["KeyPolicy"]["Statement"]
    assert CONSUMER_ACCOUNT not in json.dumps(statements)


def test_consumer_account_subscribes_its_queue_with_a_key_scoped_to_the_foreign_topic(
    accounts: SimpleNamespace,
) -> None:
    t = accounts.consumer_t
    sub = t.props(accounts.fraud.subscription)
    assert sub["TopicArn"] == TOPIC_ARN
    assert "Region" not in sub  # same region, another account
    key_lid = t.key_of_queue(t.logical_id(accounts.fraud.queue))
    sns_statement = next(
        s
        for s in t.props(key_lid)["KeyPolicy"]["Statement"]
        if s.get("Principal", {}).get("Service") == "sns.amazonaws.com"
    )
    assert sns_statement["Condition"] == {"ArnEquals": {"aws:SourceArn": TOPIC_ARN}}


def test_grant_subscribe_rejects_what_is_not_an_account_id() -> None:
    orders = FanoutTopic(Stack(new_app(), "Orders"), "OrderPlaced")
    with pytest.raises(
        FanoutConfigurationError,
        match=r"account='arn:aws:iam::444455556666:root': grant_subscribe takes a 12-digit "
        r"AWS account id",
    ):
        orders.grant_subscribe(f"arn:aws:iam::{CONSUMER_ACCOUNT}:root")
