"""What moto 5.2.5 lacks in SNS topic attributes, put right in the server process.

* Delivery status logging: moto stores CloudFormation's ``DeliveryStatusLogging`` and the
  ``<Protocol>FailureFeedbackRoleArn`` / ``...SuccessFeedbackRoleArn`` /
  ``...SuccessFeedbackSampleRate`` attributes ``SetTopicAttributes`` sets, but
  ``GetTopicAttributes`` returns none of them; here it returns them as SNS does.
* Data protection: ``GetDataProtectionPolicy`` and ``PutDataProtectionPolicy`` (moto has
  neither); a CloudFormation topic's ``DataProtectionPolicy`` is what the first returns.
* Undeliverable messages: a message SNS cannot deliver to a subscribed queue (the queue was
  deleted) goes to the subscription's dead-letter queue instead of failing ``Publish``; the
  envelope's ``UnsubscribeURL`` names the subscription it was made for.

Each fix is registered with :func:`~constructs_lib.testing.gaps.fills`; :func:`apply` installs
them once per process (``moto_fixes.apply`` calls it, so every ``Emulator`` has them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import camelcase_to_underscores
from moto.sns.models import SNSBackend, Subscription, Topic
from moto.sns.responses import SNSResponse
from moto.sqs import models as sqs_models
from moto.sqs.exceptions import QueueDoesNotExist

from .gaps import Original, apply_once, fills, patch

_APPLIED = "_constructs_lib_sns_fixed"

FEEDBACK_PREFIXES = {
    "application": "Application",
    "firehose": "Firehose",
    "http/s": "HTTP",
    "lambda": "Lambda",
    "sqs": "SQS",
}
"""CloudFormation's ``LoggingConfig.Protocol`` -> the prefix of its topic attributes."""
FEEDBACK_PROPERTIES = {
    "FailureFeedbackRoleArn": "FailureFeedbackRoleArn",
    "SuccessFeedbackRoleArn": "SuccessFeedbackRoleArn",
    "SuccessFeedbackSampleRate": "SuccessFeedbackSampleRate",
}
"""``LoggingConfig`` property -> the suffix of the topic attribute it sets."""


def apply() -> None:
    """Apply every fix (idempotent)."""
    apply_once(
        SNSBackend,
        _APPLIED,
        _fix_delivery_status_attributes,
        _fix_data_protection_policy,
        _fix_unsubscribe_url,
        _dead_letter_undeliverable,
    )


def _feedback_attributes() -> Iterator[str]:
    for prefix in FEEDBACK_PREFIXES.values():
        for suffix in FEEDBACK_PROPERTIES.values():
            yield prefix + suffix


@fills(
    "sns",
    moto="`GetTopicAttributes` returns no delivery status logging attribute (the "
    "`DeliveryStatusLogging` property of a CloudFormation topic, or what `SetTopicAttributes` "
    "set, is stored and never shown)",
    aws="returns `<Protocol>FailureFeedbackRoleArn`, `<Protocol>SuccessFeedbackRoleArn` and "
    "`<Protocol>SuccessFeedbackSampleRate` for each protocol logged",
)
def _fix_delivery_status_attributes() -> None:
    """A topic keeps each feedback attribute where ``SetTopicAttributes`` puts it (moto's
    underscored name); a CloudFormation topic's ``DeliveryStatusLogging`` sets the same."""

    @patch(SNSBackend, "create_topic")
    def create_topic(
        original: Original,
        self: SNSBackend,
        name: str,
        attributes: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
    ) -> Topic:
        topic: Topic = original(self, name, attributes, tags)
        for config in (attributes or {}).get("DeliveryStatusLogging") or []:
            prefix = FEEDBACK_PREFIXES.get(str(config.get("Protocol", "")))
            if prefix is None:
                continue
            for prop, suffix in FEEDBACK_PROPERTIES.items():
                if prop in config:
                    setattr(topic, camelcase_to_underscores(prefix + suffix), str(config[prop]))
        return topic

    @patch(SNSResponse, "get_topic_attributes")
    def get_topic_attributes(original: Original, self: SNSResponse) -> ActionResult:
        result: ActionResult = original(self)
        topic = self.backend.get_topic(self._get_param("TopicArn"))
        attributes = cast(dict[str, Any], result.result)["Attributes"]
        for name in _feedback_attributes():
            value = getattr(topic, camelcase_to_underscores(name), None)
            if value is not None:
                attributes[name] = str(value)
        return result


