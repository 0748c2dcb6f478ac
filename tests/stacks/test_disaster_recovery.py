"""The cross-region pair: a topic in the primary region, a recovery consumer in another."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from aws_cdk import Environment
from helpers import Tmpl, new_app, ref_or_arn

from stacks import PRIMARY_REGION, RECOVERY_REGION, OrdersPrimaryStack, OrdersRecoveryStack


@pytest.fixture(scope="module")
def pair() -> SimpleNamespace:
    app = new_app()
    primary = OrdersPrimaryStack(app, "OrdersPrimary", env=Environment(region=PRIMARY_REGION))
    recovery = OrdersRecoveryStack(
        app, "OrdersRecovery", orders=primary.orders, env=Environment(region=RECOVERY_REGION)
    )
    return SimpleNamespace(
        primary=primary, recovery=recovery, primary_t=Tmpl(primary), recovery_t=Tmpl(recovery)
    )


def _arn_in_primary(service: str, name: str) -> dict[str, Any]:
    """An ARN in the primary region and the deploying account, as the templates write it."""
    return {
        "Fn::Join": [
            "",
            [f"arn:aws:{service}:{PRIMARY_REGION}:", {"Ref": "AWS::AccountId"}, f":{name}"],
        ]
    }


def _topic_arn(pair: SimpleNamespace) -> dict[str, Any]:
    """The primary topic's ARN, built from the name the primary template gives the topic."""
    t = pair.primary_t
    return _arn_in_primary("sns", t.props(pair.primary.orders.topic)["TopicName"])


def test_the_regions_differ_and_the_account_is_left_to_the_deployer(
    pair: SimpleNamespace,
) -> None:
    assert (pair.primary.region, pair.recovery.region) == (PRIMARY_REGION, RECOVERY_REGION)
    assert PRIMARY_REGION != RECOVERY_REGION
    assert pair.primary.resolve(pair.primary.account) == {"Ref": "AWS::AccountId"}


def test_replica_subscribes_to_the_primary_topic_in_the_primary_region(
    pair: SimpleNamespace,
) -> None:
    t = pair.recovery_t
    sub = t.props(pair.recovery.replica.subscription)
    assert sub["TopicArn"] == _topic_arn(pair)
    assert sub["Region"] == PRIMARY_REGION
    assert sub["Protocol"] == "sqs"
    assert sub["Endpoint"] in ref_or_arn(t.logical_id(pair.recovery.replica.queue))


def test_replica_queue_admits_only_the_primary_topic(pair: SimpleNamespace) -> None:
    t = pair.recovery_t
    statements = t.policies_of_queue(t.logical_id(pair.recovery.replica.queue))
    allow = next(s for s in statements if s["Effect"] == "Allow")
    assert allow["Principal"] == {"Service": "sns.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": _topic_arn(pair)}}


def test_replica_key_lets_sns_in_only_for_the_primary_topic(pair: SimpleNamespace) -> None:
    t = pair.recovery_t
    key_lid = t.key_of_queue(t.logical_id(pair.recovery.replica.queue))
    sns_statement = next(
        s
        for s in t.props(key_lid)["KeyPolicy"]["Statement"]
        if s.get("Principal", {}).get("Service") == "sns.amazonaws.com"
    )
    assert sns_statement["Condition"] == {"ArnEquals": {"aws:SourceArn": _topic_arn(pair)}}


def test_undeliverable_messages_go_to_the_fanout_dead_letter_queue_in_the_topic_region(
    pair: SimpleNamespace,
) -> None:
    primary_t = pair.primary_t
    fanout_dlq = pair.primary.orders.subscription_dead_letter_queue
    name = primary_t.props(fanout_dlq)["QueueName"]
    sub = pair.recovery_t.props(pair.recovery.replica.subscription)
    assert sub["RedrivePolicy"] == {"deadLetterTargetArn": _arn_in_primary("sqs", name)}
    assert pair.recovery.replica.subscription_dead_letter_queue is fanout_dlq


def test_fanout_dead_letter_queue_admits_the_topic_that_the_replica_subscribes_to(
    pair: SimpleNamespace,
) -> None:
    t = pair.primary_t
    statements = t.policies_of_queue(
        t.logical_id(pair.primary.orders.subscription_dead_letter_queue)
    )
    allow = [s for s in statements if s["Effect"] == "Allow"]
    topic = {"Ref": t.logical_id(pair.primary.orders.topic)}
    assert allow == [
        {
            "Action": "sqs:SendMessage",
            "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Resource": {
                "Fn::GetAtt": [
                    t.logical_id(pair.primary.orders.subscription_dead_letter_queue),
                    "Arn",
                ]
            },
        }
    ]
    alarm = t.props(pair.primary.orders.undelivered_alarm)
    assert alarm["Dimensions"][0]["Value"] == {
        "Fn::GetAtt": [
            t.logical_id(pair.primary.orders.subscription_dead_letter_queue),
            "QueueName",
        ]
    }


def test_recovery_stack_keeps_no_subscription_dead_letter_queue_of_its_own(
    pair: SimpleNamespace,
) -> None:
    queues = pair.recovery_t.of_type("AWS::SQS::Queue")
    replica = pair.recovery.replica
    assert set(queues) == {
        pair.recovery_t.logical_id(replica.queue),
        pair.recovery_t.logical_id(replica.dead_letter_queue),
    }
    assert replica.undelivered_alarm is None


def test_regions_are_linked_by_names_only_no_exports_or_custom_resources(
    pair: SimpleNamespace,
) -> None:
    for t in (pair.primary_t, pair.recovery_t):
        text = json.dumps(t.json)
        assert "Fn::ImportValue" not in text and "Outputs" not in t.json
        assert not [r for r in t.resources.values() if r["Type"].startswith("Custom::")]
    assert "OrdersRecovery" not in json.dumps(pair.primary_t.json)


def test_recovery_stack_deploys_after_the_primary_stack(pair: SimpleNamespace) -> None:
    assert pair.recovery.dependencies == [pair.primary]
    assert pair.primary.dependencies == []
