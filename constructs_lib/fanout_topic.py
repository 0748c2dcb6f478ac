"""FanoutTopic: an SNS topic that delivers one copy of each event to many consumer queues."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar, Unpack

import jsii
from aws_cdk import ArnFormat, CfnOutput, CfnParameter, CfnResource, NestedStack, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct, IValidation

from ._private import monitoring
from ._private.functions import DEFAULT_TIMEOUT
from ._private.resources import new_subscription_dead_letter_queue, rotating_key
from ._private.metrics import ALARM_PERIOD, QueueMetrics
from ._private.validation import (
    Problems,
    expect_grantee,
    is_key,
    known_seconds,
    with_fifo_suffix,
)
from .consumer_queue import ConsumerQueue, ConsumerQueueOptions
from .errors import FanoutConfigurationError
from .lambda_consumer import (
    LambdaConsumer,
    LambdaConsumerOptions,
    required_visibility_timeout,
)

_Part = TypeVar("_Part", bound=Construct)

MAX_TOPIC_NAME_LENGTH = 256
MAX_DISPLAY_NAME_LENGTH = 100
MAX_ARCHIVE_DAYS = 365
ACCOUNT_ID = re.compile(r"^\d{12}$")

MAX_STACK_RESOURCES = 500
"""CloudFormation's limit on resources per stack (nested stacks included)."""
OWN_STACK_BUDGET = 200
"""Resources the fanout may create in the stack it is defined in (topic, keys, consumers,
alarms): the other 300 stay free for the rest of the user's stack."""
NESTED_STACK_BUDGET = 399
"""Resources the fanout places in each of its nested consumer stacks: below the 80 % of the
limit at which CDK reports a stack as approaching it, and 101 stay free for what users
attach to their consumers afterwards (grants, their own alarms, about one per consumer).
Changing it moves consumers between stacks, so it is fixed."""
FIRST_CONSUMER_ESTIMATE = {"queue": 5, "lambda": 12}
"""What a consumer is assumed to cost before the first of its kind has been measured."""
ALARM_HEADROOM = 2
"""A consumer may open a new dead-letter alarm and a new message-age alarm in its stack."""


@dataclass
class _ConsumerStack:
    """Where consumers go: the fanout itself (its own stack) or one nested stack."""

    scope: Construct
    budget: int
    used: int
    dead_letter_alarms: dict[str, list[monitoring.QueueQueryAlarm]] = field(default_factory=dict)
    age_alarms: dict[tuple[str, str], list[monitoring.QueueQueryAlarm]] = field(
        default_factory=dict
    )
    alarms_opened: dict[str, int] = field(default_factory=dict)


def _resources_in(construct: Construct) -> int:
    return sum(isinstance(c, CfnResource) for c in construct.node.find_all())


def _count_by_kind(stack: Stack) -> dict[str, int]:
    """Resources, parameters and outputs of ``stack`` itself, not of its nested stacks.

    One ``find_all()`` for the stack and one per nested stack directly under it (each lists
    its own nested stacks too), instead of a call per construct across the jsii boundary.
    """
    kinds = (("resources", CfnResource), ("parameters", CfnParameter), ("outputs", CfnOutput))

    def count(constructs: list[IConstruct]) -> dict[str, int]:
        return {kind: sum(isinstance(c, cls) for c in constructs) for kind, cls in kinds}

    everything = stack.node.find_all()
    totals = count(everything)
    for nested in everything:
        if (
            isinstance(nested, Stack)
            and nested is not stack
            and nested.nested_stack_parent is stack
        ):
            for kind, number in count(nested.node.find_all()).items():
                totals[kind] -= number
    return totals


MAX_STACK_PARAMETERS = 200
MAX_STACK_OUTPUTS = 200


@jsii.implements(IValidation)
class _StackLimits:
    """At synth: the stacks holding this fanout's consumers are within CloudFormation's
    limits on resources, parameters and outputs, counting everything in them by then
    (what users attached to consumers after adding them included)."""

    def __init__(self, fanout: FanoutTopic) -> None:
        self._fanout = fanout

    def validate(self) -> list[str]:
        limits = {
            "resources": MAX_STACK_RESOURCES,
            "parameters": MAX_STACK_PARAMETERS,
            "outputs": MAX_STACK_OUTPUTS,
        }
        problems = []
        for stack in (Stack.of(self._fanout), *self._fanout.consumer_stacks):
            for kind, count in _count_by_kind(stack).items():
                limit = limits[kind]
                if count > limit:
                    problems.append(
                        f"{stack.node.path} has {count} {kind}; CloudFormation allows {limit} "
                        f"per stack. The fanout {self._fanout.node.path} leaves room when it "
                        "places consumers; the rest was added to this stack afterwards "
                        "(resources under the consumers, references to their attributes): "
                        "move those elsewhere"
                    )
        return problems


