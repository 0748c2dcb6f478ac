"""The queue and Lambda consumer options AWS added in 2025-2026: long polling, the message size
pair of topic and queue, SSE-SQS, provisioned pollers and event source mapping metrics."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from aws_cdk import Duration, Environment, Stack, assertions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from helpers import Tmpl, linted_and_nagged, nag_checked_app, new_app

from constructs_lib import (
    ConsumerQueue,
    FanoutConfigurationError,
    FanoutTopic,
    LambdaConsumer,
)

CODE = lambda_.Code.from_inline("def handler(event, context):\n    return {}\n")
MIB = 1_048_576
SSE_SQS = sqs.QueueEncryption.SQS_MANAGED


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    b = SimpleNamespace(outdir=tmp_path_factory.mktemp("cdk.out"))
    stack = Stack(nag_checked_app(b.outdir), "Options")
    b.large = FanoutTopic(stack, "Large", max_message_size=MIB)
    b.archive = b.large.add_queue_consumer("Archive")
    b.public = b.large.add_queue_consumer(
        "Public", encryption=SSE_SQS, receive_message_wait_time=Duration.seconds(5)
    )
    b.provisioned = b.large.add_lambda_consumer(
        "Indexer", code=CODE, handler="index.handler", min_pollers=5, max_pollers=50
    )
    # A fanout whose every consumer is SSE-SQS creates no queue key at all.
    b.catalogue = FanoutTopic(stack, "Catalogue")
    b.listing = b.catalogue.add_queue_consumer("Listing", encryption=SSE_SQS)
    b.quiet = b.catalogue.add_lambda_consumer(
        "Quiet",
        code=CODE,
        handler="index.handler",
        queue_options={"encryption": SSE_SQS, "max_message_size": 262_144},
        max_concurrency=4,
        event_source_metrics=False,
    )
    plain = sns.Topic(stack, "Plain", enforce_ssl=True)
    b.standalone = ConsumerQueue(stack, "Standalone", topic=plain, max_message_size=100_000)
    stack.node.root.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
    b.t = Tmpl(stack)
    return b


def _queue(t: Tmpl, queue: Any) -> dict[str, Any]:
    return t.props(queue)


# -- long polling ----------------------------------------------------------------------------


def test_consumer_queues_long_poll_20_seconds_by_default(built: SimpleNamespace) -> None:
    assert _queue(built.t, built.archive.queue)["ReceiveMessageWaitTimeSeconds"] == 20


def test_the_wait_time_is_the_queues_own_and_not_its_dead_letter_queues(
    built: SimpleNamespace,
) -> None:
    t = built.t
    assert _queue(t, built.public.queue)["ReceiveMessageWaitTimeSeconds"] == 5
    assert "ReceiveMessageWaitTimeSeconds" not in _queue(t, built.public.dead_letter_queue)


@pytest.mark.parametrize("seconds", [21, 0.5])
def test_fails_on_a_wait_time_sqs_refuses(seconds: float) -> None:
    stack = Stack(new_app(), "Some")
    with pytest.raises(FanoutConfigurationError, match=r"receive_message_wait_time=.*"):
        ConsumerQueue(
            stack,
            "C",
            topic=sns.Topic(stack, "T"),
            receive_message_wait_time=Duration.millis(int(seconds * 1000)),
        )


# -- message size ----------------------------------------------------------------------------


def test_the_topic_takes_its_max_message_size(built: SimpleNamespace) -> None:
    assert built.t.props(built.large.topic)["MaximumMessageSize"] == MIB
    assert "MaximumMessageSize" not in built.t.props(built.catalogue.topic)


def test_a_fanouts_consumer_queues_take_what_the_topic_delivers(built: SimpleNamespace) -> None:
    t = built.t
    for consumer in (built.archive, built.public, built.large.consumers["Indexer"]):
        assert _queue(t, consumer.queue)["MaximumMessageSize"] == MIB


def test_queues_of_a_default_topic_keep_sqs_own_limit(built: SimpleNamespace) -> None:
    assert "MaximumMessageSize" not in _queue(built.t, built.listing.queue)


def test_fails_when_a_queue_advertises_more_than_its_fanout_delivers() -> None:
    fanout = FanoutTopic(Stack(new_app(), "Some"), "Orders", max_message_size=300_000)
    with pytest.raises(
        FanoutConfigurationError,
        match=r"max_message_size=500000: is more than the topic Some/Orders/Topic delivers: "
        r"its max_message_size \(MaximumMessageSize\) is 300,000 bytes",
    ):
        fanout.add_queue_consumer("Big", max_message_size=500_000)


def test_fails_when_a_queue_advertises_more_than_a_default_topic_delivers() -> None:
    stack = Stack(new_app(), "Some")
    with pytest.raises(
        FanoutConfigurationError,
        match=r"max_message_size=1048576: .* is 262,144 bytes, SNS's default",
    ):
        ConsumerQueue(stack, "C", topic=sns.Topic(stack, "T"), max_message_size=MIB)


def test_an_imported_topics_limit_is_unknown_so_any_size_is_accepted() -> None:
    stack = Stack(new_app(), "Some", env=Environment(region="us-east-1"))
    topic = sns.Topic.from_topic_arn(stack, "T", "arn:aws:sns:us-east-1:111122223333:orders")
    consumer = ConsumerQueue(stack, "C", topic=topic, max_message_size=MIB)
    assert Tmpl(stack).props(consumer.queue)["MaximumMessageSize"] == MIB


def test_a_queue_smaller_than_its_topic_gets_a_warning(built: SimpleNamespace) -> None:
    annotations = assertions.Annotations.from_stack(built.t.stack)
    annotations.has_warning(
        "/Options/Standalone",
        assertions.Match.string_like_regexp(
            "max_message_size=100,000 is below the 262,144 bytes.*subscription dead-letter"
        ),
    )
    # A queue that takes exactly what its topic delivers fits: no warning.
    annotations.has_no_warning(
        "/Options/Catalogue/Quiet", assertions.Match.string_like_regexp("max_message_size")
    )


@pytest.mark.parametrize("size", [1023, MIB + 1])
def test_fails_on_sizes_sns_and_sqs_refuse(size: int) -> None:
    with pytest.raises(FanoutConfigurationError, match=rf"max_message_size={size}: must be"):
        FanoutTopic(Stack(new_app(), "Some"), "Orders", max_message_size=size)
    stack = Stack(new_app(), "Other")
    with pytest.raises(FanoutConfigurationError, match=rf"max_message_size={size}: must be"):
        ConsumerQueue(stack, "C", topic=sns.Topic(stack, "T"), max_message_size=size)


def test_a_large_message_topic_refuses_subscribers_sns_cannot_deliver_to() -> None:
    fanout = FanoutTopic(Stack(new_app(), "Some"), "Orders", max_message_size=MIB)
    with pytest.raises(
        FanoutConfigurationError,
        match=r"max_message_size=1048576: above 262,144 bytes SNS delivers only to SQS, "
        r"Lambda and Firehose subscriptions, not to HTTP/S",
    ):
        fanout.add_http_subscriber("Partner", url="https://partner.example.com/orders")
    with pytest.raises(FanoutConfigurationError, match="not to email"):
        fanout.add_email_subscriber("OnCall", address="oncall@example.com")
    # Lambda functions (like queues and Firehose streams) still get every message.
    function = lambda_.Function.from_function_arn(
        fanout, "AuditFunction", "arn:aws:lambda:us-east-1:111122223333:function:audit"
    )
    assert fanout.add_lambda_subscriber("Audit", function=function) is fanout.subscribers["Audit"]


def test_a_large_message_topic_has_at_most_100_subscriptions() -> None:
    fanout = FanoutTopic(Stack(new_app(), "Some"), "Orders", max_message_size=300_000)
    for n in range(100):
        fanout.add_queue_consumer(f"C{n}")
    with pytest.raises(
        FanoutConfigurationError, match=r"at most 100 subscriptions, and this one has 100"
    ):
        fanout.add_queue_consumer("OneTooMany")


# -- SSE-SQS ---------------------------------------------------------------------------------


def test_an_sse_sqs_consumer_has_no_key_and_sqs_managed_queues(built: SimpleNamespace) -> None:
    t = built.t
    assert built.public.encryption_key is None
    for queue in (built.public.queue, built.public.dead_letter_queue):
        props = _queue(t, queue)
        assert props["SqsManagedSseEnabled"] is True
        assert "KmsMasterKeyId" not in props


def test_a_fanout_of_sse_sqs_consumers_creates_no_queue_key(built: SimpleNamespace) -> None:
    t = built.t
    keys = t.of_type("AWS::KMS::Key")
    catalogue = [lid for lid in keys if lid.startswith("CatalogueQueueKey")]
    assert catalogue == []
    assert t.logical_id(built.large.queue_key) in keys  # a KMS consumer's fanout has one


def test_sns_may_still_send_to_an_sse_sqs_queue_only_from_its_topic(
    built: SimpleNamespace,
) -> None:
    t = built.t
    (send,) = [
        s
        for s in t.policies_of_queue(t.logical_id(built.listing.queue))
        if s.get("Principal") == {"Service": "sns.amazonaws.com"}
    ]
    assert send["Action"] == "sqs:SendMessage"
    assert send["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Ref": t.logical_id(built.catalogue.topic)}}
    }


def test_a_lambda_consumer_of_an_sse_sqs_queue_gets_no_key_rights(built: SimpleNamespace) -> None:
    t = built.t
    actions = [
        a
        for s in t.role_statements(built.quiet.role)
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert "sqs:ReceiveMessage" in actions
    assert not [a for a in actions if a.startswith("kms:")]


def test_fails_on_sse_sqs_with_a_key_naming_both_options() -> None:
    both = r"encryption='sqs.QueueEncryption.SQS_MANAGED': .* but encryption_key=Some/O/K is"
    fanout = FanoutTopic(Stack(new_app(), "Some"), "O")
    key = kms.Key(fanout, "K", enable_key_rotation=True)
    with pytest.raises(FanoutConfigurationError, match=both):
        fanout.add_queue_consumer("C", encryption=SSE_SQS, encryption_key=key)


@pytest.mark.parametrize(
    "encryption", [sqs.QueueEncryption.KMS_MANAGED, sqs.QueueEncryption.UNENCRYPTED]
)
def test_fails_on_encryptions_sns_cannot_use_or_the_library_refuses(
    encryption: sqs.QueueEncryption,
) -> None:
    fanout = FanoutTopic(Stack(new_app(), "Some"), "Orders")
    with pytest.raises(
        FanoutConfigurationError, match=rf"encryption='sqs.QueueEncryption.{encryption.name}'"
    ):
        fanout.add_queue_consumer("C", encryption=encryption)


# -- provisioned pollers and event source mapping metrics -------------------------------------


def _mapping(t: Tmpl, consumer: LambdaConsumer) -> dict[str, Any]:
    return t.props(consumer.event_source_mapping)


def test_provisioned_pollers_go_to_the_event_source_mapping(built: SimpleNamespace) -> None:
    mapping = _mapping(built.t, built.provisioned)
    assert mapping["ProvisionedPollerConfig"] == {"MinimumPollers": 5, "MaximumPollers": 50}
    assert "ScalingConfig" not in mapping


def test_event_counts_are_published_by_default(built: SimpleNamespace) -> None:
    assert _mapping(built.t, built.provisioned)["MetricsConfig"] == {"Metrics": ["EventCount"]}
    assert "MetricsConfig" not in _mapping(built.t, built.quiet)


def test_event_count_metrics_name_the_mapping(built: SimpleNamespace) -> None:
    consumer = built.provisioned
    stack = built.t.stack
    for metric, name in (
        (consumer.metric_polled_event_count(), "PolledEventCount"),
        (consumer.metric_invoked_event_count(), "InvokedEventCount"),
        (consumer.metric_filtered_out_event_count(), "FilteredOutEventCount"),
        (consumer.metric_failed_invoke_event_count(), "FailedInvokeEventCount"),
        (consumer.metric_deleted_event_count(period=Duration.minutes(5)), "DeletedEventCount"),
    ):
        assert (metric.namespace, metric.metric_name, metric.statistic) == (
            "AWS/Lambda",
            name,
            "Sum",
        )
        assert stack.resolve(metric.dimensions) == {
            "EventSourceMappingUUID": {"Ref": built.t.logical_id(consumer.event_source_mapping)}
        }
    assert consumer.metric_deleted_event_count(period=Duration.minutes(5)).period.to_minutes() == 5


def test_reading_event_counts_that_are_off_warns() -> None:
    stack = Stack(new_app(), "Some")
    queue = sqs.Queue(stack, "Q", visibility_timeout=Duration.minutes(5))
    consumer = LambdaConsumer(
        stack, "C", queue=queue, code=CODE, handler="index.handler", event_source_metrics=False
    )
    consumer.metric_polled_event_count()
    assertions.Annotations.from_stack(stack).has_warning(
        "/Some/C", assertions.Match.string_like_regexp("event_source_metrics=False")
    )


def _lambda_consumer(**options: Any) -> LambdaConsumer:
    stack = Stack(new_app(), "Some")
    queue = sqs.Queue(stack, "Q", visibility_timeout=Duration.minutes(5))
    return LambdaConsumer(stack, "C", queue=queue, code=CODE, handler="index.handler", **options)


def test_fails_on_provisioned_pollers_with_max_concurrency_naming_both() -> None:
    with pytest.raises(
        FanoutConfigurationError,
        match=r"max_concurrency=10: cannot be set with provisioned pollers \(min_pollers=2\)",
    ):
        _lambda_consumer(max_concurrency=10, min_pollers=2)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"min_pollers": 1}, r"min_pollers=1: must be an integer from 2 to 200"),
        ({"min_pollers": 201}, r"min_pollers=201: must be an integer from 2 to 200"),
        ({"max_pollers": 1}, r"max_pollers=1: must be an integer from 2 to 2000"),
        ({"max_pollers": 2001}, r"max_pollers=2001: must be an integer from 2 to 2000"),
        ({"min_pollers": 20, "max_pollers": 10}, r"min_pollers=20: is more than max_pollers=10"),
    ],
)
def test_fails_on_poller_bounds_lambda_refuses(options: dict[str, int], message: str) -> None:
    with pytest.raises(FanoutConfigurationError, match=message):
        _lambda_consumer(**options)


def test_one_poller_bound_alone_takes_lambdas_default_for_the_other() -> None:
    consumer = _lambda_consumer(max_pollers=2)
    mapping = Tmpl(consumer.node.scope).props(consumer.event_source_mapping)  # type: ignore[arg-type]
    assert mapping["ProvisionedPollerConfig"] == {"MaximumPollers": 2}


# -- the stacks pass the linters -------------------------------------------------------------


def test_the_templates_pass_cfn_lint_and_cdk_nag(built: SimpleNamespace) -> None:
    assert linted_and_nagged(built.outdir) == []
