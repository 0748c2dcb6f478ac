"""Subscribers beyond queues: Lambda functions, HTTP/S endpoints, email, SMS and Firehose
delivery streams, each with a subscription dead-letter queue and the rules SNS enforces
checked at synth.

A FIFO topic delivers only to SQS queues (SNS refuses other protocols on FIFO topics), so
every subscriber here needs a standard topic. Like :class:`ConsumerQueue`, each construct
works on its own against any ``sns.ITopic`` or through a :class:`FanoutTopic`
(``add_lambda_subscriber``, ``add_http_subscriber``, ...), which shares its subscription
dead-letter queue and the alarm on it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, TypedDict, Unpack

from aws_cdk import Annotations, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ._private import monitoring
from ._private.metrics import visible_messages
from ._private.options import Declared
from ._private.resources import new_subscription_dead_letter_queue
from ._private.subscriptions import (
    Regions,
    check_filter_policies,
    check_subscription_dead_letter_queue_type,
    check_subscription_region,
)
from ._private.validation import Problems, Range, known_seconds, unresolved

SNS_PRINCIPAL = "sns.amazonaws.com"
FIREHOSE_ACTIONS = (
    "firehose:DescribeDeliveryStream",
    "firehose:ListTagsForDeliveryStream",
    "firehose:PutRecord",
    "firehose:PutRecordBatch",
)
"""What SNS needs on a delivery stream (AWS's recommended subscription-role policy, less
``ListDeliveryStreams``, which takes no resource)."""
MAX_RETRIES = 100
"""SNS: an HTTP/S delivery policy retries at most 100 times."""
MAX_DELAY = Duration.seconds(3600)
"""SNS: a retry delay is 1 s to 3,600 s, and the whole retry policy at most 3,600 s."""
MIN_DELAY = Duration.seconds(1)
DEFAULT_MAX_EVENT_AGE = Duration.hours(6)
DEFAULT_RETRY_ATTEMPTS = 2
_URL = re.compile(r"^(?P<scheme>https?)://[^\s/$.?#][^\s]*$", re.IGNORECASE)


class SubscriptionOptions(TypedDict, total=False):
    """The options every subscriber other than a queue takes.

    :param filter_policy: filter on message attributes (checked as for queues). Default: none.
    :param filter_policy_with_message_body: filter on the message body. Default: none.
    :param subscription_dead_letter_queue: where SNS puts what it could not deliver: a
        standard queue in the topic's region. Default: a new SSE-SQS queue with an alarm
        (:class:`FanoutTopic` passes its shared one, which its ``undelivered_alarm`` watches).
    :param alarms: alarm on the dead-letter queue the subscriber owns. Default: True.
    :param alarm_topic: standard topic for alarm and OK notifications. Default: none.
    """

    filter_policy: Mapping[str, sns.SubscriptionFilter] | None
    filter_policy_with_message_body: Mapping[str, sns.FilterOrPolicy] | None
    subscription_dead_letter_queue: sqs.IQueue | None
    alarms: bool
    alarm_topic: sns.ITopic | None


class LambdaSubscriberOptions(SubscriptionOptions, total=False):
    """The options of :class:`LambdaSubscriber` other than ``topic`` and ``function``,
    declared once; see :class:`LambdaSubscriber` for each one's default."""

    failed_invocations: bool
    retry_attempts: int
    max_event_age: Duration


class HttpSubscriberOptions(SubscriptionOptions, total=False):
    """The options of :class:`HttpSubscriber` other than ``topic`` and ``url``, declared
    once; see :class:`HttpSubscriber` for each one's default."""

    raw_message_delivery: bool
    delivery_policy: sns.DeliveryPolicy | None
    allow_plain_http: bool


class FirehoseSubscriberOptions(SubscriptionOptions, total=False):
    """The options of :class:`FirehoseSubscriber` other than ``topic`` and
    ``delivery_stream``, declared once; see :class:`FirehoseSubscriber` for each one's
    default."""

    raw_message_delivery: bool
    role: iam.IRole | None


class EmailSubscriberOptions(SubscriptionOptions, total=False):
    """The options of :class:`EmailSubscriber` other than ``topic`` and ``address``, declared
    once; see :class:`EmailSubscriber` for each one's default."""

    json: bool


class SmsSubscriberOptions(SubscriptionOptions, total=False):
    """The options of :class:`SmsSubscriber` other than ``topic`` and ``phone_number``:
    those of every subscriber."""


