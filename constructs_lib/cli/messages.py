"""Messages in dead-letter queues: reading them without consuming them, describing them, and
the two forms SNS delivers to a queue (the JSON envelope, or the raw body with attributes)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from .aws import SNS_ERROR_ATTRIBUTES
from .core import Client

RECEIVE_BATCH = 10
SYSTEM_ATTRIBUTES = (
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "MessageGroupId",
    "MessageDeduplicationId",
    "SequenceNumber",
    "DeadLetterQueueSourceArn",
)


def timestamp(millis: str | int | None) -> str | None:
    if millis in (None, ""):
        return None
    moment = datetime.fromtimestamp(int(millis) / 1000, tz=UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def envelope_of(body: str) -> dict[str, Any] | None:
    """The SNS notification envelope a body holds, or None for a raw body."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if (
        isinstance(value, dict)
        and value.get("Type") == "Notification"
        and "Message" in value
        and "TopicArn" in value
    ):
        return value
    return None


def subscription_of_envelope(envelope: Mapping[str, Any]) -> str | None:
    """The subscription ARN an envelope was made for: SNS names it in ``UnsubscribeURL``."""
    from urllib.parse import parse_qs, urlsplit

    url = envelope.get("UnsubscribeURL")
    if not isinstance(url, str):
        return None
    values = parse_qs(urlsplit(url).query).get("SubscriptionArn")
    return values[0] if values else None


def _attribute_out(value: Mapping[str, Any]) -> dict[str, str]:
    data_type = str(value.get("DataType", ""))
    if "StringValue" in value:
        return {"type": data_type, "value": str(value["StringValue"])}
    binary = value.get("BinaryValue", b"")
    encoded = base64.b64encode(binary).decode() if isinstance(binary, bytes) else str(binary)
    return {"type": data_type, "value": encoded}


def describe(message: Mapping[str, Any]) -> dict[str, Any]:
    """What ``peek`` and ``delete`` show of a message; the SNS envelope is unwrapped."""
    system = message.get("Attributes", {})
    body = message.get("Body", "")
    attributes = {
        name: _attribute_out(value)
        for name, value in message.get("MessageAttributes", {}).items()
        if name not in SNS_ERROR_ATTRIBUTES
    }
    errors = {
        name: _attribute_out(value)["value"]
        for name, value in message.get("MessageAttributes", {}).items()
        if name in SNS_ERROR_ATTRIBUTES
    }
    sns: dict[str, Any] | None = None
    envelope = envelope_of(body)
    if envelope is not None:
        sns = {
            "topic_arn": envelope["TopicArn"],
            "subscription_arn": subscription_of_envelope(envelope),
            "message_id": envelope.get("MessageId"),
            "timestamp": envelope.get("Timestamp"),
            "subject": envelope.get("Subject"),
        }
        for name, value in (envelope.get("MessageAttributes") or {}).items():
            attributes[name] = {"type": str(value.get("Type", "")), "value": str(value["Value"])}
        body = str(envelope["Message"])
    return {
        "message_id": message.get("MessageId"),
        "sent": timestamp(system.get("SentTimestamp")),
        "receive_count": int(system["ApproximateReceiveCount"])
        if "ApproximateReceiveCount" in system
        else None,
        "dead_letter_queue_source_arn": system.get("DeadLetterQueueSourceArn"),
        "message_group_id": system.get("MessageGroupId"),
        "delivery_error": errors or None,
        "sns": sns,
        "attributes": attributes,
        "body": body,
    }


