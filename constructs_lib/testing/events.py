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


def function_url_event(
    *,
    method: str = "POST",
    path: str = "/",
    body: str | bytes | None = None,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    url_id: str = "abcdefghijklmnopqrstuvwxyz012345",
    region: str = "eu-west-1",
    account: str = "123456789012",
    caller_arn: str | None = None,
) -> dict[str, Any]:
    """The event a Lambda function URL hands the function (payload format 2.0).

    As the URL service builds it: ``rawPath`` and ``rawQueryString``, lower-case header names,
    ``requestContext.http`` with method, path, protocol, source IP and user agent, a text body
    as is and any other body base64-encoded (``isBase64Encoded``). With IAM auth
    (``caller_arn`` given) ``requestContext.authorizer.iam`` names the signing principal.
    """
    import time
    from urllib.parse import urlencode
    from uuid import uuid4

    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    lowered.setdefault("host", f"{url_id}.lambda-url.{region}.on.aws")
    lowered.setdefault("user-agent", "constructs-lib-testing")
    now = time.time()
    context: dict[str, Any] = {
        "accountId": "anonymous" if caller_arn is None else account,
        "apiId": url_id,
        "domainName": lowered["host"],
        "domainPrefix": url_id,
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": lowered["user-agent"],
        },
        "requestId": str(uuid4()),
        "routeKey": "$default",
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if caller_arn is not None:
        context["authorizer"] = {
            "iam": {
                "accessKey": "AKIAEMULATOR",
                "accountId": account,
                "callerId": "AIDAEMULATOR",
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": caller_arn,
                "userId": "AIDAEMULATOR",
            }
        }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": lowered,
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if body is not None:
        text_types = ("text/", "application/json", "application/xml", "application/javascript")
        content_type = lowered.get("content-type", "application/json")
        if isinstance(body, str) and content_type.startswith(text_types):
            event["body"] = body
        else:
            raw = body.encode() if isinstance(body, str) else body
            event["body"] = base64.b64encode(raw).decode()
            event["isBase64Encoded"] = True
    return event


def function_url_response(payload: Any) -> dict[str, Any]:
    """What the URL service answers for a function's return value: a ``statusCode`` object
    as given (headers, body, base64 body decoded), anything else as a 200 JSON body."""
    if isinstance(payload, dict) and "statusCode" in payload:
        body = payload.get("body", "")
        if payload.get("isBase64Encoded"):
            body = base64.b64decode(body).decode(errors="replace")
        return {
            "status": int(payload["statusCode"]),
            "headers": dict(payload.get("headers") or {}),
            "body": body,
        }
    import json

    return {
        "status": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(payload),
    }
