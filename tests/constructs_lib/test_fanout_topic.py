"""FanoutTopic: secure defaults, shared keys, FIFO, alarms, grants (one synth per module)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from helpers import Tmpl, alarm_query, new_app, queues_in_query, ref_or_arn

from constructs_lib import FanoutConfigurationError, FanoutTopic


@pytest.fixture(scope="module")
def built() -> SimpleNamespace:
    app = new_app()
    stack = Stack(app, "Fanout")
    ops = sns.Topic(stack, "Ops")
    orders = FanoutTopic(stack, "Orders", alarm_topic=ops)
    billing = orders.add_queue_consumer("Billing")
    shipping = orders.add_queue_consumer("Shipping")
    quiet = orders.add_queue_consumer("Quiet", alarms=False)
    ledger = FanoutTopic(stack, "Ledger", fifo=True, archive_retention_days=7)
    ordered = ledger.add_queue_consumer("Ordered")
    unordered = ledger.add_queue_consumer("Unordered", fifo=False)
    publisher = iam.Role(stack, "Publisher", assumed_by=iam.AccountRootPrincipal())
    orders.grant_publish(publisher)
    return SimpleNamespace(
        t=Tmpl(stack),
        orders=orders,
        billing=billing,
        shipping=shipping,
        quiet=quiet,
        ledger=ledger,
        ordered=ordered,
        unordered=unordered,
        publisher=publisher,
        ops=ops,
    )


def test_topic_is_encrypted_with_its_own_rotating_key(built: SimpleNamespace) -> None:
    t = built.t
    topic = t.props(built.orders.topic)
    key_lid = topic["KmsMasterKeyId"]["Fn::GetAtt"][0]
    assert key_lid == t.logical_id(built.orders.topic_key)
    assert t.props(key_lid)["EnableKeyRotation"] is True
    assert key_lid != t.logical_id(built.orders.queue_key)


def test_consumers_share_one_rotating_queue_key(built: SimpleNamespace) -> None:
    t = built.t
    queue_key = t.logical_id(built.orders.queue_key)
    for consumer in (built.billing, built.shipping, built.quiet):
        assert t.key_of_queue(t.logical_id(consumer.queue)) == queue_key
        assert t.key_of_queue(t.logical_id(consumer.dead_letter_queue)) == queue_key
    assert t.props(queue_key)["EnableKeyRotation"] is True


def test_fanout_uses_two_kms_keys_however_many_consumers() -> None:
    stack = Stack(new_app(), "Wide")
    fanout = FanoutTopic(stack, "Wide")
    for n in range(25):
        fanout.add_queue_consumer(f"Team{n}")
    assert len(Tmpl(stack).of_type("AWS::KMS::Key")) == 2


def test_queue_key_lets_sns_use_it_only_for_this_topic(built: SimpleNamespace) -> None:
    t = built.t
    key = t.props(t.key_of_queue(t.logical_id(built.billing.queue)))
    sns_statements = [
        s
        for s in key["KeyPolicy"]["Statement"]
        if s.get("Principal", {}).get("Service") == "sns.amazonaws.com"
    ]
    assert sns_statements == [
        {
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Condition": {
                "ArnEquals": {"aws:SourceArn": {"Ref": t.logical_id(built.orders.topic)}}
            },
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Resource": "*",
        }
    ]


def test_topic_policy_denies_publishing_without_tls(built: SimpleNamespace) -> None:
    t = built.t
    topic_lid = t.logical_id(built.orders.topic)
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in t.of_type("AWS::SNS::TopicPolicy").values()
        if {"Ref": topic_lid} in p["Properties"]["Topics"]
    ]
    assert len(policies) == 1
    deny = [s for s in policies[0] if s["Effect"] == "Deny"]
    assert deny == [
        {
            "Action": "sns:Publish",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": "*",
            "Resource": {"Ref": topic_lid},
            "Sid": "AllowPublishThroughSSLOnly",
        }
    ]
    # Nothing in the resource policy lets another account or the public publish.
    assert [s for s in policies[0] if s["Effect"] == "Allow"] == []


def test_grant_publish_covers_the_topic_and_its_key(built: SimpleNamespace) -> None:
    t = built.t
    role_lid = t.logical_id(built.publisher)
    statements = [
        s
        for p in t.of_type("AWS::IAM::Policy").values()
        if {"Ref": role_lid} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert {
        "Action": "sns:Publish",
        "Effect": "Allow",
        "Resource": {"Ref": t.logical_id(built.orders.topic)},
    } in statements
    assert {
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Effect": "Allow",
        "Resource": {"Fn::GetAtt": [t.logical_id(built.orders.topic_key), "Arn"]},
    } in statements


def test_topic_signs_messages_with_sha256(built: SimpleNamespace) -> None:
    assert built.t.props(built.orders.topic)["SignatureVersion"] == "2"


def test_every_subscription_dead_letters_undeliverable_messages(built: SimpleNamespace) -> None:
    t = built.t
    sub_dlq = t.logical_id(built.orders.subscription_dead_letter_queue)
    for consumer in (built.billing, built.shipping, built.quiet):
        redrive = t.props(consumer.subscription)["RedrivePolicy"]
        assert redrive == {"deadLetterTargetArn": {"Fn::GetAtt": [sub_dlq, "Arn"]}}
    allow = [s for s in t.policies_of_queue(sub_dlq) if s["Effect"] == "Allow"]
    assert allow == [
        {
            "Action": "sqs:SendMessage",
            "Condition": {
                "ArnEquals": {"aws:SourceArn": {"Ref": t.logical_id(built.orders.topic)}}
            },
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Resource": {"Fn::GetAtt": [sub_dlq, "Arn"]},
        }
    ]


def test_subscription_dead_letter_queue_does_not_depend_on_the_consumer_key(
    built: SimpleNamespace,
) -> None:
    props = built.t.props(built.orders.subscription_dead_letter_queue)
    assert "KmsMasterKeyId" not in props
    assert props["SqsManagedSseEnabled"] is True
    assert props["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert props["RedriveAllowPolicy"] == {"redrivePermission": "denyAll"}


def test_undelivered_alarm_watches_the_subscription_dead_letter_queue(
    built: SimpleNamespace,
) -> None:
    t = built.t
    alarm = t.props(built.orders.undelivered_alarm)
    assert alarm["Dimensions"] == [
        {
            "Name": "QueueName",
            "Value": {
                "Fn::GetAtt": [
                    t.logical_id(built.orders.subscription_dead_letter_queue),
                    "QueueName",
                ]
            },
        }
    ]
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["AlarmActions"] == [{"Ref": t.logical_id(built.ops)}]


def test_consumers_inherit_the_alarm_topic(built: SimpleNamespace) -> None:
    t = built.t
    for alarm in (built.billing.dead_letter_alarm, built.billing.message_age_alarm):
        props = t.props(alarm)
        assert props["AlarmActions"] == [{"Ref": t.logical_id(built.ops)}]
        assert props["OKActions"] == [{"Ref": t.logical_id(built.ops)}]


def _watched_queue_names(t: Tmpl) -> set[str]:
    """Names of the queues any alarm of the template watches (dimension or query)."""
    names_by_lid = {
        lid: r["Properties"].get("QueueName") for lid, r in t.of_type("AWS::SQS::Queue").items()
    }
    watched = set()
    for alarm in t.of_type("AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if "Metrics" in props:
            watched |= queues_in_query(alarm_query(props))
        for dimension in props.get("Dimensions", []):
            watched.add(names_by_lid[dimension["Value"]["Fn::GetAtt"][0]])
    return watched


def test_a_consumer_can_opt_out_of_alarms(built: SimpleNamespace) -> None:
    t = built.t
    quiet_queues = {t.props(built.quiet.queue)["QueueName"]}
    quiet_queues.add(t.props(built.quiet.dead_letter_queue)["QueueName"])
    watched = _watched_queue_names(t)
    assert built.quiet.dead_letter_alarm is None
    assert built.quiet.message_age_alarm is None
    assert quiet_queues.isdisjoint(watched)
    assert t.props(built.billing.queue)["QueueName"] in watched


def test_one_alarm_covers_the_dead_letter_queues_of_all_consumers(
    built: SimpleNamespace,
) -> None:
    """Any message in any consumer's DLQ fires it, and the contributor names the queue."""
    t = built.t
    alarm = built.billing.dead_letter_alarm
    assert built.shipping.dead_letter_alarm is alarm
    props = t.props(alarm)
    query = alarm_query(props)
    assert query.startswith(
        'SELECT MAX(ApproximateNumberOfMessagesVisible) FROM SCHEMA("AWS/SQS", QueueName) WHERE'
    )
    assert query.endswith("GROUP BY QueueName ORDER BY MAX() DESC")
    assert queues_in_query(query) == {
        t.props(c.dead_letter_queue)["QueueName"] for c in (built.billing, built.shipping)
    }
    assert props["Metrics"][0]["Period"] == 60
    assert props["Threshold"] == 1
    assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert props["EvaluationPeriods"] == 1
    assert props["TreatMissingData"] == "notBreaching"


