"""Metric factories of a :class:`~constructs_lib.QueueWorkerPool`: its workers and its
backlog per worker.

Beside :mod:`.metrics` (the figures of queues, functions and topics), and like them apart
from the alarm builders: a factory knows which metric answers a question and its default
period and statistic. The scaling policies read these metrics as L1 properties (namespace,
name, dimensions, statistic), so each is a plain ``cloudwatch.Metric`` named by dimensions
rather than one attached to a construct.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs

from .metrics import ALARM_PERIOD, MAXIMUM, SUM

AVERAGE = cloudwatch.Stats.AVERAGE

BACKLOG_PER_WORKER = "(visible + in_flight) / IF(workers > 0, workers, 1)"
"""Metric math of one queue's backlog per worker (ids: visible, in_flight, workers); a worker
count of 0 counts as 1, so the backlog itself."""
FROM_ZERO = "IF(FILL(desired, 0) == 0, visible, 0)"
"""Metric math of the messages visible while no worker is wanted (ids: visible, desired)."""


def _metric(
    namespace: str,
    metric_name: str,
    dimensions: Mapping[str, str],
    *,
    period: Duration,
    statistic: str,
) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=metric_name,
        dimensions_map=dict(dimensions),
        statistic=statistic,
        period=period,
    )


class PoolMetrics:
    """How many workers a pool has and wants (by default the Average over one minute).

    EC2 Auto Scaling publishes a group's counts when the group collects its group metrics;
    ECS publishes a service's with Container Insights.
    """

    def __init__(
        self, namespace: str, in_service: str, desired: str, dimensions: Mapping[str, str]
    ) -> None:
        self.namespace = namespace
        self.dimensions = dict(dimensions)
        self._in_service = in_service
        self._desired = desired

    @classmethod
    def of_auto_scaling_group(cls, group_name: str) -> PoolMetrics:
        """The instances of an Auto Scaling group."""
        return cls(
            "AWS/AutoScaling",
            "GroupInServiceInstances",
            "GroupDesiredCapacity",
            {"AutoScalingGroupName": group_name},
        )

    @classmethod
    def of_fargate_service(cls, cluster_name: str, service_name: str) -> PoolMetrics:
        """The tasks of an ECS service (Container Insights)."""
        return cls(
            "ECS/ContainerInsights",
            "RunningTaskCount",
            "DesiredTaskCount",
            {"ClusterName": cluster_name, "ServiceName": service_name},
        )

    def workers_in_service(
        self, *, period: Duration = ALARM_PERIOD, statistic: str = AVERAGE
    ) -> cloudwatch.Metric:
        """Workers running (instances in service, running tasks)."""
        return _metric(
            self.namespace, self._in_service, self.dimensions, period=period, statistic=statistic
        )

    def desired_workers(
        self, *, period: Duration = ALARM_PERIOD, statistic: str = AVERAGE
    ) -> cloudwatch.Metric:
        """Workers wanted (the group's desired capacity, the service's desired count)."""
        return _metric(
            self.namespace, self._desired, self.dimensions, period=period, statistic=statistic
        )


class BacklogMetrics:
    """The backlog of the queues a pool works, alone and per worker (Sum over one minute:
    SQS publishes each figure once a minute, so the Sum is that figure).

    The backlog target tracking holds per worker is every message not yet done: waiting
    (``ApproximateNumberOfMessagesVisible``, id ``visible``) and being worked
    (``ApproximateNumberOfMessagesNotVisible``, id ``in_flight``). With the waiting ones
    alone, a pool that keeps up with a steady stream sees a backlog of 0 and target tracking
    scales it to zero, to be started again by the from-zero alarm minutes later while jobs
    wait; counted with the ones in flight, a busy worker is work (KEDA's SQS scaler counts
    them too), and the pool reaches zero only when nothing is left.

    Several queues' backlog is the sum over them (ids ``visible_1``, ``in_flight_1``,
    ``visible_2``, … in priority order), each term filled with 0 where it has no datapoint:
    SQS stops publishing the metrics of a queue nobody has used for six hours, and a sum with
    one missing term would have no value at all. The from-zero alarm reads the waiting
    messages only (at zero workers nothing is being worked).
    """

    def __init__(self, queues: Sequence[sqs.IQueue]) -> None:
        self.queues = list(queues)
        """At least one (the pool validated them)."""

    def _ids(self, name: str) -> list[str]:
        if len(self.queues) == 1:
            return [name]
        return [f"{name}_{n}" for n in range(1, len(self.queues) + 1)]

    @property
    def visible_ids(self) -> list[str]:
        """The query id of each queue's messages waiting, in priority order."""
        return self._ids("visible")

    @property
    def in_flight_ids(self) -> list[str]:
        """The query id of each queue's messages being worked, in priority order."""
        return self._ids("in_flight")

    @property
    def visible_expression(self) -> str:
        """The messages waiting in every queue, in metric math over :attr:`visible_ids`."""
        if len(self.queues) == 1:
            return "visible"
        return " + ".join(f"FILL({query_id}, 0)" for query_id in self.visible_ids)

    @property
    def backlog_expression(self) -> str:
        """The messages waiting or being worked in every queue, in metric math."""
        if len(self.queues) == 1:
            return "visible + in_flight"
        return " + ".join(
            f"FILL({visible}, 0) + FILL({in_flight}, 0)"
            for visible, in_flight in zip(self.visible_ids, self.in_flight_ids, strict=True)
        )

    @property
    def per_worker_expression(self) -> str:
        """Backlog per worker in metric math (ids: the queues', ``workers``)."""
        return f"({self.backlog_expression}) / IF(workers > 0, workers, 1)"

    @property
    def from_zero_expression(self) -> str:
        """The messages waiting while no worker is wanted (ids: :attr:`visible_ids`,
        ``desired``)."""
        if len(self.queues) == 1:
            return FROM_ZERO
        return f"IF(FILL(desired, 0) == 0, {self.visible_expression}, 0)"

    def tracking_metrics(
        self, *, period: Duration = ALARM_PERIOD, statistic: str = SUM
    ) -> dict[str, cloudwatch.Metric]:
        """Each queue's messages waiting and being worked, named by the queue's name (as a
        scaling policy reads them), by query id: queue by queue, in priority order."""
        metrics: dict[str, cloudwatch.Metric] = {}
        for visible, in_flight, queue in zip(
            self.visible_ids, self.in_flight_ids, self.queues, strict=True
        ):
            for query_id, name in (
                (visible, "ApproximateNumberOfMessagesVisible"),
                (in_flight, "ApproximateNumberOfMessagesNotVisible"),
            ):
                metrics[query_id] = _metric(
                    "AWS/SQS",
                    name,
                    {"QueueName": queue.queue_name},
                    period=period,
                    statistic=statistic,
                )
        return metrics

    def _backlog_metrics(self, **options: Any) -> dict[str, cloudwatch.IMetric]:
        """Each queue's messages waiting and in flight (the queues' own metric helpers, with
        ``options``), by query id."""
        using: dict[str, cloudwatch.IMetric] = {}
        for visible, in_flight, queue in zip(
            self.visible_ids, self.in_flight_ids, self.queues, strict=True
        ):
            using[visible] = queue.metric_approximate_number_of_messages_visible(**options)
            using[in_flight] = queue.metric_approximate_number_of_messages_not_visible(**options)
        return using

    def per_worker(
        self,
        workers: cloudwatch.IMetric,
        *,
        period: Duration = ALARM_PERIOD,
        statistic: str = SUM,
        label: str = "Backlog per worker",
        color: str | None = None,
    ) -> cloudwatch.MathExpression:
        """Messages waiting or being worked (``statistic``) per worker in ``workers``, over
        ``period``.

        The expression's period applies to the metrics it uses, so the queue metrics are
        taken with the queue's own default period.
        """
        using = self._backlog_metrics(statistic=statistic)
        return cloudwatch.MathExpression(
            expression=self.per_worker_expression,
            using_metrics={**using, "workers": workers},
            period=period,
            label=label,
            color=color,
        )

    def while_no_worker_is_wanted(
        self,
        desired: cloudwatch.IMetric,
        *,
        period: Duration = ALARM_PERIOD,
        statistic: str = MAXIMUM,
    ) -> cloudwatch.MathExpression:
        """Messages visible (``statistic``) while ``desired`` workers is zero (or has no
        data), else 0: what starts a pool that scaled to zero."""
        return cloudwatch.MathExpression(
            expression=self.from_zero_expression,
            using_metrics={
                **{
                    query_id: queue.metric_approximate_number_of_messages_visible(
                        period=period, statistic=statistic
                    )
                    for query_id, queue in zip(self.visible_ids, self.queues, strict=True)
                },
                "desired": desired,
            },
            label="Messages visible while no worker is wanted",
            period=period,
        )

    def surplus_expression(self, below: int) -> str:
        """The backlog (messages waiting or in flight) while the workers wanted are more than
        twice as many plus one and it is below ``below``, else -1 (ids: the queues',
        ``desired``). The one more keeps a pool of one worker (and one of two with a message
        left) to target tracking, which alone takes a pool to zero."""
        backlog = f"({self.backlog_expression})"
        return (
            f"IF(FILL(desired, 0) > 2 * {backlog} + 1, IF({backlog} < {below}, {backlog}, -1), -1)"
        )

    def while_workers_outnumber_it(
        self,
        desired: cloudwatch.IMetric,
        below: int,
        *,
        period: Duration = ALARM_PERIOD,
        statistic: str = MAXIMUM,
    ) -> cloudwatch.MathExpression:
        """The backlog (``statistic``, the peak of each minute) while more than twice as many
        workers (plus one) are wanted, and it is below ``below``; else -1: what shrinks a pool
        that has drained its burst, without waiting for target tracking's 15 minutes."""
        using = self._backlog_metrics(period=period, statistic=statistic)
        return cloudwatch.MathExpression(
            expression=self.surplus_expression(below),
            using_metrics={**using, "desired": desired},
            label="Messages waiting or in flight, while fewer than half the workers wanted",
            period=period,
        )
