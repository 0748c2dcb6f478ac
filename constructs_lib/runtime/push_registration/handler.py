"""Device registration: turns a device's push token into a subscribed SNS platform endpoint.

Entry point ``handler.handler``, invoked through a Lambda function URL with IAM auth (payload
format 2.0). The caller POSTs JSON::

    {"platform": "apns" | "apns_sandbox" | "fcm", "token": "<device token>",
     "user_id": "<optional>", "segments": ["<optional segment>", ...],
     "endpoint_arn": "<optional, from an earlier registration of this device>"}

and gets ``200 {"endpoint_arn": ..., "subscriptions": [{"topic_arn", "subscription_arn"}]}``.
The app keeps ``endpoint_arn`` and sends it back on every later registration (app start, token
refresh), so that one device keeps one endpoint.

The endpoint is created or refreshed as AWS documents for mobile token management: a stored
endpoint that no longer exists is created again; one whose token changed, that SNS disabled,
or whose user changed is updated with the token, ``Enabled=true`` and the user id; otherwise
it is left alone. Creating an endpoint for a token SNS already knows, with other attributes,
fails naming the existing endpoint, which is then refreshed the same way. The endpoint is
then subscribed to the broadcast topic and to each requested segment topic; subscribing is
idempotent and registration only adds subscriptions (segments not listed are kept).

Invalid requests get a 4xx with every problem named; SNS errors a 502 with SNS's error code.

Environment (set by the construct):

* ``PLATFORM_APPLICATIONS``: JSON object, platform name -> platform application ARN, for
  the platforms the app is configured for;
* ``BROADCAST_TOPIC_ARN``: the topic every device is subscribed to;
* ``SEGMENT_TOPICS``: optional JSON object, segment name -> topic ARN;
* ``POWERTOOLS_SERVICE_NAME`` and ``LOG_LEVEL``: optional, for the structured logs.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

PLATFORMS = ("apns", "apns_sandbox", "fcm")
"""Platforms a device can register for; the construct configures a subset."""
MAX_TOKEN_LENGTH = 4096
"""Longest device token accepted. APNs tokens are 64 hex characters and FCM registration
tokens a few hundred; neither service documents a maximum, so this only stops abuse."""
MAX_USER_ID_LENGTH = 256
"""Longest user id accepted; stored as the endpoint's ``CustomUserData`` (2 KB at most)."""
MAX_SEGMENTS = 100
"""Most segments one request may name."""
REQUEST_FIELDS = ("platform", "token", "user_id", "segments", "endpoint_arn")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_EXISTING_ENDPOINT = re.compile(
    r"Endpoint (?P<arn>arn:\S+:endpoint/\S+) already exists with the same [Tt]oken"
)


class ConfigurationError(RuntimeError):
    """The function's environment lacks a setting the construct is meant to provide."""


def _json_object_of_strings(
    environ: Mapping[str, str], name: str, problems: list[str]
) -> dict[str, str]:
    raw = environ.get(name)
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        problems.append(f"{name} is not JSON: {raw!r}")
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(key, str) and isinstance(item, str) and item for key, item in value.items()
    ):
        problems.append(f"{name} must be a JSON object of non-empty strings, got {raw!r}")
        return {}
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    platform_applications: dict[str, str]
    broadcast_topic_arn: str
    segment_topics: dict[str, str] = field(default_factory=dict)
    service_name: str = "push-registration"
    log_level: str = "INFO"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from environment variables; raises naming every one missing or invalid."""
        problems: list[str] = []
        if "PLATFORM_APPLICATIONS" not in environ:
            problems.append("PLATFORM_APPLICATIONS is not set")
        applications = _json_object_of_strings(environ, "PLATFORM_APPLICATIONS", problems)
        unknown = sorted(set(applications) - set(PLATFORMS))
        if unknown:
            problems.append(
                f"PLATFORM_APPLICATIONS names unknown platforms {', '.join(unknown)}; "
                f"expected some of {', '.join(PLATFORMS)}"
            )
        elif "PLATFORM_APPLICATIONS" in environ and not applications and not problems:
            problems.append("PLATFORM_APPLICATIONS configures no platform")
        broadcast = environ.get("BROADCAST_TOPIC_ARN", "")
        if not broadcast:
            problems.append("BROADCAST_TOPIC_ARN is not set")
        segments = _json_object_of_strings(environ, "SEGMENT_TOPICS", problems)
        log_level = environ.get("LOG_LEVEL", "INFO").upper()
        if log_level not in LOG_LEVELS:
            problems.append(
                f"LOG_LEVEL is {environ['LOG_LEVEL']!r}; expected one of {', '.join(LOG_LEVELS)}"
            )
        if problems:
            raise ConfigurationError("push registration cannot start: " + "; ".join(problems))
        return cls(
            platform_applications=applications,
            broadcast_topic_arn=broadcast,
            segment_topics=segments,
            service_name=environ.get("POWERTOOLS_SERVICE_NAME") or "push-registration",
            log_level=log_level,
        )


settings = Settings.from_environ(os.environ)
logger = Logger(service=settings.service_name, level=settings.log_level)


@functools.cache
def sns_client() -> Any:
    """The one SNS client of this execution environment, created on first use."""
    return boto3.client("sns")


class InvalidRequest(Exception):
    """The request cannot be served; ``status`` is the HTTP status to answer with."""

    def __init__(self, problems: list[str], status: int = 400) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.status = status


@dataclass(frozen=True, slots=True)
class Registration:
    """A valid registration request."""

    platform: str
    token: str
    user_id: str | None = None
    segments: tuple[str, ...] = ()
    endpoint_arn: str | None = None


def _endpoint_prefix(application_arn: str) -> str:
    """``arn:...:app/GCM/name`` -> ``arn:...:endpoint/GCM/name/``, its endpoints' prefix."""
    return application_arn.replace(":app/", ":endpoint/", 1) + "/"


