"""A fanout's Lambda and HTTP subscribers deployed to the local emulator: each receives exactly
its filtered subset, the HTTP endpoint confirms its subscription first, and what neither
could take ends in the fanout's subscription dead-letter queue.

The HTTP endpoint is a local server on 127.0.0.1 (``LocalEndpoint``) that confirms the
subscription with the token SNS sent it and records every notification; the Lambda
subscriber is the function in ``subscriber_function/``, run by the emulator as deployed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from helpers import project_app, wait_for

from constructs_lib import FanoutTopic
from constructs_lib.testing import Emulator
from constructs_lib.testing.local_http import LocalEndpoint, Request

FUNCTION = Path(__file__).parent / "subscriber_function"
string_filter = sns.SubscriptionFilter.string_filter


class Partner:
    """The partner's webhook: confirms its subscription, records notifications, and refuses
    (HTTP 500) a message whose body says ``refuse``."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.confirmations: list[dict[str, Any]] = []
        self.notifications: list[Request] = []
        self.endpoint = LocalEndpoint(self.respond).start()

    def respond(self, request: Request) -> tuple[int, str]:
        kind = request.headers.get("x-amz-sns-message-type")
        body = json.loads(request.body)
        if kind == "SubscriptionConfirmation":
            self.confirmations.append(body)
            # Confirm as an endpoint does: after answering, with the token it was sent.
            threading.Thread(target=self.confirm, args=(body,), daemon=True).start()
            return 200, "{}"
        if "refuse" in body["Message"]:
            return 500, "{}"
        self.notifications.append(request)
        return 200, "{}"

    def confirm(self, body: dict[str, Any]) -> None:
        self.emulator.client("sns").confirm_subscription(
            TopicArn=body["TopicArn"], Token=body["Token"]
        )


@pytest.fixture(scope="module")
def deployed(
    emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimpleNamespace]:
    partner = Partner(emulator)
    app = project_app(tmp_path_factory.mktemp("cdk.out"))
    stack = Stack(app, "Alerts")
    orders = FanoutTopic(stack, "Orders")
    recorded = sqs.Queue(stack, "Recorded", enforce_ssl=True)
    function = lambda_.Function(
        stack,
        "Refunds",
        code=lambda_.Code.from_asset(str(FUNCTION)),
        handler="handler.handler",
        runtime=lambda_.Runtime.PYTHON_3_14,
        environment={"RECORD_URL": recorded.queue_url},
    )
    recorded.grant_send_messages(function)
    refunds = orders.add_lambda_subscriber(
        "RefundDesk",
        function=function,
        filter_policy={"kind": string_filter(allowlist=["refund"])},
    )
    webhook = orders.add_http_subscriber(
        "Partner",
        url=f"{partner.endpoint.url}/orders",
        allow_plain_http=True,  # the local server speaks plain HTTP
        filter_policy={"kind": string_filter(allowlist=["order"])},
    )
    assembly = app.synth()
    stack_deployed = emulator.deploy(assembly.get_stack_by_name("Alerts"))
    ids = {
        "topic": stack.get_logical_id(orders.topic.node.default_child),  # type: ignore[arg-type]
        "recorded": stack.get_logical_id(recorded.node.default_child),  # type: ignore[arg-type]
        "undelivered": stack.get_logical_id(
            orders.subscription_dead_letter_queue.node.default_child  # type: ignore[arg-type]
        ),
        "webhook": stack.get_logical_id(webhook.subscription.node.default_child),  # type: ignore[arg-type]
    }
    yield SimpleNamespace(
        emulator=emulator,
        partner=partner,
        refunds=refunds,
        topic_arn=stack_deployed.physical_ids[ids["topic"]],
        recorded_url=stack_deployed.queue_url(ids["recorded"]),
        undelivered_url=stack_deployed.queue_url(ids["undelivered"]),
        webhook_arn=stack_deployed.physical_ids[ids["webhook"]],
    )
    partner.endpoint.stop()


def publish(deployed: SimpleNamespace, message: str, **attributes: str) -> None:
    deployed.emulator.client("sns").publish(
        TopicArn=deployed.topic_arn,
        Message=message,
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
        },
    )


def drained(deployed: SimpleNamespace, url: str, count: int) -> list[str]:
    sqs_client = deployed.emulator.client("sqs")
    bodies: list[str] = []

    def more() -> bool:
        for message in sqs_client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            bodies.append(message["Body"])
            sqs_client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(bodies) >= count

    wait_for(more)
    return bodies


def test_the_http_endpoint_confirms_its_subscription_before_it_gets_anything(
    deployed: SimpleNamespace,
) -> None:
    wait_for(lambda: deployed.partner.confirmations)
    (confirmation,) = deployed.partner.confirmations
    assert confirmation["Type"] == "SubscriptionConfirmation"
    assert confirmation["TopicArn"] == deployed.topic_arn
    assert "Action=ConfirmSubscription" in confirmation["SubscribeURL"]
    sns_client = deployed.emulator.client("sns")

    def confirmed() -> bool:
        attributes = sns_client.get_subscription_attributes(SubscriptionArn=deployed.webhook_arn)[
            "Attributes"
        ]
        return attributes["PendingConfirmation"] == "false"

    wait_for(confirmed)


def test_each_subscriber_gets_exactly_its_filtered_subset(deployed: SimpleNamespace) -> None:
    test_the_http_endpoint_confirms_its_subscription_before_it_gets_anything(deployed)
    for number in range(3):
        publish(deployed, f"order-{number}", kind="order")
    for number in range(2):
        publish(deployed, f"refund-{number}", kind="refund")
    publish(deployed, "other-0", kind="other")
    publish(deployed, "no-kind-0")

    recorded = [json.loads(b) for b in drained(deployed, deployed.recorded_url, 2)]
    assert sorted(r["message"] for r in recorded) == ["refund-0", "refund-1"]
    assert {r["attributes"]["kind"] for r in recorded} == {"refund"}

    wait_for(lambda: len(deployed.partner.notifications) >= 3)
    posted = deployed.partner.notifications
    bodies = [json.loads(r.body) for r in posted]
    assert sorted(b["Message"] for b in bodies) == ["order-0", "order-1", "order-2"]
    assert {b["MessageAttributes"]["kind"]["Value"] for b in bodies} == {"order"}
    assert {r.headers["x-amz-sns-message-type"] for r in posted} == {"Notification"}
    assert {r.headers["x-amz-sns-subscription-arn"] for r in posted} == {deployed.webhook_arn}


def test_what_neither_subscriber_could_take_is_dead_lettered(deployed: SimpleNamespace) -> None:
    test_the_http_endpoint_confirms_its_subscription_before_it_gets_anything(deployed)
    publish(deployed, "refund-poison", kind="refund", poison="yes")
    publish(deployed, "order-refuse", kind="order")

    bodies = [json.loads(b) for b in drained(deployed, deployed.undelivered_url, 2)]
    failed_invocation = next(b for b in bodies if "requestContext" in b)
    assert failed_invocation["requestContext"]["condition"] == "RetriesExhausted"
    assert failed_invocation["requestContext"]["approximateInvokeCount"] == 3
    (record,) = failed_invocation["requestPayload"]["Records"]
    assert record["Sns"]["Message"] == "refund-poison"
    refused = next(b for b in bodies if b.get("Type") == "Notification")
    assert refused["Message"] == "order-refuse"
