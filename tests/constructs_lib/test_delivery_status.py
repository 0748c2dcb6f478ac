"""FanoutTopic's delivery status logging: on by default for the protocols the fanout uses,
through a role that can only write to the topic's own log groups."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from helpers import Tmpl, linted_and_nagged, nag_checked_app, new_app

from constructs_lib import FanoutConfigurationError, FanoutTopic

FUNCTION_ARN = "arn:aws:lambda:us-east-1:111111111111:function:audit"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = nag_checked_app(outdir)
    stack = Stack(app, "Shop")
    orders = FanoutTopic(stack, "Orders")
    orders.add_queue_consumer("Billing")
    orders.add_queue_consumer("Shipping")
    orders.add_http_subscriber("Partner", url="https://partner.example.com/orders")
    orders.add_email_subscriber("OnCall", address="oncall@example.com")
    sampled = FanoutTopic(
        stack,
        "Payments",
        delivery_success_sample_rate=10,
        delivery_log_retention=logs.RetentionDays.ONE_YEAR,
    )
    sampled.add_lambda_subscriber(
        "Audit", function=lambda_.Function.from_function_arn(stack, "Audit", FUNCTION_ARN)
    )
    quiet = FanoutTopic(stack, "Quiet", delivery_status_logging=False)
    quiet.add_queue_consumer("Only")
    mail_only = FanoutTopic(stack, "Newsletter")
    mail_only.add_email_subscriber("Readers", address="readers@example.com")
    app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
    fanouts = {"orders": orders, "sampled": sampled, "quiet": quiet, "mail_only": mail_only}
    return SimpleNamespace(t=Tmpl(stack), outdir=Path(outdir), **fanouts)


def _logging_of(t: Tmpl, fanout: FanoutTopic) -> dict[str, dict[str, Any]]:
    """The topic's DeliveryStatusLogging entries, by protocol."""
    entries = t.props(fanout.topic).get("DeliveryStatusLogging", [])
    return {entry["Protocol"]: entry for entry in entries}


def _group_name(t: Tmpl, group: Any) -> Any:
    return t.props(group)["LogGroupName"]


def _joined(*parts: Any, suffix: str = "") -> dict[str, Any]:
    return {"Fn::Join": ["", [*parts, suffix] if suffix else list(parts)]}


REGION, ACCOUNT = {"Ref": "AWS::Region"}, {"Ref": "AWS::AccountId"}


def _sns_name(t: Tmpl, fanout: FanoutTopic, suffix: str = "") -> dict[str, Any]:
    """The log group name SNS writes to for ``fanout``'s topic, as the template spells it."""
    topic_name = {"Fn::GetAtt": [t.logical_id(fanout.topic), "TopicName"]}
    return _joined("sns/", REGION, "/", ACCOUNT, "/", topic_name, suffix=suffix)


def test_failures_of_the_protocols_in_use_are_logged_through_the_fanouts_role(
    built: SimpleNamespace,
) -> None:
    t, orders = built.t, built.orders
    role = t.arn_of(orders.delivery_status_role)
    assert _logging_of(t, orders) == {
        protocol: {
            "Protocol": protocol,
            "FailureFeedbackRoleArn": role,
            "SuccessFeedbackRoleArn": role,
            "SuccessFeedbackSampleRate": "0",
        }
        for protocol in ("sqs", "http/s")
    }


def test_a_lambda_subscriber_gets_lambda_logging_with_the_sample_rate_asked_for(
    built: SimpleNamespace,
) -> None:
    t, sampled = built.t, built.sampled
    assert list(_logging_of(t, sampled)) == ["lambda"]
    assert _logging_of(t, sampled)["lambda"]["SuccessFeedbackSampleRate"] == "10"


def test_email_and_sms_add_no_logging_and_no_role(built: SimpleNamespace) -> None:
    t, mail_only = built.t, built.mail_only
    assert _logging_of(t, mail_only) == {}
    assert mail_only.delivery_status_role is None
    assert mail_only.delivery_status_log_groups == []


def test_logging_can_be_turned_off(built: SimpleNamespace) -> None:
    t, quiet = built.t, built.quiet
    assert _logging_of(t, quiet) == {}
    assert quiet.delivery_status_role is None
    assert not [c for c in quiet.node.find_all() if c.node.id == "DeliveryStatusLogging"]


