"""Fixtures for the registration function: moto, its platform applications and topics.

The handler module creates its Powertools logger and reads its settings at import, as in
Lambda, so it is imported inside ``mock_aws`` with the environment the construct sets and with
its folder on ``sys.path``, then removed from ``sys.modules``. The emulated account and the
module last for the test module; each test uses new device tokens, so tests do not meet.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import uuid4

import boto3
import pytest
from helpers import PushTopics, emulated_aws, powertools_handler
from sqs_events import LambdaContext

SOURCE = Path(__file__).resolve().parents[4] / "constructs_lib" / "runtime" / "push_registration"
REGION = "eu-west-1"
SERVICE = "push-registration-test"


@dataclass
class Push(PushTopics):
    """The emulated account: SNS client, platform applications and topics."""

    applications: dict[str, str]

    def endpoint_attributes(self, endpoint_arn: str) -> dict[str, str]:
        return dict(self.sns.get_endpoint_attributes(EndpointArn=endpoint_arn)["Attributes"])

    def endpoints(self, platform: str) -> list[str]:
        response = self.sns.list_endpoints_by_platform_application(
            PlatformApplicationArn=self.applications[platform]
        )
        return [endpoint["EndpointArn"] for endpoint in response["Endpoints"]]


@pytest.fixture(scope="module")
def push() -> Iterator[Push]:
    """An emulated account with APNs and FCM applications (no sandbox) and the topics."""
    with emulated_aws(REGION):
        sns = boto3.client("sns", region_name=REGION)
        applications = {
            platform: sns.create_platform_application(
                Name=f"app-{platform}", Platform=sns_platform, Attributes={}
            )["PlatformApplicationArn"]
            for platform, sns_platform in (("apns", "APNS"), ("fcm", "GCM"))
        }
        yield Push(applications=applications, **PushTopics.create(sns))


@pytest.fixture(scope="module")
def registration(push: Push) -> Iterator[ModuleType]:
    """The handler module, imported as Lambda imports it, with the construct's environment."""
    environment = {
        "PLATFORM_APPLICATIONS": json.dumps(push.applications),
        "BROADCAST_TOPIC_ARN": push.broadcast_topic_arn,
        "SEGMENT_TOPICS": json.dumps(push.segment_topics),
    }
    with powertools_handler(SOURCE, SERVICE, environment) as module:
        yield module


@pytest.fixture
def token() -> str:
    """A device token no other test uses."""
    return f"token-{uuid4().hex}"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]


@pytest.fixture
def register(registration: ModuleType):
    """Calls the handler as a function URL would; returns the decoded response."""

    def call(
        body: object,
        *,
        method: str = "POST",
        raw: bool = False,
        encode_base64: bool = False,
    ) -> Response:
        text = body if raw else json.dumps(body)
        assert isinstance(text, str)
        event = url_event(text, method=method, encode_base64=encode_base64)
        result = registration.handler(event, LambdaContext(function_name="push-registration"))
        return Response(result["statusCode"], result["headers"], json.loads(result["body"]))

    return call


def url_event(body: str, *, method: str = "POST", encode_base64: bool = False) -> dict[str, Any]:
    """A Lambda function URL event (payload format 2.0) from an IAM-signed caller."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "abc.lambda-url.on.aws"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc",
            "authorizer": {"iam": {"userArn": "arn:aws:iam::123456789012:user/app-backend"}},
            "domainName": "abc.lambda-url.eu-west-1.on.aws",
            "http": {
                "method": method,
                "path": "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "test",
            },
            "requestId": str(uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": "22/Nov/2026:05:33:53 +0000",
            "timeEpoch": 1795325633000,
        },
        "body": base64.b64encode(body.encode()).decode() if encode_base64 else body,
        "isBase64Encoded": encode_base64,
    }
