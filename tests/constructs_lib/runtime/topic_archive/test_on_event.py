"""The archive custom resource: it deactivates the topic's archive on Delete, nothing else."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from helpers import emulated_aws, import_from, refusing_client

from constructs_lib.testing import sns_archive

SOURCE = Path(__file__).resolve().parents[4] / "constructs_lib" / "runtime" / "topic_archive"


@pytest.fixture
def handler() -> Iterator[ModuleType]:
    with emulated_aws("eu-west-1"):
        sns_archive.apply()  # SNS's refusal to delete an archived topic
        yield import_from(SOURCE, "handler")


def _archived_topic() -> str:
    sns = boto3.client("sns")
    arn: str = sns.create_topic(
        Name="ledger.fifo",
        Attributes={"FifoTopic": "true", "ArchivePolicy": '{"MessageRetentionPeriod": "7"}'},
    )["TopicArn"]
    return arn


def _event(request: str, topic_arn: str, physical_id: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"RequestType": request, "ResourceProperties": {"TopicArn": topic_arn}}
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    return event


def _archive_policy(topic_arn: str) -> str | None:
    attributes = boto3.client("sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    return attributes.get("ArchivePolicy")


def test_create_and_update_leave_the_archive_and_name_the_topic(handler: ModuleType) -> None:
    arn = _archived_topic()
    assert handler.on_event(_event("Create", arn)) == {"PhysicalResourceId": arn}
    assert handler.on_event(_event("Update", arn, arn)) == {"PhysicalResourceId": arn}
    assert json.loads(_archive_policy(arn) or "{}") == {"MessageRetentionPeriod": "7"}


def test_delete_deactivates_the_archive_so_the_topic_can_be_deleted(handler: ModuleType) -> None:
    arn = _archived_topic()
    sns = boto3.client("sns")
    with pytest.raises(ClientError, match="Cannot delete a topic with an ArchivePolicy"):
        sns.delete_topic(TopicArn=arn)
    handler.on_event(_event("Delete", arn, arn))
    assert _archive_policy(arn) is None
    sns.delete_topic(TopicArn=arn)


def test_delete_of_a_topic_already_gone_succeeds(handler: ModuleType) -> None:
    arn = "arn:aws:sns:eu-west-1:123456789012:gone.fifo"
    assert handler.on_event(_event("Delete", arn, arn)) == {"PhysicalResourceId": arn}


def test_delete_after_a_failed_create_touches_nothing(handler: ModuleType) -> None:
    arn = _archived_topic()
    handler.on_event(_event("Delete", arn, "placeholder-of-a-failed-create"))
    assert _archive_policy(arn) is not None


def test_other_refusals_fail_the_request(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        handler.boto3,
        "client",
        lambda *_: refusing_client("set_topic_attributes", "AuthorizationError", "denied")(),
    )
    arn = "arn:aws:sns:eu-west-1:123456789012:ledger.fifo"
    with pytest.raises(ClientError, match="denied"):
        handler.on_event(_event("Delete", arn, arn))


def test_a_missing_topic_arn_is_an_error(handler: ModuleType) -> None:
    with pytest.raises(ValueError, match="TopicArn must be the ARN"):
        handler.on_event({"RequestType": "Create", "ResourceProperties": {}})