class FanoutTopic(Construct):
    """An encrypted, TLS-only SNS topic plus the consumer queues subscribed to it.

    What you get by default:

    * the topic encrypted with its own customer-managed KMS key (``topic_key``), with
      rotation, a TLS-only topic policy and SHA256 message signatures; only principals of
      the owning account that hold IAM permissions, and the grantees you name through
      :meth:`grant_publish`, can publish;
    * one shared KMS key for all consumer queues (``queue_key``), whose policy lets SNS use
      it only for this topic: two keys per fanout however many consumers it has, and no
      dependency cycle between the topic and the queues;
    * one subscription dead-letter queue (``subscription_dead_letter_queue``) shared by all
      subscriptions, with an alarm (``undelivered_alarm``), for messages SNS cannot deliver;
    * the queue key, the subscription dead-letter queue and its alarm are created with the
      first consumer (or when first read): a fanout without consumer queues, such as a
      topic only devices or other accounts subscribe to, costs one key and no queue;
    * :meth:`add_queue_consumer` and :meth:`add_lambda_consumer` to add consumers, five
      CloudFormation resources per queue consumer (queue, dead-letter queue, a TLS-only
      policy on each, the subscription);
    * consumer alarms at fanout level: Metrics Insights query alarms with one contributor
      per queue, one on "any message in any consumer's dead-letter queue" and one per
      distinct ``max_message_age`` on "the oldest message is older than that", per stack
      holding consumers; a query names its queues, at most 100 and 2,048 characters (about
      30 generated names), so more consumers get more alarms;
    * consumers spread over nested stacks automatically: the fanout fills its own stack up
      to 200 of its resources, then nested stacks ``Consumers2``, ``Consumers3``, … of up
      to 399 resources each, in the order consumers are added (see
      :meth:`add_queue_consumer` for what keeps a consumer in place).

    :param fifo: create a FIFO topic (ordered, deduplicated). Default: False.
    :param content_based_deduplication: FIFO only; derive the deduplication id from the
        message body. Default: False (publishers pass ``MessageDeduplicationId``).
    :param topic_name: physical name, at most 256 characters including ``.fifo`` (appended
        for FIFO topics). Default: generated by CloudFormation (by CDK for FIFO topics).
    :param display_name: display name, at most 100 characters. Default: none.
    :param topic_key: KMS key for the topic. Default: a new key with rotation.
    :param queue_key: KMS key shared by the consumer queues. Default: a new key with
        rotation, created with the first consumer. An imported key's policy must already let
        SNS use it for this topic; an AWS-managed key (``alias/aws/sqs``) is a synth error.
    :param archive_retention_days: FIFO only; keep published messages in the topic's
        archive for this many days (1..365) so they can be replayed to subscriptions.
        Default: no archive.
    :param alarms: create alarms on this fanout and, unless a consumer says otherwise,
        cover each consumer with the fanout-level dead-letter and message-age alarms.
        Default: True.
    :param alarm_topic: standard topic for alarm and OK notifications of the fanout and its
        consumers (CloudWatch cannot notify a FIFO topic). Default: none (alarms only change
        state).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        fifo: bool = False,
        content_based_deduplication: bool = False,
        topic_name: str | None = None,
        display_name: str | None = None,
        topic_key: kms.IKey | None = None,
        queue_key: kms.IKey | None = None,
        archive_retention_days: int | None = None,
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, id)
        for option, key in (("topic_key", topic_key), ("queue_key", queue_key)):
            if key is not None and not is_key(key):
                wrong = Problems()
                wrong.wrong_type(option, key, "a kms.IKey")
                wrong.raise_if_any(self)

        problems = Problems()
        problems.check_alarm_topic("alarm_topic", alarm_topic)
        problems.check_queue_key("queue_key", queue_key)
        if content_based_deduplication and not fifo:
            problems.add(
                "content_based_deduplication",
                content_based_deduplication,
                "only FIFO topics deduplicate; set fifo=True or drop the option",
            )
        if archive_retention_days is not None:
            if not fifo:
                problems.add(
                    "archive_retention_days",
                    archive_retention_days,
                    "only FIFO topics keep a message archive; set fifo=True or drop the option",
                )
            problems.check_int(
                "archive_retention_days", archive_retention_days, 1, MAX_ARCHIVE_DAYS
            )
        if topic_key is not None and topic_key is queue_key:
            problems.add(
                "queue_key",
                topic_key.node.path,
                "is also the topic_key; one key for the topic and its queues is a circular "
                "dependency (the key policy names the topic, the topic names the key): "
                "pass two different keys or let the fanout create them",
            )
        problems.check_name("topic_name", topic_name, max_length=MAX_TOPIC_NAME_LENGTH, fifo=fifo)
        if topic_name is not None and not Token.is_unresolved(topic_name):
            problems.check_unique_name(
                self, "topic_name", "topic", with_fifo_suffix(topic_name) if fifo else topic_name
            )
        if (
            display_name is not None
            and not Token.is_unresolved(display_name)
            and len(display_name) > MAX_DISPLAY_NAME_LENGTH
        ):
            problems.add(
                "display_name",
                display_name,
                f"is {len(display_name)} characters; at most {MAX_DISPLAY_NAME_LENGTH} are allowed",
            )
        problems.raise_if_any(self)

        self.topic_key: kms.IKey = topic_key or rotating_key(
            self, "TopicKey", description=f"Encrypts messages at rest in the {self.node.path} topic"
        )
        self._queue_key = queue_key
        self.fifo = fifo
        self.topic = sns.Topic(
            self,
            "Topic",
            fifo=fifo or None,
            content_based_deduplication=content_based_deduplication or None,
            topic_name=topic_name,
            display_name=display_name,
            master_key=self.topic_key,
            enforce_ssl=True,
            signature_version="2",
            message_retention_period_in_days=archive_retention_days,
        )
        self._subscription_dead_letter_queue: sqs.Queue | None = None
        self.alarm_topic = alarm_topic
        self._alarms = alarms
        self._undelivered_alarm: cloudwatch.Alarm | None = None
        self._consumers: dict[str, ConsumerQueue] = {}
        self._measured: dict[str, int] = {}
        self._stacks = [_ConsumerStack(self, OWN_STACK_BUDGET, _resources_in(self))]
        self.consumer_stacks: list[NestedStack] = []
        """The nested stacks holding consumers, in the order they were opened."""
        self.dead_letter_alarms: list[cloudwatch.Alarm] = []
        """The fanout-level alarms on the consumers' dead-letter queues."""
        self.message_age_alarms: list[cloudwatch.Alarm] = []
        """The fanout-level alarms on the age of the consumers' oldest messages."""
        self.node.add_validation(_StackLimits(self))

    # -- parts shared by the consumer queues, created with the first one -------------------

    @property
    def queue_key(self) -> kms.IKey:
        """The KMS key of the consumer queues (created on first use unless one was given)."""
        if self._queue_key is None:
            self._queue_key = self._counted(
                lambda: rotating_key(
                    self, "QueueKey", description=f"Encrypts the {self.node.path} consumer queues"
                )
            )
        return self._queue_key

    @property
    def subscription_dead_letter_queue(self) -> sqs.Queue:
        """Where SNS puts messages it could not deliver to a consumer queue, with its alarm
        (``undelivered_alarm``) unless ``alarms=False``; created on first use."""
        if self._subscription_dead_letter_queue is None:
            queue = self._counted(
                lambda: new_subscription_dead_letter_queue(
                    self, "SubscriptionDeadLetterQueue", fifo=self.fifo
                )
            )
            self._subscription_dead_letter_queue = queue
            if self._alarms:
                alarm = self._counted(
                    lambda: monitoring.queue_not_empty_alarm(
                        self,
                        "UndeliveredAlarm",
                        metric=QueueMetrics(queue).messages_visible(),
                        description=f"{self.node.path}: SNS could not deliver messages to a "
                        "consumer queue",
                    )
                )
                monitoring.notify(alarm, self.alarm_topic)
                self._undelivered_alarm = alarm
        return self._subscription_dead_letter_queue

    @property
    def undelivered_alarm(self) -> cloudwatch.Alarm | None:
        """The alarm on :attr:`subscription_dead_letter_queue` (None with ``alarms=False``
        or while the fanout has no consumer queue)."""
        return self._undelivered_alarm

    def _counted(self, build: Callable[[], _Part]) -> _Part:
        """Build a part in the fanout's own stack and charge its resources to that stack."""
        part = build()
        self._stacks[0].used += _resources_in(part)
        return part

    @property
    def consumers(self) -> dict[str, ConsumerQueue]:
        """The consumers added with :meth:`add_queue_consumer`, by id."""
        return dict(self._consumers)

    def add_queue_consumer(self, id: str, **options: Unpack[ConsumerQueueOptions]) -> ConsumerQueue:
        """Subscribe a new :class:`ConsumerQueue` to this topic.

        The consumer shares this fanout's queue key and subscription dead-letter queue and
        inherits ``alarms`` and ``alarm_topic``; ``options`` are :class:`ConsumerQueue`'s and
        override those. Its ``dead_letter_alarm`` and ``message_age_alarm`` are the
        fanout-level alarms whose queries name its queues. ``id`` must be unique among this
        topic's consumers; it becomes part of the construct path and of the generated queue
        names.

        Where it goes: into the fanout's own stack while the fanout's resources there (with
        this consumer's) stay within 200, else into the newest nested stack
        ``Consumers<n>`` while that stays within 399, else into a new one. The resources
        each consumer really created are counted; the fit is judged on the largest consumer
        of the same kind so far. A consumer's stack is part of its path and queue names:
        adding consumers at the end never moves an existing one, but removing a consumer,
        or making one bigger (a queue consumer turned Lambda consumer), can move the
        consumers added after it in a full stack, which replaces their queues.
        """
        self._check_new_id(id)
        self._create_shared_parts()
        target = self._place("queue")
        consumer = self._new_consumer(target, id, options)
        self._account(target, "queue", consumer)
        return consumer

    def _create_shared_parts(self) -> None:
        """The queue key and subscription dead-letter queue, before the first consumer is
        placed (so that its stack's budget counts them)."""
        _ = self.queue_key, self.subscription_dead_letter_queue

    def _check_new_id(self, id: str) -> None:
        if id in self._consumers:
            raise FanoutConfigurationError(
                self.node.path,
                [
                    f"id={id!r}: this topic already has a consumer with that id; "
                    f"consumer ids must be unique per topic (existing: {sorted(self._consumers)})"
                ],
            )

    def _new_consumer(
        self, target: _ConsumerStack, id: str, options: ConsumerQueueOptions
    ) -> ConsumerQueue:
        settings: ConsumerQueueOptions = {
            "encryption_key": self.queue_key,
            "subscription_dead_letter_queue": self.subscription_dead_letter_queue,
            "alarms": self._alarms,
            "alarm_topic": self.alarm_topic,
        }
        settings.update(options)
        consumer = _FanoutConsumerQueue(target.scope, id, topic=self.topic, **settings)
        self._consumers[id] = consumer
        if consumer.alarms:
            self._cover_with_alarms(target, consumer)
        return consumer

    # -- placement -----------------------------------------------------------------------

    def _place(self, kind: str) -> _ConsumerStack:
        """The stack the next consumer of ``kind`` goes to, opening a nested one if needed."""
        estimate = self._measured.get(kind, FIRST_CONSUMER_ESTIMATE[kind]) + ALARM_HEADROOM
        current = self._stacks[-1]
        if current.used + estimate <= current.budget:
            return current
        number = len(self._stacks) + 1
        nested = NestedStack(
            self,
            f"Consumers{number}",
            description=f"Consumers of the {self.node.path} fanout, part {number}",
        )
        self.consumer_stacks.append(nested)
        self._stacks[0].used += 1  # the AWS::CloudFormation::Stack resource
        opened = _ConsumerStack(nested, NESTED_STACK_BUDGET, 0)
        self._stacks.append(opened)
        return opened

    def _account(self, target: _ConsumerStack, kind: str, consumer: Construct) -> None:
        cost = _resources_in(consumer)
        target.used += cost
        self._measured[kind] = max(cost, self._measured.get(kind, 0))

    # -- consumer alarms -----------------------------------------------------------------

    def _cover_with_alarms(self, target: _ConsumerStack, consumer: ConsumerQueue) -> None:
        """Add the consumer's queues to its stack's dead-letter and message-age alarms."""
        # The consumer holds its alarm topic, so the object's id stays unique meanwhile.
        topic_key = str(id(consumer.alarm_topic)) if consumer.alarm_topic else ""
        age = consumer.max_message_age
        seconds = known_seconds(age)
        threshold_key = age.to_human_string() if seconds is None else str(seconds)
        dead_letter = self._alarm_with_room(
            target,
            target.dead_letter_alarms.setdefault(topic_key, []),
            consumer._literal_names.dead_letter_queue or consumer.dead_letter_queue.queue_name,
            lambda alarm_id: monitoring.dead_letter_query_alarm(
                target.scope,
                alarm_id,
                description=f"{self.node.path}: messages failed max_receive_count times and "
                "were dead-lettered in a consumer's dead-letter queue; the alarm's "
                "contributors name the queue",
            ),
            consumer.alarm_topic,
            self.dead_letter_alarms,
            "DeadLetterAlarm",
        )
        message_age = self._alarm_with_room(
            target,
            target.age_alarms.setdefault((threshold_key, topic_key), []),
            consumer._literal_names.queue or consumer.queue.queue_name,
            lambda alarm_id: monitoring.message_age_query_alarm(
                target.scope,
                alarm_id,
                threshold=age,
                description=f"{self.node.path}: the oldest message of a consumer queue has "
                f"waited more than {age.to_human_string()}; that consumer is stuck or too "
                "slow (the alarm's contributors name the queue)",
            ),
            consumer.alarm_topic,
            self.message_age_alarms,
            "MessageAgeAlarm",
        )
        consumer.dead_letter_alarm = dead_letter
        consumer.message_age_alarm = message_age

    def _alarm_with_room(
        self,
        target: _ConsumerStack,
        group: list[monitoring.QueueQueryAlarm],
        queue_name: str,
        new_alarm: Callable[[str], monitoring.QueueQueryAlarm],
        alarm_topic: sns.ITopic | None,
        listing: list[cloudwatch.Alarm],
        base_id: str,
    ) -> cloudwatch.Alarm:
        if not group or not group[-1].try_add(queue_name):
            number = target.alarms_opened.get(base_id, 0) + 1
            target.alarms_opened[base_id] = number
            alarm_id = base_id if number == 1 else f"{base_id}{number}"
            query_alarm = new_alarm(alarm_id)
            monitoring.notify(query_alarm.alarm, alarm_topic)
            group.append(query_alarm)
            listing.append(query_alarm.alarm)
            target.used += 1
            if not query_alarm.try_add(queue_name):
                raise ValueError(f"queue name too long for a metric query: {queue_name}")
        return group[-1].alarm

    def add_lambda_consumer(
        self,
        id: str,
        *,
        code: lambda_.Code,
        handler: str,
        queue_options: ConsumerQueueOptions | None = None,
        **options: Unpack[LambdaConsumerOptions],
    ) -> LambdaConsumer:
        """Subscribe a new consumer queue and drain it with a :class:`LambdaConsumer`.

        The queue is :meth:`add_queue_consumer` ``(id, **queue_options)`` with its visibility
        timeout set to six times the function timeout plus the batching window unless
        ``queue_options`` sets one (which is then checked). The function is created under
        the queue's construct (``<id>/Handler``) and inherits ``alarms`` and ``alarm_topic``;
        ``options`` are :class:`LambdaConsumer`'s.
        """
        queue_settings: ConsumerQueueOptions = {**(queue_options or {})}
        if "visibility_timeout" not in queue_settings:
            timeout = options.get("timeout", DEFAULT_TIMEOUT)
            window = options.get("max_batching_window")
            if not timeout.is_unresolved() and not (window and window.is_unresolved()):
                queue_settings["visibility_timeout"] = required_visibility_timeout(timeout, window)
        self._check_new_id(id)
        self._create_shared_parts()
        target = self._place("lambda")
        consumer_queue = self._new_consumer(target, id, queue_settings)
        settings: LambdaConsumerOptions = {
            "alarms": self._alarms,
            "alarm_topic": self.alarm_topic,
            "service_name": id,
        }
        settings.update(options)
        consumer = LambdaConsumer(
            consumer_queue, "Handler", queue=consumer_queue, code=code, handler=handler, **settings
        )
        self._account(target, "lambda", consumer_queue)
        return consumer

    # -- grants --------------------------------------------------------------------------

    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` publish to the topic, including use of the topic's KMS key.

        Exact actions only (``kms:GenerateDataKey``, not CDK's ``kms:GenerateDataKey*``), so
        the grant passes cdk-nag's wildcard rule without an acknowledgment.
        """
        expect_grantee(self, grantee)
        grant = iam.Grant.add_to_principal_or_resource(
            grantee=grantee,
            actions=["sns:Publish"],
            resource_arns=[self.topic.topic_arn],
            resource=self.topic,
        )
        self.topic_key.grant(grantee, "kms:Decrypt", "kms:GenerateDataKey")
        return grant

    def grant_subscribe(self, account: str) -> iam.Grant:
        """Let another AWS account subscribe its own SQS queues to the topic.

        Adds one topic-policy statement: ``sns:Subscribe`` for ``account`` (whose own IAM
        policies then decide which of its principals may use it), only with protocol ``sqs``
        and only for endpoints that are queues of that account (``sns:Endpoint`` like
        ``arn:<partition>:sqs:*:<account>:*``). Nothing else: not publish, not the topic
        key, which SNS does not need to deliver to a queue.

        The consumer account then creates the subscription in its own stack, with
        ``ConsumerQueue(stack, id, topic=sns.Topic.from_topic_arn(stack, id, arn))``; SNS
        confirms a subscription that the queue's owner creates at once.
        """
        if not Token.is_unresolved(account) and not ACCOUNT_ID.fullmatch(account):
            raise FanoutConfigurationError(
                self.node.path,
                [f"account={account!r}: grant_subscribe takes a 12-digit AWS account id"],
            )
        own_queues = Stack.of(self).format_arn(
            service="sqs",
            region="*",
            account=account,
            resource="*",
            arn_format=ArnFormat.NO_RESOURCE_NAME,
        )
        grantee = iam.AccountPrincipal(account)
        statement = iam.PolicyStatement(
            actions=["sns:Subscribe"],
            principals=[grantee],
            resources=[self.topic.topic_arn],
            conditions={
                "StringEquals": {"sns:Protocol": "sqs"},
                "StringLike": {"sns:Endpoint": own_queues},
            },
        )
        # Grant.add_to_principal_or_resource would drop the conditions from a resource policy.
        return iam.Grant.add_statement_to_resource_policy(
            statement=statement,
            resource=self.topic,
            grantee=grantee,
            actions=["sns:Subscribe"],
            resource_arns=[self.topic.topic_arn],
        )

    # -- metrics -------------------------------------------------------------------------

    def metric_number_of_messages_published(self) -> cloudwatch.Metric:
        """Messages published to the topic (Sum, 1 minute)."""
        return self.topic.metric_number_of_messages_published(period=ALARM_PERIOD)

    def metric_number_of_notifications_delivered(self) -> cloudwatch.Metric:
        """Deliveries SNS completed to subscriptions (Sum, 1 minute)."""
        return self.topic.metric_number_of_notifications_delivered(period=ALARM_PERIOD)

    def metric_number_of_notifications_failed(self) -> cloudwatch.Metric:
        """Deliveries SNS gave up on (Sum, 1 minute)."""
        return self.topic.metric_number_of_notifications_failed(period=ALARM_PERIOD)

    def metric_number_of_notifications_filtered_out(self) -> cloudwatch.Metric:
        """Messages a subscription's filter policy rejected (Sum, 1 minute)."""
        return self.topic.metric_number_of_notifications_filtered_out(
            period=ALARM_PERIOD
        )

    def metric_undelivered_messages(self) -> cloudwatch.Metric:
        """Messages waiting in the subscription dead-letter queue (Maximum, 1 minute)."""
        return self.subscription_dead_letter_queue.metric_approximate_number_of_messages_visible(
            period=ALARM_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
        )


class _FanoutConsumerQueue(ConsumerQueue):
    """Temporary: a fanout's consumer, covered by the fanout's query alarms instead of its
    own dead-letter and message-age alarms (was ``per_queue_alarms=False``)."""

    def _queue_alarms(self) -> list[cloudwatch.Alarm]:
        return []
