"""ConsumerQueue: queue security, redrive, filters, standalone and cross-stack use."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from aws_cdk import Duration, Environment, Stack, assertions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from helpers import Tmpl, alarm_query, new_app, queues_in_query, ref_or_arn

from constructs_lib import ConsumerQueue, FanoutConfigurationError, FanoutTopic

IMPORTED_TOPIC_ARN = "arn:aws:sns:eu-west-1:111122223333:orders"


@pytest.fixture(scope="module")
def built() -> SimpleNamespace:
    app = new_app()
    stack = Stack(app, "Consumers")
    fanout = FanoutTopic(stack, "Orders")
    billing = fanout.add_queue_consumer("Billing", visibility_timeout=Duration.minutes(2))
    analytics = fanout.add_queue_consumer(
        "Analytics",
        raw_message_delivery=True,
        filter_policy_with_message_body={
            "total": sns.FilterOrPolicy.filter(
                sns.SubscriptionFilter.numeric_filter(greater_than_or_equal_to=1000)
            )
        },
    )
    alerts = fanout.add_queue_consumer(
        "Alerts",
        filter_policy={"severity": sns.SubscriptionFilter.string_filter(allowlist=["high"])},
        max_receive_count=3,
        max_message_age=Duration.minutes(5),
    )
    worker = iam.Role(stack, "Worker", assumed_by=iam.AccountRootPrincipal())
    billing.grant_consume_messages(worker)
    operator = iam.Role(stack, "Operator", assumed_by=iam.AccountRootPrincipal())
    billing.grant_redrive(operator)

    # A consumer team's own stack subscribing to a topic it imports by ARN.
    # Pinned to the topic's region: the subscription and its dead-letter queue live there.
    team = Stack(app, "Team", env=Environment(region="eu-west-1"))
    imported = sns.Topic.from_topic_arn(team, "Orders", IMPORTED_TOPIC_ARN)
    standalone = ConsumerQueue(team, "Audit", topic=imported)

    # A consumer in another stack of the same app, subscribing to the FanoutTopic's topic.
    other = Stack(app, "Other")
    cross_stack = ConsumerQueue(other, "Reporting", topic=fanout.topic)
    return SimpleNamespace(
        t=Tmpl(stack),
        team_t=Tmpl(team),
        other_t=Tmpl(other),
        fanout=fanout,
        billing=billing,
        analytics=analytics,
        alerts=alerts,
        worker=worker,
        operator=operator,
        standalone=standalone,
        cross_stack=cross_stack,
    )


def test_queue_and_dead_letter_queue_use_the_customer_managed_key(built: SimpleNamespace) -> None:
    t = built.t
    key = t.logical_id(built.billing.encryption_key)
    assert t.key_of_queue(t.logical_id(built.billing.queue)) == key
    assert t.key_of_queue(t.logical_id(built.billing.dead_letter_queue)) == key
    assert t.resources[key]["Type"] == "AWS::KMS::Key"


@pytest.mark.parametrize("which", ["queue", "dead_letter_queue"])
def test_queue_policies_deny_requests_without_tls(built: SimpleNamespace, which: str) -> None:
    t = built.t
    lid = t.logical_id(getattr(built.billing, which))
    deny = [s for s in t.policies_of_queue(lid) if s["Effect"] == "Deny"]
    assert deny == [
        {
            "Action": "sqs:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": {"Fn::GetAtt": [lid, "Arn"]},
        }
    ]


def test_queue_accepts_messages_only_from_its_topic(built: SimpleNamespace) -> None:
    t = built.t
    lid = t.logical_id(built.billing.queue)
    allow = [s for s in t.policies_of_queue(lid) if s["Effect"] == "Allow"]
    assert allow == [
        {
            "Action": "sqs:SendMessage",
            "Condition": {
                "ArnEquals": {"aws:SourceArn": {"Ref": t.logical_id(built.fanout.topic)}}
            },
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Resource": {"Fn::GetAtt": [lid, "Arn"]},
        }
    ]


def test_subscription_waits_for_the_queue_policy(built: SimpleNamespace) -> None:
    t = built.t
    sub = t.resources[t.logical_id(built.billing.subscription)]
    policy_lid = t.logical_id(built.billing.queue.node.find_child("Policy"))
    assert policy_lid in sub["DependsOn"]


def test_redrive_moves_a_message_after_five_receives_by_default(built: SimpleNamespace) -> None:
    t = built.t
    redrive = t.props(built.billing.queue)["RedrivePolicy"]
    assert redrive == {
        "deadLetterTargetArn": {
            "Fn::GetAtt": [t.logical_id(built.billing.dead_letter_queue), "Arn"]
        },
        "maxReceiveCount": 5,
    }
    assert t.props(built.alerts.queue)["RedrivePolicy"]["maxReceiveCount"] == 3


def test_dead_letter_queue_keeps_messages_longer_than_its_source(built: SimpleNamespace) -> None:
    t = built.t
    source = t.props(built.billing.queue)["MessageRetentionPeriod"]
    dlq = t.props(built.billing.dead_letter_queue)["MessageRetentionPeriod"]
    assert dlq == 14 * 24 * 3600
    assert dlq > source


def test_dead_letter_queue_redrive_allow_policy_names_only_its_source(
    built: SimpleNamespace,
) -> None:
    t = built.t
    source_name = t.props(built.billing.queue)["QueueName"]
    allow = t.props(built.billing.dead_letter_queue)["RedriveAllowPolicy"]
    assert allow["redrivePermission"] == "byQueue"
    (arn,) = allow["sourceQueueArns"]
    parts = arn["Fn::Join"][1]
    assert parts[-1] == f":{source_name}"
    assert {"Ref": "AWS::AccountId"} in parts and {"Ref": "AWS::Region"} in parts


def test_queue_names_fit_the_sqs_limit_and_are_derived_from_the_path(
    built: SimpleNamespace,
) -> None:
    t = built.t
    for queue in (built.billing.queue, built.billing.dead_letter_queue):
        name = t.props(queue)["QueueName"]
        assert len(name) <= 80
        assert name.startswith("Consumers-Orders-Billing")


def test_visibility_timeout_is_applied(built: SimpleNamespace) -> None:
    assert built.t.props(built.billing.queue)["VisibilityTimeout"] == 120


def test_body_filter_and_raw_delivery_are_set_on_the_subscription(built: SimpleNamespace) -> None:
    sub = built.t.props(built.analytics.subscription)
    assert sub["RawMessageDelivery"] is True
    assert sub["FilterPolicyScope"] == "MessageBody"
    assert sub["FilterPolicy"] == {"total": [{"numeric": [">=", 1000]}]}


def test_attribute_filter_is_set_on_the_subscription(built: SimpleNamespace) -> None:
    sub = built.t.props(built.alerts.subscription)
    assert sub["FilterPolicy"] == {"severity": ["high"]}
    assert "FilterPolicyScope" not in sub
    assert "RawMessageDelivery" not in sub or sub["RawMessageDelivery"] is False


def test_dead_letter_alarm_fires_on_the_first_dead_lettered_message(
    built: SimpleNamespace,
) -> None:
    """Through a fanout: the fanout-level query alarm names this consumer's DLQ."""
    t = built.t
    alarm = t.props(built.billing.dead_letter_alarm)
    query = alarm_query(alarm)
    assert query.startswith("SELECT MAX(ApproximateNumberOfMessagesVisible) ")
    assert t.props(built.billing.dead_letter_queue)["QueueName"] in queues_in_query(query)
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"


