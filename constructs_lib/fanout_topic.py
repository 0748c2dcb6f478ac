"""FanoutTopic: an SNS topic that delivers one copy of each event to many consumer queues."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypedDict, Unpack, cast

from aws_cdk import (
    Annotations,
    ArnFormat,
    CustomResource,
    Duration,
    Names,
    NestedStack,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ._private import monitoring
from ._private.delivery_status import LOGGED_PROTOCOLS, DeliveryStatusLogging
from ._private.fanout_alarms import FanoutAlarms
from ._private.message_size import (
    MAX_MESSAGE_SIZE,
    MIN_MESSAGE_SIZE,
    check_large_topic_subscription,
)
from ._private.metrics import MetricOptions, metric_of, visible_messages
from ._private.options import Declared
from ._private.placement import ConsumerStack, Placement, StackLimits
from ._private.resources import new_subscription_dead_letter_queue, rotating_key
from ._private.subscriptions import Regions
from ._private.validation import Problems, expect_grantee, unresolved, with_fifo_suffix
from .consumer_queue import ConsumerQueue, ConsumerQueueOptions
from .data_protection import DataProtection
from .data_protection import check as check_data_protection

if TYPE_CHECKING:
    # Imported where they are used: aws_lambda and aws_kinesisfirehose are large modules, and
    # a fanout of queues needs neither.
    from aws_cdk import aws_kinesisfirehose as firehose
    from aws_cdk import aws_lambda as lambda_

    from .dashboard import FanoutDashboard, FanoutDashboardOptions
    from .lambda_consumer import LambdaConsumer, LambdaConsumerOptions
    from .subscribers import (
        EmailSubscriber,
        EmailSubscriberOptions,
        FirehoseSubscriber,
        FirehoseSubscriberOptions,
        HttpSubscriber,
        HttpSubscriberOptions,
        LambdaSubscriber,
        LambdaSubscriberOptions,
        SmsSubscriber,
        SmsSubscriberOptions,
    )

MAX_TOPIC_NAME_LENGTH = 256
MAX_DISPLAY_NAME_LENGTH = 100
MAX_ARCHIVE_DAYS = 365
ARCHIVE_PROVIDER_ID = "ConstructsLibTopicArchiveProvider"
MAX_SAMPLE_RATE = 100
ACCOUNT_ID = re.compile(r"^\d{12}$")


class FanoutTopicOptions(TypedDict, total=False):
    """The options of :class:`FanoutTopic`, declared once; see :class:`FanoutTopic` for
    what each one means and its default."""

    fifo: bool
    content_based_deduplication: bool
    topic_name: str | None
    display_name: str | None
    topic_key: kms.IKey | None
    queue_key: kms.IKey | None
    archive_retention_days: int | None
    removal_policy: RemovalPolicy | None
    fifo_throughput_scope: sns.FifoThroughputScope | None
    tracing: bool
    delivery_status_logging: bool
    delivery_success_sample_rate: int
    delivery_log_retention: logs.RetentionDays
    data_protection: DataProtection | None
    alarms: bool
    alarm_topic: sns.ITopic | None
    max_message_size: int | None


OPTIONS = Declared(
    construct="FanoutTopic",
    options=FanoutTopicOptions,
    defaults=FanoutTopicOptions(
        fifo=False,
        content_based_deduplication=False,
        topic_name=None,
        display_name=None,
        topic_key=None,
        queue_key=None,
        archive_retention_days=None,
        removal_policy=None,
        fifo_throughput_scope=None,
        tracing=False,
        delivery_status_logging=True,
        delivery_success_sample_rate=0,
        delivery_log_retention=logs.RetentionDays.ONE_MONTH,
        data_protection=None,
        alarms=True,
        alarm_topic=None,
        max_message_size=None,
    ),
)


class _FanoutConsumerQueue(ConsumerQueue):
    """A :class:`ConsumerQueue` of a fanout: covered by the fanout's query alarms instead
    of two standard alarms of its own."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic: sns.ITopic,
        alarms_of: tuple[FanoutAlarms, ConsumerStack],
        regions: Regions,
        **options: Unpack[ConsumerQueueOptions],
    ) -> None:
        self._fanout_alarms = alarms_of
        self._fanout_regions = regions
        super().__init__(scope, id, topic=topic, **options)

    def _regions_of(self, topic: sns.ITopic) -> Regions:
        # The fanout's, read once: its consumers (nested stacks included) share its region.
        return self._fanout_regions

    def _queue_alarms(self) -> list[cloudwatch.Alarm]:
        fanout_alarms, target = self._fanout_alarms
        self.dead_letter_alarm, self.message_age_alarm = fanout_alarms.cover(
            target,
            queue_name=self._literal_names.queue or self.queue.queue_name,
            dead_letter_queue_name=self._literal_names.dead_letter_queue
            or self.dead_letter_queue.queue_name,
            max_message_age=self.max_message_age,
            alarm_topic=self.alarm_topic,
        )
        return []