def render(index: int, total: int, described: Mapping[str, Any]) -> str:
    lines = [f"--- message {index} of {total}: {described['message_id']}"]
    facts: list[tuple[str, Any]] = [
        ("sent", described["sent"]),
        ("receive count", described["receive_count"]),
        ("dead-lettered from", described["dead_letter_queue_source_arn"]),
        ("message group", described["message_group_id"]),
    ]
    error = described.get("delivery_error") or {}
    if error:
        facts.append(
            (
                "SNS delivery error",
                f"{error.get('ErrorCode', '?')}: {error.get('ErrorMessage', '')}",
            )
        )
    if described["sns"]:
        sns = described["sns"]
        facts += [
            ("SNS topic", sns["topic_arn"]),
            ("SNS subscription", sns["subscription_arn"]),
            ("SNS message id", sns["message_id"]),
            ("published", sns["timestamp"]),
            ("subject", sns["subject"]),
        ]
    lines += [f"{label}: {value}" for label, value in facts if value is not None]
    for name, value in sorted(described["attributes"].items()):
        lines.append(f"attribute {name} ({value['type']}): {value['value']}")
    lines.append("body:")
    lines += ["  " + line for line in pretty(described["body"]).splitlines()]
    return "\n".join(lines)


def receive(sqs: Client, url: str, *, count: int, visibility: int, wait: int = 1) -> list[Any]:
    response = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=max(1, min(RECEIVE_BATCH, count)),
        VisibilityTimeout=visibility,
        WaitTimeSeconds=wait,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    messages: list[Any] = response.get("Messages", [])
    return messages


