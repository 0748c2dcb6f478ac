"""FanoutTopic's data_protection: the policy document SNS documents, its rules at synth, and
the audit log group the fanout creates."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aws_cdk import Environment, Stack
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Annotations, Match
from helpers import Tmpl, linted_and_nagged, nag_checked_app, new_app

from constructs_lib import (
    Audit,
    AuditDestination,
    CustomDataIdentifier,
    DataProtection,
    Deidentify,
    DenyInbound,
    DenyOutbound,
    FanoutConfigurationError,
    FanoutTopic,
)
from constructs_lib.data_protection import MANAGED_DATA_IDENTIFIERS

EMPLOYEE_ID = CustomDataIdentifier("EmployeeId", r"EID-\d{9}-US")
REPORTING = "arn:aws:iam::111122223333:role/Reporting"
ARN = "arn:aws:dataprotection::aws:data-identifier/"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    policy = DataProtection(
        name="orders-pii",
        description="Keep card data and secrets out of the order events",
        statements=[
            Audit(["EmailAddress", "CreditCardNumber", EMPLOYEE_ID], sample_rate=50, sid="audit"),
            Deidentify(["PhoneNumber-US", EMPLOYEE_ID], mask_with="#"),
            Deidentify(["Address"], mask_with=None, redact=True),
            DenyInbound(["AwsSecretKey"]),
            DenyOutbound(["CreditCardNumber"], principals=[REPORTING]),
        ],
    )
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = nag_checked_app(outdir)
    stack = Stack(app, "Protected")
    orders = FanoutTopic(stack, "Orders", data_protection=policy)
    orders.add_queue_consumer("Billing")
    own_group = logs.LogGroup(
        stack,
        "Findings",
        log_group_name="/aws/vendedlogs/sns/payments-findings",
        retention=logs.RetentionDays.ONE_YEAR,
    )
    payments = FanoutTopic(
        stack,
        "Payments",
        data_protection=DataProtection(
            [
                Audit(
                    ["CreditCardNumber"],
                    findings=AuditDestination(log_group=own_group, bucket="audit-bucket"),
                    no_findings=AuditDestination(delivery_stream="audit-stream"),
                )
            ]
        ),
    )
    plain = FanoutTopic(stack, "Plain")
    app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
    fanouts = {"orders": orders, "payments": payments, "plain": plain, "own_group": own_group}
    return SimpleNamespace(t=Tmpl(stack), stack=stack, outdir=Path(outdir), **fanouts)


def _policy_of(t: Tmpl, fanout: FanoutTopic) -> Any:
    return t.props(fanout.topic).get("DataProtectionPolicy")


def test_the_document_has_the_shape_sns_documents(built: SimpleNamespace) -> None:
    t, orders = built.t, built.orders
    everyone = ["*"]
    assert _policy_of(t, orders) == {
        "Name": "orders-pii",
        "Description": "Keep card data and secrets out of the order events",
        "Version": "2021-06-01",
        "Configuration": {
            "CustomDataIdentifier": [{"Name": "EmployeeId", "Regex": EMPLOYEE_ID.regex}]
        },
        "Statement": [
            {
                "Sid": "audit",
                "DataDirection": "Inbound",
                "Principal": everyone,
                "DataIdentifier": [ARN + "EmailAddress", ARN + "CreditCardNumber", "EmployeeId"],
                "Operation": {
                    "Audit": {
                        "SampleRate": "50",
                        "FindingsDestination": {
                            "CloudWatchLogs": {
                                "LogGroup": {"Ref": t.logical_id(orders.audit_log_group)}
                            }
                        },
                    }
                },
            },
            {
                "DataDirection": "Inbound",
                "Principal": everyone,
                "DataIdentifier": [ARN + "PhoneNumber-US", "EmployeeId"],
                "Operation": {"Deidentify": {"MaskConfig": {"MaskWithCharacter": "#"}}},
            },
            {
                "DataDirection": "Inbound",
                "Principal": everyone,
                "DataIdentifier": [ARN + "Address"],
                "Operation": {"Deidentify": {"RedactConfig": {}}},
            },
            {
                "DataDirection": "Inbound",
                "Principal": everyone,
                "DataIdentifier": [ARN + "AwsSecretKey"],
                "Operation": {"Deny": {}},
            },
            {
                "DataDirection": "Outbound",
                "Principal": [REPORTING],
                "DataIdentifier": [ARN + "CreditCardNumber"],
                "Operation": {"Deny": {}},
            },
        ],
    }


def test_an_audit_without_destination_writes_to_a_vended_log_group_of_the_fanout(
    built: SimpleNamespace,
) -> None:
    t, group = built.t, built.orders.audit_log_group
    props = t.props(group)
    assert props["LogGroupName"].startswith("/aws/vendedlogs/sns/")
    assert props["RetentionInDays"] == 365


def test_an_audit_can_write_to_given_destinations(built: SimpleNamespace) -> None:
    t, payments = built.t, built.payments
    (statement,) = _policy_of(t, payments)["Statement"]
    assert statement["Operation"]["Audit"] == {
        "SampleRate": "99",
        "FindingsDestination": {
            "CloudWatchLogs": {"LogGroup": {"Ref": t.logical_id(built.own_group)}},
            "S3": {"Bucket": "audit-bucket"},
        },
        "NoFindingsDestination": {"Firehose": {"DeliveryStream": "audit-stream"}},
    }
    assert payments.audit_log_group is None


def test_without_data_protection_the_topic_has_no_policy(built: SimpleNamespace) -> None:
    assert _policy_of(built.t, built.plain) is None
    assert built.plain.audit_log_group is None


def test_a_fanout_with_data_protection_warns_that_sns_closed_it_to_new_customers(
    built: SimpleNamespace,
) -> None:
    Annotations.from_stack(built.stack).has_warning(
        "/Protected/Orders", Match.string_like_regexp("closed to new customers since 30 April 2026")
    )


def test_the_templates_pass_cfn_lint_and_cdk_nag(built: SimpleNamespace) -> None:
    """The synth in the fixture raised on any unacknowledged cdk-nag finding."""
    assert linted_and_nagged(built.outdir) == []


def test_to_policy_renders_the_document_on_its_own() -> None:
    document = DataProtection([DenyInbound(["Name"])], name="names").to_policy()
    assert document == {
        "Name": "names",
        "Version": "2021-06-01",
        "Statement": [
            {
                "DataDirection": "Inbound",
                "Principal": ["*"],
                "DataIdentifier": [ARN + "Name"],
                "Operation": {"Deny": {}},
            }
        ],
    }


def test_the_managed_identifiers_are_the_documented_ones() -> None:
    assert {"EmailAddress", "AwsSecretKey", "PhoneNumber-US", "HealthInsuranceCardNumber-EU"} <= (
        MANAGED_DATA_IDENTIFIERS
    )
    assert "PhoneNumber" not in MANAGED_DATA_IDENTIFIERS  # needs its country
    assert len([i for i in MANAGED_DATA_IDENTIFIERS if i.startswith("DriversLicense-")]) == 31


# -- rules -----------------------------------------------------------------------------------


def _fanout(policy: DataProtection, **options: Any) -> FanoutTopic:
    return FanoutTopic(Stack(new_app(), "S"), "F", data_protection=policy, **options)


@pytest.mark.parametrize(
    ("statements", "message"),
    [
        (
            [DenyInbound(["EmailAdress"])],
            r"data_protection\.statements\[0\]\.identifiers\[0\]='EmailAdress': is not a managed "
            r"data identifier SNS documents; did you mean 'EmailAddress'",
        ),
        (
            [DenyInbound(["CreditCardNumber", "PassportNumber"])],
            r"statements\[0\]\.identifiers\[1\]='PassportNumber': depends on the country; name "
            r"one of PassportNumber-CA, ",
        ),
        (
            [DenyInbound([ARN + "Name"])],
            r"identifiers\[0\]=.*name the identifier without its ARN prefix: 'Name'",
        ),
        (
            [DenyInbound([])],
            r"statements\[0\]\.identifiers=\[\]: a statement needs at least one of its data",
        ),
        ([], r"data_protection\.statements=\[\]: a policy needs at least one statement"),
        (
            [Audit(["Name"]), DenyInbound(["Name"]), Audit(["Address"])],
            r"data_protection\.statements\[2\]='Audit': a policy holds at most one Audit",
        ),
        ([Audit(["Name"], sample_rate=100)], r"statements\[0\]\.sample_rate=100: must be an"),
        (
            [Audit(["Name"], findings=AuditDestination())],
            r"statements\[0\]\.findings='AuditDestination\(\)': name a log group, delivery",
        ),
        (
            [Deidentify(["Name"], mask_with="##")],
            r"statements\[0\]\.mask_with='##': a single character",
        ),
        (
            [Deidentify(["Name"], redact=True)],
            r"statements\[0\]\.mask_with='\*': redact=True removes the data",
        ),
        (
            [DenyOutbound(["Name"], principals=["someone"])],
            r"statements\[0\]\.principals\[0\]='someone': expected \"\*\", a 12-digit account",
        ),
        (
            [DenyInbound([CustomDataIdentifier("Employee Id", "E-\\d+")])],
            r"identifiers\[0\]\.name='Employee Id': letters, digits, '_' and '-', 1 to 128",
        ),
        (
            [DenyInbound([CustomDataIdentifier("Name", "x+")])],
            r"identifiers\[0\]\.name='Name': is a managed identifier's name",
        ),
        (
            [DenyInbound([CustomDataIdentifier("Long", "x" * 201)])],
            r"identifiers\[0\]\.regex=.*is 201 characters; 1 to 200 are allowed",
        ),
        (
            [
                DenyInbound([CustomDataIdentifier("Id", "E-\\d+")]),
                DenyOutbound([CustomDataIdentifier("Id", "F-\\d+")]),
            ],
            r"data_protection='Id': two CustomDataIdentifier named 'Id' with different patterns",
        ),
    ],
)
def test_statements_sns_would_refuse_are_errors(statements: list[Any], message: str) -> None:
    with pytest.raises(FanoutConfigurationError, match=message):
        _fanout(DataProtection(statements))


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(FanoutConfigurationError, match=r"3 configuration problems"):
        _fanout(DataProtection([Audit(["Nme"], sample_rate=-1), DenyOutbound([])]))


def test_a_fifo_fanout_refuses_data_protection() -> None:
    with pytest.raises(
        FanoutConfigurationError,
        match=r"data_protection='data-protection': SNS supports message data protection on "
        r"standard topics only",
    ):
        _fanout(DataProtection([DenyInbound(["Name"])]), fifo=True)


def test_an_audit_log_group_must_be_a_vended_one_in_the_topics_region() -> None:
    stack = Stack(new_app(), "S", env=Environment(region="us-east-1", account="111122223333"))
    named = logs.LogGroup.from_log_group_name(stack, "Named", "findings")
    elsewhere = logs.LogGroup.from_log_group_arn(
        stack, "Elsewhere", "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/vendedlogs/x:*"
    )
    audit = Audit(
        ["Name"],
        findings=AuditDestination(log_group=named),
        no_findings=AuditDestination(log_group=elsewhere),
    )
    with pytest.raises(FanoutConfigurationError) as raised:
        FanoutTopic(stack, "F", data_protection=DataProtection([audit]))
    assert raised.value.problems == [
        "data_protection.statements[0].findings.log_group='findings': SNS writes audit findings "
        "only to log groups named /aws/vendedlogs/...",
        "data_protection.statements[0].no_findings.log_group='S/Elsewhere': is in eu-west-1; "
        "the log group must be in the topic's region (us-east-1)",
    ]


def test_a_data_protection_that_is_not_one_is_a_type_error() -> None:
    with pytest.raises(FanoutConfigurationError, match=r"data_protection=.*expected"):
        FanoutTopic(Stack(new_app(), "S"), "F", data_protection={"Name": "x"})  # type: ignore[typeddict-item]


def test_to_policy_checks_the_rules_on_its_own() -> None:
    with pytest.raises(
        FanoutConfigurationError, match=r"(?s)DataProtection 'p': .*findings_log_group"
    ):
        DataProtection([Audit(["Name"])], name="p").to_policy()