@fills(
    "sns",
    moto="`GetDataProtectionPolicy` and `PutDataProtectionPolicy` are not implemented; a "
    "CloudFormation topic's `DataProtectionPolicy` is stored and never shown",
    aws="`PutDataProtectionPolicy` (or CloudFormation) sets a topic's data protection policy, "
    "`GetDataProtectionPolicy` returns it as a JSON string",
)
def _fix_data_protection_policy() -> None:
    """The policy is kept where CloudFormation's property lands (``data_protection_policy``,
    a document or a JSON string); nothing checks it, as nothing in moto enforces it."""

    def get_data_protection_policy(self: SNSResponse) -> ActionResult:
        topic = self.backend.get_topic(self._get_param("ResourceArn"))
        policy = getattr(topic, "data_protection_policy", None)
        if policy is None:
            return ActionResult({})
        text = policy if isinstance(policy, str) else json.dumps(policy)
        return ActionResult({"DataProtectionPolicy": text})

    def put_data_protection_policy(self: SNSResponse) -> EmptyResult:
        topic = self.backend.get_topic(self._get_param("ResourceArn"))
        topic.data_protection_policy = self._get_param("DataProtectionPolicy")  # type: ignore[attr-defined]
        return EmptyResult()

    SNSResponse.get_data_protection_policy = get_data_protection_policy  # type: ignore[attr-defined]
    SNSResponse.put_data_protection_policy = put_data_protection_policy  # type: ignore[attr-defined]


@fills(
    "sns",
    moto="the envelope's `UnsubscribeURL` names a made-up subscription (one fixed id, in "
    "us-east-1) for every message",
    aws="`UnsubscribeURL` names the subscription the message was delivered to, in its region "
    "(so a message in a shared subscription dead-letter queue tells which subscription it was "
    "for)",
)
def _fix_unsubscribe_url() -> None:
    @patch(Subscription, "get_post_data")
    def get_post_data(original: Original, self: Subscription, *args: Any, **kwargs: Any) -> Any:
        envelope: dict[str, Any] = original(self, *args, **kwargs)
        region = self.arn.split(":")[3]
        envelope["UnsubscribeURL"] = (
            f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={self.arn}"
        )
        return envelope


DELIVERY_ERROR = {
    "ErrorCode": "AWS.SimpleQueueService.NonExistentQueue",
    "ErrorMessage": "The specified queue does not exist.",
}


@fills(
    "sns",
    moto="delivery to a subscribed queue that no longer exists fails the whole `Publish` call "
    "(`QueueDoesNotExist`) and never uses the subscription's dead-letter queue",
    aws="`Publish` succeeds; SNS cannot deliver to the deleted queue (a client-side error, not "
    "retried) and moves the message to the subscription's dead-letter queue (`RedrivePolicy`) "
    "as the subscription would have delivered it (the JSON envelope, or the raw body with its "
    "message attributes; FIFO message group and deduplication ids kept), with the delivery "
    "error in the message attributes `ErrorCode`, `ErrorMessage` and `RequestID`; without a "
    "dead-letter queue the message is dropped",
)
def _dead_letter_undeliverable() -> None:
    @patch(Subscription, "publish")
    def publish(
        original: Original, self: Subscription, message: str, message_id: str, *args: Any, **kw: Any
    ) -> Any:
        if self.protocol != "sqs":
            return original(self, message, message_id, *args, **kw)
        _, _, _, region, account, name = self.endpoint.split(":", 5)
        try:
            sqs_models.sqs_backends[account][region].get_queue(name)
        except QueueDoesNotExist:
            _to_dead_letter_queue(original, self, message, message_id, args, kw)
            return None
        return original(self, message, message_id, *args, **kw)


def _to_dead_letter_queue(
    original: Original,
    subscription: Subscription,
    message: str,
    message_id: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    """Deliver as to the subscribed queue, but into the dead-letter queue, error attached."""
    import uuid

    policy = subscription.attributes.get("RedrivePolicy")
    if not policy:
        return  # SNS drops it
    target = (json.loads(policy) if isinstance(policy, str) else policy)["deadLetterTargetArn"]
    _, _, _, region, account, name = str(target).split(":", 5)
    try:
        queue = sqs_models.sqs_backends[account][region].get_queue(name)
    except QueueDoesNotExist:
        return  # SNS drops it (and counts NumberOfNotificationsFailedToRedriveToDlq)
    before = {m.id for m in queue._messages}
    endpoint = subscription.endpoint
    subscription.endpoint = str(target)
    try:
        original(subscription, message, message_id, *args, **kwargs)
    finally:
        subscription.endpoint = endpoint
    error = {**DELIVERY_ERROR, "RequestID": str(uuid.uuid4())}
    for dead in queue._messages:
        if dead.id not in before:
            dead.message_attributes.update(
                {key: {"DataType": "String", "StringValue": value} for key, value in error.items()}
            )
