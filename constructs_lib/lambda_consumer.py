"""LambdaConsumer: a Lambda function draining a queue with partial-batch failure reporting."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TypedDict, Unpack

from aws_cdk import Annotations, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ._private import monitoring
from ._private.functions import (
    DEFAULT_RUNTIME,
    DEFAULT_TIMEOUT,
    LAMBDA_ENVIRONMENT,
    POWERTOOLS_RUNTIMES,
    check_handler,
    least_privilege_function,
    powertools_layer_supported,
)
from ._private.metrics import MetricOptions, metric_of
from ._private.options import Declared
from ._private.queue_facts import QueueFacts, queue_facts
from ._private.validation import Problems, Range, describe, unresolved
from .consumer_queue import ConsumerQueue

DEFAULT_MEMORY_SIZE = 256
DEFAULT_BATCH_SIZE = 10
DEFAULT_LOG_RETENTION = logs.RetentionDays.ONE_MONTH

MAX_TIMEOUT = Duration.minutes(15)
MAX_BATCHING_WINDOW = Duration.minutes(5)
VISIBILITY_FACTOR = 6
MAX_MIN_POLLERS = 200
MAX_MAX_POLLERS = 2000
"""Lambda's provisioned mode for SQS: 2..200 minimum and 2..2,000 maximum event pollers
(Lambda's current API takes up to 10,000 for SQS; CloudFormation's schema through aws-cdk-lib
2.275, and that CDK's own check, stop at 2,000)."""


class LambdaConsumerOptions(TypedDict, total=False):
    """The options of :class:`LambdaConsumer` other than ``queue``, ``code`` and
    ``handler``, declared once: the constructor and :meth:`FanoutTopic.add_lambda_consumer`
    take them as keyword arguments; see :class:`LambdaConsumer` for each one's default.
    """

    runtime: lambda_.Runtime
    architecture: lambda_.Architecture
    timeout: Duration
    memory_size: int
    environment: Mapping[str, str] | None
    layers: Sequence[lambda_.ILayerVersion]
    powertools_layer: bool | None
    service_name: str | None
    batch_size: int
    max_batching_window: Duration | None
    max_concurrency: int | None
    reserved_concurrent_executions: int | None
    log_retention: logs.RetentionDays
    alarms: bool
    alarm_topic: sns.ITopic | None
    min_pollers: int | None
    max_pollers: int | None
    event_source_metrics: bool


RANGES: dict[str, Range] = {
    "timeout": (Duration.seconds(1), MAX_TIMEOUT),
    "memory_size": (128, 10240),
    "max_concurrency": (2, 1000),
    "reserved_concurrent_executions": (0, 1_000_000),
    "min_pollers": (2, MAX_MIN_POLLERS),
    "max_pollers": (2, MAX_MAX_POLLERS),
}
"""What Lambda accepts for the numeric options with fixed bounds (batching depends on the
queue type: :meth:`LambdaConsumer._check_batching`)."""

OPTIONS = Declared(
    construct="LambdaConsumer",
    options=LambdaConsumerOptions,
    defaults=LambdaConsumerOptions(
        runtime=DEFAULT_RUNTIME,
        architecture=lambda_.Architecture.ARM_64,
        timeout=DEFAULT_TIMEOUT,
        memory_size=DEFAULT_MEMORY_SIZE,
        environment=None,
        layers=(),
        powertools_layer=None,
        service_name=None,
        batch_size=DEFAULT_BATCH_SIZE,
        max_batching_window=None,
        max_concurrency=None,
        reserved_concurrent_executions=None,
        log_retention=DEFAULT_LOG_RETENTION,
        alarms=True,
        alarm_topic=None,
        min_pollers=None,
        max_pollers=None,
        event_source_metrics=True,
    ),
    expected={
        "queue": "a ConsumerQueue or an sqs.IQueue",
        "code": "a lambda_.Code, e.g. Code.from_asset(folder)",
    },
)


def required_visibility_timeout(
    timeout: Duration, max_batching_window: Duration | None
) -> Duration:
    """The visibility timeout AWS recommends for a queue drained by Lambda.

    Six times the function timeout plus the batching window: a batch that times out and is
    retried a few times is still invisible to other pollers the whole time.
    """
    window = max_batching_window.to_seconds(integral=False) if max_batching_window else 0
    return Duration.seconds(
        math.ceil(VISIBILITY_FACTOR * timeout.to_seconds(integral=False) + window)
    )


class LambdaConsumer(Construct):
    """A Lambda function that consumes a queue and reports failures per record.

    What you get by default:

    * an SQS event source mapping with ``ReportBatchItemFailures`` always on: the handler
      returns the ids of the records it could not process, only those are retried, and after
      the queue's max receive count they move to its dead-letter queue;
    * a check that the queue's visibility timeout is at least six times the function timeout
      plus the batching window (a synth error naming the number to raise);
    * least privilege: its own role with consume rights on its queue and decrypt on that
      queue's key only, write access to its own log group, no AWS-managed policies;
    * its own log group with a retention period, active X-Ray tracing, the newest Python
      runtime this CDK version knows, on Graviton (arm64);
    * the Powertools for AWS Lambda (Python) layer, resolved per region from the SSM
      parameter Powertools publishes (no Docker bundling);
    * alarms on function errors and throttles;
    * the mapping's event counts published (``event_source_metrics``), read through the
      ``metric_*_event_count`` methods.

    :param queue: the queue to consume: a :class:`ConsumerQueue` or any ``sqs.IQueue``.
    :param code: the function code, e.g. ``lambda_.Code.from_asset("lambda_src/billing")``.
    :param handler: the entry point, e.g. ``"handler.handler"``.
    :param runtime: Default: Python 3.14.
    :param architecture: Default: ARM_64.
    :param timeout: 1 s..15 min. Default: 30 seconds.
    :param memory_size: 128..10240 MB. Default: 256.
    :param environment: extra environment variables: names Lambda accepts and does not
        reserve, at most 4 KB with the library's own. Default: none.
    :param layers: extra layers. Default: none.
    :param powertools_layer: add the Powertools for AWS Lambda (Python) layer. Default: True
        for the Python runtimes Powertools publishes it for (3.9 to 3.14), False for any
        other runtime; True with another runtime is a synth error.
    :param service_name: ``POWERTOOLS_SERVICE_NAME``. Default: the construct id.
    :param batch_size: records per invocation: 1..10 on FIFO queues, 1..10000 on standard
        queues (above 10 needs a batching window of at least 1 second). Default: 10.
    :param max_batching_window: 0..300 s, standard queues only. Default: none.
    :param max_concurrency: 2..1000 concurrent invocations for this source. Default: no limit.
    :param reserved_concurrent_executions: 0..1,000,000. Default: none (unreserved account
        concurrency). 0 stops the function from ever running (a synth warning says so).
    :param log_retention: Default: one month.
    :param alarms: create the errors and throttles alarms. Default: True.
    :param alarm_topic: topic for alarm and OK notifications. Default: none.
    :param min_pollers: provisioned mode: the event pollers Lambda keeps ready for the queue,
        2..200 (each handles up to about 5 MB/s, scales 3 times faster than the default
        mode, and is billed while provisioned); not with ``max_concurrency`` (Lambda takes one
        or the other: a synth error). Default: none (Lambda's default scaling; with only
        ``max_pollers`` given, Lambda's 2).
    :param max_pollers: provisioned mode: the most event pollers Lambda scales to, 2..2,000,
        at least ``min_pollers``; not with ``max_concurrency``. Default: none (with only
        ``min_pollers`` given, Lambda's 200).
    :param event_source_metrics: have Lambda publish the event source mapping's event counts
        (``MetricsConfig`` ``EventCount``: polled, invoked, filtered out, failed and deleted
        messages, read by the ``metric_*_event_count`` methods). Default: True.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        queue: ConsumerQueue | sqs.IQueue,
        code: lambda_.Code,
        handler: str,
        **options: Unpack[LambdaConsumerOptions],
    ) -> None:
        super().__init__(scope, id)
        self.consumer_queue: ConsumerQueue | None
        """The ConsumerQueue drained, when it was given as one."""
        self.queue: sqs.IQueue
        """The SQS queue drained."""
        self.function: lambda_.Function
        self.role: iam.Role
        """The function's own role: consume rights on the queue, its key and its logs."""
        self.log_group: logs.LogGroup
        self.event_source_mapping: lambda_.EventSourceMapping
        self.errors_alarm: cloudwatch.Alarm | None = None
        """Any failed invocation (None with ``alarms=False``)."""
        self.throttles_alarm: cloudwatch.Alarm | None = None
        """Any throttled invocation (None with ``alarms=False``)."""
        settings, facts = self._validate(queue, code, handler, options)
        self.event_source_metrics: bool = settings["event_source_metrics"]
        """Whether Lambda publishes the event source mapping's event counts."""
        self.consumer_queue = facts.consumer_queue
        self.queue = facts.queue
        self._warn(settings, facts)
        self._build_function(code, handler, settings)
        self._wire(settings)

    # -- validate ------------------------------------------------------------------------

    def _validate(
        self,
        queue: object,
        code: lambda_.Code,
        handler: str,
        options: LambdaConsumerOptions,
    ) -> tuple[LambdaConsumerOptions, QueueFacts]:
        """Every rule on the options, all problems raised together: the settings (the
        environment with ``POWERTOOLS_SERVICE_NAME``, ``powertools_layer`` decided) and the
        facts of the queue."""
        problems = Problems()
        settings = OPTIONS.settle(self, options, problems, queue=queue, code=code, handler=handler)
        problems.raise_if_any(self)
        facts = queue_facts(queue)  # type: ignore[arg-type]  # its type was checked just above
        runtime = settings["runtime"]
        problems.check_alarm_topic("alarm_topic", settings["alarm_topic"])
        if settings["powertools_layer"] is None:
            settings["powertools_layer"] = powertools_layer_supported(runtime)
        elif settings["powertools_layer"] and not powertools_layer_supported(runtime):
            problems.add(
                "powertools_layer",
                settings["powertools_layer"],
                f"Powertools for AWS Lambda (Python) publishes no layer for {runtime.name}, "
                f"only for {', '.join(sorted(POWERTOOLS_RUNTIMES))}: drop the option or pick "
                "one of those runtimes",
            )
        check_handler(problems, "handler", handler)
        settings["environment"] = {
            "POWERTOOLS_SERVICE_NAME": settings["service_name"] or self.node.id,
            **(settings["environment"] or {}),
        }
        problems.check_environment("environment", settings["environment"], LAMBDA_ENVIRONMENT)
        timeout = settings["timeout"]
        usable = problems.check_ranges(settings, RANGES)
        _check_batching(problems, facts, settings["batch_size"], settings["max_batching_window"])
        if "timeout" in usable:
            _check_visibility(problems, facts, timeout, settings["max_batching_window"])
        _check_pollers(problems, settings, usable)
        problems.raise_if_any(self)
        return settings, facts

    def _warn(self, settings: LambdaConsumerOptions, facts: QueueFacts) -> None:
        """Settings AWS accepts that stop or slow the consumer, or that cannot be checked at
        synth: synth warnings."""
        timeout, window = settings["timeout"], settings["max_batching_window"]
        if timeout.is_unresolved() or (window is not None and window.is_unresolved()):
            Annotations.of(self).add_warning_v2(
                "constructs-lib:deployTimeTimeout",
                f"timeout or max_batching_window is known only at deploy time, so the "
                f"visibility timeout of {self.queue.node.path} cannot be checked against it: "
                "make sure it is at least 6 x timeout + batching window, or messages will be "
                "processed twice at once (through FanoutTopic.add_lambda_consumer, set "
                "queue_options={'visibility_timeout': ...}: the queue keeps SQS's 30 s "
                "otherwise).",
            )
        else:
            required = required_visibility_timeout(timeout, window)
            facts.warn_if_visibility_unknown(
                self,
                f"at least {required.to_seconds()} seconds (6 x timeout + batching window), or "
                "messages will be processed twice at once",
            )
        reserved = settings["reserved_concurrent_executions"]
        max_concurrency = settings["max_concurrency"]
        if reserved == 0:
            Annotations.of(self).add_warning_v2(
                "constructs-lib:zeroReservedConcurrency",
                "reserved_concurrent_executions=0 stops the function from ever running: the "
                "queue's messages are not processed (after their retention they are lost). "
                "Drop the option, or reserve at least 1 (0 is how AWS throttles a function on "
                "purpose; acknowledge this warning if that is what you mean).",
            )
        if (
            max_concurrency is not None
            and reserved is not None
            and not unresolved(max_concurrency)
            and not unresolved(reserved)
            and reserved < max_concurrency
        ):
            Annotations.of(self).add_warning_v2(
                "constructs-lib:reservedBelowMaxConcurrency",
                f"reserved_concurrent_executions={reserved} is below "
                f"max_concurrency={max_concurrency}: the poller will be throttled and records "
                "will be retried and may be dead-lettered; raise the reservation or lower "
                "max_concurrency.",
            )

    # -- build ---------------------------------------------------------------------------

    def _build_function(
        self, code: lambda_.Code, handler: str, settings: LambdaConsumerOptions
    ) -> None:
        built = least_privilege_function(
            self,
            code=code,
            handler=handler,
            description=f"Consumes {self.queue.node.path} ({self.node.path})",
            runtime=settings["runtime"],
            architecture=settings["architecture"],
            timeout=settings["timeout"],
            memory_size=settings["memory_size"],
            environment=settings["environment"],
            layers=settings["layers"],
            powertools_layer=bool(settings["powertools_layer"]),
            reserved_concurrent_executions=settings["reserved_concurrent_executions"],
            log_retention=settings["log_retention"],
        )
        self.function = built.function
        self.role = built.role
        self.log_group = built.log_group

    # -- wire ----------------------------------------------------------------------------

    def _wire(self, settings: LambdaConsumerOptions) -> None:
        """Consume rights, the event source mapping and the alarms."""
        self.queue.grant_consume_messages(self.role)
        self.event_source_mapping = lambda_.EventSourceMapping(
            self,
            "EventSourceMapping",
            target=self.function,
            event_source_arn=self.queue.queue_arn,
            batch_size=settings["batch_size"],
            max_batching_window=settings["max_batching_window"],
            max_concurrency=settings["max_concurrency"],
            report_batch_item_failures=True,
            provisioned_poller_config=_poller_config(settings),
            metrics_config=lambda_.MetricsConfig(metrics=[lambda_.MetricType.EVENT_COUNT])
            if settings["event_source_metrics"]
            else None,
        )
        if settings["alarms"]:
            self.errors_alarm, self.throttles_alarm = (
                monitoring.at_least_once_alarm(
                    self,
                    alarm_id,
                    metric=metric,
                    description=f"{self.node.path}: {what}",
                    alarm_topic=settings["alarm_topic"],
                )
                for alarm_id, metric, what in (
                    (
                        "ErrorsAlarm",
                        self.metric_errors(),
                        "the function failed (crash or timeout); its whole batch is retried",
                    ),
                    (
                        "ThrottlesAlarm",
                        self.metric_throttles(),
                        "invocations were throttled; records wait and may be dead-lettered",
                    ),
                )
            )

    # -- metrics -------------------------------------------------------------------------

    def metric_errors(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Invocations that failed: a crash, an unhandled exception or a timeout (the whole
        batch is retried). Default: Sum over 1 minute."""
        return metric_of(self, self.function, "Errors", options)

    def metric_throttles(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Invocations refused for lack of concurrency. Default: Sum over 1 minute."""
        return metric_of(self, self.function, "Throttles", options)

    def metric_duration(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """How long invocations ran. Default: p99 over 1 minute."""
        return metric_of(self, self.function, "Duration", options)

    # The event source mapping's event counts (``event_source_metrics``), per mapping.

    def metric_polled_event_count(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Messages the mapping read from the queue. Default: Sum over 1 minute."""
        return self._event_count("PolledEventCount", options)

    def metric_invoked_event_count(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Messages handed to the function. Default: Sum over 1 minute."""
        return self._event_count("InvokedEventCount", options)

    def metric_filtered_out_event_count(
        self, **options: Unpack[MetricOptions]
    ) -> cloudwatch.Metric:
        """Messages a filter of the mapping dropped. Default: Sum over 1 minute."""
        return self._event_count("FilteredOutEventCount", options)

    def metric_failed_invoke_event_count(
        self, **options: Unpack[MetricOptions]
    ) -> cloudwatch.Metric:
        """Messages whose invocation failed or that the handler reported as failed (they are
        retried, then dead-lettered). Default: Sum over 1 minute."""
        return self._event_count("FailedInvokeEventCount", options)

    def metric_deleted_event_count(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Messages the mapping deleted from the queue after the function processed them.
        Default: Sum over 1 minute."""
        return self._event_count("DeletedEventCount", options)

    def _event_count(self, name: str, options: MetricOptions) -> cloudwatch.Metric:
        if not self.event_source_metrics:
            Annotations.of(self).add_warning_v2(
                "constructs-lib:eventSourceMetricsOff",
                f"{name} is read with event_source_metrics=False: Lambda publishes no event "
                "counts for this mapping, so the metric has no data. Drop the option (it is on "
                "by default) or read another metric.",
            )
        return metric_of(self, self.event_source_mapping, name, options)


def _poller_config(settings: LambdaConsumerOptions) -> lambda_.ProvisionedPollerConfig | None:
    """Provisioned mode when either bound is given (Lambda's default for the other)."""
    low, high = settings["min_pollers"], settings["max_pollers"]
    if low is None and high is None:
        return None
    return lambda_.ProvisionedPollerConfig(minimum_pollers=low, maximum_pollers=high)


def _check_pollers(problems: Problems, settings: LambdaConsumerOptions, usable: set[str]) -> None:
    """Provisioned mode excludes max_concurrency; its minimum is at most its maximum."""
    low, high = settings["min_pollers"], settings["max_pollers"]
    if low is None and high is None:
        return
    if settings["max_concurrency"] is not None:
        given = ", ".join(
            f"{name}={value}"
            for name, value in (("min_pollers", low), ("max_pollers", high))
            if value is not None
        )
        problems.add(
            "max_concurrency",
            settings["max_concurrency"],
            f"cannot be set with provisioned pollers ({given}): Lambda scales an SQS mapping "
            "either by maximum concurrency or in provisioned mode; drop one of them",
        )
    if (
        {"min_pollers", "max_pollers"} <= usable  # both given and in range (alone, Lambda's
        and not unresolved(low)  # default for the other bound fits)
        and not unresolved(high)
        and (low or 0) > (high or 0)
    ):
        problems.add(
            "min_pollers",
            low,
            f"is more than max_pollers={high}: raise max_pollers or lower min_pollers",
        )


def _check_batching(
    problems: Problems,
    facts: QueueFacts,
    batch_size: int,
    max_batching_window: Duration | None,
) -> None:
    """Lambda's batch limits, which depend on the queue type."""
    fifo = facts.fifo
    if fifo:
        problems.check_int("batch_size", batch_size, 1, 10)
        if max_batching_window is not None:
            problems.add(
                "max_batching_window",
                max_batching_window,
                "Lambda does not support a batching window on FIFO queues; drop the option",
            )
        return
    problems.check_int("batch_size", batch_size, 1, 10000)
    window_ok = problems.check_duration(
        "max_batching_window", max_batching_window, Duration.seconds(0), MAX_BATCHING_WINDOW
    )
    if (
        window_ok
        and not unresolved(batch_size)
        and batch_size > 10
        and (
            max_batching_window is None
            or (
                not max_batching_window.is_unresolved()
                and max_batching_window.to_seconds(integral=False) < 1
            )
        )
    ):
        problems.add(
            "batch_size",
            batch_size,
            "above 10 Lambda requires max_batching_window of at least 1 second; "
            "set max_batching_window or use batch_size<=10",
        )


def _check_visibility(
    problems: Problems,
    facts: QueueFacts,
    timeout: Duration,
    max_batching_window: Duration | None,
) -> None:
    """The queue's visibility timeout covers 6 x timeout + batching window, where both
    are known at synth."""
    if max_batching_window is not None and max_batching_window.is_unresolved():
        return
    if timeout.is_unresolved():
        return
    visibility = facts.visibility_timeout
    required = required_visibility_timeout(timeout, max_batching_window)
    if visibility is None:
        return
    if visibility.is_unresolved() or visibility.to_seconds() >= required.to_seconds():
        return
    window = (
        f" + max_batching_window {max_batching_window.to_seconds()} s"
        if (max_batching_window is not None)
        else ""
    )
    problems.add(
        "queue",
        f"{facts.queue.node.path} with visibility_timeout={describe(visibility)}",
        f"a queue drained by Lambda needs a visibility timeout of at least "
        f"{VISIBILITY_FACTOR} x timeout {timeout.to_seconds()} s{window} = "
        f"{required.to_seconds()} seconds; raise the queue's visibility_timeout to "
        f"Duration.seconds({required.to_seconds()}) or lower timeout",
    )