def test_consumer_alarms_are_fanout_level_not_per_consumer(built: SimpleNamespace) -> None:
    t = built.t
    orders_alarms = {
        t.logical_id(a) for a in built.orders.dead_letter_alarms + built.orders.message_age_alarms
    }
    assert len(orders_alarms) == 2
    for consumer in (built.billing, built.shipping):
        assert consumer.node.try_find_child("DeadLetterAlarm") is None
        assert t.logical_id(consumer.message_age_alarm) in orders_alarms


def test_fifo_consumers_are_watched_by_their_fanouts_alarms(built: SimpleNamespace) -> None:
    t = built.t
    query = alarm_query(t.props(built.ordered.dead_letter_alarm))
    assert t.props(built.ordered.dead_letter_queue)["QueueName"] in queues_in_query(query)
    assert built.ordered.dead_letter_alarm in built.ledger.dead_letter_alarms
    assert built.ordered.dead_letter_alarm not in built.orders.dead_letter_alarms


def test_fifo_topic_archives_messages_for_replay(built: SimpleNamespace) -> None:
    topic = built.t.props(built.ledger.topic)
    assert topic["FifoTopic"] is True
    assert topic["TopicName"].endswith(".fifo")
    assert topic["ArchivePolicy"] == {"MessageRetentionPeriod": 7}


