"""A consumer that starts from its FIFO topic's archive: the subscription's replay policy.

SNS replays to a subscription the archived messages of a FIFO topic whose archive policy is
active, published from ``StartingPoint`` (to ``EndingPoint``, or until it catches up), through
the subscription's filter policy; each replayed message keeps its message id and timestamp.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aws_cdk import Annotations
from aws_cdk import aws_sns as sns
from constructs import Construct

from .replay_policy import replay_policy as replay_policy
from .validation import Problems, fifo_of

_DAY = timedelta(days=1)


def archive_days(topic: sns.ITopic) -> int | None:
    """The archive retention (days) of a topic defined in this app, None when it keeps no
    archive, or ``-1`` when it cannot be told (an imported topic, a token)."""
    cfn = topic.node.default_child if isinstance(topic, sns.Topic) else None
    if not isinstance(cfn, sns.CfnTopic):
        return -1
    policy: Any = cfn.archive_policy
    if policy is None:
        return None
    days = policy.get("MessageRetentionPeriod") if isinstance(policy, dict) else None
    return int(days) if isinstance(days, int | str) and str(days).isdigit() else -1


def check_replay(
    problems: Problems,
    scope: Construct,
    topic: sns.ITopic,
    replay_from: datetime | None,
    replay_until: datetime | None,
) -> None:
    """The rules SNS applies to a replay policy that can be told at synth."""
    if replay_from is None:
        if replay_until is not None:
            problems.add("replay_until", replay_until, "needs replay_from, where the replay starts")
        return
    aware = True
    for option, moment in (("replay_from", replay_from), ("replay_until", replay_until)):
        if moment is not None and moment.utcoffset() is None:
            aware = False
            problems.add(
                option,
                moment,
                "must say its time zone (e.g. datetime(2026, 12, 1, tzinfo=UTC)): SNS takes UTC "
                "times",
            )
    if aware and replay_until is not None and replay_until <= replay_from:
        problems.add("replay_until", replay_until, f"must be after replay_from ({replay_from})")
    if replay_until is not None:
        Annotations.of(scope).add_warning_v2(
            "constructs-lib:replayUntilEndsDelivery",
            "replay_until ends this consumer's deliveries: once the replay has completed, SNS "
            "no longer delivers newly published messages to the subscription (SNS API "
            "reference, ReplayStatus Completed). Use it for a consumer that only rebuilds a "
            "window; leave it out for a live consumer, which then catches up and goes on.",
        )
    if fifo_of(topic) is False:
        problems.add(
            "replay_from",
            replay_from,
            "SNS replays only FIFO topics with an archive; this topic is standard",
        )
        return
    days = archive_days(topic)
    if days is None:
        problems.add(
            "replay_from",
            replay_from,
            "the topic keeps no archive to replay: give it one (FanoutTopic "
            "archive_retention_days, or sns.Topic message_retention_period_in_days)",
        )
    elif days > 0 and aware and replay_from < datetime.now(UTC) - days * _DAY:
        Annotations.of(scope).add_warning_v2(
            "constructs-lib:replayBeforeArchive",
            f"replay_from {replay_from.isoformat()} is more than the topic's {days} days of "
            "archive ago: SNS replays only what the archive still holds (from the start of the "
            "archive window at deploy time).",
        )