SUBSCRIPTION_DEFAULTS = SubscriptionOptions(
    filter_policy=None,
    filter_policy_with_message_body=None,
    subscription_dead_letter_queue=None,
    alarms=True,
    alarm_topic=None,
)
"""The defaults every subscriber shares: no filter, a new dead-letter queue, alarms on."""

_EXPECTED = {
    "filter_policy": "a dict of attribute name to sns.SubscriptionFilter",
    "filter_policy_with_message_body": "a dict of field name to sns.FilterOrPolicy",
}

LAMBDA_OPTIONS = Declared(
    construct="LambdaSubscriber",
    options=LambdaSubscriberOptions,
    defaults=LambdaSubscriberOptions(
        **SUBSCRIPTION_DEFAULTS,
        failed_invocations=True,
        retry_attempts=DEFAULT_RETRY_ATTEMPTS,
        max_event_age=DEFAULT_MAX_EVENT_AGE,
    ),
    expected={**_EXPECTED, "function": "a lambda_.IFunction (a Function, or one imported by ARN)"},
)
HTTP_OPTIONS = Declared(
    construct="HttpSubscriber",
    options=HttpSubscriberOptions,
    defaults=HttpSubscriberOptions(
        **SUBSCRIPTION_DEFAULTS,
        raw_message_delivery=False,
        delivery_policy=None,
        allow_plain_http=False,
    ),
    expected=_EXPECTED,
)
FIREHOSE_OPTIONS = Declared(
    construct="FirehoseSubscriber",
    options=FirehoseSubscriberOptions,
    defaults=FirehoseSubscriberOptions(
        **SUBSCRIPTION_DEFAULTS, raw_message_delivery=False, role=None
    ),
    expected={
        **_EXPECTED,
        "delivery_stream": "a firehose.IDeliveryStream (a DeliveryStream, or one imported by ARN)",
    },
)
EMAIL_OPTIONS = Declared(
    construct="EmailSubscriber",
    options=EmailSubscriberOptions,
    defaults=EmailSubscriberOptions(**SUBSCRIPTION_DEFAULTS, json=False),
    expected=_EXPECTED,
)
SMS_OPTIONS = Declared(
    construct="SmsSubscriber",
    options=SmsSubscriberOptions,
    defaults=SmsSubscriberOptions(**SUBSCRIPTION_DEFAULTS),
    expected=_EXPECTED,
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
"""SNS takes SMS numbers in E.164: a plus sign, the country code, at most 15 digits."""

LAMBDA_RANGES: dict[str, Range] = {
    "retry_attempts": (0, 2),
    "max_event_age": (Duration.minutes(1), Duration.hours(6)),
}
"""What Lambda accepts for an asynchronous invocation's retries and age."""


class _Subscriber(Construct):
    """What every non-queue subscriber has: the subscription, its dead-letter queue and the
    alarm on that queue when the subscriber owns it."""

    KIND: ClassVar[str]
    """The protocol in the user's words, for messages ("Lambda", "HTTP/S", ...)."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.topic: sns.ITopic
        self.subscription: sns.Subscription
        """The SNS subscription."""
        self.subscription_dead_letter_queue: sqs.IQueue
        """Where SNS puts what it could not deliver (given, or a new SSE-SQS queue)."""
        self.undelivered_alarm: cloudwatch.Alarm | None = None
        """The alarm on the subscription dead-letter queue when this subscriber owns it."""

    def _check_subscription(
        self,
        problems: Problems,
        topic: sns.ITopic,
        settings: SubscriptionOptions,
        protocol: str,
    ) -> Regions:
        """The rules of any non-SQS subscription: a standard topic, filters SNS accepts, a
        subscription dead-letter queue of the topic's type in its region."""
        if topic.fifo is True:
            problems.add(
                "topic",
                topic.node.path,
                f"is a FIFO topic; SNS delivers FIFO topics only to SQS queues, not to {protocol} "
                "subscriptions: subscribe a standard topic",
            )
        check_filter_policies(
            problems, settings["filter_policy"], settings["filter_policy_with_message_body"]
        )
        regions = Regions(topic=topic.env.region, own=Stack.of(self).region)
        dead_letter_queue = settings["subscription_dead_letter_queue"]
        check_subscription_dead_letter_queue_type(problems, topic, dead_letter_queue)
        check_subscription_region(problems, regions, dead_letter_queue)
        problems.check_alarm_topic("alarm_topic", settings["alarm_topic"])
        return regions

    def _settle(
        self,
        declared: Declared[Any],
        topic: sns.ITopic,
        options: Mapping[str, Any],
        **required: object,
    ) -> tuple[Any, Regions, Problems]:
        """The settled options (wrong names and types raised at once), the regions of the
        subscription once its common rules are checked, and the problems found so far (the
        caller adds its own rules, then raises)."""
        problems = Problems()
        settings = declared.settle(self, options, problems, topic=topic, **required)
        problems.raise_if_any(self)
        regions = self._check_subscription(problems, topic, settings, self.KIND)
        return settings, regions, problems

    def _validate_message(
        self,
        declared: Declared[Any],
        topic: sns.ITopic,
        options: Mapping[str, Any],
        endpoint_option: str,
        endpoint: str,
        pattern: re.Pattern[str],
        allowed: str,
    ) -> tuple[Any, Regions]:
        """The settings of a message subscriber (email, SMS) whose endpoint must match
        ``pattern``, every problem raised together; and the regions of its subscription."""
        settings, regions, problems = self._settle(
            declared, topic, options, **{endpoint_option: endpoint}
        )
        if not unresolved(endpoint) and not pattern.match(endpoint):
            problems.add(endpoint_option, endpoint, allowed)
        problems.raise_if_any(self)
        return settings, regions

    def _subscribe_to(
        self,
        topic: sns.ITopic,
        protocol: sns.SubscriptionProtocol,
        endpoint: str,
        settings: SubscriptionOptions,
        regions: Regions,
        **subscription: Any,
    ) -> None:
        """The subscription of an endpoint subscriber (HTTP/S, email, SMS, Firehose) with the
        protocol's own ``subscription`` properties, its dead-letter queue and the alarm on a
        queue it owns."""
        self.topic = topic
        given_queue = settings["subscription_dead_letter_queue"]
        self.subscription_dead_letter_queue = self._dead_letter_queue(given_queue)
        self.subscription = sns.Subscription(
            self,
            "Subscription",
            topic=topic,
            endpoint=endpoint,
            protocol=protocol,
            filter_policy=settings["filter_policy"],
            filter_policy_with_message_body=settings["filter_policy_with_message_body"],
            dead_letter_queue=self.subscription_dead_letter_queue,
            region=regions.foreign(),
            **subscription,
        )
        self._alarm(given_queue is None, settings["alarms"], settings["alarm_topic"])

    def _dead_letter_queue(self, given: sqs.IQueue | None) -> sqs.IQueue:
        return given or new_subscription_dead_letter_queue(
            self, "SubscriptionDeadLetterQueue", fifo=False
        )

    def _alarm(self, owns_queue: bool, alarms: bool, alarm_topic: sns.ITopic | None) -> None:
        if owns_queue and alarms:
            self.undelivered_alarm = monitoring.queue_not_empty_alarm(
                self,
                "UndeliveredAlarm",
                metric=visible_messages(self.subscription_dead_letter_queue),
                description=f"{self.node.path}: SNS could not deliver messages to the subscriber",
            )
            monitoring.notify(self.undelivered_alarm, alarm_topic)


class LambdaSubscriber(_Subscriber):
    """A Lambda function subscribed to a topic: SNS invokes it once per message.

    What you get by default:

    * the subscription, with the topic's filter policies checked as for queues;
    * a resource-policy statement letting ``sns.amazonaws.com`` invoke the function only on
      behalf of this topic (``aws:SourceArn``), as its own resource, so imported functions
      work too;
    * a subscription dead-letter queue for messages SNS could not hand to Lambda (the
      function deleted, its policy changed), with an alarm;
    * the function's asynchronous invocation settings: SNS invokes asynchronously, and
      Lambda retries a failed invocation ``retry_attempts`` times; what still fails, or waits
      longer than ``max_event_age``, goes to the same dead-letter queue (an on-failure
      destination) instead of being dropped.

    For work that needs batching, partial-batch failures and a per-consumer queue, prefer
    :meth:`FanoutTopic.add_lambda_consumer`; a subscriber suits a small, fast reaction per
    message.

    :param topic: the standard topic to subscribe to.
    :param function: the function SNS invokes.
    :param failed_invocations: send invocations that failed every retry to the dead-letter
        queue (an ``AWS::Lambda::EventInvokeConfig`` of the function's ``$LATEST``, and the
        grant to send there; a function has one such configuration: turn this off when yours
        is configured elsewhere). Default: True.
    :param retry_attempts: Lambda's retries of a failed invocation, 0..2. Default: 2.
    :param max_event_age: how long Lambda keeps trying, 1 minute..6 hours. Default: 6 hours.

    It also takes the options of every subscriber: :class:`SubscriptionOptions`.
    """

    KIND = "Lambda"

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic: sns.ITopic,
        function: lambda_.IFunction,
        **options: Unpack[LambdaSubscriberOptions],
    ) -> None:
        super().__init__(scope, id)
        settings, regions, problems = self._settle(
            LAMBDA_OPTIONS, topic, options, function=function
        )
        problems.check_ranges(settings, LAMBDA_RANGES)
        problems.raise_if_any(self)

        self.topic = topic
        self.function: lambda_.IFunction = function
        self.permission: lambda_.CfnPermission
        """Lets SNS invoke the function for this topic only."""
        self.invoke_config: lambda_.CfnEventInvokeConfig | None = None
        """The function's asynchronous invocation settings (``failed_invocations``)."""
        given_queue = settings["subscription_dead_letter_queue"]
        self.subscription_dead_letter_queue = self._dead_letter_queue(given_queue)
        self.permission = lambda_.CfnPermission(
            self,
            "InvokePermission",
            action="lambda:InvokeFunction",
            function_name=function.function_arn,
            principal=SNS_PRINCIPAL,
            source_arn=topic.topic_arn,
        )
        self.subscription = sns.Subscription(
            self,
            "Subscription",
            topic=topic,
            endpoint=function.function_arn,
            protocol=sns.SubscriptionProtocol.LAMBDA,
            filter_policy=settings["filter_policy"],
            filter_policy_with_message_body=settings["filter_policy_with_message_body"],
            dead_letter_queue=self.subscription_dead_letter_queue,
            region=regions.foreign(),
        )
        self.subscription.node.add_dependency(self.permission)
        if settings["failed_invocations"]:
            self.invoke_config = self._dead_letter_failed_invocations(
                function, settings["retry_attempts"], settings["max_event_age"]
            )
        self._alarm(given_queue is None, settings["alarms"], settings["alarm_topic"])

    def _dead_letter_failed_invocations(
        self, function: lambda_.IFunction, retry_attempts: int, max_event_age: Duration
    ) -> lambda_.CfnEventInvokeConfig:
        """The function's asynchronous settings, with the dead-letter queue as on-failure
        destination; its execution role may send there (a function imported without its
        role cannot be granted: a synth warning says what to grant)."""
        queue = self.subscription_dead_letter_queue
        config = lambda_.CfnEventInvokeConfig(
            self,
            "InvokeConfig",
            function_name=function.function_name,
            qualifier="$LATEST",
            maximum_retry_attempts=retry_attempts,
            maximum_event_age_in_seconds=max_event_age.to_seconds(),
            destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
                on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(
                    destination=queue.queue_arn
                )
            ),
        )
        if function.role is not None:
            queue.grant_send_messages(function)
        else:
            Annotations.of(self).add_warning_v2(
                "constructs-lib:failedInvocationsNeedAGrant",
                f"{function.node.path} is imported without its execution role, so it cannot "
                f"be granted sqs:SendMessage on {queue.node.path}: grant it there, or failed "
                "invocations cannot reach the dead-letter queue (or pass "
                "failed_invocations=False and give the function a destination of its own).",
            )
        return config


