"""Delivery feedback: retires the platform endpoints of devices that can no longer be reached.

Entry point ``handler.handler``, fed by an SQS queue (event source mapping with
ReportBatchItemFailures) subscribed, with the SNS envelope (not raw delivery), to the topics
the platform applications send their events to (``EventDeliveryFailure``,
``EventEndpointUpdated``, ...). Each message is SNS's event as JSON, for example::

    {"EventType": "DeliveryFailure", "FailureType": "EndpointDisabled",
     "EndpointArn": "arn:aws:sns:...:endpoint/GCM/app/...", "Resource": "<application ARN>",
     "FailureMessage": "Endpoint is disabled", "Service": "SNS", "Time": "...", ...}

An endpoint is dead when a delivery to it failed with ``EndpointDisabled`` or
``InvalidPlatformToken``, or when it was updated and is now disabled. Before retiring it, the
endpoint is read once more: one enabled again since (the device registered again with a fresh
token) is kept. A dead endpoint is unsubscribed from the broadcast topic and every segment
topic, then deleted; one already deleted is only unsubscribed. Other events are logged and
acknowledged. A record that cannot be read is logged with why and reported as that record's
failure, so that it is retried and then dead-lettered.

Unsubscribing scans each topic's subscriptions (100 a page): the cost grows with the topic.

Environment (set by the construct):

* ``BROADCAST_TOPIC_ARN``: the topic every device is subscribed to;
* ``SEGMENT_TOPICS``: optional JSON object, segment name -> topic ARN;
* ``POWERTOOLS_SERVICE_NAME`` and ``LOG_LEVEL``: optional, for the structured logs.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

DEAD_TOKEN_FAILURES = frozenset({"EndpointDisabled", "InvalidPlatformToken"})
"""Delivery failure types after which the endpoint's token will never work again."""
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigurationError(RuntimeError):
    """The function's environment lacks a setting the construct is meant to provide."""


@dataclass(frozen=True, slots=True)
class Settings:
    broadcast_topic_arn: str
    segment_topics: dict[str, str] = field(default_factory=dict)
    service_name: str = "push-feedback"
    log_level: str = "INFO"

    @property
    def topic_arns(self) -> list[str]:
        """Every topic a device may be subscribed to, each once."""
        return list(dict.fromkeys([self.broadcast_topic_arn, *self.segment_topics.values()]))

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from environment variables; raises naming every one missing or invalid."""
        problems: list[str] = []
        broadcast = environ.get("BROADCAST_TOPIC_ARN", "")
        if not broadcast:
            problems.append("BROADCAST_TOPIC_ARN is not set")
        segments: dict[str, str] = {}
        raw = environ.get("SEGMENT_TOPICS")
        if raw is not None:
            try:
                segments = json.loads(raw)
            except json.JSONDecodeError:
                segments = {}
                problems.append(f"SEGMENT_TOPICS is not JSON: {raw!r}")
            else:
                if not isinstance(segments, dict) or not all(
                    isinstance(arn, str) and arn for arn in segments.values()
                ):
                    segments = {}
                    problems.append(f"SEGMENT_TOPICS must be a JSON object of ARNs, got {raw!r}")
        log_level = environ.get("LOG_LEVEL", "INFO").upper()
        if log_level not in LOG_LEVELS:
            problems.append(
                f"LOG_LEVEL is {environ['LOG_LEVEL']!r}; expected one of {', '.join(LOG_LEVELS)}"
            )
        if problems:
            raise ConfigurationError("push feedback cannot start: " + "; ".join(problems))
        return cls(
            broadcast_topic_arn=broadcast,
            segment_topics=segments,
            service_name=environ.get("POWERTOOLS_SERVICE_NAME") or "push-feedback",
            log_level=log_level,
        )


settings = Settings.from_environ(os.environ)
logger = Logger(service=settings.service_name, level=settings.log_level)
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@functools.cache
def sns_client() -> Any:
    """The one SNS client of this execution environment, created on first use."""
    return boto3.client("sns")


class MalformedRecord(ValueError):
    """The record does not hold an SNS platform application event."""


@dataclass(frozen=True, slots=True)
class EndpointEvent:
    """The parts of a platform application event this function acts on."""

    event_type: str
    endpoint_arn: str | None
    failure_type: str | None = None


def parse_event(body: str) -> EndpointEvent:
    """The event in an SQS body holding an SNS envelope; raises ``MalformedRecord``."""
    try:
        envelope = json.loads(body)
    except json.JSONDecodeError:
        raise MalformedRecord("the body is not JSON") from None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("Message"), str):
        raise MalformedRecord(
            "the body is not an SNS envelope with a Message (is raw message delivery on?)"
        )
    try:
        event = json.loads(envelope["Message"])
    except json.JSONDecodeError:
        raise MalformedRecord("the SNS Message is not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("EventType"), str):
        raise MalformedRecord("the SNS Message is not a platform application event (no EventType)")
    endpoint_arn = event.get("EndpointArn")
    resource = event.get("Resource")
    if not isinstance(endpoint_arn, str) and isinstance(resource, str) and ":endpoint/" in resource:
        endpoint_arn = resource
    failure_type = event.get("FailureType")
    return EndpointEvent(
        event_type=event["EventType"],
        endpoint_arn=endpoint_arn if isinstance(endpoint_arn, str) and endpoint_arn else None,
        failure_type=failure_type if isinstance(failure_type, str) else None,
    )


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_disabled(sns: Any, endpoint_arn: str) -> bool | None:
    """Whether the endpoint is disabled; ``None`` when it no longer exists."""
    try:
        attributes = sns.get_endpoint_attributes(EndpointArn=endpoint_arn)["Attributes"]
    except ClientError as error:
        if _error_code(error) == "NotFound":
            return None
        raise
    return str(attributes.get("Enabled", "true")).lower() != "true"


def subscriptions_of(sns: Any, topic_arn: str, endpoint_arn: str) -> Iterator[str]:
    """ARNs of the topic's subscriptions delivering to the endpoint."""
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
        for subscription in page.get("Subscriptions", []):
            if subscription.get("Endpoint") == endpoint_arn and subscription.get(
                "SubscriptionArn", ""
            ).startswith("arn:"):
                yield subscription["SubscriptionArn"]