def test_standalone_dead_letter_alarm_fires_on_the_first_dead_lettered_message(
    built: SimpleNamespace,
) -> None:
    t = built.team_t
    alarm = t.props(built.standalone.dead_letter_alarm)
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [
        {
            "Name": "QueueName",
            "Value": {
                "Fn::GetAtt": [t.logical_id(built.standalone.dead_letter_queue), "QueueName"]
            },
        }
    ]
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"


def test_message_age_alarm_uses_the_configured_threshold(built: SimpleNamespace) -> None:
    """Consumers with different max_message_age are watched by different query alarms."""
    t = built.t
    alarm = t.props(built.alerts.message_age_alarm)
    query = alarm_query(alarm)
    assert query.startswith("SELECT MAX(ApproximateAgeOfOldestMessage) ")
    assert queues_in_query(query) == {t.props(built.alerts.queue)["QueueName"]}
    assert alarm["Threshold"] == 300
    assert alarm["EvaluationPeriods"] == 3
    assert alarm["DatapointsToAlarm"] == 3
    default = t.props(built.billing.message_age_alarm)
    assert default["Threshold"] == 15 * 60
    assert queues_in_query(alarm_query(default)) == {
        t.props(c.queue)["QueueName"] for c in (built.billing, built.analytics)
    }


