"""The LedgerFanout stack (FIFO) deployed to the local emulator: order, deduplication, DLQ."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import count

import pytest
from helpers import deployed_on_emulator

from constructs_lib.testing import DeployedStack
from constructs_lib.testing.fanout import DeployedFanout, published_body
from stacks import LedgerFanoutStack

ACCOUNTS = ["acct-a", "acct-b", "acct-c"]
BATCHES = count(1)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedStack]:
    out = tmp_path_factory.mktemp("cdk.out")
    with deployed_on_emulator(out, LedgerFanoutStack, "LedgerFanout") as deployed:
        yield deployed


@pytest.fixture
def ledger(deployed: DeployedStack) -> DeployedFanout:
    fanout = DeployedFanout(deployed, "LedgerFanout/LedgerEntries")
    fanout.empty()
    return fanout


@pytest.fixture
def batch() -> str:
    """A prefix for this test's deduplication ids: the FIFO topic drops an id it has seen in
    the last five minutes, whichever test published it."""
    return f"batch{next(BATCHES)}"


def entry(account: str, sequence: int) -> dict[str, object]:
    return {"account": account, "sequence": sequence, "amount": sequence * 10}


def publish_entry(ledger: DeployedFanout, batch: str, account: str, sequence: int) -> str:
    return ledger.publish(
        entry(account, sequence),
        group_id=account,
        deduplication_id=f"{batch}-{account}-{sequence}",
    )


def test_the_fifo_queue_receives_each_account_in_publish_order(
    ledger: DeployedFanout, batch: str
) -> None:
    # GIVEN entries of three accounts, interleaved
    for sequence in range(1, 6):
        for account in ACCOUNTS:
            publish_entry(ledger, batch, account, sequence)

    # WHEN the balances worker receives everything
    balances = ledger.consumers["Balances"]
    messages = ledger.receive_all(balances.queue_url)

    # THEN within each message group the entries come in the order they were published
    by_account: dict[str, list[int]] = {}
    for message in messages:
        body = published_body(message, raw=False)
        assert message["Attributes"]["MessageGroupId"] == body["account"]
        by_account.setdefault(body["account"], []).append(body["sequence"])
    assert by_account == {account: [1, 2, 3, 4, 5] for account in ACCOUNTS}


def test_a_duplicate_inside_the_deduplication_window_is_delivered_once(
    ledger: DeployedFanout, batch: str
) -> None:
    first = publish_entry(ledger, batch, "acct-a", 1)
    publish_entry(ledger, batch, "acct-a", 1)  # a publisher retry: same deduplication id
    publish_entry(ledger, batch, "acct-a", 2)

    messages = ledger.receive_all(ledger.consumers["Balances"].queue_url)

    sequences = [published_body(m, raw=False)["sequence"] for m in messages]
    assert sequences == [1, 2]
    assert json.loads(messages[0]["Body"])["MessageId"] == first


def test_the_standard_audit_queue_gets_every_entry_raw(ledger: DeployedFanout, batch: str) -> None:
    for account in ACCOUNTS:
        publish_entry(ledger, batch, account, 1)

    messages = ledger.receive_all(ledger.consumers["Audit"].queue_url)

    assert sorted(json.loads(m["Body"])["account"] for m in messages) == ACCOUNTS
    assert not ledger.consumers["Audit"].queue_url.endswith(".fifo")


def test_a_poison_entry_moves_to_the_fifo_dlq_after_max_receive_count(
    ledger: DeployedFanout,
) -> None:
    balances = ledger.consumers["Balances"]
    ledger.publish("not an entry", group_id="acct-z", deduplication_id="poison-1")

    for receive in range(1, balances.max_receive_count + 1):
        (message,) = ledger.receive_all(balances.queue_url, visibility_timeout=0, delete=False)
        assert int(message["Attributes"]["ApproximateReceiveCount"]) == receive

    assert ledger.receive_all(balances.queue_url) == []
    (dead,) = ledger.receive_all(balances.dead_letter_queue_url)
    assert dead["Body"] == message["Body"]
    assert published_body(dead, raw=False) == "not an entry"
    assert dead["Attributes"]["MessageGroupId"] == "acct-z"
