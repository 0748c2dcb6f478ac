"""ConsumerQueue: one consumer's SQS queue subscribed to a fanout topic."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, Unpack

from aws_cdk import Annotations, ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ._private import monitoring
from ._private.message_size import (
    MAX_MESSAGE_SIZE,
    MIN_MESSAGE_SIZE,
    check_queue_message_size,
)
from ._private.metrics import MetricOptions, metric_of, visible_messages
from ._private.options import Declared
from ._private.replay import check_replay, replay_policy
from ._private.resources import (
    generated_queue_name,
    new_subscription_dead_letter_queue,
    rotating_key,
)
from ._private.subscriptions import (
    Regions,
    check_filter_policies,
    check_subscription_dead_letter_queue_type,
    check_subscription_region,
)
from ._private.validation import (
    MAX_QUEUE_NAME_LENGTH,
    MAX_RETENTION,
    MAX_VISIBILITY_TIMEOUT,
    MIN_RETENTION,
    Problems,
    Range,
    arn_of_topic,
    expect_grantee,
    fifo_of,
    known_property,
    known_seconds,
    unresolved,
    with_fifo_suffix,
)

DEFAULT_MAX_RECEIVE_COUNT = 5
DEFAULT_VISIBILITY_TIMEOUT = Duration.seconds(30)
DEFAULT_RETENTION = Duration.days(4)
SQS_DEFAULT_RETENTION_SECONDS = 4 * 24 * 3600
"""What SQS keeps a message when a queue sets no retention period."""
DEFAULT_DEAD_LETTER_RETENTION = MAX_RETENTION
DEFAULT_MAX_MESSAGE_AGE = Duration.minutes(15)
MIN_MAX_MESSAGE_AGE = Duration.minutes(1)
MIN_VISIBILITY_TIMEOUT = Duration.seconds(0)
MAX_DELIVERY_DELAY = Duration.minutes(15)
"""SQS: a queue delays new messages by at most 15 minutes."""
MAX_RECEIVE_MESSAGE_WAIT_TIME = Duration.seconds(20)
"""SQS: a ReceiveMessage long-polls for at most 20 seconds."""
DEFAULT_RECEIVE_MESSAGE_WAIT_TIME = MAX_RECEIVE_MESSAGE_WAIT_TIME
"""Long polling by default, as the worker program polls (``WAIT_TIME_SECONDS`` 20)."""
ENCRYPTIONS = (sqs.QueueEncryption.KMS, sqs.QueueEncryption.SQS_MANAGED)
"""The queue encryptions SNS can deliver to and this library creates."""

SNS_PRINCIPAL = "sns.amazonaws.com"


class ConsumerQueueOptions(TypedDict, total=False):
    """The options of :class:`ConsumerQueue` other than ``topic``, declared once: the
    constructor and :meth:`FanoutTopic.add_queue_consumer` take them as keyword arguments;
    see :class:`ConsumerQueue` for what each one means and its default.
    """

    fifo: bool | None
    queue_name: str | None
    encryption_key: kms.IKey | None
    filter_policy: Mapping[str, sns.SubscriptionFilter] | None
    filter_policy_with_message_body: Mapping[str, sns.FilterOrPolicy] | None
    raw_message_delivery: bool
    max_receive_count: int
    visibility_timeout: Duration
    retention_period: Duration
    dead_letter_retention_period: Duration
    dead_letter_queue: sqs.IQueue | None
    subscription_dead_letter_queue: sqs.IQueue | None
    alarms: bool
    alarm_topic: sns.ITopic | None
    max_message_age: Duration
    delivery_delay: Duration | None
    removal_policy: RemovalPolicy | None
    receive_message_wait_time: Duration
    max_message_size: int | None
    encryption: sqs.QueueEncryption
    replay_from: datetime | None
    replay_until: datetime | None


RANGES: dict[str, Range] = {
    "max_receive_count": (1, 1000),
    "visibility_timeout": (MIN_VISIBILITY_TIMEOUT, MAX_VISIBILITY_TIMEOUT),
    "retention_period": (MIN_RETENTION, MAX_RETENTION),
    "delivery_delay": (Duration.seconds(0), MAX_DELIVERY_DELAY),
    "receive_message_wait_time": (Duration.seconds(0), MAX_RECEIVE_MESSAGE_WAIT_TIME),
    "max_message_size": (MIN_MESSAGE_SIZE, MAX_MESSAGE_SIZE),
}
"""What SQS accepts for the numeric options with fixed bounds."""

OPTIONS = Declared(
    construct="ConsumerQueue",
    options=ConsumerQueueOptions,
    defaults=ConsumerQueueOptions(
        fifo=None,
        queue_name=None,
        encryption_key=None,
        filter_policy=None,
        filter_policy_with_message_body=None,
        raw_message_delivery=False,
        max_receive_count=DEFAULT_MAX_RECEIVE_COUNT,
        visibility_timeout=DEFAULT_VISIBILITY_TIMEOUT,
        retention_period=DEFAULT_RETENTION,
        dead_letter_retention_period=DEFAULT_DEAD_LETTER_RETENTION,
        dead_letter_queue=None,
        subscription_dead_letter_queue=None,
        alarms=True,
        alarm_topic=None,
        max_message_age=DEFAULT_MAX_MESSAGE_AGE,
        delivery_delay=None,
        removal_policy=None,
        receive_message_wait_time=DEFAULT_RECEIVE_MESSAGE_WAIT_TIME,
        max_message_size=None,
        encryption=sqs.QueueEncryption.KMS,
        replay_from=None,
        replay_until=None,
    ),
    expected={
        "topic": "an sns.ITopic",
        "filter_policy": "a dict of attribute name to sns.SubscriptionFilter",
        "filter_policy_with_message_body": "a dict of field name to sns.FilterOrPolicy",
    },
    removed={
        "per_queue_alarms": "a FanoutTopic covers its consumers with its own query alarms, and "
        "a ConsumerQueue created on its own always has its two alarms; drop the option "
        "(alarms=False turns them off)",
    },
)


class ConsumerQueue(Construct):
    """An SQS queue that receives a copy of every (matching) message published to a topic.

    What you get by default:

    * the queue and its dead-letter queue, encrypted with a customer-managed KMS key whose
      policy lets ``sns.amazonaws.com`` use it only on behalf of ``topic`` (or with SSE-SQS,
      ``encryption=sqs.QueueEncryption.SQS_MANAGED``);
    * long polling: a receive that names no wait time waits up to 20 seconds;
    * TLS-only queue policies; the queue accepts ``sqs:SendMessage`` only from ``topic``;
    * a redrive policy (``max_receive_count`` 5) into a dead-letter queue that keeps
      messages 14 days and whose redrive-allow policy names only this queue, so the
      console's "redrive to source" works and no other queue can use it;
    * a subscription dead-letter queue for messages SNS itself cannot deliver;
    * alarms on any message in a dead-letter queue and on the age of the oldest message.

    The construct is usable on its own, in any stack, against any ``sns.ITopic`` (for
    example ``sns.Topic.from_topic_arn``), or through :meth:`FanoutTopic.add_queue_consumer`,
    which shares the fanout's KMS key and subscription dead-letter queue.

    :param topic: the topic to subscribe to.
    :param fifo: make the queue FIFO. Default: the topic's type. A standard topic cannot
        deliver to a FIFO queue (a synth error); a FIFO topic can feed a standard queue.
    :param queue_name: physical name. Default: generated from the stack name and construct
        path (a known name lets the dead-letter queue's redrive-allow policy name it).
        ``.fifo`` is appended for FIFO queues; at most 80 characters including it.
    :param encryption_key: KMS key for the queue and its dead-letter queue. Default: a new
        key with rotation for this consumer (:class:`FanoutTopic` passes its shared key);
        none with ``encryption=SQS_MANAGED``.
        An imported key's policy cannot be changed: it must already let SNS use it. An
        AWS-managed key (``alias/aws/sqs``) is a synth error: its policy cannot let SNS in.
    :param filter_policy: filter on message attributes. Default: no filter.
    :param filter_policy_with_message_body: filter on the message body (JSON). Default: no
        filter. Only one of the two filter options may be given.
    :param raw_message_delivery: deliver the bare message body (attributes become SQS
        message attributes) instead of the SNS JSON envelope. Default: False.
    :param max_receive_count: receives before a message moves to the dead-letter queue,
        1..1000. Default: 5 — enough to ride out throttling and short downstream outages
        (AWS recommends at least 5 for Lambda consumers) while a poison message leaves the
        queue within minutes instead of blocking work for days.
    :param visibility_timeout: 0 s..12 h. Default: 30 seconds.
    :param retention_period: how long the queue keeps a message, 60 s..14 days. Default: 4
        days.
    :param dead_letter_retention_period: 60 s..14 days; for standard queues longer than
        ``retention_period``, because a standard queue keeps a message's original enqueue
        time when it moves to the dead-letter queue (FIFO queues reset it). Default: 14 days.
    :param dead_letter_queue: use an existing dead-letter queue (same FIFO type as the
        queue, same account and region) instead of creating one; for a standard queue its
        retention must be longer than ``retention_period`` (checked where it is known at
        synth). Default: a new one.
    :param subscription_dead_letter_queue: where SNS puts messages it cannot deliver to the
        queue (same type as the topic, in the topic's region: SNS keeps a cross-region
        subscription there). Default: a new SSE-SQS encrypted queue in this stack; required
        when the topic's region is known and differs from this stack's.
    :param alarms: create the alarms. Default: True.
    :param alarm_topic: send alarm and OK notifications to this topic. Default: none.
    :param max_message_age: alarm when the oldest message is older than this, 1 minute up
        to ``retention_period``. Default: 15 minutes.
    :param delivery_delay: hold each new message this long before consumers may receive it,
        0 s..15 minutes (SQS's ``DelaySeconds``; the dead-letter queue gets none). Default:
        none (delivered at once).
    :param removal_policy: what ``cdk destroy`` (or removing the consumer) does with the
        queue, its dead-letter queue and the key this consumer created. Default: none, which
        is aws-cdk's: the queues are deleted with every message they hold, the key is
        retained (a key keeps encrypted data readable; delete it by hand, after its waiting
        period, when nothing needs it). ``RemovalPolicy.RETAIN`` keeps the queues too;
        ``DESTROY`` also schedules the key's deletion.
    :param receive_message_wait_time: how long a ``ReceiveMessage`` that names no
        ``WaitTimeSeconds`` waits for a message on an empty queue, 0..20 seconds (SQS's
        ``ReceiveMessageWaitTimeSeconds``; the dead-letter queue keeps 0 s). Default: 20
        seconds, long polling as the worker program does: far fewer empty receives (each is a
        billed request) and no false "empty" answers; a client that wants an answer at once
        passes ``WaitTimeSeconds=0`` (0 s makes every such receive a short poll).
    :param max_message_size: the largest message the queue accepts, 1,024..1,048,576 bytes;
        at most what the topic delivers (a synth error when the topic's limit is known: a
        topic of this app, or a fanout's), and below it a synth warning (SNS cannot deliver
        the larger messages). Default: none — SQS's 1 MiB, or the fanout's
        ``max_message_size`` through :meth:`FanoutTopic.add_queue_consumer`.
    :param encryption: ``sqs.QueueEncryption.KMS`` (a customer-managed key: ``encryption_key``
        or a new one) or ``sqs.QueueEncryption.SQS_MANAGED`` (SSE-SQS: SQS's own keys, no KMS
        key, key policy or KMS cost; not with ``encryption_key``), for the queue and its
        dead-letter queue. Default: KMS. ``KMS_MANAGED`` is a synth error (SNS cannot use the
        AWS-managed key), and so is ``UNENCRYPTED``.
    :param replay_from: start the consumer from the topic's archive: SNS replays to its
        subscription the archived messages published since this time (a timezone-aware
        ``datetime``), through its filter policy, then delivers new ones. Needs a FIFO topic
        with an archive (a synth error otherwise; a warning when it is older than the
        archive's retention). Changing it replays again. Default: none (new messages only).
    :param replay_until: stop the replay at this time (after ``replay_from``). Once such a
        bounded replay has completed, SNS delivers no newly published message to this
        consumer (a synth warning says so): for a consumer that only rebuilds a window.
        Default: none (replay until the consumer has caught up, then deliver new messages).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic: sns.ITopic,
        **options: Unpack[ConsumerQueueOptions],
    ) -> None:
        super().__init__(scope, id)
        settings = self._validate(topic, options)
        self.topic = topic
        self.fifo: bool = fifo_of(topic) is True if settings["fifo"] is None else settings["fifo"]
        """Whether the queue is FIFO."""
        self.alarms: bool = settings["alarms"]
        self.alarm_topic: sns.ITopic | None = settings["alarm_topic"]
        self.max_message_age: Duration = settings["max_message_age"]
        self.visibility_timeout: Duration = settings["visibility_timeout"]
        self.receive_message_wait_time: Duration = settings["receive_message_wait_time"]
        """How long a receive that names no wait time waits on the empty queue."""
        self.max_receive_count: int = settings["max_receive_count"]
        self.encryption: sqs.QueueEncryption = settings["encryption"]
        """How the queue and its dead-letter queue are encrypted: KMS or SQS_MANAGED."""
        self.encryption_key: kms.IKey | None = (
            None
            if self.encryption is sqs.QueueEncryption.SQS_MANAGED
            else settings["encryption_key"]
            or rotating_key(
                self, "Key", description=f"Encrypts the {self.node.path} consumer queues"
            )
        )
        """The KMS key of the queues (None with SQS-managed encryption)."""
        self.dead_letter_queue: sqs.IQueue
        self.queue: sqs.Queue
        self.subscription_dead_letter_queue: sqs.IQueue
        self.subscription: sns.Subscription
        self.dead_letter_alarm: cloudwatch.Alarm | None = None
        """The alarm on the dead-letter queue; through a fanout, the fanout's query alarm
        whose query names it."""
        self.message_age_alarm: cloudwatch.Alarm | None = None
        """The alarm on the age of the oldest message; through a fanout, the fanout's."""
        self.undelivered_alarm: cloudwatch.Alarm | None = None
        """The alarm on the subscription dead-letter queue this consumer owns, if any."""
        self._literal_names = self._build_queues(settings)
        self.subscription = self._subscribe(topic, settings)
        if self.alarms:
            self._add_alarms(
                own_subscription_dlq=settings["subscription_dead_letter_queue"] is None
            )

    # -- validate ------------------------------------------------------------------------

    def _validate(self, topic: sns.ITopic, options: ConsumerQueueOptions) -> ConsumerQueueOptions:
        """Every rule on the options, all problems raised together."""
        problems = Problems()
        if hasattr(topic, "add_queue_consumer"):
            problems.wrong_type(
                "topic",
                topic,
                "an sns.ITopic (a FanoutTopic: pass its .topic, or use "
                "fanout.add_queue_consumer(...))",
            )
            problems.raise_if_any(self)
        settings = OPTIONS.settle(self, options, problems, topic=topic)
        problems.raise_if_any(self)
        is_fifo = fifo_of(topic) is True if settings["fifo"] is None else settings["fifo"]
        retention_period = settings["retention_period"]
        dead_letter_queue = settings["dead_letter_queue"]
        subscription_dead_letter_queue = settings["subscription_dead_letter_queue"]
        queue_name = settings["queue_name"]

        problems.check_alarm_topic("alarm_topic", settings["alarm_topic"])
        problems.check_queue_key("encryption_key", settings["encryption_key"])
        _check_encryption(problems, settings["encryption"], settings["encryption_key"])
        if is_fifo and not fifo_of(topic):
            problems.add(
                "fifo",
                settings["fifo"],
                "a standard SNS topic cannot deliver to a FIFO queue; "
                "use fifo=False or subscribe to a FIFO topic",
            )
        if dead_letter_queue is not None and dead_letter_queue.fifo != is_fifo:
            problems.add(
                "dead_letter_queue",
                dead_letter_queue.node.path,
                f"is {_kind(dead_letter_queue.fifo)} but the queue is {_kind(is_fifo)}; "
                "a dead-letter queue must be the same type as its source queue",
            )
        check_subscription_dead_letter_queue_type(problems, topic, subscription_dead_letter_queue)
        check_filter_policies(
            problems, settings["filter_policy"], settings["filter_policy_with_message_body"]
        )
        check_subscription_region(problems, self._regions_of(topic), subscription_dead_letter_queue)
        usable = problems.check_ranges(settings, RANGES)
        retention_ok = "retention_period" in usable
        if "max_message_size" in usable:
            check_queue_message_size(problems, self, topic, settings["max_message_size"])
        check_replay(problems, self, topic, settings["replay_from"], settings["replay_until"])
        if dead_letter_queue is not None:
            _check_own_dead_letter_queue(
                problems, self, dead_letter_queue, retention_period, fifo=is_fifo
            )
        else:
            _check_dead_letter_retention(
                problems,
                settings["dead_letter_retention_period"],
                retention_period,
                check_order=not is_fifo and retention_ok,
            )
        problems.check_name(
            "queue_name", queue_name, max_length=MAX_QUEUE_NAME_LENGTH, fifo=is_fifo
        )
        if queue_name is not None and not unresolved(queue_name):
            problems.check_unique_name(
                self,
                "queue_name",
                "queue",
                with_fifo_suffix(queue_name) if is_fifo else queue_name,
            )
        max_message_age = settings["max_message_age"]
        if settings["alarms"] and retention_ok and _known(max_message_age, retention_period):
            problems.check_duration(
                "max_message_age", max_message_age, MIN_MAX_MESSAGE_AGE, retention_period
            )
        problems.raise_if_any(self)
        return settings

    def _regions_of(self, topic: sns.ITopic) -> Regions:
        return Regions(topic=topic.env.region, own=Stack.of(self).region)

    # -- build ---------------------------------------------------------------------------

    def _build_queues(self, settings: ConsumerQueueOptions) -> _LiteralNames:
        """The dead-letter queue (unless one was given) and the queue; their names when
        known at synth."""
        queue_name = settings["queue_name"]
        name = (
            (with_fifo_suffix(queue_name) if self.fifo else queue_name)
            if queue_name is not None
            else generated_queue_name(self, fifo=self.fifo)
        )
        dead_letter_name = generated_queue_name(self, fifo=self.fifo, suffix="-dlq")
        given_dead_letter_queue = settings["dead_letter_queue"]
        self.dead_letter_queue = given_dead_letter_queue or self._encrypted_queue(
            "DeadLetterQueue",
            dead_letter_name,
            retention_period=settings["dead_letter_retention_period"],
            redrive_allow_policy=sqs.RedriveAllowPolicy(
                redrive_permission=sqs.RedrivePermission.BY_QUEUE,
                source_queues=[
                    sqs.Queue.from_queue_arn(
                        self,
                        "SourceQueueArn",
                        Stack.of(self).format_arn(
                            service="sqs", resource=name, arn_format=ArnFormat.NO_RESOURCE_NAME
                        ),
                    )
                ],
            ),
        )
        self.queue = self._encrypted_queue(
            "Queue",
            name,
            retention_period=settings["retention_period"],
            visibility_timeout=self.visibility_timeout,
            delivery_delay=settings["delivery_delay"],
            receive_message_wait_time=settings["receive_message_wait_time"],
            max_message_size_bytes=settings["max_message_size"],
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=self.max_receive_count
            ),
        )
        self.subscription_dead_letter_queue = settings[
            "subscription_dead_letter_queue"
        ] or new_subscription_dead_letter_queue(
            self, "SubscriptionDeadLetterQueue", fifo=fifo_of(self.topic) is True
        )
        removal = settings["removal_policy"]
        if removal is not None:
            # What this consumer created, never a queue or key it was given (a fanout's
            # shared key among them).
            owned: list[object] = [self.queue]
            if given_dead_letter_queue is None:
                owned.append(self.dead_letter_queue)
            if settings["encryption_key"] is None and self.encryption_key is not None:
                owned.append(self.encryption_key)
            for resource in owned:
                if isinstance(resource, sqs.Queue | kms.Key):
                    resource.apply_removal_policy(removal)
        return _LiteralNames(
            queue=None if unresolved(name) else name,
            dead_letter_queue=dead_letter_name if given_dead_letter_queue is None else None,
        )

    def _encrypted_queue(
        self,
        id: str,
        name: str,
        *,
        retention_period: Duration,
        **props: Any,
    ) -> sqs.Queue:
        """A queue of this consumer: its type, under its key (or SSE-SQS), TLS only."""
        return sqs.Queue(
            self,
            id,
            queue_name=name,
            fifo=True if self.fifo else None,
            encryption=self.encryption,
            encryption_master_key=self.encryption_key,
            enforce_ssl=True,
            retention_period=retention_period,
            **props,
        )

    # -- wire ----------------------------------------------------------------------------

    def _subscribe(self, topic: sns.ITopic, settings: ConsumerQueueOptions) -> sns.Subscription:
        """Subscribe the queue with policies scoped to ``topic``.

        Written out instead of ``SqsSubscription`` so that the key policy is scoped to the
        topic whatever the app's feature flags say (``SqsSubscription`` only scopes it under
        ``@aws-cdk/aws-sns-subscriptions:restrictSqsDescryption``).
        """
        principal = _sns_principal()
        from_topic = {"ArnEquals": {"aws:SourceArn": arn_of_topic(topic)}}
        queue_arn = self.queue.queue_arn
        queue_policy = self.queue.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["sqs:SendMessage"],
                principals=[principal],
                resources=[queue_arn],
                conditions=from_topic,
            )
        )
        key_policy = (
            None
            if self.encryption_key is None  # SSE-SQS: SNS needs no key permission
            else self.encryption_key.add_to_resource_policy(
                iam.PolicyStatement(
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    principals=[principal],
                    resources=["*"],
                    conditions=from_topic,
                )
            )
        )
        if key_policy is not None and not key_policy.statement_added:
            Annotations.of(self).add_warning_v2(
                "constructs-lib:importedKeyPolicy",
                "encryption_key is imported, so its key policy cannot be changed here: it must "
                "allow sns.amazonaws.com kms:GenerateDataKey and kms:Decrypt with "
                "aws:SourceArn equal to the topic ARN, or SNS cannot deliver to this queue.",
            )
        subscription = sns.Subscription(
            self,
            "Subscription",
            topic=topic,
            endpoint=queue_arn,
            protocol=sns.SubscriptionProtocol.SQS,
            raw_message_delivery=settings["raw_message_delivery"],
            filter_policy=settings["filter_policy"],
            filter_policy_with_message_body=settings["filter_policy_with_message_body"],
            dead_letter_queue=self.subscription_dead_letter_queue,
            region=self._regions_of(topic).foreign(),
        )
        if settings["replay_from"] is not None:
            cfn_subscription = subscription.node.default_child
            if isinstance(cfn_subscription, sns.CfnSubscription):
                cfn_subscription.replay_policy = replay_policy(
                    settings["replay_from"], settings["replay_until"]
                )
        if queue_policy.policy_dependable is not None:
            subscription.node.add_dependency(queue_policy.policy_dependable)
        return subscription

    def _add_alarms(self, *, own_subscription_dlq: bool) -> None:
        alarms = self._queue_alarms()
        if own_subscription_dlq:
            self.undelivered_alarm = monitoring.queue_not_empty_alarm(
                self,
                "UndeliveredAlarm",
                metric=visible_messages(self.subscription_dead_letter_queue),
                description=f"{self.node.path}: SNS could not deliver messages to the queue",
            )
            alarms.append(self.undelivered_alarm)
        for alarm in alarms:
            monitoring.notify(alarm, self.alarm_topic)

    def _queue_alarms(self) -> list[cloudwatch.Alarm]:
        """This consumer's dead-letter and message-age alarms (a fanout's consumers are
        covered by the fanout's query alarms instead)."""
        path = self.node.path
        self.dead_letter_alarm = monitoring.queue_not_empty_alarm(
            self,
            "DeadLetterAlarm",
            metric=self.metric_dead_letter_messages_visible(),
            description=f"{path}: messages failed max_receive_count times and were dead-lettered",
        )
        self.message_age_alarm = monitoring.oldest_message_age_alarm(
            self,
            "MessageAgeAlarm",
            metric=self.metric_approximate_age_of_oldest_message(),
            threshold=self.max_message_age,
            description=(
                f"{path}: the oldest message has waited more than "
                f"{self.max_message_age.to_human_string()}; the consumer is stuck or too slow"
            ),
        )
        return [self.dead_letter_alarm, self.message_age_alarm]

    # -- grants --------------------------------------------------------------------------

    def grant_consume_messages(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` receive, delete and change visibility of messages (and decrypt)."""
        expect_grantee(self, grantee)
        return self.queue.grant_consume_messages(grantee)

    def grant_redrive(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` inspect the dead-letter queue and move its messages back.

        Covers peeking at dead-lettered messages and SQS message move tasks from the
        dead-letter queue to this queue, with the key use both need; nothing else.
        """
        expect_grantee(self, grantee)
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ListDeadLetterSourceQueues",
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:StartMessageMoveTask",
                "sqs:CancelMessageMoveTask",
                "sqs:ListMessageMoveTasks",
            ],
            resource_arns=[self.dead_letter_queue.queue_arn],
        )
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sqs:SendMessage", "sqs:GetQueueAttributes"],
            resource_arns=[self.queue.queue_arn],
        )
        if self.encryption_key is not None:
            self.encryption_key.grant(grantee, "kms:Decrypt", "kms:GenerateDataKey")
        return grant

    # -- metrics -------------------------------------------------------------------------

    def metric_approximate_age_of_oldest_message(
        self, **options: Unpack[MetricOptions]
    ) -> cloudwatch.Metric:
        """Age of the oldest message in the queue. Default: Maximum over 1 minute."""
        return metric_of(self, self.queue, "ApproximateAgeOfOldestMessage", options)

    def metric_approximate_number_of_messages_visible(
        self, **options: Unpack[MetricOptions]
    ) -> cloudwatch.Metric:
        """Messages waiting in the queue. Default: Maximum over 1 minute."""
        return metric_of(self, self.queue, "ApproximateNumberOfMessagesVisible", options)

    def metric_dead_letter_messages_visible(
        self, **options: Unpack[MetricOptions]
    ) -> cloudwatch.Metric:
        """Messages waiting in the dead-letter queue, each one a message that failed
        ``max_receive_count`` times. Default: Maximum over 1 minute."""
        return metric_of(
            self, self.dead_letter_queue, "ApproximateNumberOfMessagesVisible", options
        )


@functools.cache
def _sns_principal() -> iam.ServicePrincipal:
    """SNS's service principal, made once (it is a value, not a construct: every queue's and
    key's policy may share it)."""
    return iam.ServicePrincipal(SNS_PRINCIPAL)


@dataclass(frozen=True)
class _LiteralNames:
    """The physical names of a consumer's queue and dead-letter queue, when known at synth
    (a fanout's query alarms name them)."""

    queue: str | None
    dead_letter_queue: str | None


def _check_dead_letter_retention(
    problems: Problems, dead_letter_retention: Duration, retention: Duration, *, check_order: bool
) -> None:
    """60 s..14 days, and (standard queues) longer than the queue's own retention."""
    usable = problems.check_duration(
        "dead_letter_retention_period", dead_letter_retention, MIN_RETENTION, MAX_RETENTION
    )
    if (
        check_order
        and usable
        and _known(retention, dead_letter_retention)
        and (known_seconds(dead_letter_retention) or 0) <= (known_seconds(retention) or 0)
    ):
        problems.add(
            "dead_letter_retention_period",
            dead_letter_retention,
            f"must be longer than retention_period "
            f"({retention.to_human_string()}): a message keeps its original "
            "enqueue time in a standard dead-letter queue and would expire there early",
        )


def _retention_seconds(queue: sqs.IQueue) -> float | None:
    """A queue's retention period when it is defined in this app with a known value."""
    return known_property(
        queue, sqs.CfnQueue, "message_retention_period", SQS_DEFAULT_RETENTION_SECONDS
    )


def _check_own_dead_letter_queue(
    problems: Problems,
    scope: Construct,
    dead_letter_queue: sqs.IQueue,
    retention_period: Duration,
    *,
    fifo: bool,
) -> None:
    """A user's dead-letter queue: same account and region, and (standard) keeps longer."""
    stack = Stack.of(scope)
    for what, theirs, ours in (
        ("region", dead_letter_queue.env.region, stack.region),
        ("account", dead_letter_queue.env.account, stack.account),
    ):
        if not unresolved(theirs) and not unresolved(ours) and theirs != ours:
            problems.add(
                "dead_letter_queue",
                dead_letter_queue.node.path,
                f"is in {what} {theirs} but the queue in {ours}; SQS requires a dead-letter "
                "queue in the same account and region as its source queue",
            )
    if fifo:
        return  # a FIFO queue resets the enqueue time when a message moves
    theirs_seconds = _retention_seconds(dead_letter_queue)
    ours_seconds = known_seconds(retention_period)
    if theirs_seconds is not None and ours_seconds is not None and theirs_seconds <= ours_seconds:
        problems.add(
            "dead_letter_queue",
            f"{dead_letter_queue.node.path} (retention {int(theirs_seconds)} s)",
            f"must keep messages longer than retention_period "
            f"({retention_period.to_human_string()}): a message keeps its original enqueue "
            "time in a standard dead-letter queue and would expire there early; raise the "
            "dead-letter queue's retention_period (up to 14 days) or lower this queue's",
        )


def _check_encryption(
    problems: Problems, encryption: sqs.QueueEncryption, key: kms.IKey | None
) -> None:
    """KMS (with or without a key given) or SSE-SQS without one."""
    if encryption not in ENCRYPTIONS:
        problems.add(
            "encryption",
            f"sqs.QueueEncryption.{encryption.name}",
            "SNS cannot encrypt messages with the AWS-managed key (KMS_MANAGED), and this "
            "library creates no unencrypted queue (UNENCRYPTED): pass KMS (a customer-managed "
            "key) or SQS_MANAGED (SSE-SQS, no key of your own)",
        )
    elif encryption is sqs.QueueEncryption.SQS_MANAGED and key is not None:
        problems.add(
            "encryption",
            "sqs.QueueEncryption.SQS_MANAGED",
            f"uses SQS's own keys, but encryption_key={key.node.path} is given too: drop "
            "encryption_key, or use encryption=sqs.QueueEncryption.KMS with it",
        )


def _kind(fifo: bool) -> str:
    return "FIFO" if fifo else "standard"


def _known(*durations: Duration) -> bool:
    return all(known_seconds(d) is not None for d in durations)
