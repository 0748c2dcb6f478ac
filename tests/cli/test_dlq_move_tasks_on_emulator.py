"""``fanout dlq`` redrive, status and cancel of processing dead-letter queues (SQS message
move tasks) against a deployed fanout on the emulator.

One small stack, deployed once for the module with the library's ``FanoutTopic``: a standard
fanout whose ``Billing`` consumer fails its messages into its dead-letter queue for real
(received ``maxReceiveCount`` times, never deleted), and a FIFO fanout with content-based
deduplication. The command runs as operators run it, ``fanout --endpoint-url ... --region ...
dlq ...``, against SQS message move tasks (``constructs_lib.testing.sqs_fixes`` fills them in).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import project_app

from constructs_lib import FanoutTopic
from constructs_lib.cli import dlq
from constructs_lib.cli.main import main
from constructs_lib.testing import (
    Consumer,
    DeployedFanout,
    DeployedStack,
    Emulator,
    published_body,
)

STACK = "Redrive"


@pytest.fixture(scope="module")
def deployed(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> DeployedStack:
    from aws_cdk import Stack

    app = project_app(tmp_path_factory.mktemp("cdk.out"))
    stack = Stack(app, STACK)
    FanoutTopic(stack, "Orders").add_queue_consumer("Billing", max_receive_count=2)
    ledger = FanoutTopic(stack, "Ledger", fifo=True, content_based_deduplication=True)
    ledger.add_queue_consumer("Balances", max_receive_count=1)
    ledger.add_queue_consumer("Audit", fifo=False, raw_message_delivery=True)
    return emulator.deploy(app.synth().get_stack_by_name(STACK))


def _fanout(deployed: DeployedStack, path: str) -> Iterator[DeployedFanout]:
    fanout = DeployedFanout(deployed, f"{STACK}/{path}")
    fanout.empty()
    yield fanout
    for consumer in fanout.consumers.values():  # no task left running into the next test
        for task in _tasks(fanout, consumer):
            if task["Status"] == "RUNNING":
                fanout.sqs.cancel_message_move_task(TaskHandle=task["TaskHandle"])
        _wait_for(lambda c=consumer: _newest(fanout, c)["Status"] != "RUNNING")


@pytest.fixture
def orders(deployed: DeployedStack) -> Iterator[DeployedFanout]:
    yield from _fanout(deployed, "Orders")


@pytest.fixture
def ledger(deployed: DeployedStack) -> Iterator[DeployedFanout]:
    yield from _fanout(deployed, "Ledger")


@pytest.fixture
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """``redrive`` polls the task every 5 s; a tenth of a second keeps the module fast."""
    monkeypatch.setattr(dlq, "POLL_SECONDS", 0.1)


def fanout_dlq(emulator: Emulator, *argv: str) -> int:
    """``fanout --endpoint-url ... --region ... dlq ARGV``."""
    return main(
        ["--endpoint-url", emulator.endpoint_url, "--region", emulator.region, "dlq", *argv]
    )


def _name(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def _arn(fanout: DeployedFanout, url: str) -> str:
    arn: str = fanout.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    return arn


def _tasks(fanout: DeployedFanout, consumer: Consumer) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = fanout.sqs.list_message_move_tasks(
        SourceArn=_arn(fanout, consumer.dead_letter_queue_url), MaxResults=10
    )["Results"]
    return results


def _newest(fanout: DeployedFanout, consumer: Consumer) -> dict[str, Any]:
    tasks = _tasks(fanout, consumer)
    return tasks[0] if tasks else {"Status": "none"}


def _wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def dead_letter(fanout: DeployedFanout, consumer: Consumer, *orders: str) -> None:
    """Publish ``orders``; the consumer receives each ``maxReceiveCount`` times and never
    deletes it, so SQS moves it to the consumer's dead-letter queue."""
    for order in orders:
        fanout.publish({"order_id": order})
    for _ in range(consumer.max_receive_count):
        received = fanout.receive_all(consumer.queue_url, visibility_timeout=0, delete=False)
        assert len(received) == len(orders)
    assert fanout.receive_all(consumer.queue_url) == []
    assert fanout.depth(consumer.dead_letter_queue_url) == len(orders)


def _order_ids(fanout: DeployedFanout, url: str) -> list[str]:
    return sorted(published_body(m, raw=False)["order_id"] for m in fanout.receive_all(url))


# -- redrive ---------------------------------------------------------------------------


