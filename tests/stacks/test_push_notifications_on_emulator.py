"""The PushNotifications stack deployed to the emulator, push end to end.

Deployed once for the module with both credentials as secrets in the emulator's Secrets
Manager. The platform applications are custom resources: the CDK provider framework's Node.js
``onEvent`` runs and invokes the library's Python handler through the Lambda API; devices
register through the registration function's URL; deliveries to disabled endpoints come back
through the events topic to the feedback function, which moto's own event source mapping
feeds. Every secret holds ``MARKER``, which must appear nowhere users or logs can read.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from itertools import count
from typing import Any

import pytest
from aws_cdk import cx_api
from moto.sns.models import sns_backends

from constructs_lib.testing import DeployedStack, lambda_runtime, running_emulator
from constructs_lib.testing.lambda_service import LambdaService
from constructs_lib.testing.push_fixes import delivered, endpoint_arns

MARKER = "SECRET-MARKER-4711"
CALLER = "arn:aws:iam::123456789012:role/app-backend"
_tokens = count()


def apns_key(key_id: str) -> dict[str, str]:
    return {
        "signing_key": f"-----BEGIN PRIVATE KEY-----\n{MARKER}-p8\n-----END PRIVATE KEY-----",
        "key_id": key_id,
        "team_id": "TEAM123456",
        "bundle_id": "com.example.app",
    }


FCM_ACCOUNT = {
    "type": "service_account",
    "project_id": "example-project",
    "private_key_id": "abc123",
    "private_key": f"-----BEGIN PRIVATE KEY-----\n{MARKER}-fcm\n-----END PRIVATE KEY-----",
    "client_email": "sns@example-project.iam.gserviceaccount.com",
}


@pytest.fixture(scope="module")
def assembly(demo_assembly: cx_api.CloudAssembly) -> cx_api.CloudAssembly:
    return demo_assembly


@pytest.fixture(scope="module")
def deployed(assembly: cx_api.CloudAssembly) -> Iterator[DeployedStack]:
    with running_emulator() as emulator:
        secrets = emulator.client("secretsmanager")
        apns = secrets.create_secret(Name="push/apns", SecretString=json.dumps(apns_key("KEY1")))
        fcm = secrets.create_secret(Name="push/fcm", SecretString=json.dumps(FCM_ACCOUNT))
        yield emulator.deploy(
            assembly.get_stack_by_name("PushNotifications"),
            parameters={"ApnsCredentialsArn": apns["ARN"], "FcmServiceAccountArn": fcm["ARN"]},
        )


def function(deployed: DeployedStack, path: str) -> str:
    return deployed.physical_id(deployed.logical_id_at(f"PushNotifications/Push/{path}"))


def topic(deployed: DeployedStack, path: str) -> str:
    return deployed.physical_id(deployed.logical_id_at(f"PushNotifications/Push/{path}"))


def register(deployed: DeployedStack, **request: Any) -> dict[str, Any]:
    answer = deployed.emulator.invoke_function_url(
        function(deployed, "Registration/Function/Resource"),
        body=json.dumps(request),
        headers={"content-type": "application/json"},
        caller_arn=CALLER,
    )
    assert answer["status"] == 200, answer
    result: dict[str, Any] = json.loads(answer["body"])
    return result


def applications(deployed: DeployedStack) -> dict[str, dict[str, Any]]:
    """The stack's platform applications by platform, as SNS holds them (credential too)."""
    backend = sns_backends[deployed.emulator.account][deployed.region]
    return {app.platform: app for app in backend.applications.values()}


def token() -> str:
    return f"{next(_tokens):064x}"


def test_the_custom_resource_creates_both_platform_applications(deployed: DeployedStack) -> None:
    sns = deployed.client("sns")
    listed = sns.list_platform_applications()["PlatformApplications"]
    events_topic = topic(deployed, "Events/Topic/Resource")

    assert sorted(a["PlatformApplicationArn"].split("/")[1] for a in listed) == ["APNS", "GCM"]
    for application in listed:
        attributes = application["Attributes"]
        assert attributes["EventDeliveryFailure"] == events_topic
        assert "PlatformCredential" not in attributes  # write-only, as in SNS
    held = applications(deployed)
    assert held["APNS"].attributes["PlatformPrincipal"] == "KEY1"
    assert MARKER in held["APNS"].attributes["PlatformCredential"]
    # the framework really ran, and called the library's handler through Lambda
    names = {i.function_name for i in lambda_runtime.INVOCATIONS}
    assert any("frameworkonEvent" in n for n in names)
    assert any("ProviderFunction" in n for n in names)


def test_a_new_secret_value_updates_the_application(deployed: DeployedStack) -> None:
    # GIVEN the APNs key rotated in Secrets Manager
    secrets = deployed.client("secretsmanager")
    arn = deployed.parameters["ApnsCredentialsArn"]
    secrets.put_secret_value(SecretId=arn, SecretString=json.dumps(apns_key("KEY2")))

    # WHEN the CloudTrail event AWS emits for it reaches the bus (moto emits none)
    deployed.client("events").put_events(
        Entries=[
            {
                "Source": "aws.secretsmanager",
                "DetailType": "AWS API Call via CloudTrail",
                "Detail": json.dumps(
                    {
                        "eventSource": "secretsmanager.amazonaws.com",
                        "eventName": "PutSecretValue",
                        "requestParameters": {"secretId": arn},
                        "responseElements": {"arn": arn},
                    }
                ),
            }
        ]
    )

    # THEN the rule's target, the credential sync function, gives SNS the new key
    deadline = time.monotonic() + 20
    while applications(deployed)["APNS"].attributes["PlatformPrincipal"] != "KEY2":
        assert time.monotonic() < deadline, "the application never got the new key"
        time.sleep(0.1)
    sync = function(deployed, "CredentialSync/Function/Resource")
    while not lambda_runtime.invocations_of(sync):  # recorded once the invocation returns
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert [i.error for i in lambda_runtime.invocations_of(sync)] == [None]