class HttpSubscriber(_Subscriber):
    """An HTTP/S endpoint subscribed to a topic: SNS POSTs each message to ``url``.

    What you get by default:

    * HTTPS only: a plain ``http://`` URL is a synth error unless ``allow_plain_http=True``
      (SNS then sends messages, and the subscription confirmation, in clear text);
    * the delivery policy checked against the limits SNS enforces: 0..100 retries, delays of
      1..3,600 s with the minimum not above the maximum, per-phase retries that add up to no
      more than the total, retries that fit in SNS's 3,600 s total, an integer throttle of
      at least 1 message per second;
    * a subscription dead-letter queue for messages the endpoint did not accept within the
      delivery policy (SNS drops them otherwise), with an alarm.

    **Confirmation.** SNS sends the endpoint a ``SubscriptionConfirmation`` request
    (``x-amz-sns-message-type: SubscriptionConfirmation``) holding a ``SubscribeURL``; the
    subscription delivers nothing until the endpoint (or an operator) visits that URL or
    calls ``ConfirmSubscription`` with the token. CloudFormation completes the stack while
    the subscription is still pending. The endpoint should check the message signature
    (SignatureVersion 2, SHA256) before it confirms or acts on a message.

    :param topic: the standard topic to subscribe to.
    :param url: the endpoint, ``https://...`` (``http://`` only with ``allow_plain_http``).
    :param raw_message_delivery: POST the bare message body instead of the SNS JSON envelope
        (``x-amz-sns-rawdelivery: true``). Default: False.
    :param delivery_policy: ``sns.DeliveryPolicy`` (retries, throttle, content type).
        Default: none (SNS retries 3 times, 20 seconds apart).
    :param allow_plain_http: accept an ``http://`` URL. Default: False.

    It also takes the options of every subscriber: :class:`SubscriptionOptions`.
    """

    KIND = "HTTP/S"

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic: sns.ITopic,
        url: str,
        **options: Unpack[HttpSubscriberOptions],
    ) -> None:
        super().__init__(scope, id)
        settings, regions, problems = self._settle(HTTP_OPTIONS, topic, options, url=url)
        protocol = _check_url(problems, url, allow_plain_http=settings["allow_plain_http"])
        if settings["delivery_policy"] is not None:
            check_delivery_policy(problems, settings["delivery_policy"])
        problems.raise_if_any(self)

        self.url: str = url
        self._subscribe_to(
            topic,
            protocol,
            url,
            settings,
            regions,
            raw_message_delivery=settings["raw_message_delivery"],
            delivery_policy=settings["delivery_policy"],
        )


