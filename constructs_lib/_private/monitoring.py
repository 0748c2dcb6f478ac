"""Alarm builders: opt-in per construct, named, with optional SNS actions.

They take their metrics from the factories of :mod:`.metrics` (or a construct's
``metric_*`` methods) and only add thresholds that mean "a human should look"; the
Metrics Insights query alarms that cover many queues at once are here too.
"""

from __future__ import annotations

from collections.abc import Sequence

import jsii
from aws_cdk import Duration, IStableStringProducer, Lazy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from .metrics import ALARM_PERIOD
from .validation import unresolved

MAX_QUERY_LENGTH = 2048
"""CloudWatch's limit on a metric query expression (``MetricDataQuery.Expression``)."""
MAX_QUEUES_PER_QUERY = 100
"""A multi-time-series alarm reports at most 100 contributors in ALARM; a query never
names more queues than that, so every breaching queue is listed (and the query stays far
below Metrics Insights' 500 returned time series)."""
UNRESOLVED_NAME_LENGTH = 80
"""Length assumed for a queue name only known at deploy time (SQS allows 80 characters)."""


def queue_not_empty_alarm(
    scope: Construct, id: str, *, metric: cloudwatch.IMetric, description: str
) -> cloudwatch.Alarm:
    """Alarm as soon as a queue (a dead-letter queue) holds any message: ``metric`` is its
    visible messages."""
    return at_least_once_alarm(scope, id, metric=metric, description=description)


def at_least_once_alarm(
    scope: Construct,
    id: str,
    *,
    metric: cloudwatch.IMetric,
    description: str,
    alarm_topic: sns.ITopic | None = None,
) -> cloudwatch.Alarm:
    """Alarm on the first minute in which ``metric`` reaches 1 (missing data is fine),
    notifying ``alarm_topic`` (see :func:`notify`)."""
    alarm = cloudwatch.Alarm(
        scope,
        id,
        metric=metric,
        alarm_description=description,
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    notify(alarm, alarm_topic)
    return alarm


def oldest_message_age_alarm(
    scope: Construct,
    id: str,
    *,
    metric: cloudwatch.Metric,
    threshold: Duration,
    description: str,
) -> cloudwatch.Alarm:
    """Alarm when a queue's oldest message (``metric``: its age) has waited longer than
    ``threshold``.

    Three consecutive one-minute periods must breach, so a single slow batch does not page.
    """
    return metric.create_alarm(
        scope,
        id,
        alarm_description=description,
        threshold=threshold.to_seconds(),
        evaluation_periods=3,
        datapoints_to_alarm=3,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )


def notify(alarm: cloudwatch.Alarm, topic: sns.ITopic | None) -> None:
    """Send the alarm's ALARM and OK transitions to ``topic`` when one is given.

    A topic encrypted with a customer-managed key defined in this app (a FanoutTopic's
    ``topic``, say) gets a key-policy statement letting CloudWatch publish: without it the
    alarm changes state but its notification is dropped. An imported topic's key policy is
    its owner's to change.
    """
    if topic is None:
        return
    _let_cloudwatch_use_the_key_of(topic)
    action = cw_actions.SnsAction(topic)
    alarm.add_alarm_action(action)
    alarm.add_ok_action(action)


_CLOUDWATCH_ALLOWED = "_constructs_lib_cloudwatch_may_publish"


def _let_cloudwatch_use_the_key_of(topic: sns.ITopic) -> None:
    key = getattr(topic, "master_key", None)
    if not isinstance(key, kms.Key) or getattr(key, _CLOUDWATCH_ALLOWED, False):
        return
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchAlarmsPublishToTheTopic",
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": Stack.of(key).account}},
        )
    )
    setattr(key, _CLOUDWATCH_ALLOWED, True)


def queues_query(metric_name: str, queue_names: Sequence[str]) -> str:
    """A Metrics Insights query returning ``metric_name`` of each named queue (Maximum).

    One time series per queue (``GROUP BY QueueName``), highest first: as an alarm, each
    queue is a contributor with its own state, so the alarm names the breaching queue.
    """
    where = " OR ".join(f"QueueName = '{name}'" for name in queue_names)
    return (
        f'SELECT MAX({metric_name}) FROM SCHEMA("AWS/SQS", QueueName) WHERE {where} '
        "GROUP BY QueueName ORDER BY MAX() DESC"
    )


@jsii.implements(IStableStringProducer)
class _QueryProducer:
    def __init__(self, metric_name: str, queue_names: list[str]) -> None:
        self._metric_name = metric_name
        self._queue_names = queue_names

    def produce(self) -> str:
        return queues_query(self._metric_name, self._queue_names)


class QueueQueryAlarm:
    """One CloudWatch alarm on a Metrics Insights query over a growing set of queues.

    Queues join with :meth:`try_add` until the query would exceed CloudWatch's expression
    length or :data:`MAX_QUEUES_PER_QUERY`. The query is rendered at synth, so it names
    every queue added until then.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        metric_name: str,
        threshold: float,
        comparison_operator: cloudwatch.ComparisonOperator,
        evaluation_periods: int,
        description: str,
        label: str,
    ) -> None:
        self.metric_name = metric_name
        self.queue_names: list[str] = []
        self._length = len(queues_query(metric_name, []))
        expression = cloudwatch.MathExpression(
            expression=Lazy.string(_QueryProducer(metric_name, self.queue_names)),
            period=ALARM_PERIOD,
            label=label,
        )
        self.alarm = expression.create_alarm(
            scope,
            id,
            alarm_description=description,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=evaluation_periods,
            comparison_operator=comparison_operator,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def try_add(self, queue_name: str) -> bool:
        """Add ``queue_name`` to the query if it still fits; False when it does not."""
        if len(self.queue_names) >= MAX_QUEUES_PER_QUERY:
            return False
        length = self._added_length(queue_name)
        if self._length + length > MAX_QUERY_LENGTH:
            return False
        self.add(queue_name)
        return True

    def add(self, queue_name: str) -> None:
        """Add ``queue_name`` to the query (the first name of a new query always fits: a
        queue name has at most 80 characters)."""
        self._length += self._added_length(queue_name)
        self.queue_names.append(queue_name)

    def _added_length(self, queue_name: str) -> int:
        return query_term_length(queue_name, first=not self.queue_names)


def query_term_length(queue_name: str, *, first: bool) -> int:
    """What naming ``queue_name`` adds to a :func:`queues_query` (a name known only at deploy
    time counts as the longest a queue name can be)."""
    name_length = UNRESOLVED_NAME_LENGTH if unresolved(queue_name) else len(queue_name)
    return len("QueueName = ''") + name_length + (0 if first else len(" OR "))


def dead_letter_query_alarm(scope: Construct, id: str, *, description: str) -> QueueQueryAlarm:
    """Alarm as soon as any of its dead-letter queues holds a message (per queue)."""
    return QueueQueryAlarm(
        scope,
        id,
        metric_name="ApproximateNumberOfMessagesVisible",
        threshold=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluation_periods=1,
        description=description,
        label="Dead-lettered messages",
    )


def message_age_query_alarm(
    scope: Construct, id: str, *, threshold: Duration, description: str
) -> QueueQueryAlarm:
    """Alarm when the oldest message of any of its queues is older than ``threshold``.

    Per queue, three consecutive one-minute periods must breach (as
    :func:`oldest_message_age_alarm`).
    """
    return QueueQueryAlarm(
        scope,
        id,
        metric_name="ApproximateAgeOfOldestMessage",
        threshold=threshold.to_seconds(),
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=3,
        description=description,
        label="Age of oldest message (s)",
    )
