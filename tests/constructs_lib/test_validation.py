"""Option validation: every rule raises one FanoutConfigurationError naming the option.

The constructs validate in their constructor, so no test here synthesizes.
"""

from __future__ import annotations

import re

import pytest
from aws_cdk import CfnParameter, Duration, Stack, Token
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from helpers import new_app

from constructs_lib import ConsumerQueue, FanoutConfigurationError, FanoutTopic


def new_stack() -> Stack:
    return Stack(new_app(), "Some")


def topic_in(stack: Stack, *, fifo: bool = False) -> sns.Topic:
    return sns.Topic(stack, "T", fifo=fifo or None)


def values(n: int) -> sns.SubscriptionFilter:
    return sns.SubscriptionFilter.string_filter(allowlist=[f"v{i}" for i in range(n)])


def body_values(n: int) -> sns.FilterOrPolicy:
    return sns.FilterOrPolicy.filter(values(n))


def number_token(stack: Stack) -> float:
    return Token.as_number(CfnParameter(stack, "P", type="Number").value_as_number)


# -- ConsumerQueue -----------------------------------------------------------------------


def test_fails_when_standard_topic_feeds_fifo_queue() -> None:
    stack = new_stack()
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape("fifo=True: a standard SNS topic cannot deliver to a FIFO queue"),
    ):
        ConsumerQueue(stack, "C", topic=topic_in(stack), fifo=True)


def test_fails_when_fifo_queue_has_standard_dead_letter_queue() -> None:
    stack = new_stack()
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape(
            "dead_letter_queue='Some/D': is standard but the queue is FIFO; "
            "a dead-letter queue must be the same type as its source queue"
        ),
    ):
        ConsumerQueue(
            stack, "C", topic=topic_in(stack, fifo=True), dead_letter_queue=sqs.Queue(stack, "D")
        )


def test_fails_when_standard_queue_has_fifo_dead_letter_queue() -> None:
    stack = new_stack()
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape("dead_letter_queue='Some/D': is FIFO but the queue is standard"),
    ):
        ConsumerQueue(
            stack, "C", topic=topic_in(stack), dead_letter_queue=sqs.Queue(stack, "D", fifo=True)
        )


def test_fails_when_fifo_topic_has_standard_subscription_dead_letter_queue() -> None:
    stack = new_stack()
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape(
            "subscription_dead_letter_queue='Some/D': is standard but the topic is FIFO; "
            "SNS requires a subscription dead-letter queue of the topic's type"
        ),
    ):
        ConsumerQueue(
            stack,
            "C",
            topic=topic_in(stack, fifo=True),
            subscription_dead_letter_queue=sqs.Queue(stack, "D"),
        )


def test_fails_when_filtering_on_both_attributes_and_body() -> None:
    stack = new_stack()
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape(
            "filter_policy_with_message_body=['kind']: a subscription filters on attributes "
            "or on the message body, not both"
        ),
    ):
        ConsumerQueue(
            stack,
            "C",
            topic=topic_in(stack),
            filter_policy={"kind": values(1)},
            filter_policy_with_message_body={"kind": body_values(1)},
        )


def test_fails_when_attribute_filter_has_more_than_five_keys() -> None:
    stack = new_stack()
    keys = ["a", "b", "c", "d", "e", "f"]
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape(f"filter_policy={keys!r}: has 6 keys; SNS allows at most 5"),
    ):
        ConsumerQueue(stack, "C", topic=topic_in(stack), filter_policy={k: values(1) for k in keys})


def test_fails_when_attribute_filter_has_more_than_150_combinations() -> None:
    stack = new_stack()
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape(
            "filter_policy=['a', 'b']: has 169 value combinations (the product of each key's "
            "number of values); SNS allows at most 150"
        ),
    ):
        ConsumerQueue(
            stack, "C", topic=topic_in(stack), filter_policy={"a": values(13), "b": values(13)}
        )


def test_fails_when_body_filter_has_more_than_five_nested_keys() -> None:
    stack = new_stack()
    nested = {k: body_values(1) for k in ["a", "b", "c", "d", "e", "f"]}
    paths = [f"order.{k}" for k in nested]
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape(f"filter_policy_with_message_body={paths!r}: has 6 keys"),
    ) as err:
        ConsumerQueue(
            stack,
            "C",
            topic=topic_in(stack),
            filter_policy_with_message_body={"order": sns.FilterOrPolicy.policy(nested)},
        )
    assert "'order.a'" in str(err.value)


def test_fails_when_body_filter_has_more_than_150_combinations() -> None:
    stack = new_stack()
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape(
            "filter_policy_with_message_body=['order.a', 'kind']: has 169 value combinations"
        ),
    ):
        ConsumerQueue(
            stack,
            "C",
            topic=topic_in(stack),
            filter_policy_with_message_body={
                "order": sns.FilterOrPolicy.policy({"a": body_values(13)}),
                "kind": body_values(13),
            },
        )


@pytest.mark.parametrize("count", [0, 1001])
def test_fails_when_max_receive_count_is_outside_1_to_1000(count: int) -> None:
    stack = new_stack()
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape(f"max_receive_count={count}: must be an integer from 1 to 1000"),
    ):
        ConsumerQueue(stack, "C", topic=topic_in(stack), max_receive_count=count)


@pytest.mark.parametrize(
    ("period", "shown"),
    [(Duration.seconds(59), "59 seconds"), (Duration.days(15), "15 days")],
)
def test_fails_when_retention_period_is_outside_60_seconds_to_14_days(
    period: Duration, shown: str
) -> None:
    stack = new_stack()
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape(f"retention_period=Duration({shown}): must be from 1 minute to 14 days"),
    ):
        ConsumerQueue(stack, "C", topic=topic_in(stack), retention_period=period)


@pytest.mark.parametrize(
    ("period", "shown"),
    [(Duration.seconds(59), "59 seconds"), (Duration.days(15), "15 days")],
)
def test_fails_when_dead_letter_retention_period_is_outside_60_seconds_to_14_days(
    period: Duration, shown: str
) -> None:
    stack = new_stack()
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape(
            f"dead_letter_retention_period=Duration({shown}): must be from 1 minute to 14 days"
        ),
    ):
        ConsumerQueue(stack, "C", topic=topic_in(stack), dead_letter_retention_period=period)


@pytest.mark.parametrize(
    ("queue_days", "dead_letter_days"),
    [(14, 14), (4, 2)],
)
def test_fails_when_dead_letter_retention_is_not_longer_than_queue_retention(
    queue_days: int, dead_letter_days: int
) -> None:
    stack = new_stack()
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape(
            f"dead_letter_retention_period=Duration({dead_letter_days} days): must be longer "
            f"than retention_period ({queue_days} days)"
        ),
    ):
        ConsumerQueue(
            stack,
            "C",
            topic=topic_in(stack),
            retention_period=Duration.days(queue_days),
            dead_letter_retention_period=Duration.days(dead_letter_days),
        )


def test_fails_when_visibility_timeout_is_above_12_hours() -> None:
    stack = new_stack()
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape(
            "visibility_timeout=Duration(13 hours): must be from 0 seconds to 12 hours"
        ),
    ):
        ConsumerQueue(stack, "C", topic=topic_in(stack), visibility_timeout=Duration.hours(13))


def test_fails_when_fifo_queue_name_is_over_80_characters_with_suffix() -> None:
    stack = new_stack()
    name = "q" * 76
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape(
            f"queue_name={name!r}: is 81 characters including the '.fifo' suffix; "
            "at most 80 are allowed"
        ),
    ):
        ConsumerQueue(stack, "C", topic=topic_in(stack, fifo=True), queue_name=name)


def test_fifo_queue_name_of_80_characters_with_suffix_is_accepted() -> None:
    stack = new_stack()
    consumer = ConsumerQueue(stack, "C", topic=topic_in(stack, fifo=True), queue_name="q" * 75)
    assert consumer.fifo is True


def test_fails_when_standard_queue_name_is_over_80_characters() -> None:
    stack = new_stack()
    name = "q" * 81
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape(f"queue_name={name!r}: is 81 characters; at most 80 are allowed"),
    ):
        ConsumerQueue(stack, "C", topic=topic_in(stack), queue_name=name)


def test_fails_when_queue_name_has_invalid_characters() -> None:
    stack = new_stack()
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape(
            "queue_name='orders queue!': may contain only letters, digits, hyphens and underscores"
        ),
    ):
        ConsumerQueue(stack, "C", topic=topic_in(stack), queue_name="orders queue!")


def test_fails_when_max_message_age_is_longer_than_retention_period() -> None:
    stack = new_stack()
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape("max_message_age=Duration(5 days): must be from 1 minute to 4 days"),
    ):
        ConsumerQueue(
            stack,
            "C",
            topic=topic_in(stack),
            retention_period=Duration.days(4),
            max_message_age=Duration.days(5),
        )


def test_fanout_consumer_options_are_validated_too() -> None:
    stack = new_stack()
    fanout = FanoutTopic(stack, "F")
    with pytest.raises(
        FanoutConfigurationError,
        match=r"^Some/F/C: 1 configuration problem:\n  - fifo=True: a standard SNS topic",
    ):
        fanout.add_queue_consumer("C", fifo=True)


def test_error_message_starts_with_the_construct_path() -> None:
    stack = new_stack()
    with pytest.raises(
        FanoutConfigurationError,
        match=r"^Some/C: 1 configuration problem:\n  - max_receive_count=0: ",
    ) as err:
        ConsumerQueue(stack, "C", topic=topic_in(stack), max_receive_count=0)
    assert err.value.construct_path == "Some/C"
    assert isinstance(err.value, ValueError)


def test_reports_several_problems_together() -> None:
    stack = new_stack()
    with pytest.raises(
        FanoutConfigurationError, match=r"^Some/C: 4 configuration problems:\n"
    ) as err:
        ConsumerQueue(
            stack,
            "C",
            topic=topic_in(stack),
            fifo=True,
            max_receive_count=0,
            visibility_timeout=Duration.hours(13),
            queue_name="orders queue!",
        )
    problems = err.value.problems
    assert len(problems) == 4
    for option in ("fifo", "max_receive_count", "visibility_timeout", "queue_name"):
        assert sum(p.startswith(f"{option}=") for p in problems) == 1, option
        assert f"  - {option}=" in str(err.value)


def test_unresolved_tokens_are_not_validated() -> None:
    stack = new_stack()
    seconds = number_token(stack)
    consumer = ConsumerQueue(
        stack,
        "C",
        topic=topic_in(stack),
        max_receive_count=Token.as_number(
            CfnParameter(stack, "Receives", type="Number").value_as_number
        ),
        retention_period=Duration.seconds(seconds),
        dead_letter_retention_period=Duration.seconds(seconds),
        visibility_timeout=Duration.seconds(seconds),
        max_message_age=Duration.seconds(seconds),
        queue_name=CfnParameter(stack, "Name").value_as_string,
    )
    assert consumer.queue is not None


def test_unresolved_fanout_topic_options_are_not_validated() -> None:
    stack = new_stack()
    fanout = FanoutTopic(
        stack,
        "F",
        fifo=True,
        archive_retention_days=number_token(stack),
        topic_name=CfnParameter(stack, "Name").value_as_string,
        display_name=CfnParameter(stack, "Display").value_as_string,
    )
    assert fanout.topic.fifo is True


# -- FanoutTopic -------------------------------------------------------------------------


def test_fails_when_standard_topic_uses_content_based_deduplication() -> None:
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape(
            "content_based_deduplication=True: only FIFO topics deduplicate; "
            "set fifo=True or drop the option"
        ),
    ):
        FanoutTopic(new_stack(), "F", content_based_deduplication=True)


def test_fails_when_standard_topic_has_an_archive() -> None:
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape("archive_retention_days=7: only FIFO topics keep a message archive"),
    ) as err:
        FanoutTopic(new_stack(), "F", archive_retention_days=7)
    assert len(err.value.problems) == 1