class FirehoseSubscriber(_Subscriber):
    """An Amazon Data Firehose delivery stream subscribed to a topic: SNS puts each message
    as a record into the stream (for archiving to S3, analytics, a data lake).

    What you get by default:

    * the subscription role SNS assumes to write to the stream, trusted only by
      ``sns.amazonaws.com`` and allowed only ``firehose:DescribeDeliveryStream``,
      ``firehose:ListTagsForDeliveryStream``, ``firehose:PutRecord`` and
      ``firehose:PutRecordBatch`` on *this* stream (AWS's recommended policy also lists
      ``firehose:ListDeliveryStreams``, which cannot be scoped to a stream: it is left out);
    * a subscription dead-letter queue for records SNS could not put (stream deleted,
      throttled past SNS's retries, role changed), with an alarm;
    * the rules SNS enforces checked at synth: a standard topic, and the stream in the
      topic's region (SNS delivers across regions only to SQS and Lambda).

    The stream must accept direct puts (``DirectPut`` source, the ``DeliveryStream``
    default). Each record is the SNS JSON envelope, or the bare message with
    ``raw_message_delivery``; Firehose concatenates records without a separator, so a
    delimiter, if the destination needs one, belongs in the stream's processing.

    :param topic: the standard topic to subscribe to.
    :param delivery_stream: the delivery stream SNS writes to, in the topic's region.
    :param raw_message_delivery: write the bare message body instead of the SNS JSON envelope
        (which carries the message id, timestamp and attributes). Default: False.
    :param role: the role SNS assumes to write to the stream; it must trust
        ``sns.amazonaws.com`` and allow the puts. Default: a new role scoped to the stream.

    It also takes the options of every subscriber: :class:`SubscriptionOptions`.
    """

    KIND = "Firehose"

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic: sns.ITopic,
        delivery_stream: firehose.IDeliveryStream,
        **options: Unpack[FirehoseSubscriberOptions],
    ) -> None:
        super().__init__(scope, id)
        settings, regions, problems = self._settle(
            FIREHOSE_OPTIONS, topic, options, delivery_stream=delivery_stream
        )
        stream_region = _region_of(delivery_stream.delivery_stream_arn, delivery_stream.env.region)
        if (
            not unresolved(regions.topic)
            and not unresolved(stream_region)
            and stream_region != regions.topic
        ):
            problems.add(
                "delivery_stream",
                delivery_stream.node.path,
                f"is in {stream_region} and the topic in {regions.topic}: SNS delivers "
                "across regions only to SQS queues and Lambda functions; use a stream in "
                f"{regions.topic}",
            )
        problems.raise_if_any(self)

        self.delivery_stream: firehose.IDeliveryStream = delivery_stream
        given_role = settings["role"]
        self.role: iam.IRole = given_role or iam.Role(
            self,
            "SubscriptionRole",
            assumed_by=iam.ServicePrincipal(SNS_PRINCIPAL),
            description=f"Lets SNS put {self.node.path}'s messages into its delivery stream",
        )
        """The role SNS assumes to put records into the stream."""
        self._subscribe_to(
            topic,
            sns.SubscriptionProtocol.FIREHOSE,
            delivery_stream.delivery_stream_arn,
            settings,
            regions,
            raw_message_delivery=settings["raw_message_delivery"],
            subscription_role_arn=self.role.role_arn,
        )
        if given_role is None:
            grant = self.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=list(FIREHOSE_ACTIONS),
                    resources=[delivery_stream.delivery_stream_arn],
                )
            )
            # SNS checks the role when it subscribes: the policy must exist by then.
            if grant.policy_dependable is not None:
                self.subscription.node.add_dependency(grant.policy_dependable)


