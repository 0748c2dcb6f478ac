"""A subscription's ``ReplayPolicy`` document, as the construct option and ``fanout replay``
both write it. No aws_cdk here: the operator command imports this module."""

from __future__ import annotations

from datetime import UTC, datetime


def replay_policy(replay_from: datetime, replay_until: datetime | None) -> dict[str, str]:
    """The subscription's ``ReplayPolicy``: timestamps in UTC, ISO 8601 with milliseconds."""
    policy = {"PointType": "Timestamp", "StartingPoint": timestamp(replay_from)}
    if replay_until is not None:
        policy["EndingPoint"] = timestamp(replay_until)
    return policy


def timestamp(moment: datetime) -> str:
    """``moment`` (time-zone aware) in UTC, ISO 8601 with milliseconds:
    ``2026-12-01T09:00:00.000Z``."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )
