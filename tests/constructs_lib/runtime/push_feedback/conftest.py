"""Fixtures for the feedback function: moto, devices on the topics, and real SQS records.

The handler module reads its settings and creates its Powertools logger at import, as in
Lambda, so it is imported inside ``mock_aws`` with the environment the construct sets and with
its folder on ``sys.path``, then removed from ``sys.modules``. The emulated account and the
module last for the test module; each test makes its own devices and its own event queue.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import uuid4

import boto3
import pytest
from helpers import PushTopics, emulated_aws, powertools_handler
from sqs_events import LambdaContext

from constructs_lib.testing import lambda_event, lambda_record

SOURCE = Path(__file__).resolve().parents[4] / "constructs_lib" / "runtime" / "push_feedback"
REGION = "eu-west-1"
SERVICE = "push-feedback-test"


@dataclass
class Push(PushTopics):
    """The emulated account: an FCM application, the broadcast topic and segment topics."""

    sqs: Any
    application_arn: str

    def device(self, segments: Sequence[str] = ()) -> str:
        """A registered device: an endpoint subscribed to broadcast and ``segments``."""
        endpoint_arn = self.sns.create_platform_endpoint(
            PlatformApplicationArn=self.application_arn, Token=f"token-{uuid4().hex}"
        )["EndpointArn"]
        for topic_arn in [self.broadcast_topic_arn, *(self.segment_topics[s] for s in segments)]:
            self.sns.subscribe(TopicArn=topic_arn, Protocol="application", Endpoint=endpoint_arn)
        return str(endpoint_arn)

    def disable(self, endpoint_arn: str) -> None:
        """What SNS does to an endpoint whose token the push service rejected."""
        self.sns.set_endpoint_attributes(EndpointArn=endpoint_arn, Attributes={"Enabled": "false"})

    def exists(self, endpoint_arn: str) -> bool:
        try:
            self.sns.get_endpoint_attributes(EndpointArn=endpoint_arn)
        except self.sns.exceptions.NotFoundException:
            return False
        return True


@pytest.fixture(scope="module")
def push() -> Iterator[Push]:
    with emulated_aws(REGION):
        sns = boto3.client("sns", region_name=REGION)
        yield Push(
            sqs=boto3.client("sqs", region_name=REGION),
            application_arn=sns.create_platform_application(
                Name="app-fcm", Platform="GCM", Attributes={}
            )["PlatformApplicationArn"],
            **PushTopics.create(sns),
        )


@pytest.fixture(scope="module")
def feedback(push: Push) -> Iterator[ModuleType]:
    """The handler module, imported as Lambda imports it, with the construct's environment."""
    environment = {
        "BROADCAST_TOPIC_ARN": push.broadcast_topic_arn,
        "SEGMENT_TOPICS": json.dumps(push.segment_topics),
    }
    with powertools_handler(SOURCE, SERVICE, environment) as module:
        yield module


class EventQueue:
    """A platform application event topic and the SQS queue subscribed to it (SNS envelope)."""

    def __init__(self, push: Push) -> None:
        self.push = push
        self.region = REGION
        suffix = uuid4().hex[:12]
        self.topic_arn = push.sns.create_topic(Name=f"push-events-{suffix}")["TopicArn"]
        self.queue_url = push.sqs.create_queue(QueueName=f"push-feedback-{suffix}")["QueueUrl"]
        self.queue_arn = push.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        push.sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=self.queue_arn)

    def delivery_failure(self, endpoint_arn: str, failure_type: str) -> dict[str, Any]:
        """An ``EventDeliveryFailure`` event, as SNS sends it."""
        return {
            **self.endpoint_event("DeliveryFailure", endpoint_arn),
            "DeliveryAttempts": 1,
            "FailureType": failure_type,
            "FailureMessage": f"Delivery failed: {failure_type}",
        }

    def endpoint_event(self, event_type: str, endpoint_arn: str) -> dict[str, Any]:
        """An ``EventEndpoint*`` event, as SNS sends it."""
        return {
            "EventType": event_type,
            "EndpointArn": endpoint_arn,
            "Resource": self.push.application_arn,
            "Service": "SNS",
            "Time": "2026-11-22T05:33:53.123Z",
            "Type": "Notification",
        }

    def publish(self, event: dict[str, Any]) -> None:
        self.push.sns.publish(TopicArn=self.topic_arn, Message=json.dumps(event))

    def receive(self) -> list[dict[str, Any]]:
        """Lambda records of every message now on the queue, at most 10 (one batch)."""
        messages = self.push.sqs.receive_message(
            QueueUrl=self.queue_url,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            MaxNumberOfMessages=10,
        ).get("Messages", [])
        return [lambda_record(message, self.queue_arn, REGION) for message in messages]


@pytest.fixture
def events(push: Push) -> EventQueue:
    return EventQueue(push)


@pytest.fixture
def run(feedback: ModuleType) -> Callable[[list[dict[str, Any]]], dict[str, Any]]:
    """Hands the records to the handler as one Lambda invocation; returns its response."""

    def invoke(records: list[dict[str, Any]]) -> dict[str, Any]:
        response = feedback.handler(
            lambda_event(records), LambdaContext(function_name="push-feedback")
        )
        return dict(response)

    return invoke


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str]) -> Callable[[], list[dict[str, Any]]]:
    """Call to read the log lines written since the last call."""

    def read() -> list[dict[str, Any]]:
        text = capsys.readouterr().out
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    return read
