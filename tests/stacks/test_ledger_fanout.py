"""The ledger fanout reference stack (FIFO): which queue is ordered, and what the topic keeps."""

from __future__ import annotations

import pytest
from helpers import Tmpl, new_app, ref_or_arn

from stacks import LedgerFanoutStack
from stacks.ledger_fanout import ARCHIVE_DAYS


@pytest.fixture(scope="module")
def stack() -> LedgerFanoutStack:
    return LedgerFanoutStack(new_app(), "LedgerFanout")


@pytest.fixture(scope="module")
def t(stack: LedgerFanoutStack) -> Tmpl:
    return Tmpl(stack)


def test_the_topic_is_fifo_with_a_replay_archive(stack: LedgerFanoutStack, t: Tmpl) -> None:
    topic = t.props(stack.entries.topic)
    assert topic["FifoTopic"] is True
    assert topic["ArchivePolicy"] == {"MessageRetentionPeriod": ARCHIVE_DAYS}
    assert topic["TopicName"].endswith(".fifo")


def test_balances_is_ordered_and_dead_letters_to_a_fifo_queue(
    stack: LedgerFanoutStack, t: Tmpl
) -> None:
    queue = t.props(stack.balances.queue)
    dlq_lid = t.logical_id(stack.balances.dead_letter_queue)
    assert queue["FifoQueue"] is True
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] in ref_or_arn(dlq_lid)
    assert t.props(dlq_lid)["FifoQueue"] is True


def test_audit_is_a_standard_raw_queue_on_the_fifo_topic(stack: LedgerFanoutStack, t: Tmpl) -> None:
    assert "FifoQueue" not in t.props(stack.audit.queue)
    subscription = t.props(stack.audit.subscription)
    assert subscription["TopicArn"] == {"Ref": t.logical_id(stack.entries.topic)}
    assert subscription["RawMessageDelivery"] is True
