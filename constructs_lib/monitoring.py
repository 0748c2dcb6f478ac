"""Alarms for fanout queues: opt-in per construct, named, with optional SNS actions.

Metric factories live on the constructs (``metric_*``); this module only turns metrics into
alarms with thresholds that mean "a human should look".
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

ALARM_PERIOD = Duration.minutes(1)


def queue_not_empty_alarm(
    scope: Construct, id: str, *, queue: sqs.IQueue, description: str
) -> cloudwatch.Alarm:
    """Alarm as soon as ``queue`` (a dead-letter queue) holds any message."""
    metric = queue.metric_approximate_number_of_messages_visible(
        period=ALARM_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
    )
    return at_least_once_alarm(scope, id, metric=metric, description=description)


def at_least_once_alarm(
    scope: Construct, id: str, *, metric: cloudwatch.IMetric, description: str
) -> cloudwatch.Alarm:
    """Alarm on the first minute in which ``metric`` reaches 1 (missing data is fine)."""
    return cloudwatch.Alarm(
        scope,
        id,
        metric=metric,
        alarm_description=description,
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )


def oldest_message_age_alarm(
    scope: Construct, id: str, *, queue: sqs.IQueue, threshold: Duration, description: str
) -> cloudwatch.Alarm:
    """Alarm when the oldest message in ``queue`` has waited longer than ``threshold``.

    Three consecutive one-minute periods must breach, so a single slow batch does not page.
    """
    metric = queue.metric_approximate_age_of_oldest_message(
        period=ALARM_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
    )
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
    """Send the alarm's ALARM and OK transitions to ``topic`` when one is given."""
    if topic is None:
        return
    action = cw_actions.SnsAction(topic)
    alarm.add_alarm_action(action)
    alarm.add_ok_action(action)
