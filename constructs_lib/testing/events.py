"""Lambda's SQS event, built from messages really received from SQS.

What Lambda's SQS event source mapping hands a function: ``lambda_record`` turns one message
of ``ReceiveMessage`` (asked for with every attribute and message attribute) into a record,
``lambda_event`` wraps records into the event. The emulator's Lambda service builds the events
it invokes handlers with this way, and tests of your own handlers can too.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

LAMBDA_RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
)

"""The message attributes Lambda copies into a record's ``attributes``."""


def lambda_event(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"Records": list(records)}


def lambda_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """An SQS ``ReceiveMessage`` message in the shape Lambda hands it to the function."""
    attributes = message.get("Attributes", {})
    message_attributes = message.get("MessageAttributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            name: attributes[name] for name in LAMBDA_RECORD_ATTRIBUTES if name in attributes
        },
        "messageAttributes": {
            name: _lambda_message_attribute(value) for name, value in message_attributes.items()
        },
        "md5OfMessageAttributes": message.get("MD5OfMessageAttributes"),
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _lambda_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": [
            base64.b64encode(item).decode() for item in value.get("BinaryListValues", [])
        ],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return attribute
