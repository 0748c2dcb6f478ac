"""Talking to SQS and SNS: clients, queue references, subscriptions, and AWS errors as
one-line messages. boto3 is imported on first use, not at import time."""

from __future__ import annotations

import argparse
import json
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .core import EXIT_AWS, EXIT_UNREACHABLE, EXIT_USAGE, Client, OperatorError, UsageError

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

    from .core import Context

QUEUE_NOT_FOUND = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
NOT_FOUND = {*QUEUE_NOT_FOUND, "ResourceNotFoundException", "NotFound"}
ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "AuthorizationError"}

# The attributes SNS puts on a message it moves into a subscription dead-letter queue (the
# delivery error), which are not part of the message as published.
SNS_ERROR_ATTRIBUTES = ("ErrorCode", "ErrorMessage", "RequestID")


def endpoint_url(text: str) -> str:
    """``--endpoint-url``: an http(s) URL with a host, e.g. ``http://127.0.0.1:5000``."""
    try:
        parsed = urllib.parse.urlsplit(text)
        parsed.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a URL: {err}") from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an http(s) URL with a host, e.g. http://127.0.0.1:5000"
        )
    return text


def session(args: argparse.Namespace) -> Any:
    import boto3

    return boto3.Session(
        profile_name=getattr(args, "profile", None), region_name=getattr(args, "region", None)
    )


def client(ctx: Context, service: str) -> Client:
    factory = ctx.session_factory or session
    endpoint = getattr(ctx.args, "endpoint_url", None)
    try:
        return factory(ctx.args).client(service, endpoint_url=endpoint)
    except ValueError as err:  # botocore: "Invalid endpoint: ..."
        raise UsageError(f"--endpoint-url {endpoint}: {err}") from err


# -- errors ------------------------------------------------------------------------------


def code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def message(err: ClientError) -> str:
    """The error's message on one line (an endpoint that is not AWS may answer with HTML)."""
    text = " ".join(str(err.response.get("Error", {}).get("Message", "")).split())
    if not text or text.startswith("<"):
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        return f"HTTP {status} without an AWS error (does the endpoint implement this API?)"
    return text


def translate(error: BaseException) -> OperatorError | None:
    """An expected botocore failure as an :class:`OperatorError`; None for anything else."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ProfileNotFound,
    )

    if isinstance(error, ClientError):
        failure_code, text = code(error), message(error)
        operation = getattr(error, "operation_name", "request")
        if failure_code in NOT_FOUND:
            return UsageError(f"not found: {text} ({operation})")
        if failure_code in ACCESS_DENIED:
            return OperatorError(f"access denied for {operation}: {text}")
        if failure_code in ("InvalidClientTokenId", "UnrecognizedClientException"):
            return OperatorError(
                f"AWS does not know these credentials ({operation}: {text}): check the "
                "profile or the AWS_ACCESS_KEY_ID in use",
                EXIT_UNREACHABLE,
            )
        if failure_code.isdigit():  # no AWS error code, only an HTTP status
            return OperatorError(f"{operation} failed: {text}")
        return OperatorError(f"{operation} failed: {failure_code}: {text}")
    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return OperatorError(
            "no AWS credentials found: configure the standard credential chain "
            "(environment, profile, SSO) or pass --profile",
            EXIT_UNREACHABLE,
        )
    if isinstance(error, NoRegionError):
        return OperatorError("no AWS region: pass --region or set AWS_REGION", EXIT_UNREACHABLE)
    if isinstance(error, ProfileNotFound):
        return OperatorError(f"{error}: pass an existing --profile", EXIT_USAGE)
    if isinstance(error, EndpointConnectionError):
        return OperatorError(
            f"cannot reach {error.kwargs.get('endpoint_url', 'AWS')}: is the endpoint "
            "running and the URL right (--endpoint-url, AWS_ENDPOINT_URL)?",
            EXIT_UNREACHABLE,
        )
    if isinstance(error, BotoCoreError):
        return OperatorError(f"AWS request failed: {error}", EXIT_AWS)
    return None


# -- queues ------------------------------------------------------------------------------


def queue_name(arn_or_url: str) -> str:
    """The name at the end of an ARN (``...:name``) or a URL (``.../name``)."""
    return arn_or_url.rstrip("/").replace("/", ":").rsplit(":", 1)[-1]


def resolve_queue_url(sqs: Client, ref: str) -> str:
    """A queue URL from a name, an ARN or a URL; a UsageError when there is no such queue."""
    from botocore.exceptions import ClientError

    if ref.startswith(("https://", "http://")):
        return ref
    try:
        if ref.startswith("arn:"):
            parts = ref.split(":")
            if len(parts) != 6 or parts[2] != "sqs":
                raise UsageError(f"not an SQS queue ARN: {ref}")
            url: str = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])[
                "QueueUrl"
            ]
            return url
        url = sqs.get_queue_url(QueueName=ref)["QueueUrl"]
        return url
    except ClientError as err:
        if code(err) in QUEUE_NOT_FOUND:
            raise UsageError(
                f"queue not found: {ref} (check the name and --region; `fanout dlq list` "
                "shows the dead-letter queues)"
            ) from err
        raise


def queue_attributes(sqs: Client, url: str, names: Sequence[str]) -> dict[str, str]:
    from botocore.exceptions import ClientError

    try:
        attributes: dict[str, str] = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=list(names)
        )["Attributes"]
    except ClientError as err:
        if code(err) in QUEUE_NOT_FOUND:
            raise UsageError(f"queue not found: {url}") from err
        raise
    return attributes


def json_attribute(attributes: Mapping[str, str], name: str) -> dict[str, Any]:
    raw = attributes.get(name)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# -- subscriptions -----------------------------------------------------------------------


@dataclass(frozen=True)
class Subscription:
    """An SNS subscription with the attributes the commands use."""

    arn: str
    topic_arn: str
    protocol: str
    endpoint: str
    attributes: Mapping[str, str]

    @property
    def raw(self) -> bool:
        return str(self.attributes.get("RawMessageDelivery", "false")).lower() == "true"

    @property
    def dead_letter_queue_arn(self) -> str | None:
        target = json_attribute(self.attributes, "RedrivePolicy").get("deadLetterTargetArn")
        return str(target) if target else None


def subscriptions(sns: Client, topic_arn: str | None = None) -> Iterator[Subscription]:
    """Every confirmed subscription (of ``topic_arn``, or of the account and region), with its
    attributes. A subscription removed while listing is skipped."""
    from botocore.exceptions import ClientError

    if topic_arn:
        pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
    else:
        pages = sns.get_paginator("list_subscriptions").paginate()
    for page in pages:
        for sub in page.get("Subscriptions", []):
            arn = sub["SubscriptionArn"]
            if not arn.startswith("arn:"):
                continue  # PendingConfirmation: no attributes to read yet
            try:
                attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
            except ClientError as err:
                if code(err) in NOT_FOUND:
                    continue
                raise
            yield Subscription(
                arn=arn,
                topic_arn=sub["TopicArn"],
                protocol=sub.get("Protocol", ""),
                endpoint=sub.get("Endpoint", ""),
                attributes=attributes,
            )
