"""The cross-region pair on the local emulator: an order published in us-east-1 reaches the
recovery queue in us-west-2 through the subscription the recovery stack creates."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from helpers import project_app

from constructs_lib.testing import DeployedStack, running_emulator
from constructs_lib.testing.fanout import DeployedFanout, receive_all
from stacks import OrdersPrimaryStack, OrdersRecoveryStack
from stacks.disaster_recovery import PRIMARY_REGION, RECOVERY_REGION


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DeployedStack, DeployedStack]]:
    app = project_app(tmp_path_factory.mktemp("cdk.out"))
    primary = OrdersPrimaryStack(app, "OrdersPrimary", env={"region": PRIMARY_REGION})
    OrdersRecoveryStack(
        app, "OrdersRecovery", orders=primary.orders, env={"region": RECOVERY_REGION}
    )
    assembly = app.synth()
    with running_emulator() as emulator:
        # in dependency order, as `cdk deploy OrdersPrimary OrdersRecovery` does
        yield (
            emulator.deploy(assembly.get_stack_by_name("OrdersPrimary")),
            emulator.deploy(assembly.get_stack_by_name("OrdersRecovery")),
        )


def test_each_stack_is_deployed_in_its_own_region(
    pair: tuple[DeployedStack, DeployedStack],
) -> None:
    primary, recovery = pair
    assert (primary.region, recovery.region) == ("us-east-1", "us-west-2")
    (queue_lid,) = [
        lid
        for lid, r in recovery.of_type("AWS::SQS::Queue").items()
        if r["Metadata"]["aws:cdk:path"] == "OrdersRecovery/OrdersReplica/Queue/Resource"
    ]
    assert recovery.queue_url(queue_lid).startswith("https://sqs.us-west-2.")


def test_an_order_published_in_the_primary_region_reaches_both_regions(
    pair: tuple[DeployedStack, DeployedStack],
) -> None:
    primary, recovery = pair
    orders = DeployedFanout(primary, "OrdersPrimary/OrderPlaced")
    replica_url = recovery.queue_url(
        recovery.logical_id_at("OrdersRecovery/OrdersReplica/Queue/Resource")
    )

    message_id = orders.publish({"order_id": "o-dr-1", "total": 1250})

    (fulfilment,) = orders.receive_all(orders.consumers["Fulfilment"].queue_url)
    (copy,) = receive_all(recovery.client("sqs"), replica_url)
    for message in (fulfilment, copy):
        envelope = json.loads(message["Body"])
        assert envelope["MessageId"] == message_id
        assert envelope["TopicArn"] == orders.topic_arn
    assert orders.topic_arn.startswith("arn:aws:sns:us-east-1:")


def test_the_cross_region_subscription_lives_in_the_topic_region(
    pair: tuple[DeployedStack, DeployedStack],
) -> None:
    primary, recovery = pair
    subscription = recovery.logical_id_at("OrdersRecovery/OrdersReplica/Subscription/Resource")
    arn = recovery.physical_id(subscription)
    attributes = primary.client("sns").get_subscription_attributes(SubscriptionArn=arn)[
        "Attributes"
    ]
    assert arn.startswith("arn:aws:sns:us-east-1:")
    assert attributes["Endpoint"].startswith("arn:aws:sqs:us-west-2:")
    assert json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"].startswith(
        "arn:aws:sqs:us-east-1:"
    )
