"""What `cdk destroy` does with an archived FIFO fanout, on the emulator: by default the topic
and its archive stay; with ``removal_policy=RemovalPolicy.DESTROY`` the archive policy is
deactivated first and the topic deleted; a topic whose archive nobody deactivates makes the
stack's deletion fail, as in SNS (the emulator's ``sns_archive`` fixes restore that)."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from aws_cdk import App, RemovalPolicy, Stack
from aws_cdk import aws_sns as sns
from botocore.exceptions import ClientError
from helpers import project_app, wait_for

from constructs_lib import FanoutTopic
from constructs_lib.testing import Emulator


def _archived(removal_policy: RemovalPolicy | None) -> Callable[[App, str], Any]:
    def build(app: App, name: str) -> Any:
        stack = Stack(app, name)
        options: dict[str, Any] = (
            {} if removal_policy is None else {"removal_policy": removal_policy}
        )
        ledger = FanoutTopic(stack, "Ledger", fifo=True, archive_retention_days=7, **options)
        ledger.add_queue_consumer("Audit", queue_name="audit")
        return ledger

    return build


def _deploy_then_delete(
    emulator: Emulator, tmp_path: Any, name: str, build: Callable[[App, str], Any]
) -> tuple[str, dict[str, Any]]:
    """Deploy the stack, check its topic keeps its archive policy, delete the stack: the
    topic's ARN and the stack's final description."""
    app = project_app(tmp_path)
    fanout = build(app, name)
    deployed = emulator.deploy(app.synth().get_stack_by_name(name))
    topic_arn = deployed.physical_ids[
        Stack.of(fanout.topic).get_logical_id(fanout.topic.node.default_child)
    ]
    sns_client = emulator.client("sns")
    policy = sns_client.get_topic_attributes(TopicArn=topic_arn)["Attributes"]["ArchivePolicy"]
    assert json.loads(policy) == {"MessageRetentionPeriod": 7}
    cloudformation = emulator.client("cloudformation")
    stack_id = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackId"]
    cloudformation.delete_stack(StackName=name)
    stacks = cloudformation.describe_stacks(StackName=stack_id)["Stacks"]
    return topic_arn, stacks[0]


def _topic_exists(emulator: Emulator, arn: str) -> bool:
    try:
        emulator.client("sns").get_topic_attributes(TopicArn=arn)
    except ClientError as error:
        assert error.response["Error"]["Code"] == "NotFound"
        return False
    return True


def test_by_default_destroy_keeps_the_archived_topic_and_its_archive(
    emulator: Emulator, tmp_path: Any
) -> None:
    topic_arn, stack = _deploy_then_delete(emulator, tmp_path, "KeptLedger", _archived(None))
    assert stack["StackStatus"] == "DELETE_COMPLETE"
    assert _topic_exists(emulator, topic_arn)
    attributes = emulator.client("sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    assert json.loads(attributes["ArchivePolicy"]) == {"MessageRetentionPeriod": 7}


def test_with_destroy_the_archive_is_deactivated_and_the_topic_deleted(
    emulator: Emulator, tmp_path: Any
) -> None:
    topic_arn, stack = _deploy_then_delete(
        emulator, tmp_path, "GoneLedger", _archived(RemovalPolicy.DESTROY)
    )
    assert stack["StackStatus"] == "DELETE_COMPLETE"
    wait_for(lambda: not _topic_exists(emulator, topic_arn))


def test_an_archived_topic_nobody_deactivates_fails_the_stacks_deletion(
    emulator: Emulator, tmp_path: Any
) -> None:
    """What the custom resource prevents: a plain aws-cdk topic with an archive and the
    default removal policy."""

    def plain(app: App, name: str) -> Any:
        stack = Stack(app, name)
        topic = sns.Topic(
            stack, "Ledger", fifo=True, topic_name="stuck", message_retention_period_in_days=7
        )
        return SimpleNamespace(topic=topic)

    topic_arn, stack = _deploy_then_delete(emulator, tmp_path, "StuckLedger", plain)
    assert stack["StackStatus"] == "DELETE_FAILED"
    events = emulator.client("cloudformation").describe_stack_events(StackName=stack["StackId"])
    (failure,) = [e for e in events["StackEvents"] if e["ResourceStatus"] == "DELETE_FAILED"]
    assert "Cannot delete a topic with an ArchivePolicy" in failure["ResourceStatusReason"]
    assert _topic_exists(emulator, topic_arn)