class EmailSubscriber(_Subscriber):
    """An email address subscribed to a topic: each message as an email (plain text, or the
    SNS JSON envelope with ``json=True``).

    **Outside the template:** SNS emails the address a confirmation link, and nothing is sent
    until the recipient follows it (CloudFormation completes the stack while the subscription
    is pending, and a subscription left unconfirmed expires after three days). Email suits
    people (an on-call inbox), not programs: use a queue or HTTPS for those. Filter on what
    a person should read, e.g. only failures.

    :param topic: the standard topic to subscribe to.
    :param address: the email address.
    :param json: deliver the SNS JSON envelope (protocol ``email-json``) instead of the
        message text. Default: False.

    It also takes the options of every subscriber: :class:`SubscriptionOptions`.
    """

    KIND = "email"

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic: sns.ITopic,
        address: str,
        **options: Unpack[EmailSubscriberOptions],
    ) -> None:
        super().__init__(scope, id)
        settings, regions = self._validate_message(
            EMAIL_OPTIONS,
            topic,
            options,
            "address",
            address,
            _EMAIL,
            "must be an email address, e.g. oncall@example.com",
        )
        self.address: str = address
        protocol = (
            sns.SubscriptionProtocol.EMAIL_JSON
            if settings["json"]
            else sns.SubscriptionProtocol.EMAIL
        )
        self._subscribe_to(topic, protocol, address, settings, regions)


