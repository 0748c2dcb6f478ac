"""A fanout with delivery status logging deployed to the local emulator: the stack deploys,
the log group SNS writes failures to exists with its retention, and the topic reports the
role for the protocols in use (``GetTopicAttributes``, with the emulator's ``sns_fixes``).

The emulator does not write delivery status logs (moto delivers but logs nothing), so what
SNS would write there is not shown here."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from aws_cdk import App, Stack
from helpers import deployed_on_emulator

from constructs_lib import FanoutTopic


def _stack(app: App, name: str) -> Stack:
    stack = Stack(app, name)
    orders = FanoutTopic(stack, "Orders", topic_name="orders", delivery_success_sample_rate=25)
    orders.add_queue_consumer("Billing")
    orders.add_http_subscriber("Partner", url="https://partner.example.com/orders")
    return stack


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    with deployed_on_emulator(tmp_path_factory.mktemp("cdk.out"), _stack, "Logged") as stack:
        topic_arn = stack.physical_id(stack.logical_id_at("Logged/Orders/Topic/Resource"))
        role_path = "Logged/Orders/DeliveryStatusLogging/Role/Resource"
        role = stack.physical_id(stack.logical_id_at(role_path))
        role_arn = stack.client("iam").get_role(RoleName=role)["Role"]["Arn"]
        yield SimpleNamespace(stack=stack, topic_arn=topic_arn, role_arn=role_arn)


def test_the_stack_deploys_with_the_resources_of_the_template(deployed: SimpleNamespace) -> None:
    deployed.stack.check_against_template()


def test_the_log_groups_sns_writes_to_exist_with_their_retention(
    deployed: SimpleNamespace,
) -> None:
    logs = deployed.stack.client("logs")
    account, region = deployed.topic_arn.split(":")[4], deployed.topic_arn.split(":")[3]
    base = f"sns/{region}/{account}/orders"
    groups = logs.describe_log_groups(logGroupNamePrefix=base)["logGroups"]
    assert {(g["logGroupName"], g.get("retentionInDays")) for g in groups} == {
        (base, 30),
        (f"{base}/Failure", 30),
    }


def test_the_topic_logs_its_protocols_through_the_fanouts_role(
    deployed: SimpleNamespace,
) -> None:
    sns = deployed.stack.client("sns")
    attributes = sns.get_topic_attributes(TopicArn=deployed.topic_arn)["Attributes"]
    for prefix in ("SQS", "HTTP"):
        assert attributes[f"{prefix}FailureFeedbackRoleArn"] == deployed.role_arn
        assert attributes[f"{prefix}SuccessFeedbackRoleArn"] == deployed.role_arn
        assert attributes[f"{prefix}SuccessFeedbackSampleRate"] == "25"
    assert "LambdaFailureFeedbackRoleArn" not in attributes
