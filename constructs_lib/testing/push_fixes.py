"""Mobile push in the emulator: what SNS does with platform applications and endpoints.

moto keeps platform applications and endpoints, and stores what is published *directly* to an
endpoint, but a topic publish never reaches the endpoints subscribed to the topic, a disabled
endpoint never produces the delivery-failure event SNS sends to the application's
``EventDeliveryFailure`` topic, and the application's credential is handed back by
``GetPlatformApplicationAttributes``. :func:`install` restores those, each fix marked with what
it restores. Nothing is sent to APNs or FCM: a delivery to an enabled endpoint is recorded on
the endpoint (``endpoint.messages``), which :func:`delivered` reads.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from moto.sns import models as sns_models
from moto.sns import responses as sns_responses

from .event_sources import Delivery, delivers
from .gaps import Original, apply_once, fills, patch

WRITE_ONLY_ATTRIBUTES = ("PlatformCredential", "PlatformPrincipal")
"""Attributes of a platform application that SNS accepts and never returns."""

PLATFORM_KEYS = {"APNS": "APNS", "APNS_SANDBOX": "APNS_SANDBOX", "GCM": "GCM"}
"""The key of a ``MessageStructure=json`` message that each platform reads."""


def install() -> None:
    """Apply the fixes to this process's emulator (idempotent)."""
    apply_once(
        sns_models.Subscription,
        "_constructs_lib_push",
        _hide_credentials,
        _deliver_to_endpoints,
        _token_follows_attributes,
    )


@fills(
    "sns",
    moto="`GetPlatformApplicationAttributes` and `ListPlatformApplications` return the "
    "application's `PlatformCredential` and `PlatformPrincipal`",
    aws="the credential and principal are write-only: never returned",
)
def _hide_credentials() -> None:
    response = sns_responses.SNSResponse

    def without_credentials(attributes: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in attributes.items() if k not in WRITE_ONLY_ATTRIBUTES}

    @patch(response, "get_platform_application_attributes")
    def get_platform_application_attributes(original: Original, self: Any) -> Any:
        result = original(self)
        body: Any = result.result
        body["Attributes"] = without_credentials(body["Attributes"])
        return result

    @patch(response, "list_platform_applications")
    def list_platform_applications(original: Original, self: Any) -> Any:
        result = original(self)
        body: Any = result.result
        body["PlatformApplications"] = [
            _Listed(app.arn, without_credentials(app.attributes))
            for app in body["PlatformApplications"]
        ]
        return result


@fills(
    "sns",
    moto="`SetEndpointAttributes(Token=...)` changes the attribute but not the token the "
    "endpoint is known by, so `CreatePlatformEndpoint` with the new token makes a second "
    "endpoint for the same device",
    aws="the endpoint's token is the new one: creating an endpoint for it (same attributes) "
    "returns the existing endpoint",
)
def _token_follows_attributes() -> None:
    @patch(sns_models.SNSBackend, "set_endpoint_attributes")
    def set_endpoint_attributes(
        original: Original, self: Any, arn: str, attributes: dict[str, Any]
    ) -> Any:
        result = original(self, arn, attributes)
        if "Token" in attributes:
            self.get_endpoint(arn).token = attributes["Token"]
        return result


class _Listed:
    """A platform application as ``ListPlatformApplications`` shows it."""

    def __init__(self, arn: str, attributes: dict[str, Any]) -> None:
        self.arn = arn
        self.attributes = attributes


@fills(
    "sns",
    moto="a topic publish never reaches the platform endpoints subscribed to the topic",
    aws="SNS sends the message (the platform's key of a `json` message structure) to each "
    "enabled endpoint; for a disabled one it publishes a `DeliveryFailure` event "
    "(`EndpointDisabled`) to the application's `EventDeliveryFailure` topic",
)
def _deliver_to_endpoints() -> None:
    @delivers("application")
    def deliver(self: Any, message: str, message_id: str, delivery: Delivery) -> None:
        _, _, structure = delivery
        backend = sns_models.sns_backends[self.account_id][self.endpoint.split(":")[3]]
        endpoint = backend.platform_endpoints.get(self.endpoint)
        if endpoint is None:
            return  # deleted: SNS drops the delivery (the subscription goes with it)
        if structure == "json":
            document = json.loads(message)
            key = PLATFORM_KEYS.get(endpoint.application.platform, "default")
            message = document.get(key, document.get("default", ""))
        if endpoint.enabled:
            endpoint.messages[message_id] = message
            return
        _delivery_failure(backend, endpoint, message_id)


def _delivery_failure(backend: Any, endpoint: Any, message_id: str) -> None:
    topic_arn = endpoint.application.attributes.get("EventDeliveryFailure")
    if not topic_arn:
        return
    event = {
        "DeliveryAttempts": 1,
        "EndpointArn": endpoint.arn,
        "EventType": "DeliveryFailure",
        "FailureMessage": "Endpoint is disabled",
        "FailureType": "EndpointDisabled",
        "MessageId": message_id,
        "Resource": endpoint.application.arn,
        "Service": "SNS",
        "Time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
    }
    backend.publish(json.dumps(event), arn=topic_arn)


def endpoint_arns(sns: Any) -> set[str]:
    """Every platform endpoint of every platform application, as an SNS client lists them."""
    return {
        endpoint["EndpointArn"]
        for app in sns.list_platform_applications()["PlatformApplications"]
        for endpoint in sns.list_endpoints_by_platform_application(
            PlatformApplicationArn=app["PlatformApplicationArn"]
        )["Endpoints"]
    }


def delivered(endpoint_arn: str) -> list[str]:
    """What SNS delivered to a platform endpoint so far, oldest first."""
    region = endpoint_arn.split(":")[3]
    account = endpoint_arn.split(":")[4]
    backend = sns_models.sns_backends[account][region]
    endpoint = backend.platform_endpoints.get(endpoint_arn)
    return list(endpoint.messages.values()) if endpoint is not None else []