def test_registration_gives_one_endpoint_per_device_and_its_subscriptions(
    deployed: DeployedStack,
) -> None:
    broadcast = topic(deployed, "Broadcast/Topic/Resource")
    beta = topic(deployed, "SegmentBeta/Topic/Resource")
    first = token()

    registered = register(deployed, platform="apns", token=first, segments=["beta"])
    endpoint = registered["endpoint_arn"]
    assert {s["topic_arn"] for s in registered["subscriptions"]} == {broadcast, beta}

    # the app starts again with a new token: the same endpoint, with the new token
    second = token()
    again = register(deployed, platform="apns", token=second, endpoint_arn=endpoint)
    assert again["endpoint_arn"] == endpoint
    sns = deployed.client("sns")
    held = sns.get_endpoint_attributes(EndpointArn=endpoint)["Attributes"]
    assert held["Token"] == second and held["Enabled"] == "true"

    # a reinstall registers a token SNS already knows, without the endpoint: the same one
    assert register(deployed, platform="apns", token=second)["endpoint_arn"] == endpoint

    # without IAM credentials the URL refuses the call
    anonymous = deployed.emulator.invoke_function_url(
        function(deployed, "Registration/Function/Resource"), body="{}"
    )
    assert anonymous["status"] == 403


def test_broadcast_and_segment_reach_exactly_their_devices(deployed: DeployedStack) -> None:
    phone = register(deployed, platform="apns", token=token(), segments=["beta"])["endpoint_arn"]
    tablet = register(deployed, platform="fcm", token=token())["endpoint_arn"]
    watch = register(deployed, platform="fcm", token=token(), segments=["beta"])["endpoint_arn"]
    sns = deployed.client("sns")

    sns.publish(TopicArn=topic(deployed, "Broadcast/Topic/Resource"), Message="to everyone")
    sns.publish(TopicArn=topic(deployed, "SegmentBeta/Topic/Resource"), Message="beta only")

    assert delivered(phone) == ["to everyone", "beta only"]
    assert delivered(tablet) == ["to everyone"]
    assert delivered(watch) == ["to everyone", "beta only"]


def test_a_disabled_endpoint_is_retired_by_the_feedback_consumer(
    deployed: DeployedStack,
) -> None:
    # GIVEN a device whose endpoint the platform has disabled (the app was uninstalled)
    sns = deployed.client("sns")
    gone = register(deployed, platform="fcm", token=token(), segments=["beta"])["endpoint_arn"]
    kept = register(deployed, platform="fcm", token=token())["endpoint_arn"]
    sns.set_endpoint_attributes(EndpointArn=gone, Attributes={"Enabled": "false"})
    service = LambdaService(deployed)

    # WHEN a broadcast fails to reach it (SNS sends the failure to the events topic)
    sns.publish(TopicArn=topic(deployed, "Broadcast/Topic/Resource"), Message="news")
    feedback = deployed.logical_id_at("PushNotifications/Push/Events/Feedback/Queue/Resource")
    batches = service.drain(feedback)

    # THEN the feedback function deleted the endpoint and its subscriptions, and only it
    assert [b.failed for b in batches] == [[]]
    assert json.loads(json.loads(batches[0].records[0]["body"])["Message"])["EndpointArn"] == gone
    endpoints = endpoint_arns(sns)
    assert gone not in endpoints and kept in endpoints
    subscribed = {s["Endpoint"] for s in sns.list_subscriptions()["Subscriptions"]}
    assert gone not in subscribed and kept in subscribed
    assert delivered(kept)[-1] == "news"


def test_no_credential_in_the_template_responses_or_logs(
    deployed: DeployedStack, assembly: cx_api.CloudAssembly
) -> None:
    template = json.dumps(assembly.get_stack_by_name("PushNotifications").template)
    sns = deployed.client("sns")
    responses = json.dumps(
        [
            sns.get_platform_application_attributes(PlatformApplicationArn=a.arn)
            for a in applications(deployed).values()
        ]
        + [sns.list_platform_applications()],
        default=str,
    )
    invocations = json.dumps(
        [(i.payload, i.log, i.error) for i in lambda_runtime.INVOCATIONS], default=str
    )
    logs = deployed.client("logs")
    lines = [
        event["message"]
        for group in logs.describe_log_groups()["logGroups"]
        for stream in logs.describe_log_streams(logGroupName=group["logGroupName"])["logStreams"]
        for event in logs.get_log_events(
            logGroupName=group["logGroupName"], logStreamName=stream["logStreamName"]
        )["events"]
    ]
    assert len(lines) > 20  # the functions did log
    for where, text in [
        ("template", template),
        ("responses", responses),
        ("invocations", invocations),
        ("logs", "\n".join(lines)),
    ]:
        assert MARKER not in text, where