class SmsSubscriber(_Subscriber):
    """A phone number subscribed to a topic: each message as a text message.

    **Outside the template:** a new account's SMS is in the *SMS sandbox*: it can text only
    phone numbers verified in the account (AWS End User Messaging SMS) until AWS moves it to
    production on request. Many countries need an *origination identity* registered before
    any text reaches them (in the US a toll-free number or a 10DLC campaign), and the
    account's monthly SMS spend limit (1 USD by default) caps what is sent. Each message is
    cut into 140-byte parts, each billed: keep what a topic sends to phones short, with a
    filter policy if the topic carries more.

    :param topic: the standard topic to subscribe to.
    :param phone_number: in E.164 form, e.g. ``+14155550100``.

    It also takes the options of every subscriber: :class:`SubscriptionOptions`.
    """

    KIND = "SMS"

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic: sns.ITopic,
        phone_number: str,
        **options: Unpack[SmsSubscriberOptions],
    ) -> None:
        super().__init__(scope, id)
        settings, regions = self._validate_message(
            SMS_OPTIONS,
            topic,
            options,
            "phone_number",
            phone_number,
            _E164,
            "SNS takes E.164 numbers: '+', the country code and the number, at most 15 digits, "
            "no spaces (e.g. '+14155550100')",
        )
        self.phone_number: str = phone_number
        self._subscribe_to(topic, sns.SubscriptionProtocol.SMS, phone_number, settings, regions)


def _region_of(arn: str, env_region: str) -> str:
    """The region an ARN names when it is known at synth (aws-cdk's imports do not always
    carry it into ``env``), else the resource's ``env.region``."""
    if unresolved(arn):
        return env_region
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else env_region


