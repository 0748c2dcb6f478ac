"""MobilePush and PushPlatformApplication: no secret in the template, scoped IAM, wiring."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from helpers import Tmpl, new_app

from constructs_lib import (
    FanoutConfigurationError,
    MobilePush,
    PushPlatform,
    PushPlatformApplication,
)

APNS_SECRET = "arn:aws:secretsmanager:us-east-1:111122223333:secret:apns-AbCdEf"
FCM_SECRET = "arn:aws:secretsmanager:us-east-1:111122223333:secret:fcm-GhIjKl"


@pytest.fixture(scope="module")
def built() -> SimpleNamespace:
    stack = Stack(new_app(), "Push")
    push = MobilePush(
        stack,
        "Push",
        credentials={
            PushPlatform.APNS: secretsmanager.Secret.from_secret_complete_arn(
                stack, "Apns", APNS_SECRET
            ),
            PushPlatform.FCM: secretsmanager.Secret.from_secret_complete_arn(
                stack, "Fcm", FCM_SECRET
            ),
        },
        segments=["beta"],
    )
    backend = iam.Role(stack, "Backend", assumed_by=iam.AccountRootPrincipal())
    push.grant_register(backend)
    return SimpleNamespace(t=Tmpl(stack), push=push, backend=backend, stack=stack)


def test_custom_resource_carries_the_secret_arn_and_nothing_secret(built: SimpleNamespace) -> None:
    t = built.t
    apns = t.props(built.push.applications[PushPlatform.APNS].resource)
    assert set(apns) == {
        "ServiceToken",
        "Name",
        "Platform",
        "AuthMethod",
        "CredentialsSecretArn",
        "EventEndpointCreated",
        "EventEndpointDeleted",
        "EventEndpointUpdated",
        "EventDeliveryFailure",
    }
    assert apns["CredentialsSecretArn"] == APNS_SECRET
    assert apns["Platform"] == "APNS" and apns["AuthMethod"] == "token"
    fcm = t.props(built.push.applications[PushPlatform.FCM].resource)
    assert fcm["Platform"] == "GCM" and "AuthMethod" not in fcm
    template = json.dumps(t.json)
    for word in ("signing_key", "private_key", "service_account", "PlatformCredential"):
        assert word not in template


def test_handler_may_read_exactly_the_secrets_and_manage_exactly_the_applications(
    built: SimpleNamespace,
) -> None:
    t = built.t
    provider = built.stack.node.find_child("ConstructsLibPushPlatformApplicationProvider")
    statements = t.role_statements(provider.role)
    secret_reads = [s for s in statements if "secretsmanager:" in str(s["Action"])]
    read = sorted(
        r
        for s in secret_reads
        for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
    )
    assert read == [APNS_SECRET, FCM_SECRET]
    (sns_statement,) = [s for s in statements if "sns:" in str(s["Action"])]
    resources = sns_statement["Resource"]
    assert len(resources) == 2
    names = [app.application_name for app in built.push.applications.values()]
    for resource, platform, name in zip(resources, ("APNS", "GCM"), names, strict=True):
        assert resource["Fn::Join"][1][-1] == f":app/{platform}/{name}"


def test_registration_is_never_anonymous(built: SimpleNamespace) -> None:
    t = built.t
    (url,) = t.of_type("AWS::Lambda::Url").values()
    assert url["Properties"]["AuthType"] == "AWS_IAM"
    backend = t.role_statements(built.backend)
    function_arn = {"Fn::GetAtt": [t.logical_id(built.push.registration_function), "Arn"]}
    assert sorted(backend, key=lambda st: st["Action"]) == [
        {
            "Action": "lambda:InvokeFunction",
            "Condition": {"Bool": {"lambda:InvokedViaFunctionUrl": True}},
            "Effect": "Allow",
            "Resource": function_arn,
        },
        {
            "Action": "lambda:InvokeFunctionUrl",
            "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}},
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [t.logical_id(built.push.registration_function), "Arn"]},
        },
    ]


def test_feedback_consumes_the_application_events(built: SimpleNamespace) -> None:
    t = built.t
    feedback_queue = built.push.events.consumers["Feedback"]
    sub = t.props(feedback_queue.subscription)
    assert sub["TopicArn"] == {"Ref": t.logical_id(built.push.events.topic)}
    apns = t.props(built.push.applications[PushPlatform.APNS].resource)
    assert apns["EventDeliveryFailure"] == {"Ref": t.logical_id(built.push.events.topic)}
    mapping = t.props(built.push.feedback.event_source_mapping)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_sns_may_publish_endpoint_events_to_the_encrypted_events_topic(
    built: SimpleNamespace,
) -> None:
    t = built.t
    key = t.props(built.push.events.topic_key)
    sns_statements = [
        s
        for s in key["KeyPolicy"]["Statement"]
        if s.get("Principal", {}).get("Service") == "sns.amazonaws.com"
    ]
    assert sns_statements[0]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    }


def test_registration_knows_the_applications_and_topics(built: SimpleNamespace) -> None:
    variables = built.t.props(built.push.registration_function)["Environment"]["Variables"]
    assert {"PLATFORM_APPLICATIONS", "BROADCAST_TOPIC_ARN", "SEGMENT_TOPICS"} <= set(variables)
    assert variables["BROADCAST_TOPIC_ARN"] == {
        "Ref": built.t.logical_id(built.push.broadcast.topic)
    }


def test_a_fifo_broadcast_topic_is_a_synth_error() -> None:
    stack = Stack(new_app(), "Some")
    secret = secretsmanager.Secret.from_secret_complete_arn(stack, "S", FCM_SECRET)
    with pytest.raises(
        FanoutConfigurationError, match="SNS cannot deliver a FIFO topic to mobile endpoints"
    ):
        MobilePush(stack, "Push", credentials={PushPlatform.FCM: secret}, broadcast_topic_fifo=True)


def test_a_changed_secret_is_pushed_to_its_application(built: SimpleNamespace) -> None:
    t = built.t
    rule = t.props(built.push.credential_sync_rule)
    assert rule["EventPattern"] == {
        "source": ["aws.secretsmanager"],
        "detail": {"eventName": ["PutSecretValue", "UpdateSecret", "RotationSucceeded"]},
    }
    (target,) = rule["Targets"]
    function_lid = t.logical_id(built.push.credential_sync_function)
    assert target["Arn"] == {"Fn::GetAtt": [function_lid, "Arn"]}
    function = t.props(function_lid)
    assert function["Handler"] == "handler.on_secret_rotated"
    role_lid = function["Role"]["Fn::GetAtt"][0]
    wildcard = [s["Action"] for s in t.role_statements(role_lid) if s["Resource"] == "*"]
    assert wildcard == [
        ["sns:ListPlatformApplications", "xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    ]


def test_delivery_status_logging_uses_a_role_sns_assumes_for_this_application() -> None:
    stack = Stack(new_app(), "Logged")
    secret = secretsmanager.Secret.from_secret_complete_arn(stack, "S", FCM_SECRET)
    app = PushPlatformApplication(
        stack,
        "Fcm",
        platform=PushPlatform.FCM,
        credentials_secret=secret,
        delivery_status_logging=True,
        success_sample_rate=10,
    )
    t = Tmpl(stack)
    props = t.props(app.resource)
    role_arn = {"Fn::GetAtt": [t.logical_id(app.delivery_status_role), "Arn"]}
    assert props["SuccessFeedbackRoleArn"] == props["FailureFeedbackRoleArn"] == role_arn
    assert props["SuccessFeedbackSampleRate"] == "10"
    role = t.props(app.delivery_status_role)
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "sns.amazonaws.com"
    }
    (logs_statement,) = t.role_statements(app.delivery_status_role)
    assert logs_statement["Resource"]["Fn::Join"][1][-1].endswith(
        f"/app/GCM/{app.application_name}*"
    )


def test_fails_on_a_sample_rate_that_is_not_a_percentage() -> None:
    stack = Stack(new_app(), "Some")
    secret = secretsmanager.Secret.from_secret_complete_arn(stack, "S", FCM_SECRET)
    with pytest.raises(FanoutConfigurationError, match=r"success_sample_rate=101: must be"):
        PushPlatformApplication(
            stack,
            "Fcm",
            platform=PushPlatform.FCM,
            credentials_secret=secret,
            delivery_status_logging=True,
            success_sample_rate=101,
        )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(
            lambda stack, secret: MobilePush(
                stack,
                "Push",
                credentials={PushPlatform.FCM: secret},
                segmens=["beta"],  # type: ignore[call-arg]
            ),
            r"segmens=\['beta'\]: is not an option of MobilePush; did you mean 'segments'\?",
            id="MobilePush",
        ),
        pytest.param(
            lambda stack, secret: PushPlatformApplication(
                stack,
                "Fcm",
                platform=PushPlatform.FCM,
                credentials_secret=secret,
                sample_rate=10,  # type: ignore[call-arg]
            ),
            r"sample_rate=10: is not an option of PushPlatformApplication; "
            r"did you mean 'success_sample_rate'\?",
            id="PushPlatformApplication",
        ),
    ],
)
def test_an_unknown_option_is_a_configuration_error_naming_the_nearest_option(
    build, message: str
) -> None:
    stack = Stack(new_app(), "Some")
    secret = secretsmanager.Secret.from_secret_complete_arn(stack, "S", FCM_SECRET)
    with pytest.raises(FanoutConfigurationError, match=message):
        build(stack, secret)


def test_the_registration_errors_alarm_reads_metric_registration_errors(
    built: SimpleNamespace,
) -> None:
    t = built.t
    alarm = t.props(built.push.registration_errors_alarm)
    function_ref = {"Ref": t.logical_id(built.push.registration_function)}
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", "Errors")
    assert (alarm["Statistic"], alarm["Period"]) == ("Sum", 60)
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": function_ref}]
    metric = built.push.metric_registration_errors(statistic="Maximum")
    assert (metric.metric_name, metric.statistic) == ("Errors", "Maximum")
