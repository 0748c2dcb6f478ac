"""Metric factories: the figures the constructs' alarms and ``metric_*`` methods read.

Apart from the alarm builders (:mod:`.monitoring`), as in cdk-monitoring-constructs: a factory
knows which metric answers a question and its default statistic; an alarm builder takes a
metric and knows only thresholds. Each construct's ``metric_*`` method takes
:class:`MetricOptions` like aws-cdk's ``metric*()`` methods (period, statistic, label, ...),
checked like any other option.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TypedDict, cast

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import IConstruct

from .options import Declared
from .validation import Problems, known_seconds, unresolved

ALARM_PERIOD = Duration.minutes(1)
"""The period of every alarm's metric, and the default of every ``metric_*`` method: queue,
topic and function figures are published every minute."""

MAXIMUM = cloudwatch.Stats.MAXIMUM
SUM = cloudwatch.Stats.SUM

DEFAULT_STATISTICS = {
    # A backlog or an age is a level: its worst value in the period is what to see.
    "ApproximateNumberOfMessagesVisible": MAXIMUM,
    "ApproximateAgeOfOldestMessage": MAXIMUM,
    # Counts add up over the period.
    "Errors": SUM,
    "Throttles": SUM,
    "NumberOfMessagesPublished": SUM,
    "NumberOfNotificationsDelivered": SUM,
    "NumberOfNotificationsFailed": SUM,
    "NumberOfNotificationsFilteredOut": SUM,
    "PolledEventCount": SUM,
    "InvokedEventCount": SUM,
    "FilteredOutEventCount": SUM,
    "FailedInvokeEventCount": SUM,
    "DeletedEventCount": SUM,
    # The slow tail is what times out.
    "Duration": "p99",
}
"""Each metric's statistic unless the caller names another."""


class MetricOptions(TypedDict, total=False):
    """What a ``metric_*`` method takes, as aws-cdk's ``cloudwatch.MetricOptions``."""

    period: Duration
    statistic: str | None
    label: str | None
    color: str | None
    unit: cloudwatch.Unit | None


METRIC_OPTIONS = Declared(
    construct="metric",
    options=MetricOptions,
    defaults=MetricOptions(period=ALARM_PERIOD, statistic=None, label=None, color=None, unit=None),
)

if TYPE_CHECKING:  # aws_lambda is a large module: imported only by those who use Lambda
    from aws_cdk import aws_lambda as lambda_

    _Metered = sqs.IQueue | sns.ITopic | lambda_.IFunction | lambda_.EventSourceMapping

LAMBDA_NAMESPACE = "AWS/Lambda"


def metric_of(
    owner: IConstruct, resource: _Metered, metric_name: str, options: MetricOptions
) -> cloudwatch.Metric:
    """``metric_name`` of ``resource`` (a queue, topic, function or event source mapping), over
    one minute and with its default statistic unless ``options`` say otherwise; bad options
    are ``owner``'s configuration problems."""
    settings = settled_metric_options(owner, options)
    if settings["statistic"] is None:
        settings["statistic"] = DEFAULT_STATISTICS[metric_name]
    given: dict[str, Any] = {k: v for k, v in settings.items() if v is not None}
    mapping = _event_source_mapping(resource)
    if mapping is not None:
        # Lambda publishes a mapping's event counts by its UUID, which has no metric() helper.
        return cloudwatch.Metric(
            namespace=LAMBDA_NAMESPACE,
            metric_name=metric_name,
            dimensions_map={"EventSourceMappingUUID": mapping.event_source_mapping_id},
            **given,
        )
    metered = cast("sqs.IQueue | sns.ITopic | lambda_.IFunction", resource)
    return metered.metric(metric_name, **given)


def _event_source_mapping(resource: object) -> lambda_.EventSourceMapping | None:
    """``resource`` when it is an event source mapping, without importing aws_lambda unless
    a Lambda resource was given (which loaded it)."""
    module = sys.modules.get("aws_cdk.aws_lambda")
    if module is not None and isinstance(resource, module.EventSourceMapping):
        return cast("lambda_.EventSourceMapping", resource)
    return None


CLOUDWATCH_SHORT_PERIODS = (1, 5, 10, 30)
"""The periods below a minute CloudWatch accepts (high-resolution metrics); longer ones are
whole minutes."""


def settled_metric_options(owner: IConstruct, options: MetricOptions) -> MetricOptions:
    """``options`` over the defaults, with the rules CloudWatch has for them; their
    problems are ``owner``'s configuration problems."""
    problems = Problems()
    settings = METRIC_OPTIONS.settle(owner, options, problems)
    problems.raise_if_any(owner)
    seconds = known_seconds(settings["period"])
    if seconds is not None and not (
        seconds in CLOUDWATCH_SHORT_PERIODS or (seconds >= 60 and seconds % 60 == 0)
    ):
        problems.add(
            "period",
            settings["period"],
            "CloudWatch takes 1, 5, 10 or 30 seconds or a whole number of minutes",
        )
    statistic = settings["statistic"]
    if statistic is not None and not unresolved(statistic) and not statistic.strip():
        problems.add(
            "statistic",
            statistic,
            "name a statistic (Average, Sum, Maximum, p99, ...) or leave it out",
        )
    problems.raise_if_any(owner)
    return settings


def visible_messages(queue: sqs.IQueue) -> cloudwatch.Metric:
    """Messages waiting in ``queue`` (the alarms' view: Maximum over one minute)."""
    return metric_of(queue, queue, "ApproximateNumberOfMessagesVisible", {})
