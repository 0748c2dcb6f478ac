"""A consumer that starts from the archive, on the emulator: a FIFO fanout keeps what it
published; a consumer deployed later with ``replay_from`` gets the archived messages of its
window, through its filter policy, in order, then new ones."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from aws_cdk import Environment, Stack
from aws_cdk import aws_sns as sns
from helpers import project_app

from constructs_lib import ConsumerQueue, FanoutTopic
from constructs_lib.testing import Emulator
from constructs_lib.testing.fanout import receive_all


def _publish(emulator: Emulator, topic_arn: str, n: int, kind: str) -> None:
    emulator.client("sns").publish(
        TopicArn=topic_arn,
        Message=json.dumps({"n": n, "kind": kind}),
        MessageGroupId="ledger",
        MessageDeduplicationId=f"entry-{n}",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": kind}},
    )


@pytest.fixture(scope="module")
def replayed(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    app = project_app(tmp_path_factory.mktemp("cdk.out"))
    ledger = FanoutTopic(
        Stack(app, "Ledger"),
        "Entries",
        fifo=True,
        content_based_deduplication=False,
        archive_retention_days=7,
    )
    ledger.add_queue_consumer("Live", queue_name="live")
    deployed = emulator.deploy(app.synth().get_stack_by_name("Ledger"))
    topic_arn = deployed.physical_id(deployed.logical_id_at("Ledger/Entries/Topic/Resource"))
    _publish(emulator, topic_arn, 1, "debit")
    time.sleep(1.1)
    window_start = datetime.now(UTC)
    for n, kind in ((2, "credit"), (3, "debit"), (4, "debit")):
        _publish(emulator, topic_arn, n, kind)
    time.sleep(1.1)
    window_end = datetime.now(UTC)
    _publish(emulator, topic_arn, 5, "debit")

    # Another team's stack, deployed later, rebuilds its state from the archive.
    later = project_app(tmp_path_factory.mktemp("cdk.out"))
    rebuild = Stack(later, "Rebuild", env=Environment(region=emulator.region))
    ConsumerQueue(
        rebuild,
        "Debits",
        topic=sns.Topic.from_topic_arn(rebuild, "Entries", topic_arn),
        queue_name="debits",
        filter_policy={"kind": sns.SubscriptionFilter.string_filter(allowlist=["debit"])},
        replay_from=window_start,
        replay_until=window_end,
        raw_message_delivery=True,
    )
    rebuilt = emulator.deploy(later.synth().get_stack_by_name("Rebuild"))
    queue_url = rebuilt.queue_url(rebuilt.logical_id_at("Rebuild/Debits/Queue/Resource"))
    subscription = rebuilt.physical_id(
        rebuilt.logical_id_at("Rebuild/Debits/Subscription/Resource")
    )
    return SimpleNamespace(
        emulator=emulator, topic_arn=topic_arn, queue_url=queue_url, subscription=subscription
    )


def _bodies(emulator: Emulator, queue_url: str) -> list[Any]:
    messages = receive_all(emulator.client("sqs"), queue_url)
    return [json.loads(m["Body"]) for m in messages]


def test_the_replay_delivers_the_archived_window_through_the_filter_in_order(
    replayed: SimpleNamespace,
) -> None:
    assert _bodies(replayed.emulator, replayed.queue_url) == [
        {"n": 3, "kind": "debit"},
        {"n": 4, "kind": "debit"},
    ]
    attributes = replayed.emulator.client("sns").get_subscription_attributes(
        SubscriptionArn=replayed.subscription
    )["Attributes"]
    assert attributes["ReplayStatus"] == "Completed"
    assert json.loads(attributes["ReplayPolicy"])["PointType"] == "Timestamp"


def test_after_a_bounded_replay_the_consumer_gets_no_new_messages(
    replayed: SimpleNamespace,
) -> None:
    """``replay_until`` gives the subscription a ReplayPolicy with an EndingPoint: once the
    replay has completed, SNS delivers it nothing newly published (``sns_archive``)."""
    _publish(replayed.emulator, replayed.topic_arn, 6, "debit")
    assert _bodies(replayed.emulator, replayed.queue_url) == []


def test_the_replay_goes_to_the_new_subscription_only(replayed: SimpleNamespace) -> None:
    live = replayed.emulator.client("sqs").get_queue_url(QueueName="live.fifo")["QueueUrl"]
    envelopes = _bodies(replayed.emulator, live)
    assert [json.loads(e["Message"])["n"] for e in envelopes] == [1, 2, 3, 4, 5, 6]
