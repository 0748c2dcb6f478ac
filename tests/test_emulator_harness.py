"""The emulator harness never passes silently: skipped resources and lost settings fail."""

from __future__ import annotations

import json
from pathlib import Path

import jsii
import pytest
from aws_cdk import Environment, Stack, cx_api
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import IValidation
from helpers import project_app

from constructs_lib import FanoutTopic
from constructs_lib.testing import (
    NOT_EMULATED,
    DeployedStack,
    Emulator,
    EmulatorGap,
    running_emulator,
)
from constructs_lib.testing.fanout import DeployedFanout


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> cx_api.CloudAssembly:
    """Two small stacks: a fanout, and the same fanout plus a type moto does not know."""
    app = project_app(tmp_path_factory.mktemp("cdk.out"))
    FanoutTopic(Stack(app, "Small"), "Events").add_queue_consumer("Audit")
    unknown = Stack(app, "Unknown")
    fanout = FanoutTopic(unknown, "Events")
    sns.CfnTopicInlinePolicy(
        unknown,
        "InlinePolicy",
        topic_arn=fanout.topic.topic_arn,
        policy_document={"Version": "2012-10-17", "Statement": []},
    )
    return app.synth()


@pytest.fixture(scope="module")
def small(emulator: Emulator, assembly: cx_api.CloudAssembly) -> DeployedStack:
    return emulator.deploy(assembly.get_stack_by_name("Small"))


def test_deploy_fails_naming_a_resource_the_emulator_skipped(
    emulator: Emulator, assembly: cx_api.CloudAssembly
) -> None:
    assert "AWS::SNS::TopicInlinePolicy" not in NOT_EMULATED
    with pytest.raises(
        EmulatorGap,
        match=r"did not create 1 resources: InlinePolicy\w* \(AWS::SNS::TopicInlinePolicy\)",
    ):
        emulator.deploy(assembly.get_stack_by_name("Unknown"))


def test_check_fails_when_the_emulator_holds_another_setting(small: DeployedStack) -> None:
    audit = DeployedFanout(small, "Small/Events").consumers["Audit"]
    sqs = small.client("sqs")
    # moto drops a queue's policy on SetQueueAttributes without one: pass it along.
    (policy,) = sqs.get_queue_attributes(QueueUrl=audit.queue_url, AttributeNames=["Policy"])[
        "Attributes"
    ].values()

    def set_visibility(seconds: str) -> None:
        sqs.set_queue_attributes(
            QueueUrl=audit.queue_url, Attributes={"VisibilityTimeout": seconds, "Policy": policy}
        )

    set_visibility("7")
    try:
        with pytest.raises(EmulatorGap, match=r"VisibilityTimeout: template 30, emulator 7"):
            small.check_against_template()
    finally:
        set_visibility("30")
    small.check_against_template()


def test_filled_types_leave_the_state_their_api_calls_would(small: DeployedStack) -> None:
    fanout = DeployedFanout(small, "Small/Events")
    sns_client = small.client("sns")
    (subscription,) = sns_client.list_subscriptions_by_topic(TopicArn=fanout.topic_arn)[
        "Subscriptions"
    ]
    attributes = sns_client.get_subscription_attributes(
        SubscriptionArn=subscription["SubscriptionArn"]
    )["Attributes"]
    assert attributes["Protocol"] == "sqs"
    assert json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"].endswith("-undelivered")
    topic_policy = json.loads(
        sns_client.get_topic_attributes(TopicArn=subscription["TopicArn"])["Attributes"]["Policy"]
    )
    assert any(s.get("Condition", {}).get("Bool") for s in topic_policy["Statement"])
    alarms = small.client("cloudwatch").describe_alarms()["MetricAlarms"]
    assert any("could not deliver" in a.get("AlarmDescription", "") for a in alarms)


def test_assets_are_published_to_the_bootstrap_bucket(
    emulator: Emulator, assembly: cx_api.CloudAssembly, small: DeployedStack
) -> None:
    manifest = json.loads((Path(assembly.directory) / "Small.assets.json").read_text())
    keys = {d["objectKey"] for a in manifest["files"].values() for d in a["destinations"].values()}
    listed = emulator.client("s3").list_objects_v2(Bucket=emulator.asset_bucket())["Contents"]
    assert keys <= {o["Key"] for o in listed}