def _check_url(problems: Problems, url: str, *, allow_plain_http: bool) -> sns.SubscriptionProtocol:
    """The subscription protocol of ``url``: HTTPS, or HTTP when plain HTTP is allowed."""
    if unresolved(url):
        return sns.SubscriptionProtocol.HTTP if allow_plain_http else sns.SubscriptionProtocol.HTTPS
    match = _URL.match(url)
    if match is None:
        problems.add("url", url, "must be an https:// URL (SNS POSTs each message to it)")
        return sns.SubscriptionProtocol.HTTPS
    if match.group("scheme").lower() == "http":
        if not allow_plain_http:
            problems.add(
                "url",
                url,
                "is plain HTTP: SNS would send every message and the subscription "
                "confirmation in clear text; use https://, or pass allow_plain_http=True",
            )
        return sns.SubscriptionProtocol.HTTP
    return sns.SubscriptionProtocol.HTTPS


def check_delivery_policy(problems: Problems, policy: sns.DeliveryPolicy) -> None:
    """The limits SNS enforces on an HTTP/S delivery policy (aws-cdk checks a few of them
    with its own errors; these come first, all together, with the option named)."""
    retry = policy.healthy_retry_policy
    if retry is not None:
        _check_retry_policy(problems, retry)
    throttle = policy.throttle_policy
    if throttle is not None and throttle.max_receives_per_second is not None:
        rate = throttle.max_receives_per_second
        problems.check_finite("delivery_policy.throttle_policy.max_receives_per_second", rate)
        if (
            not unresolved(rate)
            and isinstance(rate, int | float)
            and not (rate == int(rate) and rate >= 1)
        ):
            problems.add(
                "delivery_policy.throttle_policy.max_receives_per_second",
                rate,
                "must be a whole number of at least 1",
            )


def _check_retry_policy(problems: Problems, retry: sns.HealthyRetryPolicy) -> None:
    option = "delivery_policy.healthy_retry_policy"
    counts: dict[str, float | None] = {
        "num_retries": retry.num_retries,
        "num_no_delay_retries": retry.num_no_delay_retries,
        "num_min_delay_retries": retry.num_min_delay_retries,
        "num_max_delay_retries": retry.num_max_delay_retries,
    }
    delays: dict[str, Duration | None] = {
        "min_delay_target": retry.min_delay_target,
        "max_delay_target": retry.max_delay_target,
    }
    usable = problems.check_ranges(
        {f"{option}.{name}": value for name, value in {**counts, **delays}.items()},
        {
            **{f"{option}.{name}": (0, MAX_RETRIES) for name in counts},
            **{f"{option}.{name}": (MIN_DELAY, MAX_DELAY) for name in delays},
        },
    )
    number = {
        name: int(value)
        for name, value in counts.items()
        if value is not None and f"{option}.{name}" in usable and not unresolved(value)
    }
    seconds = {
        name: known_seconds(value)
        for name, value in delays.items()
        if value is not None and f"{option}.{name}" in usable
    }
    low, high = seconds.get("min_delay_target"), seconds.get("max_delay_target")
    if low is not None and high is not None and low > high:
        problems.add(
            f"{option}.min_delay_target",
            delays["min_delay_target"],
            f"must not exceed max_delay_target ({int(high)} s)",
        )
    total = number.get("num_retries")
    if total is None:
        return
    immediate = number.get("num_no_delay_retries", 0)
    at_max = number.get("num_max_delay_retries", 0)
    spent = immediate + number.get("num_min_delay_retries", 0) + at_max
    if spent > total:
        problems.add(
            f"{option}.num_retries",
            total,
            f"is the total of all phases, but the immediate, pre-backoff and post-backoff "
            f"retries alone are {spent}: raise num_retries or lower the phases",
        )
        return
    # Every delayed retry waits at least the minimum delay (SNS's default is 20 s), the
    # post-backoff ones the maximum: a lower bound on the time the policy takes.
    at_least = (total - immediate - at_max) * (20.0 if low is None else low) + at_max * (
        20.0 if high is None else high
    )
    if at_least > MAX_DELAY.to_seconds():
        problems.add(
            f"{option}.num_retries",
            total,
            f"with these delays the retries take at least {int(at_least)} s; SNS allows "
            f"{MAX_DELAY.to_seconds()} s for a whole HTTP/S retry policy: fewer retries or "
            "shorter delays",
        )
