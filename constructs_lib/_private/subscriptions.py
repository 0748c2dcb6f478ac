"""Rules every SNS subscription of the library follows, whatever its protocol: filter
policies SNS accepts, and a subscription dead-letter queue in the subscription's region."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from .filter_policy import (
    MAX_FILTER_COMBINATIONS,
    MAX_FILTER_KEYS,
    FilterPolicySize,
    attribute_policy_size,
    body_policy_size,
    check_attribute_policy,
    check_body_policy,
)
from .validation import Problems, fifo_of, unresolved


def check_filter_policies(
    problems: Problems,
    filter_policy: Mapping[str, sns.SubscriptionFilter] | None,
    filter_policy_with_message_body: Mapping[str, sns.FilterOrPolicy] | None,
) -> None:
    if filter_policy is not None:
        check_attribute_policy(problems, "filter_policy", filter_policy)
    if filter_policy_with_message_body is not None:
        check_body_policy(
            problems, "filter_policy_with_message_body", filter_policy_with_message_body
        )
    if not isinstance(filter_policy, Mapping | None) or not isinstance(
        filter_policy_with_message_body, Mapping | None
    ):
        return
    if filter_policy and filter_policy_with_message_body:
        problems.add(
            "filter_policy_with_message_body",
            sorted(filter_policy_with_message_body),
            "a subscription filters on attributes or on the message body, not both; "
            "drop filter_policy or filter_policy_with_message_body",
        )
    sizes: list[tuple[str, FilterPolicySize]] = []
    if filter_policy:
        sizes.append(("filter_policy", attribute_policy_size(filter_policy)))
    if filter_policy_with_message_body:
        sizes.append(
            ("filter_policy_with_message_body", body_policy_size(filter_policy_with_message_body))
        )
    for option, size in sizes:
        if len(size.keys) > MAX_FILTER_KEYS:
            problems.add(
                option,
                list(size.keys),
                f"has {len(size.keys)} keys; SNS allows at most {MAX_FILTER_KEYS}",
            )
        if size.combinations > MAX_FILTER_COMBINATIONS:
            problems.add(
                option,
                list(size.keys),
                f"has {size.combinations} value combinations (the product of each key's "
                f"number of values); SNS allows at most {MAX_FILTER_COMBINATIONS}",
            )


@dataclass(frozen=True)
class Regions:
    """The topic's region and the subscribing stack's, each read once (tokens when unknown)."""

    topic: str
    own: str

    def foreign(self) -> str | None:
        """The topic's region when it is known and differs from the subscriber's."""
        if unresolved(self.topic) or self.topic == self.own:
            return None
        return self.topic


def check_subscription_region(
    problems: Problems,
    regions: Regions,
    subscription_dead_letter_queue: sqs.IQueue | None,
) -> None:
    """A cross-region subscription lives in the topic's region; so must its dead-letter queue.

    SNS creates the subscription in the topic's region (CloudFormation calls Subscribe there,
    the subscription's ``Region``) and requires the subscription dead-letter queue in the
    subscription's account and region. Checked only where both regions are known.
    """
    topic_region, own_region = regions.topic, regions.own
    if unresolved(topic_region):
        return
    if subscription_dead_letter_queue is None:
        if unresolved(own_region):
            problems.add(
                "subscription_dead_letter_queue",
                None,
                f"the topic is in {topic_region} and this stack is region-agnostic: the "
                f"subscription lives in {topic_region} and SNS requires its dead-letter queue "
                "there, but a queue created here lands wherever the stack is deployed; pin "
                f"the stack to {topic_region} (env=Environment(region='{topic_region}')), or "
                f"pass a queue in {topic_region}, e.g. the FanoutTopic's "
                "subscription_dead_letter_queue",
            )
        elif own_region != topic_region:
            problems.add(
                "subscription_dead_letter_queue",
                None,
                f"the topic is in {topic_region} and this stack in {own_region}: the "
                f"subscription lives in {topic_region} and SNS requires its dead-letter queue "
                f"there; pass a queue in {topic_region}, e.g. the FanoutTopic's "
                "subscription_dead_letter_queue",
            )
        return
    queue_region = subscription_dead_letter_queue.env.region
    if not unresolved(queue_region) and queue_region != topic_region:
        problems.add(
            "subscription_dead_letter_queue",
            subscription_dead_letter_queue.node.path,
            f"is in {queue_region} but the topic, and so the subscription, is in "
            f"{topic_region}; SNS requires the subscription dead-letter queue in the "
            "subscription's region",
        )


def check_subscription_dead_letter_queue_type(
    problems: Problems, topic: sns.ITopic, dead_letter_queue: sqs.IQueue | None
) -> None:
    """SNS requires a subscription dead-letter queue of the topic's type (FIFO or standard)."""
    if dead_letter_queue is None:
        return
    queue_fifo, topic_fifo = fifo_of(dead_letter_queue) is True, fifo_of(topic) is True
    if queue_fifo == topic_fifo:
        return
    kinds = {True: "FIFO", False: "standard"}
    problems.add(
        "subscription_dead_letter_queue",
        dead_letter_queue.node.path,
        f"is {kinds[queue_fifo]} but the topic is {kinds[topic_fifo]}; SNS "
        "requires a subscription dead-letter queue of the topic's type",
    )