def test_redrive_moves_the_messages_back_and_shows_the_counts(
    emulator: Emulator,
    orders: DeployedFanout,
    fast_polls: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    billing = orders.consumers["Billing"]
    dead_letter(orders, billing, "o-1", "o-2", "o-3")
    dlq_name, source_name = _name(billing.dead_letter_queue_url), _name(billing.queue_url)
    capsys.readouterr()

    assert fanout_dlq(emulator, "redrive", dlq_name) == 0

    captured = capsys.readouterr()
    moving, done = captured.out.splitlines()  # whole lines, however long the task handle
    assert re.fullmatch(
        rf"Moving about 3 message\(s\) from {dlq_name} to {source_name} \(task \S+\)\.", moving
    )
    assert done == "Done: 3 message(s) moved."
    (bar,) = captured.err.splitlines()  # off a terminal, the progress bar's final state
    assert re.fullmatch(r"move task ━+ 3/3 COMPLETED \d+:\d\d:\d\d", bar), bar
    assert _order_ids(orders, billing.queue_url) == ["o-1", "o-2", "o-3"]
    assert orders.depth(billing.dead_letter_queue_url) == 0


def test_redriven_messages_start_over_in_the_source_queue(
    emulator: Emulator, orders: DeployedFanout, fast_polls: None
) -> None:
    billing = orders.consumers["Billing"]
    dead_letter(orders, billing, "o-4")

    assert fanout_dlq(emulator, "redrive", _name(billing.dead_letter_queue_url)) == 0

    (message,) = orders.receive_all(billing.queue_url)
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    envelope = json.loads(message["Body"])
    assert (envelope["TopicArn"], json.loads(envelope["Message"])) == (
        orders.topic_arn,
        {"order_id": "o-4"},
    )


def test_redrive_to_another_queue_moves_the_messages_there(
    emulator: Emulator, orders: DeployedFanout, fast_polls: None
) -> None:
    billing = orders.consumers["Billing"]
    dead_letter(orders, billing, "o-5", "o-6")
    replay = orders.sqs.create_queue(QueueName=f"{STACK}-Replay")["QueueUrl"]

    code = fanout_dlq(
        emulator, "redrive", _name(billing.dead_letter_queue_url), "--to", _name(replay)
    )

    assert code == 0
    assert _order_ids(orders, replay) == ["o-5", "o-6"]
    assert orders.receive_all(billing.queue_url) == []
    assert _newest(orders, billing)["DestinationArn"] == _arn(orders, replay)


def test_peek_names_the_queue_a_message_was_dead_lettered_from(
    emulator: Emulator, orders: DeployedFanout, capsys: pytest.CaptureFixture[str]
) -> None:
    billing = orders.consumers["Billing"]
    dead_letter(orders, billing, "o-7")
    capsys.readouterr()

    assert fanout_dlq(emulator, "peek", _name(billing.dead_letter_queue_url)) == 0

    assert f"dead-lettered from: {_arn(orders, billing.queue_url)}\n" in capsys.readouterr().out


# -- status and cancel -----------------------------------------------------------------


def test_status_lists_the_finished_task(
    emulator: Emulator, orders: DeployedFanout, capsys: pytest.CaptureFixture[str]
) -> None:
    billing = orders.consumers["Billing"]
    dead_letter(orders, billing, "o-8", "o-9")
    dlq_name = _name(billing.dead_letter_queue_url)
    assert fanout_dlq(emulator, "redrive", dlq_name, "--no-wait") == 0
    _wait_for(lambda: _newest(orders, billing)["Status"] == "COMPLETED")
    capsys.readouterr()

    assert fanout_dlq(emulator, "status", dlq_name) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"Message move tasks of {dlq_name}, newest first:"
    assert lines[1].split() == [
        "STARTED",
        "STATUS",
        "MOVED",
        "TO",
        "MOVE",
        "DESTINATION",
        "FAILURE",
    ]
    assert set(lines[2]) == {"─"}  # the header's underline
    started, *row = lines[3].split()
    assert row == ["COMPLETED", "2", "2", "source"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", started)


def test_cancel_stops_a_running_redrive_and_the_rest_stays_in_the_dlq(
    emulator: Emulator, orders: DeployedFanout, capsys: pytest.CaptureFixture[str]
) -> None:
    billing = orders.consumers["Billing"]
    placed = [f"o-{n:02}" for n in range(10)]
    dead_letter(orders, billing, *placed)
    dlq_name = _name(billing.dead_letter_queue_url)
    assert fanout_dlq(emulator, "redrive", dlq_name, "--max-per-second", "1", "--no-wait") == 0
    _wait_for(lambda: _newest(orders, billing)["ApproximateNumberOfMessagesMoved"] >= 1)
    capsys.readouterr()

    assert fanout_dlq(emulator, "cancel", dlq_name) == 0

    said = capsys.readouterr().out
    _wait_for(lambda: _newest(orders, billing)["Status"] == "CANCELLED")
    assert fanout_dlq(emulator, "status", dlq_name) == 0
    assert capsys.readouterr().out.splitlines()[3].split()[1] == "CANCELLED"
    moved = _newest(orders, billing)["ApproximateNumberOfMessagesMoved"]
    assert re.fullmatch(rf"Cancelling the move task of {dlq_name}; about \d+ moved\.\n", said)
    back, left = (
        _order_ids(orders, billing.queue_url),
        _order_ids(orders, billing.dead_letter_queue_url),
    )
    assert (len(back), len(left)) == (moved, 10 - moved)
    assert sorted(back + left) == placed


def test_cancel_without_a_running_task_is_a_usage_error(
    emulator: Emulator, orders: DeployedFanout, capsys: pytest.CaptureFixture[str]
) -> None:
    dlq_name = _name(orders.consumers["Billing"].dead_letter_queue_url)

    assert fanout_dlq(emulator, "cancel", dlq_name) == 2

    assert capsys.readouterr().err == (
        f"fanout: error: no message move task is running for {dlq_name}\n"
    )


# -- what redrive refuses --------------------------------------------------------------


def test_redrive_refuses_to_start_while_a_task_is_running(
    emulator: Emulator, orders: DeployedFanout, capsys: pytest.CaptureFixture[str]
) -> None:
    billing = orders.consumers["Billing"]
    dead_letter(orders, billing, "o-10", "o-11", "o-12")
    dlq_name = _name(billing.dead_letter_queue_url)
    assert fanout_dlq(emulator, "redrive", dlq_name, "--max-per-second", "1", "--no-wait") == 0
    capsys.readouterr()

    assert fanout_dlq(emulator, "redrive", dlq_name) == 1

    err = capsys.readouterr().err
    assert err.startswith(f"fanout: error: a message move task is already RUNNING for {dlq_name} ")
    assert "of 3 moved" in err
    assert [t["Status"] for t in _tasks(orders, billing)].count("RUNNING") == 1


def test_redrive_of_the_subscription_dead_letter_queue_starts_no_move_task(
    emulator: Emulator, orders: DeployedFanout, tmp_path: Path
) -> None:
    """SQS moves messages only out of DLQs of SQS queues; the undelivered queue is filled by
    SNS (its redrive-allow policy is denyAll), so the command redrives it itself."""
    assert orders.subscription_dead_letter_queue_url is not None
    undelivered = orders.subscription_dead_letter_queue_url
    journal = str(tmp_path / "journal.jsonl")

    assert fanout_dlq(emulator, "redrive", _name(undelivered), "--journal", journal) == 0

    assert orders.sqs.list_message_move_tasks(SourceArn=_arn(orders, undelivered))["Results"] == []


def test_redrive_refuses_a_source_queue_and_names_its_dead_letter_queue(
    emulator: Emulator, orders: DeployedFanout, capsys: pytest.CaptureFixture[str]
) -> None:
    billing = orders.consumers["Billing"]

    assert fanout_dlq(emulator, "redrive", _name(billing.queue_url)) == 2

    err = capsys.readouterr().err
    assert f"its own dead-letter queue is {_name(billing.dead_letter_queue_url)}" in err
    source_arn = _arn(orders, billing.queue_url)
    assert orders.sqs.list_message_move_tasks(SourceArn=source_arn)["Results"] == []


def test_redrive_refuses_a_queue_no_queue_dead_letters_into(
    emulator: Emulator, orders: DeployedFanout, capsys: pytest.CaptureFixture[str]
) -> None:
    lone = orders.sqs.create_queue(
        QueueName=f"{STACK}-Lone",
        Attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "allowAll"})},
    )["QueueUrl"]

    assert fanout_dlq(emulator, "redrive", _name(lone)) == 2

    assert (
        f"{STACK}-Lone is not a dead-letter queue: no queue names it in its redrive policy and "
        "no subscription uses it" in capsys.readouterr().err
    )


