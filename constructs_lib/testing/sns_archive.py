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
id, then reports ``ReplayStatus`` ``Completed``. ``GetTopicAttributes`` reports the archive's
``BeginningArchiveTime``; a new replay policy replaces a replay in progress, and an empty one
(``{}``) stops it.

By default a replay runs at once, inside the call that sets the policy, so a test can read the
queue right after it. With :data:`REPLAY_INTERVAL_SECONDS` above 0 it runs as SNS runs it,
after the call, in a background thread of the server: ``ReplayStatus`` is ``Pending``, then
``In progress`` while one message goes out per interval, then ``Completed``, which lets a test
watch a replay and stop it.

Not restored: the ``Replayed`` marker SNS adds to a replayed message, and the replay's own
metrics; SNS's own pace; live messages published during a replay are delivered at once (SNS
delivers them once the replay has caught up). Restored: a subscription whose replay policy has
an ``EndingPoint`` receives no newly published message once its replay has completed (SNS's
API reference, ``ReplayStatus`` ``Completed``), until its replay policy is replaced or removed.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
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
ARCHIVE_SINCE = "_constructs_lib_archive_since"
"""The time (epoch seconds) a topic's archive policy became active."""
REPLAY = "_constructs_lib_replay"
"""A subscription's replay in progress: the event that stops it."""
DAY_SECONDS = 86_400

PENDING = "Pending"
IN_PROGRESS = "In progress"
COMPLETED = "Completed"
"""``ReplayStatus`` values, as SNS writes them."""

REPLAY_INTERVAL_SECONDS = 0.0
"""Seconds between two replayed messages (and before the first). 0, the default: a replay runs
at once, inside the call that sets the policy. Above 0: in a background thread, as SNS runs it,
so that ``Pending`` and ``In progress`` can be seen and the replay stopped."""


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
        _report_beginning_archive_time,
        _protect_archive,
        _keep_the_archive,
        _replay_to_a_subscription,
        _stop_a_replay,
        _end_delivery_after_a_bounded_replay,
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


def beginning_archive_time(topic: Any) -> float | None:
    """The earliest publish time (epoch seconds) the topic's archive can replay from: when its
    archive policy became active, or its retention period ago, whichever is later; None when
    it keeps no archive."""
    if not archive_policy(topic):
        return None
    since = float(getattr(topic, ARCHIVE_SINCE, time.time()))
    return max(since, time.time() - _retention_seconds(topic))


def _iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _note_activation(topic: Any) -> None:
    if not archive_policy(topic):
        if hasattr(topic, ARCHIVE_SINCE):
            delattr(topic, ARCHIVE_SINCE)
    elif not hasattr(topic, ARCHIVE_SINCE):
        setattr(topic, ARCHIVE_SINCE, time.time())


@fills(
    "sns",
    moto="`GetTopicAttributes` has no `BeginningArchiveTime`",
    aws="`GetTopicAttributes` of a topic with an active archive policy returns "
    "`BeginningArchiveTime`, the earliest point a replay can start from (within the "
    "retention period, not before the archive began)",
)
def _report_beginning_archive_time() -> None:
    @patch(sns_models.SNSBackend, "create_topic")
    def create_topic(original: Original, self: Any, *args: Any, **kwargs: Any) -> Any:
        topic = original(self, *args, **kwargs)
        _note_activation(topic)
        return topic

    @patch(sns_models.SNSBackend, "set_topic_attribute")
    def set_topic_attribute(
        original: Original, self: Any, topic_arn: str, name: str, value: str
    ) -> None:
        original(self, topic_arn, name, value)
        _note_activation(self.get_topic(topic_arn))

    @patch(sns_responses.SNSResponse, "get_topic_attributes")
    def get_topic_attributes(original: Original, self: Any) -> Any:
        result = original(self)
        beginning = beginning_archive_time(self.backend.get_topic(self._get_param("TopicArn")))
        attributes = result.result if isinstance(result, ActionResult) else None
        if beginning is not None and isinstance(attributes, dict):
            attributes["Attributes"]["BeginningArchiveTime"] = _iso(beginning)
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


def _inactive(value: Any) -> bool:
    return str(value if value is not None else "").strip() in ("", "{}")


