"""HTTP/S subscriptions in the emulator: confirmation, what SNS POSTs, and what it gives up on.

moto marks an HTTP/S subscription confirmed the moment it is created and POSTs each message
as a bare envelope (no message attributes, no ``x-amz-sns-*`` headers, raw delivery ignored),
dropping it when the endpoint fails. :func:`install` restores what SNS does, each fix marked
with what it restores:

* a new HTTP/S subscription is pending: SNS POSTs a ``SubscriptionConfirmation`` holding a
  token and a ``SubscribeURL``, and delivers nothing until ``ConfirmSubscription`` is called
  with that token;
* a notification carries its message attributes and the ``x-amz-sns-message-type``,
  ``-message-id``, ``-topic-arn`` and ``-subscription-arn`` headers; raw delivery POSTs the
  bare body with ``x-amz-sns-rawdelivery: true``;
* a message the endpoint does not accept (no 2xx answer) goes to the subscription's
  dead-letter queue.

Not restored: the delivery policy's retry schedule (a failed POST is dead-lettered at once,
without SNS's retries) and the signature of a confirmation (moto signs notifications only).
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import requests
from moto.core.responses import ActionResult
from moto.sns import models as sns_models
from moto.sns import responses as sns_responses
from moto.sns.exceptions import SNSInvalidParameter
from moto.sqs import models as sqs_models

from .event_sources import Delivery, delivers
from .gaps import Original, apply_once, fills, patch

HTTP_PROTOCOLS = ("http", "https")
TOKEN = "_constructs_lib_token"
POST_TIMEOUT_SECONDS = 15
"""SNS waits 15 seconds for an HTTP/S endpoint to answer."""


class _State:
    endpoint_url = ""


_state = _State()


def install(endpoint_url: str) -> None:
    """Apply the fixes to this process's emulator (idempotent; the endpoint is that of the
    latest emulator, which a confirmation's ``SubscribeURL`` names)."""
    _state.endpoint_url = endpoint_url
    apply_once(
        sns_models.SNSBackend,
        "_constructs_lib_http",
        _pending_until_confirmed,
        _deliver_over_http,
    )


@fills(
    "sns",
    moto="an HTTP/S subscription is confirmed when it is created, and `ConfirmSubscription` "
    "answers a made-up ARN for any token",
    aws="the subscription is pending: SNS POSTs a `SubscriptionConfirmation` (token, "
    "`SubscribeURL`) to the endpoint and delivers nothing until `ConfirmSubscription` is "
    "called with that token",
)
def _pending_until_confirmed() -> None:
    @patch(sns_models.SNSBackend, "subscribe")
    def subscribe(
        original: Original, self: Any, topic_arn: str, endpoint: str, protocol: str
    ) -> Any:
        subscription = original(self, topic_arn, endpoint, protocol)
        if protocol in HTTP_PROTOCOLS and not hasattr(subscription, TOKEN):
            token = uuid.uuid4().hex + uuid.uuid4().hex
            setattr(subscription, TOKEN, token)
            subscription.attributes["PendingConfirmation"] = "true"
            subscription.attributes["ConfirmationWasAuthenticated"] = "false"
            threading.Thread(
                target=_send_confirmation, args=(subscription, token), daemon=True
            ).start()
        return subscription

    @patch(sns_responses.SNSResponse, "confirm_subscription")
    def confirm_subscription(original: Original, self: Any) -> Any:
        topic_arn, token = self._get_param("TopicArn"), self._get_param("Token")
        pending = [
            s
            for s in self.backend.subscriptions.values()
            if s.topic.arn == topic_arn and getattr(s, TOKEN, None) is not None
        ]
        if not pending:
            return original(self)
        match = next((s for s in pending if getattr(s, TOKEN) == token), None)
        if match is None:
            raise SNSInvalidParameter("Invalid token")
        match.attributes["PendingConfirmation"] = "false"
        return ActionResult({"SubscriptionArn": match.arn})


