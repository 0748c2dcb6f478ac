"""A fanout with a data protection policy deployed to the local emulator: the stack deploys,
the audit log group exists, and ``GetDataProtectionPolicy`` returns the template's document
(with the emulator's ``sns_fixes``; moto has no data protection API of its own).

The emulator neither audits, masks nor denies anything: what SNS does with the policy is not
shown here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from aws_cdk import App, Stack
from helpers import deployed_on_emulator

from constructs_lib import Audit, DataProtection, Deidentify, DenyOutbound, FanoutTopic

POLICY = DataProtection(
    name="orders-pii",
    statements=[
        Audit(["EmailAddress"], sample_rate=10),
        Deidentify(["CreditCardNumber"], mask_with="#"),
        DenyOutbound(["AwsSecretKey"]),
    ],
)


def _stack(app: App, name: str) -> Stack:
    stack = Stack(app, name)
    FanoutTopic(stack, "Orders", data_protection=POLICY).add_queue_consumer("Billing")
    return stack


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    with deployed_on_emulator(tmp_path_factory.mktemp("cdk.out"), _stack, "Protected") as stack:
        topic = stack.logical_id_at("Protected/Orders/Topic/Resource")
        group = stack.logical_id_at("Protected/Orders/AuditLogGroup/Resource")
        yield SimpleNamespace(stack=stack, topic=topic, group=group)


def test_the_stack_deploys_with_the_resources_of_the_template(deployed: SimpleNamespace) -> None:
    deployed.stack.check_against_template()


def test_the_topic_holds_the_templates_policy(deployed: SimpleNamespace) -> None:
    stack = deployed.stack
    answer = stack.client("sns").get_data_protection_policy(
        ResourceArn=stack.physical_id(deployed.topic)
    )
    expected = stack.resolve(stack.resources[deployed.topic]["Properties"]["DataProtectionPolicy"])
    assert json.loads(answer["DataProtectionPolicy"]) == expected


def test_the_audit_log_group_exists_with_the_name_the_policy_gives(
    deployed: SimpleNamespace,
) -> None:
    stack = deployed.stack
    name = stack.physical_id(deployed.group)
    assert name.startswith("/aws/vendedlogs/sns/")
    groups = stack.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert [(g["logGroupName"], g.get("retentionInDays")) for g in groups] == [(name, 365)]