def test_standalone_message_age_alarm_watches_its_queue(built: SimpleNamespace) -> None:
    t = built.team_t
    alarm = t.props(built.standalone.message_age_alarm)
    assert alarm["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert alarm["Dimensions"][0]["Value"] == {
        "Fn::GetAtt": [t.logical_id(built.standalone.queue), "QueueName"]
    }
    assert alarm["Threshold"] == 15 * 60


def test_grant_consume_messages_is_scoped_to_the_queue_and_its_key(
    built: SimpleNamespace,
) -> None:
    t, billing = built.t, built.billing
    named = [t.arn_of(billing.queue), t.arn_of(billing.encryption_key)]
    assert [s for s in t.role_statements(built.worker) if s["Resource"] not in named] == []
    assert {"sqs:DeleteMessage", "sqs:ReceiveMessage"} <= set(
        t.actions_on(built.worker, billing.queue)
    )
    assert t.actions_on(built.worker, billing.encryption_key) == ["kms:Decrypt"]


def test_grant_redrive_allows_moving_dead_letters_back_to_the_source(
    built: SimpleNamespace,
) -> None:
    t, operator = built.t, built.operator
    assert "sqs:StartMessageMoveTask" in t.actions_on(operator, built.billing.dead_letter_queue)
    assert "sqs:SendMessage" in t.actions_on(operator, built.billing.queue)
    assert all("*" not in str(s["Action"]) for s in t.role_statements(operator))


def test_standalone_consumer_subscribes_to_an_imported_topic(built: SimpleNamespace) -> None:
    t = built.team_t
    sub = t.props(built.standalone.subscription)
    assert sub["TopicArn"] == IMPORTED_TOPIC_ARN
    assert sub["Endpoint"] in ref_or_arn(t.logical_id(built.standalone.queue))
    # The topic lives in eu-west-1 and the stack is environment-agnostic: say so explicitly.
    assert "Region" not in sub  # the stack is pinned to the topic's region


def test_standalone_consumer_brings_its_own_key_scoped_to_the_imported_topic(
    built: SimpleNamespace,
) -> None:
    t = built.team_t
    key_lid = t.key_of_queue(t.logical_id(built.standalone.queue))
    statements = t.props(key_lid)["KeyPolicy"]["Statement"]
    sns_statement = next(
        s for s in statements if s.get("Principal", {}).get("Service") == "sns.amazonaws.com"
    )
    assert sns_statement["Condition"] == {"ArnEquals": {"aws:SourceArn": IMPORTED_TOPIC_ARN}}
    assert t.props(key_lid)["EnableKeyRotation"] is True


def test_standalone_consumer_has_its_own_subscription_dead_letter_queue_and_alarm(
    built: SimpleNamespace,
) -> None:
    t = built.team_t
    sub_dlq = t.logical_id(built.standalone.subscription_dead_letter_queue)
    assert t.props(built.standalone.subscription)["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [sub_dlq, "Arn"]}
    }
    alarm = t.props(built.standalone.undelivered_alarm)
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": [sub_dlq, "QueueName"]}