def is_pending(subscription: Any) -> bool:
    """Whether an HTTP/S subscription still waits for its confirmation."""
    return str(subscription.attributes.get("PendingConfirmation", "false")).lower() == "true"


def _send_confirmation(subscription: Any, token: str) -> None:
    topic_arn = subscription.topic.arn
    subscribe_url = f"{_state.endpoint_url}/?" + urlencode(
        {"Action": "ConfirmSubscription", "TopicArn": topic_arn, "Token": token}
    )
    envelope = subscription.get_post_data("", str(uuid.uuid4()), None)
    body = {
        "Type": "SubscriptionConfirmation",
        "MessageId": envelope["MessageId"],
        "Token": token,
        "TopicArn": topic_arn,
        "Message": f"You have chosen to subscribe to the topic {topic_arn}.\nTo confirm the "
        "subscription, visit the SubscribeURL included in this message.",
        "SubscribeURL": subscribe_url,
        "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "SignatureVersion": envelope["SignatureVersion"],
        "Signature": envelope["Signature"],
        "SigningCertURL": envelope["SigningCertURL"],
    }
    headers = {
        "Content-Type": "text/plain; charset=UTF-8",
        "x-amz-sns-message-type": "SubscriptionConfirmation",
        "x-amz-sns-message-id": body["MessageId"],
        "x-amz-sns-topic-arn": topic_arn,
    }
    # An endpoint that does not answer leaves the subscription pending, as in AWS.
    with contextlib.suppress(requests.RequestException):
        requests.post(
            subscription.endpoint,
            data=json.dumps(body),
            headers=headers,
            timeout=POST_TIMEOUT_SECONDS,
        )


@fills(
    "sns",
    moto="an `http`/`https` subscription is POSTed a bare envelope (no message attributes, no "
    "`x-amz-sns-*` headers, raw delivery ignored), confirmed or not, and a failed POST drops "
    "the message",
    aws="only a confirmed subscription gets messages, with their attributes and the "
    "`x-amz-sns-message-type`, `-message-id`, `-topic-arn` and `-subscription-arn` headers "
    "(raw delivery: the bare body and `x-amz-sns-rawdelivery: true`); a message the endpoint "
    "does not accept (no 2xx answer) goes to the subscription's dead-letter queue",
)
def _deliver_over_http() -> None:
    for protocol in HTTP_PROTOCOLS:
        delivers(protocol)(_post)


def _post(subscription: Any, message: str, message_id: str, delivery: Delivery) -> None:
    if is_pending(subscription):
        return
    subject, attributes, structure = delivery
    if structure == "json":
        message = subscription._parse_message_structure(message, subscription.protocol)
    raw = str(subscription.attributes.get("RawMessageDelivery", "false")).lower() == "true"
    headers = {
        "Content-Type": "text/plain; charset=UTF-8",
        "x-amz-sns-message-type": "Notification",
        "x-amz-sns-message-id": message_id,
        "x-amz-sns-topic-arn": subscription.topic.arn,
        "x-amz-sns-subscription-arn": subscription.arn,
    }
    if raw:
        body = message
        headers["x-amz-sns-rawdelivery"] = "true"
    else:
        envelope = subscription.get_post_data(
            message, message_id, subject, message_attributes=attributes
        )
        body = json.dumps(envelope)
    try:
        answer = requests.post(
            subscription.endpoint, data=body, headers=headers, timeout=POST_TIMEOUT_SECONDS
        )
        accepted = 200 <= answer.status_code < 300
    except requests.RequestException:
        accepted = False
    if not accepted:
        _dead_letter(subscription, body)


def _dead_letter(subscription: Any, body: str) -> None:
    """Put what the endpoint refused into the subscription's dead-letter queue, if any."""
    policy = subscription.attributes.get("RedrivePolicy")
    if not policy:
        return
    target = (json.loads(policy) if isinstance(policy, str) else policy)["deadLetterTargetArn"]
    _, _, _, region, account, name = target.split(":", 5)
    sqs_models.sqs_backends[account][region].send_message(name, body)
