"""A Lambda subscriber for the emulator scenario: records each notification it gets on a
queue, and fails on a poison message (so that Lambda's retries and the on-failure
destination are exercised)."""

import json
import os

import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    for record in event["Records"]:
        notification = record["Sns"]
        attributes = {
            name: value["Value"]
            for name, value in notification.get("MessageAttributes", {}).items()
        }
        if attributes.get("poison") == "yes":
            raise ValueError(f"cannot process {notification['Message']}")
        sqs.send_message(
            QueueUrl=os.environ["RECORD_URL"],
            MessageBody=json.dumps({"message": notification["Message"], "attributes": attributes}),
        )
