"""Lets CloudFormation delete an SNS FIFO topic that keeps a message archive.

SNS refuses to delete a topic whose archive policy is active (``InvalidState``: "Cannot
delete a topic with an ArchivePolicy"). This custom resource references the topic, so
CloudFormation deletes it first; on ``Delete`` it deactivates the archive policy (sets it to
``{}``, which deletes the archived messages) and the topic's own deletion then succeeds.

``on_event`` is the CDK Provider's onEvent. ``Create`` and ``Update`` change nothing: the
physical id names the topic, so a new topic (a renamed one, say) means a new resource, and
CloudFormation deletes the old one, clearing the old topic's archive just before it deletes
that topic. ``Delete`` of a topic that no longer exists succeeds.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.exceptions import ClientError

INACTIVE = "{}"
"""The archive policy that deactivates archiving (SNS deletes the archived messages)."""
GONE = ("NotFound", "NotFoundException")

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def on_event(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    """CDK Provider onEvent: on Delete, deactivate the topic's archive policy."""
    topic_arn = str((event.get("ResourceProperties") or {}).get("TopicArn") or "")
    if not topic_arn.startswith("arn:"):
        raise ValueError(f"TopicArn must be the ARN of an SNS topic, not {topic_arn!r}")
    request_type = event.get("RequestType")
    if request_type == "Delete" and event.get("PhysicalResourceId") == topic_arn:
        _deactivate_archive(topic_arn)
    _log(request_type, topic_arn)
    return {"PhysicalResourceId": topic_arn}


def _deactivate_archive(topic_arn: str) -> None:
    sns = boto3.client("sns")
    try:
        sns.set_topic_attributes(
            TopicArn=topic_arn, AttributeName="ArchivePolicy", AttributeValue=INACTIVE
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in GONE:
            raise


def _log(request_type: object, topic_arn: str) -> None:
    action = "archive policy deactivated" if request_type == "Delete" else "nothing to do"
    logger.info(json.dumps({"RequestType": request_type, "TopicArn": topic_arn, "Result": action}))
