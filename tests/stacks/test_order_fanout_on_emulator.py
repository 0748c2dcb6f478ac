"""The OrderFanout stack deployed to the local emulator: what each consumer really receives.

The synthesized template is deployed once for the module (``CreateStack`` on moto in server
mode, see ``tests/emulator``); each test starts from empty queues and publishes to the real
topic. Nothing here is rebuilt by hand with boto3.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from aws_cdk import cx_api

from constructs_lib.testing import DeployedStack, demo, running_emulator
from constructs_lib.testing.fanout import DeployedFanout, published_body
from constructs_lib.testing.lambda_service import LambdaService
from stacks.order_fanout import HIGH_VALUE_ORDER_TOTAL

TOTALS = [Decimal("10"), Decimal("999.99"), Decimal("1000"), Decimal("5000")]
CONTACTS = ["email", "sms", "push", "fax", None]
NOTIFIED_CONTACTS = {"email", "sms", "push"}
CORE_TEAMS = ["Billing", "Shipping", "Inventory"]


def order(order_id: str, total: Decimal, sku: str = "SKU-1") -> dict[str, Any]:
    """A valid order of one line whose total is ``total`` (a JSON number)."""
    return {
        "order_id": order_id,
        "customer_id": "c-1",
        "currency": "EUR",
        "lines": [{"sku": sku, "quantity": 1, "unit_price": float(total)}],
        "total": float(total),
    }


@pytest.fixture(scope="module")
def deployed(demo_assembly: cx_api.CloudAssembly) -> Iterator[DeployedStack]:
    with running_emulator() as emulator:
        yield emulator.deploy(
            demo_assembly.get_stack_by_name("OrderFanout"), parameters=demo.ORDER_PARAMETERS
        )


@pytest.fixture
def fanout(deployed: DeployedStack) -> DeployedFanout:
    """The order fanout with every queue empty and every function idle (what an earlier test
    left to a function has been handled, or dead-lettered, first)."""
    fanout = DeployedFanout(deployed, "OrderFanout/OrderPlaced")
    service = LambdaService(deployed)
    for queue in service.mappings:
        service.drain(queue)
    fanout.empty()
    return fanout


def test_every_resource_of_the_template_exists_in_the_emulator(deployed: DeployedStack) -> None:
    created = {lid for lid in deployed.resources if lid in deployed.physical_ids}
    skipped = {deployed.resources[lid]["Type"] for lid in set(deployed.resources) - created}
    assert skipped <= {"AWS::CDK::Metadata"}
    # five queues, the partner's webhook, the on-call email
    assert len(deployed.of_type("AWS::SNS::Subscription")) == 7


def test_the_partner_webhook_waits_for_its_confirmation_and_on_call_gets_alarms(
    deployed: DeployedStack,
) -> None:
    sns_client = deployed.client("sns")
    by_protocol = {
        s["Protocol"]: s
        for topic in sns_client.list_topics()["Topics"]
        for s in sns_client.list_subscriptions_by_topic(TopicArn=topic["TopicArn"])["Subscriptions"]
    }
    webhook = by_protocol["https"]
    assert webhook["Endpoint"] == demo.ORDER_PARAMETERS["PartnerWebhookUrl"]
    # nobody at partner.example.com confirms it here: SNS sends it nothing until then
    attributes = sns_client.get_subscription_attributes(SubscriptionArn=webhook["SubscriptionArn"])[
        "Attributes"
    ]
    assert attributes["PendingConfirmation"] == "true"
    assert attributes["RawMessageDelivery"] == "true"
    email = by_protocol["email"]
    assert email["Endpoint"] == demo.ORDER_PARAMETERS["OnCallEmail"]
    alarms = deployed.client("cloudwatch").describe_alarms()["MetricAlarms"]
    notifying = [a for a in alarms if a["AlarmActions"]]
    assert all(a["AlarmActions"] == [email["TopicArn"]] for a in notifying)
    # all but the alerts topic's own undelivered alarm, which has nowhere else to go
    assert len(notifying) == len(alarms) - 1


def handed_over(service: LambdaService, consumer: Any) -> list[dict[str, Any]]:
    """Every SQS record the consumer's function was handed until its queue drained."""
    return [r for i in service.drain(consumer.queue) for r in i.records]


