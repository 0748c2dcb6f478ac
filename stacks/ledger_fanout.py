"""Reference architecture: an ordered FIFO flow of ledger entries to two consumers."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from constructs import Construct

from constructs_lib import FanoutTopic

ARCHIVE_DAYS = 7


class LedgerFanoutStack(Stack):
    """Ledger entries published in order per account, each applied exactly once.

    * the ``LedgerEntries`` topic is FIFO: entries of one account share a message group
      (publishers set ``MessageGroupId`` to the account id) and arrive in the order they
      were published; an entry published twice with the same ``MessageDeduplicationId``
      within five minutes is delivered once. The topic keeps a 7-day archive, so a
      consumer that lost its state can have the last week replayed to its subscription;
    * ``Balances`` is a FIFO queue: a worker applies the entries of each account in order;
    * ``Audit`` is a standard queue fed by the FIFO topic (allowed since 2023), with raw
      delivery: an archive job that needs every entry but no ordering, and is not held
      back by a slow message group.
    """

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.entries = FanoutTopic(
            self,
            "LedgerEntries",
            fifo=True,
            display_name="Ledger entries",
            archive_retention_days=ARCHIVE_DAYS,
        )
        self.balances = self.entries.add_queue_consumer(
            "Balances", visibility_timeout=Duration.minutes(1)
        )
        self.audit = self.entries.add_queue_consumer(
            "Audit", fifo=False, raw_message_delivery=True, max_message_age=Duration.hours(1)
        )