def peek(sqs: Client, url: str, count: int) -> list[dict[str, Any]]:
    """Up to ``count`` distinct messages, received with a zero visibility timeout.

    Nothing is deleted and every message stays visible; each receive does add one to the
    message's ApproximateReceiveCount. SQS returns at most 10 messages per call and samples
    its servers, so more than 10 is best effort: receiving stops at the first call that
    brings no message not seen yet.
    """
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(-(-count // RECEIVE_BATCH) + 2):
        new = [
            m
            for m in receive(sqs, url, count=count - len(seen), visibility=0)
            if m["MessageId"] not in seen
        ]
        for message in new[: count - len(seen)]:
            seen[message["MessageId"]] = message
        if not new or len(seen) >= count:
            break
    return list(seen.values())


def counts(sqs: Client, url: str) -> tuple[int, int]:
    """The queue's approximate visible and in-flight (received, not deleted) messages."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes.get("ApproximateNumberOfMessages", 0)),
        int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
    )


def hold_all(
    sqs: Client, url: str, *, visibility: int, limit: int | None = None, stop_at: str | None = None
) -> Iterator[dict[str, Any]]:
    """Receive every message once, holding each invisible for ``visibility`` seconds.

    Yields messages as they arrive; ends after a receive that brings nothing new (twice,
    since SQS samples its servers), at ``limit`` messages, or after the batch that brought
    the message ``stop_at``.
    The caller deletes them or makes them visible again (``ChangeMessageVisibility`` 0).
    """
    seen: set[str] = set()
    empty = 0
    while empty < 2 and (limit is None or len(seen) < limit):
        wanted = RECEIVE_BATCH if limit is None else min(RECEIVE_BATCH, limit - len(seen))
        batch = receive(sqs, url, count=wanted, visibility=visibility)
        new = [m for m in batch if m["MessageId"] not in seen]
        for message in new:  # the whole batch, so that the caller can release all of it
            seen.add(message["MessageId"])
            yield message
        if stop_at in seen:
            return
        # A short batch may be the last: the held messages are invisible, so SQS counting
        # nothing visible means nothing else is there to read (and no receive waits for it).
        if (len(batch) < wanted or not new) and counts(sqs, url)[0] == 0:
            return
        empty = 0 if new else empty + 1


def release(sqs: Client, url: str, handles: Iterable[str]) -> None:
    """Make the received messages visible again at once (``ChangeMessageVisibility`` 0)."""
    entries = [
        {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
        for i, handle in enumerate(handles)
    ]
    for start in range(0, len(entries), RECEIVE_BATCH):
        sqs.change_message_visibility_batch(
            QueueUrl=url, Entries=entries[start : start + RECEIVE_BATCH]
        )


# -- forms -------------------------------------------------------------------------------

ERROR_ATTRIBUTES = frozenset(SNS_ERROR_ATTRIBUTES)


def sqs_attributes(message: Mapping[str, Any]) -> dict[str, Any]:
    """The message's SQS message attributes, as SendMessage takes them, without the delivery
    error SNS added when it dead-lettered the message."""
    out: dict[str, Any] = {}
    for name, value in message.get("MessageAttributes", {}).items():
        if name in ERROR_ATTRIBUTES:
            continue
        entry: dict[str, Any] = {"DataType": value["DataType"]}
        if "StringValue" in value:
            entry["StringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            entry["BinaryValue"] = value["BinaryValue"]
        out[name] = entry
    return out


def raw_from_envelope(envelope: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """What SNS delivers with raw message delivery for this envelope: the message itself, its
    attributes as SQS message attributes."""
    attributes: dict[str, Any] = {}
    for name, value in (envelope.get("MessageAttributes") or {}).items():
        data_type = str(value.get("Type", "String"))
        if data_type.startswith("Binary"):
            attributes[name] = {
                "DataType": data_type,
                "BinaryValue": base64.b64decode(str(value["Value"])),
            }
        else:
            attributes[name] = {"DataType": data_type, "StringValue": str(value["Value"])}
    return str(envelope["Message"]), attributes


def envelope_from_raw(
    body: str,
    attributes: Mapping[str, Any],
    *,
    topic_arn: str,
    subscription_arn: str,
    message_id: str,
    sent: str | None,
) -> str:
    """An SNS notification envelope for a raw message, for a subscription without raw
    delivery. SNS's signature cannot be made outside SNS, so it has none."""
    envelope: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": topic_arn,
        "Message": body,
        "Timestamp": sent or timestamp(int(datetime.now(tz=UTC).timestamp() * 1000)),
        "UnsubscribeURL": f"https://sns.{topic_arn.split(':')[3]}.amazonaws.com/"
        f"?Action=Unsubscribe&SubscriptionArn={subscription_arn}",
    }
    if attributes:
        envelope["MessageAttributes"] = {
            name: {
                "Type": value["DataType"],
                "Value": value["StringValue"]
                if "StringValue" in value
                else base64.b64encode(value["BinaryValue"]).decode(),
            }
            for name, value in attributes.items()
        }
    return json.dumps(envelope)


def export_line(message: Mapping[str, Any], source: str) -> dict[str, Any]:
    """One JSON Lines record of ``export``: enough to send the message again as it was."""
    system = message.get("Attributes", {})
    attributes = {}
    for name, value in message.get("MessageAttributes", {}).items():
        entry = {"DataType": value["DataType"]}
        if "StringValue" in value:
            entry["StringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            binary = value["BinaryValue"]
            entry["BinaryValue"] = (
                base64.b64encode(binary).decode() if isinstance(binary, bytes) else str(binary)
            )
        attributes[name] = entry
    return {
        "MessageId": message["MessageId"],
        "Body": message.get("Body", ""),
        "MessageAttributes": attributes,
        "Attributes": {k: system[k] for k in SYSTEM_ATTRIBUTES if k in system},
        "Queue": source,
    }


def import_entry(record: Mapping[str, Any]) -> dict[str, Any]:
    """SendMessage arguments for one exported record (binary attributes decoded)."""
    attributes = {}
    for name, value in (record.get("MessageAttributes") or {}).items():
        entry: dict[str, Any] = {"DataType": value["DataType"]}
        if "StringValue" in value:
            entry["StringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            entry["BinaryValue"] = base64.b64decode(value["BinaryValue"])
        attributes[name] = entry
    send: dict[str, Any] = {"MessageBody": record["Body"]}
    if attributes:
        send["MessageAttributes"] = attributes
    system = record.get("Attributes") or {}
    if system.get("MessageGroupId"):
        send["MessageGroupId"] = system["MessageGroupId"]
    if system.get("MessageDeduplicationId"):
        send["MessageDeduplicationId"] = system["MessageDeduplicationId"]
    return send