def test_each_consumer_receives_exactly_its_subset_once(
    deployed: DeployedStack, fanout: DeployedFanout
) -> None:
    # GIVEN 20 orders: every total against every way of reaching the customer (or none)
    service = LambdaService(deployed)
    published: dict[str, tuple[Decimal, str | None]] = {}
    for n, (total, contact) in enumerate(itertools.product(TOTALS, CONTACTS)):
        order_id = f"o-{n}"
        attributes = {"customer_contact": contact} if contact else {}
        fanout.publish(order(order_id, total), attributes=attributes)
        published[order_id] = (total, contact)

    # THEN each queue holds the orders its subscription selects, each exactly once (the core
    # teams' queues feed their functions: what those were handed)
    expected = {
        **{team: set(published) for team in CORE_TEAMS},
        "Analytics": {o for o, (t, _) in published.items() if t >= HIGH_VALUE_ORDER_TOTAL},
        "CustomerNotifications": {o for o, (_, c) in published.items() if c in NOTIFIED_CONTACTS},
    }
    for team, consumer in fanout.consumers.items():
        if team in CORE_TEAMS:
            bodies = [{"Body": r["body"]} for r in handed_over(service, consumer)]
        else:
            bodies = fanout.receive_all(consumer.queue_url)
        received = Counter(published_body(m, raw=consumer.raw)["order_id"] for m in bodies)
        assert set(received) == expected[team], team
        assert max(received.values()) == 1, f"{team} got duplicates: {received}"
    assert {len(s) for s in expected.values()} == {20, 10, 12}


def test_raw_consumer_gets_the_bare_body_with_attributes_as_sqs_attributes(
    fanout: DeployedFanout,
) -> None:
    placed = order("o-raw", Decimal("2500"))
    fanout.publish(placed, attributes={"customer_contact": "sms"})

    (message,) = fanout.receive_all(fanout.consumers["Analytics"].queue_url)

    assert json.loads(message["Body"]) == placed
    assert message["MessageAttributes"]["customer_contact"] == {
        "StringValue": "sms",
        "DataType": "String",
    }


def test_enveloped_consumers_get_the_sns_notification_from_this_topic(
    deployed: DeployedStack, fanout: DeployedFanout
) -> None:
    service = LambdaService(deployed)
    placed = order("o-envelope", Decimal("20"))
    message_id = fanout.publish(placed, attributes={"customer_contact": "email"})

    for team in [*CORE_TEAMS, "CustomerNotifications"]:
        consumer = fanout.consumers[team]
        if team in CORE_TEAMS:
            (record,) = handed_over(service, consumer)
            body = record["body"]
        else:
            (message,) = fanout.receive_all(consumer.queue_url)
            body = message["Body"]
        envelope = json.loads(body)
        assert envelope["Type"] == "Notification"
        assert envelope["TopicArn"] == fanout.topic_arn
        assert envelope["MessageId"] == message_id
        assert json.loads(envelope["Message"]) == placed
        assert envelope["MessageAttributes"]["customer_contact"]["Value"] == "email"


def test_a_message_that_is_never_deleted_moves_to_the_dlq_after_max_receive_count(
    fanout: DeployedFanout,
) -> None:
    # (the notifications queue: no function polls it)
    billing = fanout.consumers["CustomerNotifications"]
    fanout.publish("order o-1: 2 x SKU-1", attributes={"customer_contact": "email"})

    # WHEN a consumer receives it and never deletes it (visibility 0: back at once)
    counts = []
    for _ in range(billing.max_receive_count):
        (message,) = fanout.receive_all(billing.queue_url, visibility_timeout=0, delete=False)
        counts.append(int(message["Attributes"]["ApproximateReceiveCount"]))

    # THEN the next receive finds nothing and the DLQ holds the message, body intact
    assert counts == list(range(1, billing.max_receive_count + 1)) == [1, 2, 3, 4, 5]
    assert fanout.receive_all(billing.queue_url) == []
    (dead,) = fanout.receive_all(billing.dead_letter_queue_url)
    assert published_body(dead, raw=False) == "order o-1: 2 x SKU-1"
    assert dead["Body"] == message["Body"]


