"""A fanout's consumer alarms: a few Metrics Insights query alarms instead of two per queue.

In each stack holding consumers, one alarm on "any message in any consumer's dead-letter
queue" and one per distinct message-age threshold (and alarm topic) on "the oldest message
is older than that"; a query names at most 100 queues and 2,048 characters, so more
consumers open more alarms (``DeadLetterAlarm2``, ...).
"""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sns as sns

from . import monitoring
from .placement import ConsumerStack
from .validation import known_seconds


class FanoutAlarms:
    """The query alarms of one fanout, over all the stacks its consumers are in."""

    def __init__(self, fanout_path: str) -> None:
        self._path = fanout_path
        self.dead_letter_alarms: list[cloudwatch.Alarm] = []
        """The alarms on the consumers' dead-letter queues, in the order opened."""
        self.message_age_alarms: list[cloudwatch.Alarm] = []
        """The alarms on the age of the consumers' oldest messages, in the order opened."""

    def cover(
        self,
        target: ConsumerStack,
        *,
        queue_name: str,
        dead_letter_queue_name: str,
        max_message_age: Duration,
        alarm_topic: sns.ITopic | None,
    ) -> tuple[cloudwatch.Alarm, cloudwatch.Alarm]:
        """Add one consumer's queues to its stack's alarms: its (dead-letter, message-age)
        alarms."""
        # The consumer holds its alarm topic, so the object's id stays unique meanwhile.
        topic_key = str(id(alarm_topic)) if alarm_topic else ""
        seconds = known_seconds(max_message_age)
        threshold_key = max_message_age.to_human_string() if seconds is None else str(seconds)
        dead_letter = self._alarm_with_room(
            target,
            target.dead_letter_alarms.setdefault(topic_key, []),
            dead_letter_queue_name,
            lambda alarm_id: monitoring.dead_letter_query_alarm(
                target.scope,
                alarm_id,
                description=f"{self._path}: messages failed max_receive_count times and "
                "were dead-lettered in a consumer's dead-letter queue; the alarm's "
                "contributors name the queue",
            ),
            alarm_topic,
            self.dead_letter_alarms,
            "DeadLetterAlarm",
        )
        message_age = self._alarm_with_room(
            target,
            target.age_alarms.setdefault((threshold_key, topic_key), []),
            queue_name,
            lambda alarm_id: monitoring.message_age_query_alarm(
                target.scope,
                alarm_id,
                threshold=max_message_age,
                description=f"{self._path}: the oldest message of a consumer queue has "
                f"waited more than {max_message_age.to_human_string()}; that consumer is "
                "stuck or too slow (the alarm's contributors name the queue)",
            ),
            alarm_topic,
            self.message_age_alarms,
            "MessageAgeAlarm",
        )
        return dead_letter, message_age

    @staticmethod
    def _alarm_with_room(
        target: ConsumerStack,
        group: list[monitoring.QueueQueryAlarm],
        queue_name: str,
        new_alarm: Callable[[str], monitoring.QueueQueryAlarm],
        alarm_topic: sns.ITopic | None,
        listing: list[cloudwatch.Alarm],
        base_id: str,
    ) -> cloudwatch.Alarm:
        """The group's newest alarm once ``queue_name`` is in its query; a new alarm when
        the newest has no room (a queue name, at most 80 characters, always fits a new
        query)."""
        if not group or not group[-1].try_add(queue_name):
            number = target.alarms_opened.get(base_id, 0) + 1
            target.alarms_opened[base_id] = number
            alarm_id = base_id if number == 1 else f"{base_id}{number}"
            query_alarm = new_alarm(alarm_id)
            monitoring.notify(query_alarm.alarm, alarm_topic)
            group.append(query_alarm)
            listing.append(query_alarm.alarm)
            target.used += 1
            query_alarm.add(queue_name)
        return group[-1].alarm
