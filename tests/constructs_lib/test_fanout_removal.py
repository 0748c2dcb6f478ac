"""What `cdk destroy` does with a fanout: the removal policy in the template, an archived topic
retained by default, and the custom resource that deactivates an archive before deletion."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from aws_cdk import RemovalPolicy, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from helpers import Tmpl, cfn_lint, new_app

from constructs_lib import FanoutConfigurationError, FanoutTopic


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = new_app(outdir=str(outdir))
    stack = Stack(app, "Ledgers")
    kept = FanoutTopic(stack, "Kept", fifo=True, archive_retention_days=30)
    gone = FanoutTopic(
        stack, "Gone", fifo=True, archive_retention_days=3, removal_policy=RemovalPolicy.DESTROY
    )
    consumer = gone.add_queue_consumer("Audit")
    plain = FanoutTopic(stack, "Plain")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
    return SimpleNamespace(
        t=Tmpl(stack), kept=kept, gone=gone, plain=plain, consumer=consumer, outdir=Path(outdir)
    )


def _policies(t: Tmpl, construct: object) -> tuple[str | None, str | None]:
    resource = t.resources[t.logical_id(construct)]
    return resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")


def test_an_archived_topic_is_retained_by_default_and_nothing_clears_its_archive(
    built: SimpleNamespace,
) -> None:
    assert _policies(built.t, built.kept.topic) == ("Retain", "Retain")
    assert built.kept.archive_removal is None
    # its key stays too (aws-cdk's default for keys): a retained archive stays readable
    assert _policies(built.t, built.kept.topic_key) == ("Retain", "Retain")


def test_a_topic_without_archive_keeps_aws_cdks_default(built: SimpleNamespace) -> None:
    assert _policies(built.t, built.plain.topic) == (None, None)
    assert built.plain.archive_removal is None


def test_destroy_deletes_the_topic_after_deactivating_its_archive(built: SimpleNamespace) -> None:
    t = built.t
    assert _policies(t, built.gone.topic) == ("Delete", "Delete")
    removal = t.props(built.gone.archive_removal)
    assert removal["TopicArn"] == {"Ref": t.logical_id(built.gone.topic)}
    assert t.resources[t.logical_id(built.gone.archive_removal)]["Type"] == (
        "Custom::TopicArchivePolicy"
    )


def test_the_archive_handler_may_only_set_attributes_of_the_archived_topics(
    built: SimpleNamespace,
) -> None:
    t = built.t
    provider = built.gone.archive_removal.node.scope.node.scope.node.find_child(
        "ConstructsLibTopicArchiveProvider"
    )
    sns_statements = [
        s for s in t.role_statements(provider.role) if str(s["Action"]).startswith("sns:")
    ]
    assert sns_statements == [
        {
            "Action": "sns:SetTopicAttributes",
            "Effect": "Allow",
            "Resource": {"Ref": t.logical_id(built.gone.topic)},
        }
    ]


def test_destroy_reaches_what_the_fanout_created_and_its_consumers(
    built: SimpleNamespace,
) -> None:
    t = built.t
    for part in (
        built.gone.topic_key,
        built.gone.queue_key,
        built.gone.subscription_dead_letter_queue,
        built.consumer.queue,
        built.consumer.dead_letter_queue,
    ):
        assert _policies(t, part) == ("Delete", "Delete"), part.node.path


def test_the_template_passes_cfn_lint_and_cdk_nag(built: SimpleNamespace) -> None:
    code, out, err = cfn_lint(sorted(str(p) for p in built.outdir.glob("*.template.json")))
    assert code == 0, out + err
    report = json.loads((built.outdir / "validation-report.json").read_text())
    assert [r for r in report["pluginReports"] if r["conclusion"] != "success"] == []


def test_snapshot_is_refused_naming_the_option() -> None:
    with pytest.raises(
        FanoutConfigurationError, match=r"removal_policy='SNAPSHOT': SNS topics and SQS queues"
    ):
        FanoutTopic(Stack(new_app(), "S"), "F", removal_policy=RemovalPolicy.SNAPSHOT)