def parse_registration(document: object, settings: Settings) -> Registration:
    """The registration in a decoded JSON body; raises ``InvalidRequest`` naming every problem."""
    if not isinstance(document, dict):
        raise InvalidRequest([f"the body must be a JSON object, got {type(document).__name__}"])
    problems: list[str] = []
    unknown_fields = sorted(set(document) - set(REQUEST_FIELDS))
    if unknown_fields:
        problems.append(
            f"unknown fields {', '.join(unknown_fields)}; allowed: {', '.join(REQUEST_FIELDS)}"
        )

    configured = ", ".join(sorted(settings.platform_applications))
    platform = document.get("platform")
    if not isinstance(platform, str) or platform not in settings.platform_applications:
        problems.append(f"platform is {platform!r}; expected one of {configured}")

    token = document.get("token")
    if not isinstance(token, str) or not token.strip():
        problems.append("token must be a non-empty string")
    elif len(token) > MAX_TOKEN_LENGTH:
        problems.append(f"token is {len(token)} characters; at most {MAX_TOKEN_LENGTH} allowed")

    user_id = document.get("user_id")
    if user_id is not None:
        if not isinstance(user_id, str):
            problems.append(f"user_id must be a string, got {type(user_id).__name__}")
        elif len(user_id) > MAX_USER_ID_LENGTH:
            problems.append(
                f"user_id is {len(user_id)} characters; at most {MAX_USER_ID_LENGTH} allowed"
            )

    segments = document.get("segments", [])
    if not isinstance(segments, list) or not all(isinstance(name, str) for name in segments):
        problems.append("segments must be a list of strings")
        segments = []
    elif len(segments) > MAX_SEGMENTS:
        problems.append(f"segments names {len(segments)} segments; at most {MAX_SEGMENTS}")
    else:
        unknown_segments = sorted(set(segments) - set(settings.segment_topics))
        if unknown_segments:
            known = ", ".join(sorted(settings.segment_topics)) or "none are configured"
            problems.append(f"unknown segments {', '.join(unknown_segments)}; known: {known}")

    endpoint_arn = document.get("endpoint_arn")
    if endpoint_arn is not None:
        if not isinstance(endpoint_arn, str) or not endpoint_arn:
            problems.append("endpoint_arn must be a non-empty string")
        elif isinstance(platform, str) and platform in settings.platform_applications:
            prefix = _endpoint_prefix(settings.platform_applications[platform])
            if not endpoint_arn.startswith(prefix):
                problems.append(
                    f"endpoint_arn {endpoint_arn!r} is not an endpoint of the {platform} "
                    "platform application"
                )

    if problems:
        raise InvalidRequest(problems)
    return Registration(
        platform=str(platform),
        token=str(token),
        user_id=user_id,
        segments=tuple(dict.fromkeys(segments)),
        endpoint_arn=endpoint_arn,
    )


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _refresh(
    sns: Any, endpoint_arn: str, attributes: Mapping[str, str], request: Registration
) -> None:
    """Updates the endpoint unless it already has the token, is enabled and has the user."""
    stale = {
        "token": attributes.get("Token") != request.token,
        "disabled": attributes.get("Enabled", "true").lower() != "true",
        "user": request.user_id is not None and attributes.get("CustomUserData") != request.user_id,
    }
    if not any(stale.values()):
        return
    update = {"Token": request.token, "Enabled": "true"}
    if request.user_id is not None:
        update["CustomUserData"] = request.user_id
    sns.set_endpoint_attributes(EndpointArn=endpoint_arn, Attributes=update)
    logger.info(
        "Endpoint updated",
        extra={"endpoint_arn": endpoint_arn, "reasons": [k for k, v in stale.items() if v]},
    )