@pytest.mark.parametrize("days", [0, 366])
def test_fails_when_archive_retention_days_is_outside_1_to_365(days: int) -> None:
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape(f"archive_retention_days={days}: must be an integer from 1 to 365"),
    ):
        FanoutTopic(new_stack(), "F", fifo=True, archive_retention_days=days)


def test_fails_when_topic_name_is_over_256_characters() -> None:
    name = "t" * 257
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape(f"topic_name={name!r}: is 257 characters; at most 256 are allowed"),
    ):
        FanoutTopic(new_stack(), "F", topic_name=name)


def test_fails_when_fifo_topic_name_is_over_256_characters_with_suffix() -> None:
    name = "t" * 252
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape(
            f"topic_name={name!r}: is 257 characters including the '.fifo' suffix; "
            "at most 256 are allowed"
        ),
    ):
        FanoutTopic(new_stack(), "F", fifo=True, topic_name=name)


def test_fifo_topic_name_of_256_characters_with_suffix_is_accepted() -> None:
    fanout = FanoutTopic(new_stack(), "F", fifo=True, topic_name="t" * 251)
    assert fanout.topic.fifo is True


def test_fails_when_topic_name_has_invalid_characters() -> None:
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape(
            "topic_name='orders topic!': may contain only letters, digits, hyphens and underscores"
        ),
    ):
        FanoutTopic(new_stack(), "F", topic_name="orders topic!")


def test_fails_when_display_name_is_over_100_characters() -> None:
    name = "d" * 101
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape(f"display_name={name!r}: is 101 characters; at most 100 are allowed"),
    ):
        FanoutTopic(new_stack(), "F", display_name=name)


def test_fails_when_topic_key_is_also_the_queue_key() -> None:
    stack = new_stack()
    key = kms.Key(stack, "K")
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape(
            "queue_key='Some/K': is also the topic_key; one key for the topic and its queues "
            "is a circular dependency"
        ),
    ):
        FanoutTopic(stack, "F", topic_key=key, queue_key=key)


# -- problems that hide behind other problems ----------------------------------------------


def test_fails_when_a_duration_is_not_a_whole_number_of_seconds() -> None:
    stack = new_stack()
    with pytest.raises(FanoutConfigurationError) as err:
        ConsumerQueue(
            stack, "C", topic=topic_in(stack), visibility_timeout=Duration.millis(1500), fifo=True
        )
    assert err.value.problems == [
        "fifo=True: a standard SNS topic cannot deliver to a FIFO queue; "
        "use fifo=False or subscribe to a FIFO topic",
        "visibility_timeout=Duration(1 second 500 millis): must be a whole number of seconds",
    ]


def test_an_invalid_retention_period_does_not_flag_options_left_at_their_defaults() -> None:
    stack = new_stack()
    with pytest.raises(FanoutConfigurationError) as err:
        ConsumerQueue(stack, "C", topic=topic_in(stack), retention_period=Duration.days(15))
    assert err.value.problems == [
        "retention_period=Duration(15 days): must be from 1 minute to 14 days"
    ]


def test_a_standard_queue_named_like_a_fifo_queue_is_one_problem() -> None:
    stack = new_stack()
    with pytest.raises(FanoutConfigurationError) as err:
        ConsumerQueue(stack, "C", topic=topic_in(stack), queue_name="orders.fifo")
    assert err.value.problems == [
        "queue_name='orders.fifo': ends with '.fifo' but the resource is not FIFO"
    ]


def test_fifo_dead_letter_retention_may_equal_the_queue_retention() -> None:
    """FIFO queues reset the enqueue time on the move to the DLQ, so equal is safe."""
    stack = new_stack()
    consumer = ConsumerQueue(
        stack,
        "C",
        topic=topic_in(stack, fifo=True),
        retention_period=Duration.days(14),
        dead_letter_retention_period=Duration.days(14),
    )
    assert consumer.fifo is True