def test_lambda_consumers_process_good_orders_once_and_dead_letter_the_malformed(
    deployed: DeployedStack, fanout: DeployedFanout
) -> None:
    # GIVEN three orders, one of them published twice, and one malformed order
    service = LambdaService(deployed)
    orders = [order(f"lambda-{n}", Decimal(n * 10), sku="SKU-7") for n in (1, 2, 3)]
    for placed in [*orders, orders[0]]:
        fanout.publish(placed)
    malformed_id = fanout.publish({"order_id": "o-bad", "lines": []})

    # WHEN each core team's event source mapping has worked its queue
    runs = {team: service.drain(fanout.consumers[team].queue) for team in CORE_TEAMS}

    table = deployed.client("dynamodb")
    (orders_table,) = [t for t in table.list_tables()["TableNames"] if "OrdersTable" in t]
    items = [  # what this test's orders and their SKU left (earlier tests' orders are there too)
        item
        for item in table.scan(TableName=orders_table)["Items"]
        if item["pk"]["S"].startswith("ORDER#lambda-") or item["pk"]["S"] == "SKU#SKU-7"
    ]
    kinds = Counter(item["sk"]["S"].split("#")[0] for item in items)
    for team in CORE_TEAMS:
        consumer = fanout.consumers[team]
        invocations = runs[team]
        # however the poller batched them: the good records succeed once each, the bad one is
        # reported in every batch it is in, and is handed over max-receive-count times
        bad = {
            r["messageId"]
            for i in invocations
            for r in i.records
            if json.loads(r["body"])["MessageId"] == malformed_id
        }
        (bad_message_id,) = bad
        handed_bad = [i for i in invocations if bad_message_id in i.message_ids]
        assert len(handed_bad) == consumer.max_receive_count
        assert all(bad_message_id in i.failed for i in handed_bad), [
            (i.message_ids, i.failed, i.output[-600:]) for i in handed_bad
        ]
        assert all(i.error is None for i in invocations)
        succeeded = [m for i in invocations for m in i.succeeded]
        assert len(succeeded) == len(set(succeeded)) == 4, [
            (i.message_ids, i.failed, i.error, i.output[-300:]) for i in invocations
        ]
        assert fanout.depth(consumer.queue_url) == 0
        (dead,) = fanout.receive_all(consumer.dead_letter_queue_url)
        assert json.loads(dead["Body"])["MessageId"] == malformed_id
        assert "Invalid order" in handed_bad[0].output
    # each order is invoiced, shipped and reserved once although published twice
    assert kinds == {"INVOICE": 3, "SHIPMENT": 3, "RESERVATION": 3, "STOCK": 1}
    stock = next(i for i in items if i["sk"]["S"] == "STOCK")
    assert int(stock["reserved"]["N"]) == 3


def test_publishing_when_a_subscribed_queue_was_deleted(fanout: DeployedFanout) -> None:
    """SNS accepts the publish and moves what it could not deliver to the missing queue into
    the subscription's dead-letter queue (the fanout's ``-undelivered`` queue, which has an
    alarm), naming the subscription and the error. moto alone fails the whole ``Publish``
    with ``NonExistentQueue``; ``sns_fixes`` restores SNS's behaviour. What cannot be shown:
    SNS's retries of a server-side error before it gives up (a deleted queue is a client-side
    error, which SNS does not retry)."""
    notifications = fanout.consumers["CustomerNotifications"]
    fanout.sqs.delete_queue(QueueUrl=notifications.queue_url)
    try:
        fanout.publish(order("o-gone", Decimal("30")), attributes={"customer_contact": "email"})
        undelivered = str(fanout.subscription_dead_letter_queue_url)
        [dead] = fanout.receive_all(undelivered)
        envelope = json.loads(dead["Body"])
        subscription = fanout.deployed.physical_id(notifications.subscription)
        assert envelope["UnsubscribeURL"].endswith(f"SubscriptionArn={subscription}")
        assert json.loads(envelope["Message"])["order_id"] == "o-gone"
        error = dead["MessageAttributes"]["ErrorCode"]["StringValue"]
        assert error == "AWS.SimpleQueueService.NonExistentQueue"
    finally:
        fanout.sqs.create_queue(
            QueueName=notifications.queue_url.rsplit("/", 1)[-1],
            Attributes=_queue_attributes(fanout.deployed, notifications.queue),
        )


def test_the_deployed_queue_key_lets_sns_in_only_for_this_topic(
    deployed: DeployedStack, fanout: DeployedFanout
) -> None:
    """The key policy as the emulator holds it after deploy.

    moto does not evaluate KMS key policies (nor SQS queue policies) when SNS delivers, so a
    key that denies SNS cannot be shown to stop delivery here; what is checked is that the
    policy deployed is the one that would let SNS in for this topic and no other.
    """
    queue = deployed.resources[fanout.consumers["Billing"].queue]["Properties"]
    key_id = deployed.physical_id(queue["KmsMasterKeyId"]["Fn::GetAtt"][0])
    policy = deployed.client("kms").get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    # moto hands back the policy of a key created by CloudFormation as a JSON object, where
    # KMS returns a string; read either.
    policy = json.loads(policy) if isinstance(policy, str) else policy
    sns_statements = [
        s for s in policy["Statement"] if s.get("Principal") == {"Service": "sns.amazonaws.com"}
    ]
    assert sns_statements == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": "*",
            "Condition": {"ArnEquals": {"aws:SourceArn": fanout.topic_arn}},
        }
    ]


def _queue_attributes(deployed: DeployedStack, queue_lid: str) -> dict[str, str]:
    props = deployed.resources[queue_lid]["Properties"]
    return {
        "VisibilityTimeout": str(props["VisibilityTimeout"]),
        "RedrivePolicy": json.dumps(deployed.resolve(props["RedrivePolicy"])),
    }