class FanoutTopic(Construct):
    """An encrypted, TLS-only SNS topic plus the consumer queues subscribed to it.

    What you get by default:

    * the topic encrypted with its own customer-managed KMS key (``topic_key``), with
      rotation, a TLS-only topic policy and SHA256 message signatures; only principals of
      the owning account that hold IAM permissions, and the grantees you name through
      :meth:`grant_publish`, can publish;
    * one shared KMS key for all consumer queues (``queue_key``), whose policy lets SNS use
      it only for this topic: two keys per fanout however many consumers it has, and no
      dependency cycle between the topic and the queues (a consumer with
      ``encryption=sqs.QueueEncryption.SQS_MANAGED`` uses none: a fanout whose consumers all
      do creates no queue key);
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
    :param removal_policy: what ``cdk destroy`` (or removing the fanout) does with what the
        fanout created: the topic, its keys and its subscription dead-letter queue; it is
        also the default of each consumer's own ``removal_policy``. Default: none, which is
        aws-cdk's (the topic and queues are deleted, the keys retained), except that a topic
        with an archive is retained: the archive is data, and SNS deletes it with the topic.
        ``RemovalPolicy.DESTROY`` on an archived topic deactivates the archive policy first
        (a custom resource, ``archive_removal``: SNS refuses to delete a topic whose archive
        policy is active), which deletes the archived messages.
    :param fifo_throughput_scope: FIFO only; ``sns.FifoThroughputScope.MESSAGE_GROUP`` is
        SNS's high-throughput mode (deduplication and throughput quotas per message group,
        for many groups publishing at once); ``TOPIC`` deduplicates across the whole topic,
        within the topic's lower quota. Default: none (SNS's default, topic scope).
    :param tracing: active AWS X-Ray tracing of published messages (SNS samples and sends
        trace segments; subscribers that trace continue them). Default: False.
    :param delivery_status_logging: log the delivery status of the protocols this fanout
        delivers to (``sqs`` with the first consumer, ``lambda`` and ``http/s`` with the first
        subscriber of that kind) to CloudWatch Logs: every delivery SNS gives up on goes to
        ``sns/<region>/<account>/<topic name>/Failure``, through one role per fanout that can
        write only to the topic's own log groups. Email and SMS subscribers have no topic
        delivery logging. Default: True.
    :param delivery_success_sample_rate: percentage (0..100) of successful deliveries also
        logged, to ``sns/<region>/<account>/<topic name>``. Default: 0 (failures only).
    :param delivery_log_retention: how long the delivery status log groups keep events.
        Default: one month.
    :param data_protection: a :class:`~constructs_lib.data_protection.DataProtection` policy
        (audit, de-identify and deny statements over SNS's data identifiers), checked at synth
        and set as the topic's ``DataProtectionPolicy``; an audit that names no destination
        writes to a log group the fanout creates (``audit_log_group``). Standard topics only;
        SNS closed the feature to new customers on 30 April 2026. Default: none.
    :param alarms: create alarms on this fanout and, unless a consumer says otherwise,
        cover each consumer with the fanout-level dead-letter and message-age alarms.
        Default: True.
    :param alarm_topic: standard topic for alarm and OK notifications of the fanout and its
        consumers (CloudWatch cannot notify a FIFO topic). Default: none (alarms only change
        state).
    :param max_message_size: the largest message the topic accepts, 1,024..1,048,576 bytes
        (SNS's ``MaximumMessageSize``), passed to each consumer queue as its own. Above
        262,144 bytes SNS delivers only to queues, Lambda functions and Firehose streams, to
        at most 100 subscriptions: an HTTP/S, email or SMS subscriber, or a 101st
        subscription, is a synth error. Default: none (SNS's 256 KiB; the queues keep SQS's 1 MiB).
    """

    def __init__(self, scope: Construct, id: str, **options: Unpack[FanoutTopicOptions]) -> None:
        super().__init__(scope, id)
        settings = self._validate(options)
        self.fifo: bool = settings["fifo"]
        self.alarm_topic: sns.ITopic | None = settings["alarm_topic"]
        self._alarms: bool = settings["alarms"]
        self._delivery_settings = settings
        self.topic_key: kms.IKey = settings["topic_key"] or rotating_key(
            self, "TopicKey", description=f"Encrypts messages at rest in the {self.node.path} topic"
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            fifo=self.fifo or None,
            content_based_deduplication=settings["content_based_deduplication"] or None,
            topic_name=settings["topic_name"],
            display_name=settings["display_name"],
            master_key=self.topic_key,
            enforce_ssl=True,
            signature_version="2",
            message_retention_period_in_days=settings["archive_retention_days"],
            fifo_throughput_scope=settings["fifo_throughput_scope"],
            tracing_config=sns.TracingConfig.ACTIVE if settings["tracing"] else None,
        )
        self.max_message_size: int | None = settings["max_message_size"]
        """The topic's ``MaximumMessageSize`` (None: SNS's 256 KiB)."""
        if self.max_message_size is not None:
            cast(
                sns.CfnTopic, self.topic.node.default_child
            ).maximum_message_size = self.max_message_size
        self.removal_policy: RemovalPolicy | None = settings["removal_policy"]
        self.archive_removal: CustomResource | None = None
        """Deactivates the archive policy before CloudFormation deletes the topic (an
        archived topic with ``removal_policy=RemovalPolicy.DESTROY`` only)."""
        self._apply_removal_policy(
            archived=settings["archive_retention_days"] is not None,
            own_key=settings["topic_key"] is None,
        )
        self.audit_log_group: logs.ILogGroup | None = None
        if settings["data_protection"] is not None:
            self._protect_data(settings["data_protection"])
        self._queue_key: kms.IKey | None = settings["queue_key"]
        self._subscription_dead_letter_queue: sqs.Queue | None = None
        self._undelivered_alarm: cloudwatch.Alarm | None = None
        self._consumers: dict[str, ConsumerQueue] = {}
        self._subscribers: dict[str, Construct] = {}
        self._delivery_status: DeliveryStatusLogging | None = None
        self._placement = Placement(self)
        self._regions = Regions(topic=self.topic.env.region, own=Stack.of(self).region)
        self._consumer_alarms = FanoutAlarms(self.node.path)
        self.node.add_validation(StackLimits(self, self._placement.nested))

    def _apply_removal_policy(self, *, archived: bool, own_key: bool) -> None:
        """The topic's and its own key's removal policy; an archived topic is retained unless
        the user asks otherwise, and deleted only after its archive policy is deactivated."""
        removal = self.removal_policy
        if own_key and removal is not None:
            self.topic_key.apply_removal_policy(removal)
        topic_removal = removal if removal is not None or not archived else RemovalPolicy.RETAIN
        if topic_removal is None:
            return
        self.topic.apply_removal_policy(topic_removal)
        if archived and topic_removal is RemovalPolicy.DESTROY:
            from ._private.functions import runtime_code
            from ._private.provider import stack_provider

            provider = stack_provider(
                self,
                ARCHIVE_PROVIDER_ID,
                code=runtime_code("topic_archive"),
                job="topic-archive",
                handler="handler.on_event",
                description="Deactivates an SNS topic's archive policy before CloudFormation "
                "deletes the topic",
                framework_description="Custom resource framework of the SNS topic archives",
            )
            provider.role.add_to_policy(
                iam.PolicyStatement(
                    actions=["sns:SetTopicAttributes"], resources=[self.topic.topic_arn]
                )
            )
            # References the topic, so CloudFormation deletes it (clearing the archive)
            # before the topic.
            self.archive_removal = CustomResource(
                self,
                "ArchiveRemoval",
                service_token=provider.service_token,
                resource_type="Custom::TopicArchivePolicy",
                properties={"TopicArn": self.topic.topic_arn},
            )

    def _validate(self, options: FanoutTopicOptions) -> FanoutTopicOptions:
        """Every rule on the options, all problems raised together."""
        problems = Problems()
        settings = OPTIONS.settle(self, options, problems)
        problems.raise_if_any(self)
        fifo = settings["fifo"]
        topic_key, queue_key = settings["topic_key"], settings["queue_key"]
        topic_name, display_name = settings["topic_name"], settings["display_name"]
        archive_retention_days = settings["archive_retention_days"]
        problems.check_alarm_topic("alarm_topic", settings["alarm_topic"])
        problems.check_int(
            "delivery_success_sample_rate",
            settings["delivery_success_sample_rate"],
            0,
            MAX_SAMPLE_RATE,
        )
        if not settings["delivery_status_logging"]:
            given: Mapping[str, object] = options
            for option in ("delivery_success_sample_rate", "delivery_log_retention"):
                if option in given:
                    problems.add(
                        option,
                        given[option],
                        "only applies with delivery_status_logging=True; drop one of the two",
                    )
        problems.check_queue_key("queue_key", queue_key)
        problems.check_int(
            "max_message_size", settings["max_message_size"], MIN_MESSAGE_SIZE, MAX_MESSAGE_SIZE
        )
        if settings["content_based_deduplication"] and not fifo:
            problems.add(
                "content_based_deduplication",
                settings["content_based_deduplication"],
                "only FIFO topics deduplicate; set fifo=True or drop the option",
            )
        scope = settings["fifo_throughput_scope"]
        if scope is not None and not fifo:
            problems.add(
                "fifo_throughput_scope",
                scope.name,
                "only FIFO topics have a throughput scope; set fifo=True or drop the option",
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
        if settings["removal_policy"] is RemovalPolicy.SNAPSHOT:
            problems.add(
                "removal_policy",
                "SNAPSHOT",
                "SNS topics and SQS queues have no snapshots; use DESTROY, RETAIN or "
                "RETAIN_ON_UPDATE_OR_DELETE",
            )
        if settings["data_protection"] is not None:
            check_data_protection(
                problems,
                "data_protection",
                settings["data_protection"],
                fifo=fifo,
                region=Stack.of(self).region,
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
        if topic_name is not None and not unresolved(topic_name):
            problems.check_unique_name(
                self, "topic_name", "topic", with_fifo_suffix(topic_name) if fifo else topic_name
            )
        if (
            display_name is not None
            and not unresolved(display_name)
            and len(display_name) > MAX_DISPLAY_NAME_LENGTH
        ):
            problems.add(
                "display_name",
                display_name,
                f"is {len(display_name)} characters; at most {MAX_DISPLAY_NAME_LENGTH} are allowed",
            )
        problems.raise_if_any(self)
        return settings

    def _protect_data(self, policy: DataProtection) -> None:
        """Set ``policy`` on the topic, with the log group an audit without destination
        writes its findings to."""
        if policy.needs_findings_log_group:
            name = Names.unique_resource_name(self.topic, max_length=200, separator="-")
            self.audit_log_group = logs.LogGroup(
                self,
                "AuditLogGroup",
                log_group_name=f"/aws/vendedlogs/sns/{name}",
                retention=logs.RetentionDays.ONE_YEAR,
                removal_policy=RemovalPolicy.DESTROY,
            )
        document = policy.to_policy(findings_log_group=self.audit_log_group)
        cast(sns.CfnTopic, self.topic.node.default_child).data_protection_policy = document
        Annotations.of(self).add_warning_v2(
            "constructs_lib:dataProtectionClosedToNewCustomers",
            "SNS message data protection is closed to new customers since 30 April 2026: "
            "deploying this policy fails in an account that has not used it before.",
        )

    @property
    def consumer_stacks(self) -> list[NestedStack]:
        """The nested stacks holding consumers, in the order they were opened."""
        return list(self._placement.nested)

    @property
    def dead_letter_alarms(self) -> list[cloudwatch.Alarm]:
        """The fanout-level alarms on the consumers' dead-letter queues."""
        return list(self._consumer_alarms.dead_letter_alarms)

    @property
    def message_age_alarms(self) -> list[cloudwatch.Alarm]:
        """The fanout-level alarms on the age of the consumers' oldest messages."""
        return list(self._consumer_alarms.message_age_alarms)

    # -- parts shared by the consumer queues, created with the first one -------------------

    @property
    def queue_key(self) -> kms.IKey:
        """The KMS key of the consumer queues (created on first use unless one was given)."""
        if self._queue_key is None:
            key = self._placement.counted(
                lambda: rotating_key(
                    self, "QueueKey", description=f"Encrypts the {self.node.path} consumer queues"
                )
            )
            if self.removal_policy is not None:
                key.apply_removal_policy(self.removal_policy)
            self._queue_key = key
        return self._queue_key

    @property
    def subscription_dead_letter_queue(self) -> sqs.Queue:
        """Where SNS puts messages it could not deliver to a consumer queue, with its alarm
        (``undelivered_alarm``) unless ``alarms=False``; created on first use."""
        if self._subscription_dead_letter_queue is None:
            queue = self._placement.counted(
                lambda: new_subscription_dead_letter_queue(
                    self, "SubscriptionDeadLetterQueue", fifo=self.fifo
                )
            )
            if self.removal_policy is not None:
                queue.apply_removal_policy(self.removal_policy)
            self._subscription_dead_letter_queue = queue
            if self._alarms:
                alarm = self._placement.counted(
                    lambda: monitoring.queue_not_empty_alarm(
                        self,
                        "UndeliveredAlarm",
                        metric=visible_messages(queue),
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

    @property
    def consumers(self) -> dict[str, ConsumerQueue]:
        """The consumers added with :meth:`add_queue_consumer`, by id."""
        return dict(self._consumers)

    # -- consumers -----------------------------------------------------------------------

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
        target = self._prepare_consumer(id, "queue", options)
        consumer = self._new_consumer(target, id, options)
        self._placement.account(target, "queue", consumer)
        return consumer

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
        from .lambda_consumer import OPTIONS as LAMBDA_CONSUMER_OPTIONS
        from .lambda_consumer import LambdaConsumer, required_visibility_timeout

        target = self._prepare_consumer(
            id, "lambda", {} if queue_options is None else queue_options, options
        )
        queue_settings: ConsumerQueueOptions = {**(queue_options or {})}
        if "visibility_timeout" not in queue_settings:
            timeout = options.get("timeout", LAMBDA_CONSUMER_OPTIONS.defaults["timeout"])
            window = options.get("max_batching_window")
            if isinstance(timeout, Duration) and _known_durations(timeout, window):
                queue_settings["visibility_timeout"] = required_visibility_timeout(timeout, window)
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
        self._placement.account(target, "lambda", consumer_queue)
        return consumer

    def _prepare_consumer(
        self,
        id: str,
        kind: str,
        queue_options: object,
        lambda_options: Mapping[str, object] | None = None,
    ) -> ConsumerStack:
        """Check the id and the options only the fanout sets, create the shared parts (so
        that the first consumer's stack budget counts them) and pick the consumer's stack."""
        problems = Problems()
        self._check_id(problems, id, "consumer")
        if not isinstance(queue_options, Mapping):
            problems.wrong_type(
                "queue_options" if lambda_options is not None else "options",
                queue_options,
                "a dict of ConsumerQueue options",
            )
        elif "topic" in queue_options:
            problems.add(
                "topic",
                queue_options["topic"],
                "the fanout subscribes its consumers to its own topic; drop the option (or "
                "create a ConsumerQueue of your own for another topic)",
            )
        if lambda_options is not None and "queue" in lambda_options:
            problems.add(
                "queue",
                lambda_options["queue"],
                "the fanout creates the consumer's queue; pass its settings as queue_options",
            )
        check_large_topic_subscription(
            problems, self.max_message_size, "SQS", len(self._consumers) + len(self._subscribers)
        )
        problems.raise_if_any(self)
        if not _sqs_managed(queue_options):  # SSE-SQS consumers need no queue key
            _ = self.queue_key
        _ = self.subscription_dead_letter_queue
        self._log_deliveries("SQS")
        return self._placement.place(kind)

    def _new_consumer(
        self, target: ConsumerStack, id: str, options: ConsumerQueueOptions
    ) -> ConsumerQueue:
        settings: ConsumerQueueOptions = {
            "subscription_dead_letter_queue": self.subscription_dead_letter_queue,
            "alarms": self._alarms,
            "alarm_topic": self.alarm_topic,
            "max_message_size": self.max_message_size,
            "removal_policy": self.removal_policy,
        }
        if not _sqs_managed(options):
            settings["encryption_key"] = self.queue_key
        settings.update(options)
        consumer = _FanoutConsumerQueue(
            target.scope,
            id,
            topic=self.topic,
            alarms_of=(self._consumer_alarms, target),
            regions=self._regions,
            **settings,
        )
        self._consumers[id] = consumer
        return consumer

    # -- delivery status logging ----------------------------------------------------------

    @property
    def delivery_status_role(self) -> iam.IRole | None:
        """The role SNS writes delivery status logs through; None until the first consumer
        or subscriber whose protocol is logged (and with ``delivery_status_logging=False``)."""
        return None if self._delivery_status is None else self._delivery_status.role

    @property
    def delivery_status_log_groups(self) -> list[logs.ILogGroup]:
        """The delivery status log groups: failures, then successes when sampled."""
        if self._delivery_status is None:
            return []
        groups = [self._delivery_status.failure_log_group, self._delivery_status.success_log_group]
        return [group for group in groups if group is not None]

    @property
    def logged_protocols(self) -> list[sns.LoggingProtocol]:
        """The protocols whose delivery status the topic logs, in the order they were added."""
        return [] if self._delivery_status is None else self._delivery_status.protocols

    def log_delivery_status(self, protocol: sns.LoggingProtocol) -> None:
        """Log the delivery status of ``protocol`` too: for subscriptions the fanout does not
        make itself (a ``ConsumerQueue(topic=fanout.topic)`` in another stack, a Firehose or
        platform application subscription of your own). The fanout's methods call it for the
        protocols they subscribe, and ``grant_subscribe`` for ``SQS``; once per protocol."""
        problems = Problems()
        if not isinstance(protocol, sns.LoggingProtocol):
            problems.wrong_type("protocol", protocol, "an sns.LoggingProtocol")
        elif not self._delivery_settings["delivery_status_logging"]:
            problems.add(
                "protocol",
                protocol.name,
                "this fanout was created with delivery_status_logging=False; turn it on to log",
            )
        problems.raise_if_any(self)
        self._delivery_status_logging().cover(protocol)

    def _log_deliveries(self, kind: str) -> None:
        """Log deliveries to subscribers of ``kind`` (a key of ``LOGGED_PROTOCOLS``; other kinds
        have no delivery status logging) unless the fanout does not log."""
        protocol = LOGGED_PROTOCOLS.get(kind)
        if protocol is not None and self._delivery_settings["delivery_status_logging"]:
            self._delivery_status_logging().cover(protocol)

    def _delivery_status_logging(self) -> DeliveryStatusLogging:
        """The role and log groups, created (and charged to the fanout's own stack) on first
        need."""
        settings = self._delivery_settings
        if self._delivery_status is None:
            self._delivery_status = self._placement.counted(
                lambda: DeliveryStatusLogging(
                    self,
                    "DeliveryStatusLogging",
                    topic=self.topic,
                    success_sample_rate=settings["delivery_success_sample_rate"],
                    retention=settings["delivery_log_retention"],
                )
            )
        return self._delivery_status

    # -- subscribers other than queues ------------------------------------------------------

    @property
    def subscribers(self) -> dict[str, Construct]:
        """The subscribers other than queues (``add_lambda_subscriber``,
        ``add_http_subscriber``, ``add_email_subscriber``, ``add_sms_subscriber``,
        ``add_firehose_subscriber``), by id."""
        return dict(self._subscribers)

    def add_lambda_subscriber(
        self, id: str, *, function: lambda_.IFunction, **options: Unpack[LambdaSubscriberOptions]
    ) -> LambdaSubscriber:
        """Subscribe a Lambda function directly: a :class:`LambdaSubscriber` under this
        fanout (``<fanout>/<id>``) with ``options``."""
        return cast(
            "LambdaSubscriber",
            self._add_subscriber("LambdaSubscriber", id, options, function=function),
        )

    def add_http_subscriber(
        self, id: str, *, url: str, **options: Unpack[HttpSubscriberOptions]
    ) -> HttpSubscriber:
        """Subscribe an HTTP/S endpoint: an :class:`HttpSubscriber` with ``options``."""
        return cast("HttpSubscriber", self._add_subscriber("HttpSubscriber", id, options, url=url))

    def add_email_subscriber(
        self, id: str, *, address: str, **options: Unpack[EmailSubscriberOptions]
    ) -> EmailSubscriber:
        """Subscribe an email address (the recipient must confirm): an
        :class:`EmailSubscriber` with ``options``."""
        return cast(
            "EmailSubscriber",
            self._add_subscriber("EmailSubscriber", id, options, address=address),
        )

    def add_sms_subscriber(
        self, id: str, *, phone_number: str, **options: Unpack[SmsSubscriberOptions]
    ) -> SmsSubscriber:
        """Subscribe a phone number: an :class:`SmsSubscriber` (see there what the account
        needs before texts go out)."""
        return cast(
            "SmsSubscriber",
            self._add_subscriber("SmsSubscriber", id, options, phone_number=phone_number),
        )

    def add_firehose_subscriber(
        self,
        id: str,
        *,
        delivery_stream: firehose.IDeliveryStream,
        **options: Unpack[FirehoseSubscriberOptions],
    ) -> FirehoseSubscriber:
        """Subscribe a Firehose delivery stream: a :class:`FirehoseSubscriber` with its own
        subscription role scoped to the stream."""
        return cast(
            "FirehoseSubscriber",
            self._add_subscriber(
                "FirehoseSubscriber", id, options, delivery_stream=delivery_stream
            ),
        )

    def _add_subscriber(
        self,
        construct: str,
        id: str,
        options: Mapping[str, object],
        **target: object,
    ) -> Any:
        """A new subscriber (the class ``construct`` of :mod:`constructs_lib.subscribers`) of
        this fanout's topic, under the fanout, counted in its own stack: it shares the
        fanout's subscription dead-letter queue (and so its ``undelivered_alarm``) and alarm
        settings, which ``options`` override. On a FIFO fanout it is a synth error: SNS
        delivers FIFO topics only to queues."""
        from . import subscribers  # with aws_lambda: loaded by the first subscriber

        cls = getattr(subscribers, construct)
        kind: str = cls.KIND
        self._check_new_subscriber(id, kind, options)
        self._log_deliveries(kind)
        shared: dict[str, Any] = {
            "subscription_dead_letter_queue": self.subscription_dead_letter_queue,
            "alarms": self._alarms,
            "alarm_topic": self.alarm_topic,
        }
        subscriber = self._placement.counted(
            lambda: cls(self, id, topic=self.topic, **target, **{**shared, **options})
        )
        self._subscribers[id] = subscriber
        return subscriber

    def _check_new_subscriber(self, id: str, kind: str, options: Mapping[str, object]) -> None:
        """A usable new id, a standard topic, and no option only the fanout sets."""
        problems = Problems()
        if self.fifo:
            problems.add(
                "fifo",
                True,
                f"SNS delivers FIFO topics only to SQS queues, not to {kind} subscriptions: "
                "subscribe it to a standard fanout",
            )
        if "topic" in options:
            problems.add(
                "topic",
                options["topic"],
                "the fanout subscribes to its own topic; drop the option",
            )
        self._check_id(problems, id, "subscriber")
        check_large_topic_subscription(
            problems, self.max_message_size, kind, len(self._consumers) + len(self._subscribers)
        )
        problems.raise_if_any(self)

    def _check_id(self, problems: Problems, id: object, what: str) -> None:
        """A new consumer's or subscriber's id: a non-empty str no other one of this topic has
        (they are construct ids side by side)."""
        taken = sorted({*self._consumers, *self._subscribers})
        if not isinstance(id, str):
            problems.wrong_type("id", id, f"a str, the {what}'s construct id")
        elif not id:
            problems.add("id", id, f"a {what}'s construct id must not be empty")
        elif id in taken:
            problems.add(
                "id",
                id,
                "this topic already has a consumer or subscriber with that id; their ids must "
                f"be unique per topic (existing: {taken})",
            )

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
        key, which SNS does not need to deliver to a queue. The topic logs the delivery
        status of ``sqs`` (unless ``delivery_status_logging=False``), so that failed
        deliveries to those queues are logged too.

        The consumer account then creates the subscription in its own stack, with
        ``ConsumerQueue(stack, id, topic=sns.Topic.from_topic_arn(stack, id, arn))``; SNS
        confirms a subscription that the queue's owner creates at once.
        """
        problems = Problems()
        if not isinstance(account, str):
            problems.wrong_type("account", account, "a 12-digit AWS account id (a str)")
        elif not unresolved(account) and not ACCOUNT_ID.fullmatch(account):
            problems.add("account", account, "grant_subscribe takes a 12-digit AWS account id")
        problems.raise_if_any(self)
        self._log_deliveries("SQS")
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

    def metric_number_of_messages_published(
        self, **options: Unpack[MetricOptions]
    ) -> cloudwatch.Metric:
        """Messages published to the topic. Default: Sum over 1 minute."""
        return metric_of(self, self.topic, "NumberOfMessagesPublished", options)

    def metric_number_of_notifications_delivered(
        self, **options: Unpack[MetricOptions]
    ) -> cloudwatch.Metric:
        """Deliveries SNS completed to subscriptions. Default: Sum over 1 minute."""
        return metric_of(self, self.topic, "NumberOfNotificationsDelivered", options)

    def metric_number_of_notifications_failed(
        self, **options: Unpack[MetricOptions]
    ) -> cloudwatch.Metric:
        """Deliveries SNS gave up on; for a queue the message is then in the subscription
        dead-letter queue. Default: Sum over 1 minute."""
        return metric_of(self, self.topic, "NumberOfNotificationsFailed", options)

    def metric_number_of_notifications_filtered_out(
        self, **options: Unpack[MetricOptions]
    ) -> cloudwatch.Metric:
        """Messages a subscription's filter policy rejected. Default: Sum over 1 minute."""
        return metric_of(self, self.topic, "NumberOfNotificationsFilteredOut", options)

    def metric_undelivered_messages(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Messages waiting in the subscription dead-letter queue: SNS could not deliver
        them to a consumer queue. Default: Maximum over 1 minute."""
        return metric_of(
            self,
            self.subscription_dead_letter_queue,
            "ApproximateNumberOfMessagesVisible",
            options,
        )

    def add_dashboard(
        self, id: str = "Dashboard", **options: Unpack[FanoutDashboardOptions]
    ) -> FanoutDashboard:
        """A :class:`FanoutDashboard` of this fanout, under it (``<fanout>/<id>``), with
        ``options``: one CloudWatch dashboard, showing every consumer the fanout has at synth."""
        from .dashboard import FanoutDashboard  # the dashboard module imports this one

        return self._placement.counted(lambda: FanoutDashboard(self, id, fanout=self, **options))


def _sqs_managed(queue_options: object) -> bool:
    """Whether a consumer's options ask for SSE-SQS (then it gets no fanout queue key)."""
    return (
        isinstance(queue_options, Mapping)
        and queue_options.get("encryption") is sqs.QueueEncryption.SQS_MANAGED
    )


def _known_durations(*durations: object) -> bool:
    """Every value is None or a Duration known at synth (anything else is left to the
    consumer's own checks, which name it)."""
    return all(d is None or (isinstance(d, Duration) and not d.is_unresolved()) for d in durations)