def test_the_role_is_assumable_by_sns_only(built: SimpleNamespace) -> None:
    t = built.t
    trust = t.props(built.orders.delivery_status_role)["AssumeRolePolicyDocument"]
    assert trust["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
        }
    ]


def _group_arn(t: Tmpl, group: Any, suffix: str = "") -> dict[str, Any]:
    partition, name = {"Ref": "AWS::Partition"}, {"Ref": t.logical_id(group)}
    return _joined(
        "arn:", partition, ":logs:", REGION, ":", ACCOUNT, ":log-group:", name, suffix=suffix
    )


def test_the_role_writes_only_to_the_topics_own_log_groups(built: SimpleNamespace) -> None:
    t, orders = built.t, built.orders
    (failures,) = orders.delivery_status_log_groups
    (statement,) = t.role_statements(orders.delivery_status_role)
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ]
    expected = [_group_arn(t, failures), _group_arn(t, failures, ":*")]
    assert sorted(statement["Resource"], key=json.dumps) == sorted(expected, key=json.dumps)


def test_failures_go_to_the_log_group_sns_names_after_the_topic(built: SimpleNamespace) -> None:
    t, orders = built.t, built.orders
    (failures,) = orders.delivery_status_log_groups
    assert _group_name(t, failures) == _sns_name(t, orders, "/Failure")
    assert t.props(failures)["RetentionInDays"] == 30
    assert t.resources[t.logical_id(failures)]["DeletionPolicy"] == "Delete"


def test_sampled_successes_get_their_own_log_group_and_retention(built: SimpleNamespace) -> None:
    t, sampled = built.t, built.sampled
    failures, successes = sampled.delivery_status_log_groups
    assert _group_name(t, successes) == _sns_name(t, sampled)
    assert {t.props(g)["RetentionInDays"] for g in (failures, successes)} == {365}
    (statement,) = t.role_statements(sampled.delivery_status_role)
    assert _group_arn(t, successes, ":*") in statement["Resource"]


def test_one_role_per_fanout_however_many_subscribers(built: SimpleNamespace) -> None:
    roles = [
        c
        for c in built.orders.node.find_all()
        if c.node.path.startswith(f"{built.orders.node.path}/DeliveryStatusLogging/")
        and c.node.id == "Role"
    ]
    assert roles == [built.orders.delivery_status_role]


def test_the_templates_pass_cfn_lint_and_cdk_nag(built: SimpleNamespace) -> None:
    """The synth in the fixture raised on any unacknowledged cdk-nag finding (for delivery
    status logging, only the log-stream wildcard of the topic's own log groups is)."""
    assert linted_and_nagged(built.outdir) == []


# -- rules -----------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [-1, 101, 2.5])
def test_a_sample_rate_outside_0_to_100_is_refused(rate: float) -> None:
    with pytest.raises(FanoutConfigurationError, match=r"delivery_success_sample_rate="):
        FanoutTopic(Stack(new_app(), "S"), "F", delivery_success_sample_rate=rate)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "option",
    [
        {"delivery_success_sample_rate": 5},
        {"delivery_log_retention": logs.RetentionDays.ONE_WEEK},
    ],
)
def test_logging_options_without_logging_are_refused(option: dict[str, Any]) -> None:
    with pytest.raises(
        FanoutConfigurationError, match=r"only applies with delivery_status_logging=True"
    ):
        FanoutTopic(Stack(new_app(), "S"), "F", delivery_status_logging=False, **option)


def test_protocols_subscribed_elsewhere_can_be_logged_too() -> None:
    fanout = FanoutTopic(Stack(new_app(), "S"), "F")
    fanout.grant_subscribe("111122223333")
    fanout.log_delivery_status(sns.LoggingProtocol.FIREHOSE)
    fanout.log_delivery_status(sns.LoggingProtocol.FIREHOSE)
    assert fanout.logged_protocols == [sns.LoggingProtocol.SQS, sns.LoggingProtocol.FIREHOSE]
    protocols = [
        c["Protocol"] for c in Tmpl(Stack.of(fanout)).props(fanout.topic)["DeliveryStatusLogging"]
    ]
    assert protocols == ["sqs", "firehose"]


def test_logging_a_protocol_of_a_fanout_that_does_not_log_is_an_error() -> None:
    fanout = FanoutTopic(Stack(new_app(), "S"), "F", delivery_status_logging=False)
    with pytest.raises(FanoutConfigurationError, match=r"protocol='LAMBDA': this fanout was"):
        fanout.log_delivery_status(sns.LoggingProtocol.LAMBDA)
