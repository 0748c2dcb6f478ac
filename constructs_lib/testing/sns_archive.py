"""FIFO topic archives in the emulator: the archive policy is kept, reported, and protects the
topic from deletion, as in SNS.

moto stores a topic's ``ArchivePolicy`` (from CloudFormation or ``SetTopicAttributes``) as a
plain attribute, never returns it from ``GetTopicAttributes`` and deletes an archived topic
like any other. SNS refuses to delete a topic whose archive policy is active
(``InvalidState``: "Cannot delete a topic with an ArchivePolicy") until the policy is
deactivated (set to ``{}``, which deletes the archived messages). :func:`apply` restores
that, so that a stack whose archived topic CloudFormation may delete is really proven to be
deletable: ``FanoutTopic(removal_policy=RemovalPolicy.DESTROY)`` deactivates the policy
first.

It also keeps the archive: each message published to a topic whose archive policy is active
is kept with its publish time, for the retention period, and a subscription given a
``ReplayPolicy`` (``{"PointType": "Timestamp", "StartingPoint": ..., "EndingPoint": ...}``,
ISO 8601 times, at creation or later) gets the archived messages published in that window
redelivered, through its filter policy and raw-delivery setting, with their original message
id, then reports ``ReplayStatus`` ``Completed``.

Not restored: the ``Replayed`` marker SNS adds to a replayed message, and the replay's own
metrics; the replay runs at once, not throttled.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.sns import models as sns_models
from moto.sns import responses as sns_responses
from moto.sns.exceptions import SNSException, SNSInvalidParameter

from .gaps import Original, apply_once, fills, patch


class InvalidState(SNSException):
    """SNS's answer to deleting a topic whose archive policy is active (HTTP 400)."""

    code = "InvalidState"


ARCHIVE = "_constructs_lib_archive"
DAY_SECONDS = 86_400


@dataclass(frozen=True)
class Archived:
    """One message in a topic's archive, as published."""

    published_at: float
    message_id: str
    message: str
    subject: str | None
    message_attributes: dict[str, Any] | None
    group_id: str | None
    deduplication_id: str | None
    message_structure: str | None


def apply() -> None:
    """Apply the fixes (idempotent)."""
    apply_once(
        sns_models.SNSBackend,
        "_constructs_lib_archive_fixed",
        _report_archive_policy,
        _protect_archive,
        _keep_the_archive,
        _replay_to_a_subscription,
    )


def archive_policy(topic: Any) -> dict[str, Any]:
    """The topic's archive policy as a dict (``{}`` when it has none or it was deactivated)."""
    policy = getattr(topic, "archive_policy", None)
    if isinstance(policy, str):
        policy = json.loads(policy) if policy.strip() else {}
    return dict(policy or {})


@fills(
    "sns",
    moto="a topic's `ArchivePolicy` is stored but `GetTopicAttributes` never returns it",
    aws="`GetTopicAttributes` returns the active `ArchivePolicy` (JSON) of a FIFO topic",
)
def _report_archive_policy() -> None:
    @patch(sns_responses.SNSResponse, "get_topic_attributes")
    def get_topic_attributes(original: Original, self: Any) -> Any:
        result = original(self)
        topic = self.backend.get_topic(self._get_param("TopicArn"))
        policy = archive_policy(topic)
        if policy and isinstance(result, ActionResult) and isinstance(result.result, dict):
            result.result["Attributes"]["ArchivePolicy"] = json.dumps(policy)
        return result


@fills(
    "sns",
    moto="a topic with an active archive policy is deleted like any other",
    aws='`DeleteTopic` fails with `InvalidState` ("Cannot delete a topic with an '
    'ArchivePolicy") until the archive policy is deactivated (`{}`)',
)
def _protect_archive() -> None:
    @patch(sns_models.SNSBackend, "delete_topic")
    def delete_topic(original: Original, self: Any, arn: str) -> None:
        topic = self.topics.get(arn)
        if topic is not None and archive_policy(topic):
            raise InvalidState(
                f"Invalid state: Cannot delete a topic with an ArchivePolicy ({arn})"
            )
        original(self, arn)


def _retention_seconds(topic: Any) -> float:
    return float(archive_policy(topic).get("MessageRetentionPeriod", 0)) * DAY_SECONDS


@fills(
    "sns",
    moto="a FIFO topic with an archive policy keeps no archive",
    aws="every message published while the archive policy is active is kept for its "
    "`MessageRetentionPeriod` (days), for replay",
)
def _keep_the_archive() -> None:
    @patch(sns_models.Topic, "publish")
    def publish(original: Original, self: Any, message: str, *args: Any, **kwargs: Any) -> str:
        message_id: str = original(self, message, *args, **kwargs)
        retention = _retention_seconds(self)
        if retention:
            now = time.time()
            kept = [a for a in getattr(self, ARCHIVE, []) if now - a.published_at < retention]
            names = ("subject", "message_attributes", "group_id", "deduplication_id")
            given = dict(zip((*names, "message_structure"), args, strict=False)) | kwargs
            kept.append(
                Archived(
                    now,
                    message_id,
                    message,
                    given.get("subject"),
                    given.get("message_attributes"),
                    given.get("group_id"),
                    given.get("deduplication_id"),
                    given.get("message_structure"),
                )
            )
            setattr(self, ARCHIVE, kept)
        return message_id


def _window(value: str) -> tuple[float, float]:
    """The (start, end) epoch seconds of a replay policy; SNS's errors for a bad one."""
    try:
        policy = json.loads(value)
        if policy.get("PointType") != "Timestamp":
            raise ValueError("PointType must be Timestamp")
        start = _epoch(policy["StartingPoint"])
        end = _epoch(policy["EndingPoint"]) if "EndingPoint" in policy else time.time()
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise SNSInvalidParameter(f"Invalid parameter: ReplayPolicy: {error}") from None
    if end < start:
        raise SNSInvalidParameter(
            "Invalid parameter: ReplayPolicy: EndingPoint before StartingPoint"
        )
    return start, end


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@fills(
    "sns",
    moto="`SetSubscriptionAttributes` refuses `ReplayPolicy`",
    aws="a `ReplayPolicy` redelivers the archived messages published in its window to the "
    "subscription (through its filter policy), then `ReplayStatus` is `Completed`",
)
def _replay_to_a_subscription() -> None:
    @patch(sns_models.SNSBackend, "set_subscription_attributes")
    def set_subscription_attributes(
        original: Original, self: Any, arn: str, name: str, value: Any
    ) -> None:
        if name != "ReplayPolicy":
            original(self, arn, name, value)
            return
        subscription = next((s for s in self.subscriptions.values() if s.arn == arn), None)
        if subscription is None:
            original(self, arn, name, value)  # moto's own "not found"
            return
        if not archive_policy(subscription.topic):
            raise SNSInvalidParameter(
                "Invalid parameter: ReplayPolicy: the topic has no active archive policy"
            )
        start, end = _window(str(value))
        subscription.attributes["ReplayPolicy"] = str(value)
        subscription.attributes["ReplayStatus"] = "In progress"
        for archived in getattr(subscription.topic, ARCHIVE, []):
            if start <= archived.published_at <= end:
                subscription.publish(
                    archived.message,
                    archived.message_id,
                    subject=archived.subject,
                    message_attributes=archived.message_attributes,
                    group_id=archived.group_id,
                    deduplication_id=archived.deduplication_id,
                    message_structure=archived.message_structure,
                )
        subscription.attributes["ReplayStatus"] = "Completed"