def test_consumer_in_another_stack_subscribes_through_an_export(built: SimpleNamespace) -> None:
    t = built.other_t
    sub = t.props(built.cross_stack.subscription)
    assert _references_stack_output(sub["TopicArn"], "Consumers")
    key_lid = t.key_of_queue(t.logical_id(built.cross_stack.queue))
    sns_statement = next(
        s
        for s in t.props(key_lid)["KeyPolicy"]["Statement"]
        if s.get("Principal", {}).get("Service") == "sns.amazonaws.com"
    )
    assert _references_stack_output(
        sns_statement["Condition"]["ArnEquals"]["aws:SourceArn"], "Consumers"
    )


def _references_stack_output(value: dict[str, object], stack_name: str) -> bool:
    """True for a cross-stack reference to an output of ``stack_name``."""
    if "Fn::GetStackOutput" in value:
        return value["Fn::GetStackOutput"]["StackName"] == stack_name  # type: ignore[index]
    return stack_name in str(value.get("Fn::ImportValue"))


def test_consumer_of_a_topic_in_another_region_names_the_topic_region() -> None:
    app = new_app()
    home = Stack(app, "Home", env=Environment(account="111122223333", region="us-east-1"))
    topic = sns.Topic(home, "T")
    dr = Stack(
        app,
        "DisasterRecovery",
        env=Environment(account="111122223333", region="us-west-2"),
        cross_region_references=True,
    )
    undelivered = sqs.Queue(home, "Undelivered")  # SNS keeps the subscription in us-east-1
    consumer = ConsumerQueue(dr, "Replica", topic=topic, subscription_dead_letter_queue=undelivered)
    assert Tmpl(dr).props(consumer.subscription)["Region"] == "us-east-1"


def test_an_imported_key_is_used_and_a_warning_says_what_its_policy_needs() -> None:
    stack = Stack(new_app(), "Imported")
    key = kms.Key.from_key_arn(
        stack, "K", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    consumer = ConsumerQueue(stack, "C", topic=sns.Topic(stack, "T"), encryption_key=key)
    t = Tmpl(stack)
    assert t.props(consumer.queue)["KmsMasterKeyId"] == key.key_arn
    assertions.Annotations.from_stack(stack).has_warning(
        "/Imported/C",
        assertions.Match.string_like_regexp("encryption_key is imported.*sns.amazonaws.com"),
    )


def test_a_removal_policy_applies_to_what_the_consumer_created_only() -> None:
    from aws_cdk import RemovalPolicy

    stack = Stack(new_app(), "Some")
    fanout = FanoutTopic(stack, "Orders")
    kept = fanout.add_queue_consumer("Ledger", removal_policy=RemovalPolicy.RETAIN)
    own = ConsumerQueue(stack, "Own", topic=fanout.topic, removal_policy=RemovalPolicy.DESTROY)
    t = Tmpl(stack)
    for queue in (kept.queue, kept.dead_letter_queue):
        assert t.resources[t.logical_id(queue)]["DeletionPolicy"] == "Retain"
    assert t.resources[t.logical_id(fanout.queue_key)]["DeletionPolicy"] == "Retain"  # shared
    assert t.resources[t.logical_id(own.encryption_key)]["DeletionPolicy"] == "Delete"


def test_a_delivery_delay_holds_new_messages_on_the_queue_only() -> None:
    stack = Stack(new_app(), "Some")
    consumer = FanoutTopic(stack, "Orders").add_queue_consumer(
        "Batch", delivery_delay=Duration.minutes(2)
    )
    t = Tmpl(stack)
    assert t.props(consumer.queue)["DelaySeconds"] == 120
    assert "DelaySeconds" not in t.props(consumer.dead_letter_queue)
    with pytest.raises(FanoutConfigurationError, match=r"delivery_delay=.*to 15 minutes"):
        FanoutTopic(Stack(new_app(), "Other"), "O").add_queue_consumer(
            "Late", delivery_delay=Duration.minutes(16)
        )