@fills(
    "sns",
    moto="`SetSubscriptionAttributes` refuses `ReplayPolicy`",
    aws="a `ReplayPolicy` redelivers the archived messages published in its window to the "
    "subscription (through its filter policy), after the call: `ReplayStatus` is `Pending`, "
    "`In progress`, then `Completed`; a new policy replaces a replay in progress",
)
def _replay_to_a_subscription() -> None:
    @patch(sns_models.SNSBackend, "set_subscription_attributes")
    def set_subscription_attributes(
        original: Original, self: Any, arn: str, name: str, value: Any
    ) -> None:
        if name != "ReplayPolicy":
            original(self, arn, name, value)
            return
        subscription = _subscription(self, arn)
        if subscription is None:
            original(self, arn, name, value)  # moto's own "not found"
            return
        if not archive_policy(subscription.topic):
            raise SNSInvalidParameter(
                "Invalid parameter: ReplayPolicy: the topic has no active archive policy"
            )
        start, end = _window(str(value))
        _stop(subscription)  # a new replay replaces the one in progress
        setattr(subscription, ENDED, False)
        subscription.attributes["ReplayPolicy"] = str(value)
        subscription.attributes["ReplayStatus"] = PENDING
        window = [
            archived
            for archived in getattr(subscription.topic, ARCHIVE, [])
            if start <= archived.published_at <= end
        ]
        stop = threading.Event()
        setattr(subscription, REPLAY, stop)
        interval = REPLAY_INTERVAL_SECONDS
        if interval <= 0:
            _replay(self, subscription, window, stop, 0.0)
            return
        threading.Thread(
            target=_replay,
            args=(self, subscription, window, stop, interval),
            name=f"sns-replay-{arn.rsplit(':', 1)[-1]}",
            daemon=True,
        ).start()


@fills(
    "sns",
    moto="`ReplayPolicy` cannot be set, so a replay cannot be stopped",
    aws="a replay in progress can be stopped (the console's Stop replay); through the API, as "
    "with `FilterPolicy` and `ArchivePolicy`, an empty policy (`{}`) removes the replay "
    "policy and stops the replay before its next message",
)
def _stop_a_replay() -> None:
    @patch(sns_models.SNSBackend, "set_subscription_attributes")
    def set_subscription_attributes(
        original: Original, self: Any, arn: str, name: str, value: Any
    ) -> None:
        subscription = _subscription(self, arn)
        if name != "ReplayPolicy" or subscription is None or not _inactive(value):
            original(self, arn, name, value)
            return
        _stop(subscription)
        setattr(subscription, ENDED, False)
        subscription.attributes.pop("ReplayPolicy", None)
        subscription.attributes.pop("ReplayStatus", None)


def _subscription(backend: Any, arn: str) -> Any:
    return next((s for s in list(backend.subscriptions.values()) if s.arn == arn), None)


def _stop(subscription: Any) -> None:
    running = getattr(subscription, REPLAY, None)
    if running is not None:
        running.set()
        delattr(subscription, REPLAY)


def _replay(
    backend: Any,
    subscription: Any,
    window: list[Archived],
    stop: threading.Event,
    interval: float,
) -> None:
    """Deliver ``window`` to the subscription, one message per ``interval`` seconds, until done
    or ``stop`` is set (a new policy, an empty one, the subscription or the emulator gone)."""

    def going_on() -> bool:
        if interval > 0 and stop.wait(interval):
            return False
        return not stop.is_set() and _subscription(backend, subscription.arn) is subscription

    if not going_on():
        return
    subscription.attributes["ReplayStatus"] = IN_PROGRESS
    for number, archived in enumerate(window):
        if number and not going_on():
            return
        subscription.publish(
            archived.message,
            archived.message_id,
            subject=archived.subject,
            message_attributes=archived.message_attributes,
            group_id=archived.group_id,
            deduplication_id=archived.deduplication_id,
            message_structure=archived.message_structure,
        )
    if interval > 0 and not going_on():
        return
    subscription.attributes["ReplayStatus"] = COMPLETED
    if "EndingPoint" in json.loads(subscription.attributes.get("ReplayPolicy") or "{}"):
        setattr(subscription, ENDED, True)
    if getattr(subscription, REPLAY, None) is stop:
        delattr(subscription, REPLAY)


ENDED = "_constructs_lib_replay_ended"
"""Set on a subscription whose bounded replay has completed: SNS delivers it nothing new."""


@fills(
    "sns",
    moto="a subscription keeps receiving newly published messages whatever its replay policy",
    aws="once a replay whose `ReplayPolicy` has an `EndingPoint` has completed, the "
    "subscription no longer receives newly published messages (until its replay policy is "
    "replaced or removed)",
)
def _end_delivery_after_a_bounded_replay() -> None:
    @patch(sns_models.Subscription, "publish")
    def publish(original: Original, self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(self, ENDED, False):
            return None
        return original(self, *args, **kwargs)
