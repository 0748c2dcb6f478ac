"""How large a message may be: the topic's limit, the queue's, and the rules between them.

SNS checks a published message (body and attributes) against its topic's
``MaximumMessageSize``: 1,024..1,048,576 bytes, 262,144 (256 KiB) when the topic sets none.
Above 256 KiB a topic delivers only to SQS, Lambda and Firehose subscriptions, and to at most
100 subscriptions ("Publishing large messages with Amazon SNS", SNS Developer Guide). An SQS
queue's ``MaximumMessageSize`` takes the same range (1 MiB when unset, since 2025).

A queue is told its limit only when the user or its fanout sets one; the rules here are the
ones checkable at synth: a queue never advertises more than its topic delivers (the topic's
limit is read from a topic defined in this app; an imported topic's is unknown), and a queue
that takes less than its topic delivers gets a warning.
"""

from __future__ import annotations

from aws_cdk import Annotations
from aws_cdk import aws_sns as sns
from constructs import Construct

from .validation import Problems, known_property, unresolved

MIN_MESSAGE_SIZE = 1024
MAX_MESSAGE_SIZE = 1_048_576
"""What SNS topics and SQS queues accept as ``MaximumMessageSize``, in bytes."""
SNS_DEFAULT_MESSAGE_SIZE = 262_144
"""A topic's limit when it sets none (256 KiB)."""
MAX_LARGE_TOPIC_SUBSCRIPTIONS = 100
"""Subscriptions a topic above 256 KiB may have."""
LARGE_MESSAGE_PROTOCOLS = frozenset({"SQS", "Lambda", "Firehose"})
"""What a topic above 256 KiB delivers to."""


def topic_message_size(topic: sns.ITopic) -> int | None:
    """The largest message ``topic`` accepts (so delivers), when it is known at synth: a topic
    defined in this app (SNS's 256 KiB when it sets none); None for an imported topic or a
    deploy-time value."""
    size = known_property(topic, sns.CfnTopic, "maximum_message_size", SNS_DEFAULT_MESSAGE_SIZE)
    return None if size is None else int(size)


def check_queue_message_size(
    problems: Problems, scope: Construct, topic: sns.ITopic, size: int | None
) -> None:
    """A queue's ``max_message_size`` against what ``topic`` delivers: more is an error,
    less a synth warning (larger messages cannot be delivered to the queue)."""
    limit = topic_message_size(topic)
    if size is None or limit is None or unresolved(size):
        return
    if size > limit:
        problems.add(
            "max_message_size",
            size,
            f"is more than the topic {topic.node.path} delivers: its max_message_size "
            f"(MaximumMessageSize) is {limit:,} bytes{_default_note(topic)}; lower this one "
            "or raise the topic's",
        )
    elif size < limit:
        Annotations.of(scope).add_warning_v2(
            "constructs-lib:queueSmallerThanTopic",
            f"max_message_size={size:,} is below the {limit:,} bytes the topic "
            f"{topic.node.path} accepts: SNS cannot deliver larger messages to this queue "
            "(they end in the subscription dead-letter queue). Leave the option out to take "
            "whatever the topic delivers.",
        )


def check_large_topic_subscription(
    problems: Problems, size: int | None, protocol: str, subscriptions: int
) -> None:
    """A new subscription of a topic whose limit is ``size``: above 256 KiB, only SQS, Lambda
    and Firehose, and at most 100 subscriptions (``subscriptions`` is how many it has)."""
    if size is None or unresolved(size) or size <= SNS_DEFAULT_MESSAGE_SIZE:
        return
    if protocol not in LARGE_MESSAGE_PROTOCOLS:
        problems.add(
            "max_message_size",
            size,
            f"above {SNS_DEFAULT_MESSAGE_SIZE:,} bytes SNS delivers only to SQS, Lambda and "
            f"Firehose subscriptions, not to {protocol}: lower max_message_size or subscribe "
            "it to another topic",
        )
    if subscriptions >= MAX_LARGE_TOPIC_SUBSCRIPTIONS:
        problems.add(
            "max_message_size",
            size,
            f"above {SNS_DEFAULT_MESSAGE_SIZE:,} bytes a topic has at most "
            f"{MAX_LARGE_TOPIC_SUBSCRIPTIONS} subscriptions, and this one has {subscriptions}: "
            "lower max_message_size or split the consumers over two topics",
        )


def _default_note(topic: sns.ITopic) -> str:
    cfn = topic.node.default_child
    if isinstance(cfn, sns.CfnTopic) and cfn.maximum_message_size is None:
        return ", SNS's default when a topic sets none"
    return ""
