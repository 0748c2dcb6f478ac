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

Not restored: the archive itself (moto keeps no archived messages) and the replay of them to a
subscription with a ``ReplayPolicy``.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.responses import ActionResult
from moto.sns import models as sns_models
from moto.sns import responses as sns_responses
from moto.sns.exceptions import SNSException

from .gaps import Original, apply_once, fills, patch


class InvalidState(SNSException):
    """SNS's answer to deleting a topic whose archive policy is active (HTTP 400)."""

    code = "InvalidState"


def apply() -> None:
    """Apply the fixes (idempotent)."""
    apply_once(
        sns_models.SNSBackend, "_constructs_lib_archive", _report_archive_policy, _protect_archive
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
