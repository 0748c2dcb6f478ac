"""A consumer's replay policy: what the template holds and the rules SNS applies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from aws_cdk import Environment, Stack, assertions
from aws_cdk import aws_sns as sns
from helpers import Tmpl, new_app

from constructs_lib import ConsumerQueue, FanoutConfigurationError, FanoutTopic

START = datetime(2026, 11, 20, 8, 30, 15, 250_000, tzinfo=UTC)


def _ledger(**options: Any) -> FanoutTopic:
    return FanoutTopic(Stack(new_app(), "Payments"), "Ledger", **options)


def test_the_subscription_replays_from_the_start_in_utc_with_milliseconds() -> None:
    ledger = _ledger(fifo=True, archive_retention_days=30)
    paris = timezone(timedelta(hours=1))
    consumer = ledger.add_queue_consumer(
        "Rebuild",
        replay_from=START,
        replay_until=datetime(2026, 11, 21, 9, 0, tzinfo=paris),
    )
    t = Tmpl(Stack.of(ledger))
    assert t.props(consumer.subscription)["ReplayPolicy"] == {
        "PointType": "Timestamp",
        "StartingPoint": "2026-11-20T08:30:15.250Z",
        "EndingPoint": "2026-11-21T08:00:00.000Z",
    }


def test_a_consumer_without_replay_has_no_policy() -> None:
    ledger = _ledger(fifo=True, archive_retention_days=30)
    consumer = ledger.add_queue_consumer("Live")
    assert "ReplayPolicy" not in Tmpl(Stack.of(ledger)).props(consumer.subscription)


@pytest.mark.parametrize(
    ("fanout", "consumer", "message"),
    [
        ({}, {"replay_from": START}, r"replay_from=.*this topic is standard"),
        ({"fifo": True}, {"replay_from": START}, r"replay_from=.*keeps no archive to replay"),
        (
            {"fifo": True, "archive_retention_days": 3},
            {"replay_from": datetime(2026, 11, 20)},
            r"replay_from=.*must say its time zone",
        ),
        (
            {"fifo": True, "archive_retention_days": 3},
            {"replay_from": START, "replay_until": START},
            r"replay_until=.*must be after replay_from",
        ),
        (
            {"fifo": True, "archive_retention_days": 3},
            {"replay_until": START},
            r"replay_until=.*needs replay_from",
        ),
        (
            {"fifo": True, "archive_retention_days": 3},
            {"replay_from": "2026-11-20"},
            r"replay_from='2026-11-20'",
        ),
    ],
)
def test_fails_on_replays_sns_cannot_make(
    fanout: dict[str, Any], consumer: dict[str, Any], message: str
) -> None:
    with pytest.raises(FanoutConfigurationError, match=message):
        _ledger(**fanout).add_queue_consumer("Rebuild", **consumer)


def test_a_start_older_than_the_archive_is_a_warning() -> None:
    ledger = _ledger(fifo=True, archive_retention_days=3)
    ledger.add_queue_consumer("Rebuild", replay_from=datetime.now(UTC) - timedelta(days=10))
    assertions.Annotations.from_stack(Stack.of(ledger)).has_warning(
        "/Payments/Ledger/Rebuild",
        assertions.Match.string_like_regexp("more than the topic's 3 days of archive ago"),
    )


def test_a_bounded_replay_warns_that_it_ends_the_consumers_deliveries() -> None:
    ledger = _ledger(fifo=True, archive_retention_days=30)
    ledger.add_queue_consumer("Live", replay_from=START)
    ledger.add_queue_consumer("Window", replay_from=START, replay_until=START + timedelta(1))
    annotations = assertions.Annotations.from_stack(Stack.of(ledger))
    ends = assertions.Match.string_like_regexp("replay_until ends this consumer's deliveries")
    annotations.has_warning("/Payments/Ledger/Window", ends)
    annotations.has_no_warning("/Payments/Ledger/Live", ends)


def test_an_imported_fifo_topic_may_be_replayed_from() -> None:
    """Its archive cannot be seen from here: the replay policy is written, SNS decides."""
    stack = Stack(new_app(), "Rebuild", env=Environment(region="eu-west-1"))
    topic = sns.Topic.from_topic_arn(stack, "T", "arn:aws:sns:eu-west-1:111111111111:ledger.fifo")
    consumer = ConsumerQueue(stack, "Debits", topic=topic, replay_from=START)
    policy = Tmpl(stack).props(consumer.subscription)["ReplayPolicy"]
    assert policy["StartingPoint"] == "2026-11-20T08:30:15.250Z"
