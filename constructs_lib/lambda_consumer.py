"""LambdaConsumer: a Lambda function draining a queue with partial-batch failure reporting."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TypedDict

from aws_cdk import Annotations, Duration, Token
from aws_cdk import aws_cloudwatch as cloudwatch
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
from ._private.validation import Problems, describe, is_queue
from .consumer_queue import ConsumerQueue


def wrong_type(option: str, value: object, what: str) -> TypeError:  # temporary shim
    """Temporary: the removed ``_private.validation.wrong_type`` (until this module is
    converted to ``Problems``)."""
    return TypeError(f"{option}: expected {what}, got {type(value).__name__} {value!r:.80}")


def expect_type(option: str, value: object, types: tuple[type, ...], what: str) -> None:
    """Temporary: the removed ``_private.validation.expect_type``."""
    if not isinstance(value, types):
        raise wrong_type(option, value, what)

DEFAULT_MEMORY_SIZE = 256
DEFAULT_BATCH_SIZE = 10
DEFAULT_LOG_RETENTION = logs.RetentionDays.ONE_MONTH

MAX_TIMEOUT = Duration.minutes(15)
MAX_BATCHING_WINDOW = Duration.minutes(5)
VISIBILITY_FACTOR = 6


class LambdaConsumerOptions(TypedDict, total=False):
    """The optional settings of :class:`LambdaConsumer` (all but ``queue``, ``code``, ``handler``).

    :meth:`FanoutTopic.add_lambda_consumer` takes these as keyword arguments.
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
    * alarms on function errors and throttles.

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
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        queue: ConsumerQueue | sqs.IQueue,
        code: lambda_.Code,
        handler: str,
        runtime: lambda_.Runtime = DEFAULT_RUNTIME,
        architecture: lambda_.Architecture = lambda_.Architecture.ARM_64,
        timeout: Duration = DEFAULT_TIMEOUT,
        memory_size: int = DEFAULT_MEMORY_SIZE,
        environment: Mapping[str, str] | None = None,
        layers: Sequence[lambda_.ILayerVersion] = (),
        powertools_layer: bool | None = None,
        service_name: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_batching_window: Duration | None = None,
        max_concurrency: int | None = None,
        reserved_concurrent_executions: int | None = None,
        log_retention: logs.RetentionDays = DEFAULT_LOG_RETENTION,
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, id)
        if not isinstance(queue, ConsumerQueue) and not is_queue(queue):
            raise wrong_type("queue", queue, "a ConsumerQueue or an sqs.IQueue")
        expect_type("code", code, (lambda_.Code,), "a lambda_.Code, e.g. Code.from_asset(folder)")
        expect_type("runtime", runtime, (lambda_.Runtime,), "a lambda_.Runtime")
        self.consumer_queue = queue if isinstance(queue, ConsumerQueue) else None
        self.queue: sqs.IQueue = queue.queue if isinstance(queue, ConsumerQueue) else queue

        problems = Problems()
        problems.check_alarm_topic("alarm_topic", alarm_topic)
        if powertools_layer is None:
            powertools_layer = powertools_layer_supported(runtime)
        elif powertools_layer and not powertools_layer_supported(runtime):
            problems.add(
                "powertools_layer",
                powertools_layer,
                f"Powertools for AWS Lambda (Python) publishes no layer for {runtime.name}, "
                f"only for {', '.join(sorted(POWERTOOLS_RUNTIMES))}: drop the option or pick "
                "one of those runtimes",
            )
        check_handler(problems, "handler", handler)
        if isinstance(environment, Mapping | None):  # anything else is reported as it is
            environment = {"POWERTOOLS_SERVICE_NAME": service_name or id, **(environment or {})}
        problems.check_environment("environment", environment, LAMBDA_ENVIRONMENT)
        timeout_ok = problems.check_duration("timeout", timeout, Duration.seconds(1), MAX_TIMEOUT)
        problems.check_int("memory_size", memory_size, 128, 10240)
        self._check_batching(problems, batch_size, max_batching_window)
        if max_concurrency is not None:
            problems.check_int("max_concurrency", max_concurrency, 2, 1000)
        if reserved_concurrent_executions is not None:
            problems.check_int(
                "reserved_concurrent_executions", reserved_concurrent_executions, 0, 1_000_000
            )
        if timeout_ok:
            self._check_visibility(problems, timeout, max_batching_window)
        problems.raise_if_any(self)
        if reserved_concurrent_executions == 0:
            Annotations.of(self).add_warning_v2(
                "constructs-lib:zeroReservedConcurrency",
                "reserved_concurrent_executions=0 stops the function from ever running: the "
                "queue's messages are not processed (after their retention they are lost). "
                "Drop the option, or reserve at least 1 (0 is how AWS throttles a function on "
                "purpose; acknowledge this warning if that is what you mean).",
            )
        if (
            max_concurrency is not None
            and reserved_concurrent_executions is not None
            and not Token.is_unresolved(max_concurrency)
            and not Token.is_unresolved(reserved_concurrent_executions)
            and reserved_concurrent_executions < max_concurrency
        ):
            Annotations.of(self).add_warning_v2(
                "constructs-lib:reservedBelowMaxConcurrency",
                f"reserved_concurrent_executions={reserved_concurrent_executions} is below "
                f"max_concurrency={max_concurrency}: the poller will be throttled and records "
                "will be retried and may be dead-lettered; raise the reservation or lower "
                "max_concurrency.",
            )

        built = least_privilege_function(
            self,
            code=code,
            handler=handler,
            description=f"Consumes {self.queue.node.path} ({self.node.path})",
            runtime=runtime,
            architecture=architecture,
            timeout=timeout,
            memory_size=memory_size,
            environment=environment,
            layers=layers,
            powertools_layer=powertools_layer,
            reserved_concurrent_executions=reserved_concurrent_executions,
            log_retention=log_retention,
        )
        self.function = built.function
        self.role = built.role
        self.log_group = built.log_group
        self.queue.grant_consume_messages(self.role)
        self.event_source_mapping = lambda_.EventSourceMapping(
            self,
            "EventSourceMapping",
            target=self.function,
            event_source_arn=self.queue.queue_arn,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            max_concurrency=max_concurrency,
            report_batch_item_failures=True,
        )
        self.errors_alarm: cloudwatch.Alarm | None = None
        self.throttles_alarm: cloudwatch.Alarm | None = None
        if alarms:
            self.errors_alarm = monitoring.at_least_once_alarm(
                self,
                "ErrorsAlarm",
                metric=self.metric_errors(),
                description=f"{self.node.path}: the function failed (crash or timeout); "
                "its whole batch is retried",
            )
            self.throttles_alarm = monitoring.at_least_once_alarm(
                self,
                "ThrottlesAlarm",
                metric=self.metric_throttles(),
                description=f"{self.node.path}: invocations were throttled; records wait "
                "and may be dead-lettered",
            )
            for alarm in (self.errors_alarm, self.throttles_alarm):
                monitoring.notify(alarm, alarm_topic)

    def _check_batching(
        self, problems: Problems, batch_size: int, max_batching_window: Duration | None
    ) -> None:
        fifo = self.queue.fifo
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
            and not Token.is_unresolved(batch_size)
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
        self, problems: Problems, timeout: Duration, max_batching_window: Duration | None
    ) -> None:
        if max_batching_window is not None and max_batching_window.is_unresolved():
            return
        if timeout.is_unresolved():
            return
        visibility = self._queue_visibility_timeout()
        required = required_visibility_timeout(timeout, max_batching_window)
        if visibility is None:
            Annotations.of(self).add_warning_v2(
                "constructs-lib:unknownVisibilityTimeout",
                f"cannot read the visibility timeout of {self.queue.node.path}: make sure it is "
                f"at least {required.to_seconds()} seconds (6 x timeout + batching window), or "
                "messages will be processed twice at once.",
            )
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
            f"{self.queue.node.path} with visibility_timeout={describe(visibility)}",
            f"a queue drained by Lambda needs a visibility timeout of at least "
            f"{VISIBILITY_FACTOR} x timeout {timeout.to_seconds()} s{window} = "
            f"{required.to_seconds()} seconds; raise the queue's visibility_timeout to "
            f"Duration.seconds({required.to_seconds()}) or lower timeout",
        )

    def _queue_visibility_timeout(self) -> Duration | None:
        if self.consumer_queue is not None:
            return self.consumer_queue.visibility_timeout
        cfn = self.queue.node.default_child
        if isinstance(cfn, sqs.CfnQueue):
            seconds = cfn.visibility_timeout
            return Duration.seconds(30 if seconds is None else seconds)
        return None

    # -- metrics -------------------------------------------------------------------------

    def metric_errors(self) -> cloudwatch.Metric:
        """Invocations that failed (Sum, 1 minute)."""
        return self.function.metric_errors(
            period=monitoring.ALARM_PERIOD, statistic=cloudwatch.Stats.SUM
        )

    def metric_throttles(self) -> cloudwatch.Metric:
        """Throttled invocations (Sum, 1 minute)."""
        return self.function.metric_throttles(
            period=monitoring.ALARM_PERIOD, statistic=cloudwatch.Stats.SUM
        )

    def metric_duration(self) -> cloudwatch.Metric:
        """Invocation duration (p99, 1 minute)."""
        return self.function.metric_duration(period=monitoring.ALARM_PERIOD, statistic="p99")