def _create(sns: Any, application_arn: str, request: Registration) -> str:
    arguments = {"PlatformApplicationArn": application_arn, "Token": request.token}
    if request.user_id is not None:
        arguments["CustomUserData"] = request.user_id
    try:
        endpoint_arn = str(sns.create_platform_endpoint(**arguments)["EndpointArn"])
    except ClientError as error:
        found = _EXISTING_ENDPOINT.search(str(error.response.get("Error", {}).get("Message", "")))
        if _error_code(error) != "InvalidParameter" or found is None:
            raise
        endpoint_arn = found["arn"]
        logger.info("Token already has an endpoint", extra={"endpoint_arn": endpoint_arn})
        attributes = sns.get_endpoint_attributes(EndpointArn=endpoint_arn)["Attributes"]
        _refresh(sns, endpoint_arn, attributes, request)
        return endpoint_arn
    logger.info("Endpoint created or found", extra={"endpoint_arn": endpoint_arn})
    return endpoint_arn


def ensure_endpoint(sns: Any, settings: Settings, request: Registration) -> str:
    """The ARN of an enabled endpoint holding the request's token, created if need be."""
    application_arn = settings.platform_applications[request.platform]
    if request.endpoint_arn is None:
        return _create(sns, application_arn, request)
    try:
        attributes = sns.get_endpoint_attributes(EndpointArn=request.endpoint_arn)["Attributes"]
    except ClientError as error:
        if _error_code(error) != "NotFound":
            raise
        logger.info("Stored endpoint is gone", extra={"endpoint_arn": request.endpoint_arn})
        return _create(sns, application_arn, request)
    _refresh(sns, request.endpoint_arn, attributes, request)
    return request.endpoint_arn


def register(sns: Any, settings: Settings, request: Registration) -> dict[str, Any]:
    """Ensures the endpoint and its subscriptions; the response body."""
    endpoint_arn = ensure_endpoint(sns, settings, request)
    topics = [settings.broadcast_topic_arn]
    topics += [settings.segment_topics[name] for name in request.segments]
    subscriptions = []
    for topic_arn in dict.fromkeys(topics):
        response = sns.subscribe(
            TopicArn=topic_arn,
            Protocol="application",
            Endpoint=endpoint_arn,
            ReturnSubscriptionArn=True,
        )
        subscriptions.append(
            {"topic_arn": topic_arn, "subscription_arn": response["SubscriptionArn"]}
        )
    return {"endpoint_arn": endpoint_arn, "subscriptions": subscriptions}


def _response(status: int, body: Mapping[str, Any], **headers: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", **headers},
        "body": json.dumps(body),
    }


def decode_body(event: Mapping[str, Any]) -> object:
    """The request's JSON document; raises ``InvalidRequest`` when there is none."""
    method = event.get("requestContext", {}).get("http", {}).get("method", "")
    if method != "POST":
        raise InvalidRequest([f"method {method or 'unknown'} is not allowed; use POST"], 405)
    body = event.get("body")
    if not body:
        raise InvalidRequest(["the request has no body; send a JSON object"])
    try:
        text = (
            base64.b64decode(body, validate=True).decode() if event.get("isBase64Encoded") else body
        )
        return json.loads(text)
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidRequest(["the body is not JSON"]) from None
    except RecursionError:
        # json.loads recurses once per nesting level: a body nested deeper than the
        # interpreter's recursion limit is the client's fault, answered like any bad body.
        raise InvalidRequest(
            ["the body is nested too deeply; send a flat JSON object of strings"]
        ) from None


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = parse_registration(decode_body(event), settings)
    except InvalidRequest as invalid:
        logger.info(
            "Request rejected", extra={"status": invalid.status, "problems": invalid.problems}
        )
        extra = {"allow": "POST"} if invalid.status == 405 else {}
        return _response(
            invalid.status,
            {"message": f"invalid request: {invalid}", "problems": invalid.problems},
            **extra,
        )
    logger.append_keys(platform=request.platform)
    try:
        body = register(sns_client(), settings, request)
    except ClientError as error:
        code = _error_code(error) or "Unknown"
        logger.exception("SNS call failed", extra={"error_code": code})
        return _response(502, {"message": "registration failed at SNS", "error_code": code})
    except BotoCoreError as error:
        logger.exception("SNS call failed", extra={"error_code": type(error).__name__})
        return _response(
            502, {"message": "registration failed at SNS", "error_code": type(error).__name__}
        )
    finally:
        logger.remove_keys(["platform"])
    logger.info("Device registered", extra={"endpoint_arn": body["endpoint_arn"]})
    return _response(200, body)