# -- a FIFO fanout ----------------------------------------------------------------------


def test_a_fifo_fanout_with_content_deduplication_delivers_a_repeated_entry_once(
    ledger: DeployedFanout,
) -> None:
    for body in ("entry-1", "entry-1", "entry-2"):  # no deduplication id: SNS derives it
        ledger.publish({"entry": body}, group_id="acct-a")

    balances = ledger.receive_all(ledger.consumers["Balances"].queue_url)
    audit = ledger.receive_all(ledger.consumers["Audit"].queue_url)

    assert [published_body(m, raw=False) for m in balances] == [
        {"entry": "entry-1"},
        {"entry": "entry-2"},
    ]
    assert sorted(json.loads(m["Body"])["entry"] for m in audit) == ["entry-1", "entry-2"]
    assert all(m["Attributes"]["MessageGroupId"] == "acct-a" for m in balances)


def test_a_fifo_dlq_is_redriven_in_message_group_order(
    emulator: Emulator, ledger: DeployedFanout, fast_polls: None
) -> None:
    balances = ledger.consumers["Balances"]
    for sequence in (1, 2, 3):
        ledger.publish({"entry": f"redrive-{sequence}"}, group_id="acct-b")
    assert len(ledger.receive_all(balances.queue_url, visibility_timeout=0, delete=False)) == 3
    assert ledger.receive_all(balances.queue_url) == []  # past maxReceiveCount: dead-lettered

    assert fanout_dlq(emulator, "redrive", _name(balances.dead_letter_queue_url)) == 0

    assert [published_body(m, raw=False) for m in ledger.receive_all(balances.queue_url)] == [
        {"entry": "redrive-1"},
        {"entry": "redrive-2"},
        {"entry": "redrive-3"},
    ]
