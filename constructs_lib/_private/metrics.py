"""Metric factories: the figures the constructs' alarms and ``metric_*`` methods read.

Apart from the alarm builders (:mod:`.monitoring`), as in cdk-monitoring-constructs: a factory
knows which metric answers a question and its default period and statistic; an alarm
builder takes a metric and knows only thresholds. Every factory method takes ``period`` and
``statistic`` like aws-cdk's ``metric*()`` methods.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

ALARM_PERIOD = Duration.minutes(1)
"""The period of every alarm's metric, and the default of every ``metric_*`` method: queue
and function figures are published every minute."""

MAXIMUM = cloudwatch.Stats.MAXIMUM
SUM = cloudwatch.Stats.SUM


class QueueMetrics:
    """Metrics of one SQS queue (by default the Maximum over one minute: a backlog or an
    age is a level, and its worst value in the period is what an alarm should see)."""

    def __init__(self, queue: sqs.IQueue) -> None:
        self.queue = queue

    def messages_visible(
        self, *, period: Duration = ALARM_PERIOD, statistic: str = MAXIMUM
    ) -> cloudwatch.Metric:
        """Messages waiting to be received."""
        return self.queue.metric_approximate_number_of_messages_visible(
            period=period, statistic=statistic
        )

    def age_of_oldest_message(
        self, *, period: Duration = ALARM_PERIOD, statistic: str = MAXIMUM
    ) -> cloudwatch.Metric:
        """Seconds the oldest waiting message has been in the queue."""
        return self.queue.metric_approximate_age_of_oldest_message(
            period=period, statistic=statistic
        )


class FunctionMetrics:
    """Metrics of one Lambda function (counts summed over one minute)."""

    def __init__(self, function: lambda_.IFunction) -> None:
        self.function = function

    def errors(self, *, period: Duration = ALARM_PERIOD, statistic: str = SUM) -> cloudwatch.Metric:
        """Invocations that failed: a crash, an unhandled exception or a timeout."""
        return self.function.metric_errors(period=period, statistic=statistic)

    def throttles(
        self, *, period: Duration = ALARM_PERIOD, statistic: str = SUM
    ) -> cloudwatch.Metric:
        """Invocations refused for lack of concurrency."""
        return self.function.metric_throttles(period=period, statistic=statistic)

    def duration(
        self, *, period: Duration = ALARM_PERIOD, statistic: str = "p99"
    ) -> cloudwatch.Metric:
        """How long invocations ran (p99 by default: the slow tail is what times out)."""
        return self.function.metric_duration(period=period, statistic=statistic)


class TopicMetrics:
    """Metrics of one SNS topic (counts summed over one minute)."""

    def __init__(self, topic: sns.ITopic) -> None:
        self.topic = topic

    def messages_published(
        self, *, period: Duration = ALARM_PERIOD, statistic: str = SUM
    ) -> cloudwatch.Metric:
        return self.topic.metric_number_of_messages_published(period=period, statistic=statistic)

    def notifications_delivered(
        self, *, period: Duration = ALARM_PERIOD, statistic: str = SUM
    ) -> cloudwatch.Metric:
        return self.topic.metric_number_of_notifications_delivered(
            period=period, statistic=statistic
        )

    def notifications_failed(
        self, *, period: Duration = ALARM_PERIOD, statistic: str = SUM
    ) -> cloudwatch.Metric:
        return self.topic.metric_number_of_notifications_failed(period=period, statistic=statistic)

    def notifications_filtered_out(
        self, *, period: Duration = ALARM_PERIOD, statistic: str = SUM
    ) -> cloudwatch.Metric:
        return self.topic.metric_number_of_notifications_filtered_out(
            period=period, statistic=statistic
        )