# -- a user's app: deploy_app -------------------------------------------------------------


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, DeployedStack]:
    """A user's app: one stack pinned to its own account with two fanouts and a container
    image asset, deployed with deploy_app."""
    image = tmp_path_factory.mktemp("image")
    (image / "Dockerfile").write_text("FROM public.ecr.aws/docker/library/python:3.13-slim\n")
    app = project_app(tmp_path_factory.mktemp("cdk.out"))
    stack = Stack(app, "Shop", env=Environment(account="444455556666", region="eu-west-1"))
    FanoutTopic(stack, "Orders").add_queue_consumer("Billing")
    refunds = FanoutTopic(stack, "Refunds")
    refunds.add_queue_consumer("Ledger")
    refunds.add_queue_consumer("Audit")
    ecr_assets.DockerImageAsset(stack, "Worker", directory=str(image))
    with Emulator() as emulator:
        yield emulator.deploy_app(app)


def test_two_fanouts_in_one_stack_each_see_only_their_consumers(
    shop: dict[str, DeployedStack],
) -> None:
    orders = DeployedFanout(shop["Shop"], "Shop/Orders")
    refunds = DeployedFanout(shop["Shop"], "Shop/Refunds")
    assert sorted(orders.consumers) == ["Billing"]
    assert sorted(refunds.consumers) == ["Audit", "Ledger"]


def test_a_stack_pinned_to_another_account_is_deployed_in_that_account(
    shop: dict[str, DeployedStack],
) -> None:
    orders = DeployedFanout(shop["Shop"], "Shop/Orders")
    assert ":444455556666:" in orders.topic_arn


def test_a_stack_with_a_container_image_asset_is_deployed_without_the_image(
    shop: dict[str, DeployedStack],
) -> None:
    assert "Shop" in shop  # the image is not built; the rest of the stack is there


def test_a_wrong_construct_path_names_the_close_ones(shop: dict[str, DeployedStack]) -> None:
    with pytest.raises(KeyError, match=r"no resource at 'Shop/Order/Topic/Resource'.*Shop/Orders"):
        DeployedFanout(shop["Shop"], "Shop/Order")


def test_an_app_that_does_not_synthesize_shows_cdks_error(tmp_path: Path) -> None:
    app = project_app(tmp_path)
    stack = Stack(app, "Broken")
    FanoutTopic(stack, "Orders")
    stack.node.add_validation(_Refuses())
    with (
        Emulator() as emulator,
        pytest.raises(EmulatorGap, match=r"(?s)the app did not synthesize: .*the user's own rule"),
    ):
        emulator.deploy_app(app)


def test_a_stack_name_not_in_the_assembly_lists_those_that_are(
    emulator: Emulator, assembly: cx_api.CloudAssembly
) -> None:
    with pytest.raises(EmulatorGap, match=r"no stack Nope in the assembly; its stacks: Small"):
        emulator.deploy_app(assembly, stacks=["Nope"])


@jsii.implements(IValidation)
class _Refuses:
    def validate(self) -> list[str]:
        return ["the user's own rule refuses this stack"]


def test_consumers_in_nested_stacks_are_deployed_checked_and_found(tmp_path: Path) -> None:
    """A fanout large enough to open ``Consumers2``: the nested stack is checked against its
    own template, and the fanout finds (and delivers to) the consumers there."""
    app = project_app(tmp_path)
    stack = Stack(app, "Big")
    fanout = FanoutTopic(stack, "Orders")
    for number in range(40):
        fanout.add_queue_consumer(f"C{number}")
    assert [n.node.id for n in fanout.consumer_stacks] == ["Consumers2"]
    with running_emulator() as emulator:
        big = emulator.deploy_app(app)["Big"]
        deployed = DeployedFanout(big, "Big/Orders")
        deployed.publish({"order": "o-1"})

        assert list(big.nested) == ["Big/Orders/Consumers2"]
        assert big.nested["Big/Orders/Consumers2"].physical_ids
        assert len(deployed.consumers) == 40
        last = deployed.consumers["C39"]
        assert last.deployed is big.nested["Big/Orders/Consumers2"]
        assert len(deployed.receive_all(last.queue_url)) == 1


def test_a_stack_the_emulator_refuses_fails_with_its_reason(tmp_path: Path) -> None:
    app = project_app(tmp_path)
    stack = Stack(app, "Refused")
    sqs.CfnQueue(
        stack,
        "Queue",
        redrive_policy={
            "deadLetterTargetArn": "arn:aws:sqs:eu-west-1:123456789012:not-there",
            "maxReceiveCount": 3,
        },
    )
    with (
        running_emulator() as emulator,
        pytest.raises(
            EmulatorGap,
            match=r"Refused: the emulator refused to create the stack: .*NonExistentQueue",
        ),
    ):
        emulator.deploy_app(app)