def retire(sns: Any, settings: Settings, endpoint_arn: str) -> list[str]:
    """Unsubscribes the endpoint from every topic, then deletes it; the subscriptions removed.

    Safe to repeat: a subscription or endpoint already gone counts as removed.
    """
    removed = []
    for topic_arn in settings.topic_arns:
        for subscription_arn in list(subscriptions_of(sns, topic_arn, endpoint_arn)):
            try:
                sns.unsubscribe(SubscriptionArn=subscription_arn)
            except ClientError as error:
                if _error_code(error) != "NotFound":
                    raise
            removed.append(subscription_arn)
    sns.delete_endpoint(EndpointArn=endpoint_arn)
    return removed


def is_dead_signal(event: EndpointEvent) -> bool:
    """Whether the event may mean the endpoint is dead (confirmed by reading it)."""
    if event.event_type == "DeliveryFailure":
        return event.failure_type in DEAD_TOKEN_FAILURES
    return event.event_type == "EndpointUpdated"


def handle(sns: Any, settings: Settings, event: EndpointEvent) -> str:
    """Acts on one event; what was done."""
    if not is_dead_signal(event):
        logger.info("Event acknowledged, nothing to do")
        return "ignored"
    if event.endpoint_arn is None:
        raise MalformedRecord(f"the {event.event_type} event names no EndpointArn")
    disabled = is_disabled(sns, event.endpoint_arn)
    if disabled is False:
        logger.info("Endpoint is enabled: kept")
        return "kept"
    removed = retire(sns, settings, event.endpoint_arn)
    logger.info(
        "Endpoint retired",
        extra={"already_deleted": disabled is None, "subscriptions_removed": removed},
    )
    return "retired"


@contextmanager
def logged_record(record: SQSRecord) -> Iterator[None]:
    """Log lines inside carry the message id; a failure is logged once, with why."""
    with logger.append_context_keys(message_id=record.message_id):
        try:
            yield
        except MalformedRecord as error:
            logger.error("Record is malformed", extra={"reason": str(error)})
            raise
        except ClientError as error:
            logger.exception("SNS call failed", extra={"error_code": _error_code(error)})
            raise


def record_handler(record: SQSRecord) -> str:
    with logged_record(record):
        event = parse_event(record.body)
        with logger.append_context_keys(
            event_type=event.event_type,
            failure_type=event.failure_type,
            endpoint_arn=event.endpoint_arn,
        ):
            return handle(sns_client(), settings, event)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
