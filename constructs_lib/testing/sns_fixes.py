"""What moto 5.2.5 lacks in SNS topic attributes, put right in the server process.

* Delivery status logging: moto stores CloudFormation's ``DeliveryStatusLogging`` and the
  ``<Protocol>FailureFeedbackRoleArn`` / ``...SuccessFeedbackRoleArn`` /
  ``...SuccessFeedbackSampleRate`` attributes ``SetTopicAttributes`` sets, but
  ``GetTopicAttributes`` returns none of them; here it returns them as SNS does.
* Data protection: ``GetDataProtectionPolicy`` and ``PutDataProtectionPolicy`` (moto has
  neither); a CloudFormation topic's ``DataProtectionPolicy`` is what the first returns.

Each fix is registered with :func:`~constructs_lib.testing.gaps.fills`; :func:`apply` installs
them once per process (``moto_fixes.apply`` calls it, so every ``Emulator`` has them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import camelcase_to_underscores
from moto.sns.models import SNSBackend, Topic
from moto.sns.responses import SNSResponse

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
    apply_once(SNSBackend, _APPLIED, _fix_delivery_status_attributes, _fix_data_protection_policy)


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