def test_fifo_topic_consumers_default_to_fifo_queues_and_dead_letter_queues(
    built: SimpleNamespace,
) -> None:
    t = built.t
    for q in (built.ordered.queue, built.ordered.dead_letter_queue):
        props = t.props(q)
        assert props["FifoQueue"] is True
        assert props["QueueName"].endswith(".fifo")
    sub_dlq = t.props(built.ledger.subscription_dead_letter_queue)
    assert sub_dlq["FifoQueue"] is True


def test_fifo_topic_can_feed_a_standard_queue(built: SimpleNamespace) -> None:
    t = built.t
    props = t.props(built.unordered.queue)
    assert "FifoQueue" not in props
    sub = t.props(built.unordered.subscription)
    assert sub["TopicArn"] == {"Ref": t.logical_id(built.ledger.topic)}
    assert sub["Endpoint"] in ref_or_arn(t.logical_id(built.unordered.queue))


def test_adding_two_consumers_with_the_same_id_is_an_error() -> None:
    fanout = FanoutTopic(Stack(new_app(), "Dup"), "Orders")
    fanout.add_queue_consumer("Billing")
    with pytest.raises(FanoutConfigurationError, match=r"id='Billing': this topic already has"):
        fanout.add_queue_consumer("Billing")


def test_consumers_are_listed_by_id(built: SimpleNamespace) -> None:
    assert list(built.orders.consumers) == ["Billing", "Shipping", "Quiet"]
    assert built.orders.consumers["Billing"] is built.billing


def test_metric_helpers_point_at_the_topic_and_queues(built: SimpleNamespace) -> None:
    stack = built.orders.topic.stack
    published = built.orders.metric_number_of_messages_published()
    assert published.metric_name == "NumberOfMessagesPublished"
    assert stack.resolve(published.dimensions["TopicName"]) == {
        "Fn::GetAtt": [built.t.logical_id(built.orders.topic), "TopicName"]
    }
    assert built.orders.metric_number_of_notifications_failed().metric_name == (
        "NumberOfNotificationsFailed"
    )
    assert built.orders.metric_undelivered_messages().metric_name == (
        "ApproximateNumberOfMessagesVisible"
    )


def test_cloudwatch_may_use_the_key_of_an_alarm_topic_encrypted_in_this_app() -> None:
    stack = Stack(new_app(), "Ops")
    alarms = FanoutTopic(stack, "Alarms")
    orders = FanoutTopic(stack, "Orders", alarm_topic=alarms.topic)
    orders.add_queue_consumer("Billing")
    orders.add_queue_consumer("Shipping")
    t = Tmpl(stack)

    alarm_actions = [
        action
        for alarm in t.of_type("AWS::CloudWatch::Alarm").values()
        for action in alarm["Properties"].get("AlarmActions", [])
    ]
    assert alarm_actions and all(a == {"Ref": t.logical_id(alarms.topic)} for a in alarm_actions)
    key_lid = t.props(alarms.topic)["KmsMasterKeyId"]["Fn::GetAtt"][0]
    statements = [
        s
        for s in t.resources[key_lid]["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert len(statements) == 1  # once per key, however many alarms notify the topic
    assert sorted(statements[0]["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert statements[0]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    }


def test_a_fifo_fanout_can_run_in_high_throughput_mode_with_tracing() -> None:
    stack = Stack(new_app(), "Some")
    fanout = FanoutTopic(
        stack,
        "Ledger",
        fifo=True,
        fifo_throughput_scope=sns.FifoThroughputScope.MESSAGE_GROUP,
        tracing=True,
    )
    topic = Tmpl(stack).props(fanout.topic)
    assert topic["FifoThroughputScope"] == "MessageGroup"
    assert topic["TracingConfig"] == "Active"


def test_by_default_a_fanout_sets_no_throughput_scope_and_no_tracing() -> None:
    stack = Stack(new_app(), "Some")
    fanout = FanoutTopic(stack, "Orders")
    topic = Tmpl(stack).props(fanout.topic)
    assert "FifoThroughputScope" not in topic and "TracingConfig" not in topic


def test_a_throughput_scope_on_a_standard_topic_is_refused() -> None:
    with pytest.raises(
        FanoutConfigurationError, match=r"fifo_throughput_scope='MESSAGE_GROUP': only FIFO"
    ):
        FanoutTopic(
            Stack(new_app(), "Some"),
            "Orders",
            fifo_throughput_scope=sns.FifoThroughputScope.MESSAGE_GROUP,
        )
