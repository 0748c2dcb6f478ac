"""``fanout dlq redrive`` of a subscription dead-letter queue, on a deployed fanout.

One stack, deployed once for the module: a standard fanout with an envelope consumer
(``Billing``) and a raw one (``Analytics``), and a FIFO fanout with a FIFO consumer. Messages
become undeliverable the way they do in AWS when someone deletes a subscribed queue: SNS
moves them into the fanout's subscription dead-letter queue (``sns_fixes`` restores that in
the emulator). The queue is then created again, as an operator would, and the command puts
each message back into its subscription's queue.

The interruption tests stop a run at every step of a batch, by a crash (an exception the
command does not handle, as when the process is killed) and by Ctrl-C (SIGINT), then rerun
the command, and check that every message ends in its queue exactly once.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from helpers import project_app

from constructs_lib import FanoutTopic
from constructs_lib.cli.core import (
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    Context,
)
from constructs_lib.cli.main import run
from constructs_lib.testing import Consumer, DeployedFanout, DeployedStack, Emulator

STACK = "Undelivered"
RECREATED = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "RedrivePolicy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "ReceiveMessageWaitTimeSeconds",
    "FifoQueue",
    "ContentBasedDeduplication",
)


@pytest.fixture(scope="module")
def deployed(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> DeployedStack:
    from aws_cdk import Stack

    app = project_app(tmp_path_factory.mktemp("cdk.out"))
    stack = Stack(app, STACK)
    orders = FanoutTopic(stack, "Orders")
    orders.add_queue_consumer("Billing")
    orders.add_queue_consumer("Analytics", raw_message_delivery=True)
    ledger = FanoutTopic(stack, "Ledger", fifo=True, content_based_deduplication=True)
    ledger.add_queue_consumer("Balances")
    return emulator.deploy(app.synth().get_stack_by_name(STACK))


@pytest.fixture
def orders(deployed: DeployedStack) -> DeployedFanout:
    fanout = DeployedFanout(deployed, f"{STACK}/Orders")
    fanout.empty()
    return fanout


@pytest.fixture
def ledger(deployed: DeployedStack) -> DeployedFanout:
    fanout = DeployedFanout(deployed, f"{STACK}/Ledger")
    fanout.empty()
    return fanout


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "journal.jsonl"


@contextmanager
def queue_deleted(fanout: DeployedFanout, *consumers: Consumer) -> Iterator[None]:
    """Delete the consumers' queues (SNS then dead-letters their messages), and create them
    again as they were when the block ends."""
    saved = {}
    for consumer in consumers:
        url = consumer.queue_url
        attributes = fanout.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
            "Attributes"
        ]
        saved[url] = {k: v for k, v in attributes.items() if k in RECREATED}
        fanout.sqs.delete_queue(QueueUrl=url)
    try:
        yield
    finally:
        for url, attributes in saved.items():
            fanout.sqs.create_queue(QueueName=url.rsplit("/", 1)[-1], Attributes=attributes)


def fanout_cli(emulator: Emulator, *argv: str, ctx: Context | None = None) -> int:
    return run(
        ["dlq", *argv, "--endpoint-url", emulator.endpoint_url, "--region", emulator.region],
        ctx=ctx,
    )


def undelivered(fanout: DeployedFanout) -> str:
    url = fanout.subscription_dead_letter_queue_url
    assert url is not None
    return url.rsplit("/", 1)[-1]


def dead_letter(fanout: DeployedFanout, consumer: Consumer, orders: list[str]) -> None:
    with queue_deleted(fanout, consumer):
        for order in orders:
            fanout.publish({"order_id": order}, attributes={"tier": "gold"})
    assert fanout.depth(str(fanout.subscription_dead_letter_queue_url)) == len(orders)


def order_ids(fanout: DeployedFanout, consumer: Consumer) -> list[str]:
    ids = []
    for message in fanout.receive_all(consumer.queue_url):
        body = json.loads(message["Body"])
        payload = body if consumer.raw else json.loads(body["Message"])
        ids.append(payload["order_id"])
    return ids


# -- where messages go back to, and in which form ----------------------------------------


def test_messages_go_back_to_their_own_subscriptions_queue_in_its_form(
    emulator: Emulator, orders: DeployedFanout, journal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    billing, analytics = orders.consumers["Billing"], orders.consumers["Analytics"]
    with queue_deleted(orders, billing, analytics):
        orders.publish({"order_id": "o-1"}, attributes={"tier": "gold"})
        orders.publish({"order_id": "o-2"}, attributes={"tier": "silver"})
    assert orders.depth(str(orders.subscription_dead_letter_queue_url)) == 4

    assert fanout_cli(emulator, "redrive", undelivered(orders), "--journal", str(journal)) == 0

    out = capsys.readouterr().out
    assert (
        f"Moved 4 message(s): 2 to {analytics.queue_url.rsplit('/', 1)[-1]}, "
        f"2 to {billing.queue_url.rsplit('/', 1)[-1]}.\n"
    ) in out
    enveloped = orders.receive_all(billing.queue_url)
    assert sorted(json.loads(json.loads(m["Body"])["Message"])["order_id"] for m in enveloped) == [
        "o-1",
        "o-2",
    ]
    assert {json.loads(m["Body"])["MessageAttributes"]["tier"]["Value"] for m in enveloped} == {
        "gold",
        "silver",
    }
    raw = orders.receive_all(analytics.queue_url)
    assert sorted(json.loads(m["Body"])["order_id"] for m in raw) == ["o-1", "o-2"]
    # Raw delivery: the attributes as SQS message attributes, without SNS's delivery error.
    assert {m["MessageAttributes"]["tier"]["StringValue"] for m in raw} == {"gold", "silver"}
    assert all(set(m["MessageAttributes"]) == {"tier"} for m in raw)
    assert orders.depth(str(orders.subscription_dead_letter_queue_url)) == 0
    assert not journal.exists()  # nothing left that a rerun would need


def test_peek_shows_the_delivery_error_and_the_subscription(
    emulator: Emulator, orders: DeployedFanout, capsys: pytest.CaptureFixture[str]
) -> None:
    billing = orders.consumers["Billing"]
    dead_letter(orders, billing, ["o-7"])

    assert fanout_cli(emulator, "peek", undelivered(orders), "--output", "json") == 0

    [shown] = json.loads(capsys.readouterr().out)
    assert shown["delivery_error"]["ErrorCode"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert shown["sns"]["subscription_arn"] == orders.deployed.physical_id(billing.subscription)
    assert json.loads(shown["body"]) == {"order_id": "o-7"}


def test_a_fifo_subscription_dlq_goes_back_in_group_order_with_its_ids(
    emulator: Emulator, ledger: DeployedFanout, journal: Path
) -> None:
    balances = ledger.consumers["Balances"]
    with queue_deleted(ledger, balances):
        for n in range(6):
            ledger.publish({"order_id": f"{'ab'[n % 2]}-{n}"}, group_id=f"account-{'ab'[n % 2]}")

    assert fanout_cli(emulator, "redrive", undelivered(ledger), "--journal", str(journal)) == 0

    received = ledger.receive_all(balances.queue_url)
    by_group: dict[str, list[str]] = {}
    for message in received:
        group = message["Attributes"]["MessageGroupId"]
        by_group.setdefault(group, []).append(
            json.loads(json.loads(message["Body"])["Message"])["order_id"]
        )
    assert by_group == {"account-a": ["a-0", "a-2", "a-4"], "account-b": ["b-1", "b-3", "b-5"]}
    assert all(m["Attributes"].get("MessageDeduplicationId") for m in received)


def test_a_queue_still_missing_leaves_its_messages_and_says_why(
    emulator: Emulator, orders: DeployedFanout, journal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    billing = orders.consumers["Billing"]
    with queue_deleted(orders, billing):
        orders.publish({"order_id": "o-3"})
        code = fanout_cli(emulator, "redrive", undelivered(orders), "--journal", str(journal))

    assert code == EXIT_INCOMPLETE
    out = capsys.readouterr().out
    assert f"its queue {billing.queue_url.rsplit('/', 1)[-1]} does not exist" in out
    assert orders.depth(str(orders.subscription_dead_letter_queue_url)) == 1  # nothing lost


def test_redrive_to_another_queue_takes_the_messages_as_stored(
    emulator: Emulator, orders: DeployedFanout, journal: Path
) -> None:
    billing = orders.consumers["Billing"]
    dead_letter(orders, billing, ["o-4"])
    spare = orders.sqs.create_queue(QueueName=f"{STACK}-spare")["QueueUrl"]

    code = fanout_cli(
        emulator, "redrive", undelivered(orders), "--to", spare, "--journal", str(journal)
    )

    assert code == EXIT_OK
    [moved] = orders.receive_all(spare)
    assert json.loads(json.loads(moved["Body"])["Message"]) == {"order_id": "o-4"}
    assert orders.receive_all(billing.queue_url) == []


def test_the_rate_limit_spaces_the_batches(
    emulator: Emulator, orders: DeployedFanout, journal: Path
) -> None:
    billing = orders.consumers["Billing"]
    dead_letter(orders, billing, [f"o-{n}" for n in range(5)])
    slept: list[float] = []
    started = time.monotonic()

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    code = fanout_cli(
        emulator,
        "redrive",
        undelivered(orders),
        "--max-per-second",
        "2",
        "--journal",
        str(journal),
        ctx=Context(args=None, sleep=sleep),  # type: ignore[arg-type]
    )

    assert code == EXIT_OK
    assert sorted(order_ids(orders, billing)) == [f"o-{n}" for n in range(5)]
    # 5 messages at 2/s: batches of 2, the last one sent no sooner than 2 s after the start.
    assert len(slept) >= 2
    assert time.monotonic() - started >= 2.0


# -- interrupted at every step -----------------------------------------------------------


class Crash(BaseException):
    """The process dies here: nothing after this point of the command runs."""


STEPS = [
    ("receive_message", "after"),
    ("send_message_batch", "before"),
    ("send_message_batch", "after"),
    ("delete_message_batch", "before"),
    ("delete_message_batch", "after"),
]


class Interrupting:
    """An SQS client that interrupts the command once, at ``method`` ``when`` it is called."""

    def __init__(self, client: Any, method: str, when: str, interrupt: Callable[[], None]):
        self._client, self._method, self._when, self._interrupt = client, method, when, interrupt
        self.fired = False
        self.received: list[tuple[str, str]] = []  # (queue URL, receipt handle) until it fired

    def _remembering(self, receive: Callable[..., Any]) -> Callable[..., Any]:
        def call(**kwargs: Any) -> Any:
            answer = receive(**kwargs)
            self.received += [
                (kwargs["QueueUrl"], m["ReceiptHandle"]) for m in answer.get("Messages", [])
            ]
            return answer

        return call

    def visibility_timeout_passes(self) -> None:
        """What the crashed run held becomes visible again, as its visibility timeout ends."""
        for url, handle in self.received:
            with contextlib.suppress(Exception):  # deleted since: nothing to make visible
                self._client.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0
                )

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name == "receive_message" and not self.fired:
            attribute = self._remembering(attribute)
        if name != self._method or self.fired:
            return attribute

        def call(**kwargs: Any) -> Any:
            if self._when == "before":
                self.fired = True
                self._interrupt()
                return attribute(**kwargs)
            answer = attribute(**kwargs)
            if name == "receive_message" and not answer.get("Messages"):
                return answer
            self.fired = True
            self._interrupt()
            return answer

        return call


def interrupted_run(
    emulator: Emulator,
    dlq: str,
    journal: Path,
    method: str,
    when: str,
    interrupt: Callable[[], None],
) -> tuple[int | None, Interrupting]:
    # Batches of 2 (the rate limit), without waiting for the pace: the rate is not the point.
    ctx = Context(args=None, sleep=lambda _: None)  # type: ignore[arg-type]
    holder: dict[str, Interrupting] = {}

    real_client = ctx.client

    def client(service: str) -> Any:
        real = real_client(service)
        if service != "sqs":
            return real
        if "sqs" not in holder:
            holder["sqs"] = Interrupting(real, method, when, interrupt)
        return holder["sqs"]

    ctx.client = client  # type: ignore[method-assign]
    try:
        code: int | None = fanout_cli(
            emulator,
            "redrive",
            dlq,
            "--journal",
            str(journal),
            "--visibility-timeout",
            "1",
            "--max-per-second",
            "2",
            ctx=ctx,
        )
    except Crash:
        code = None
    return code, holder["sqs"]


def crash() -> None:
    raise Crash


def sigint() -> None:
    os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize(("method", "when"), STEPS, ids=[f"{w}-{m}" for m, w in STEPS])
def test_a_crash_at_any_step_loses_and_duplicates_nothing(
    emulator: Emulator, orders: DeployedFanout, journal: Path, method: str, when: str
) -> None:
    billing = orders.consumers["Billing"]
    dead_letter(orders, billing, ["o-1", "o-2", "o-3"])
    dlq = undelivered(orders)

    code, client = interrupted_run(emulator, dlq, journal, method, when, crash)
    assert code is None and client.fired
    client.visibility_timeout_passes()
    rerun = fanout_cli(emulator, "redrive", dlq, "--journal", str(journal))

    if (method, when) in (("send_message_batch", "before"), ("send_message_batch", "after")):
        # Nobody knows whether SQS took the batch: the rerun leaves it and says so.
        assert rerun == EXIT_INCOMPLETE
        uncertain = [
            m["MessageId"]
            for m in orders.sqs.receive_message(
                QueueUrl=orders.subscription_dead_letter_queue_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=0,
            ).get("Messages", [])
        ]
        assert len(uncertain) == 2  # the first batch (2 per batch at 2/s)
        if when == "before":  # it was not sent: send it
            assert (
                fanout_cli(
                    emulator, "redrive", dlq, "--journal", str(journal), "--resend-uncertain"
                )
                == EXIT_OK
            )
        else:  # it was sent: remove it from the dead-letter queue
            for message_id in uncertain:
                assert fanout_cli(emulator, "delete", dlq, message_id, "--yes") == EXIT_OK
    else:
        assert rerun == EXIT_OK
    assert sorted(order_ids(orders, billing)) == ["o-1", "o-2", "o-3"]
    assert orders.depth(str(orders.subscription_dead_letter_queue_url)) == 0


@pytest.mark.parametrize(("method", "when"), STEPS, ids=[f"{w}-{m}" for m, w in STEPS])
def test_ctrl_c_at_any_step_stops_after_the_batch_and_a_rerun_continues(
    emulator: Emulator, orders: DeployedFanout, journal: Path, method: str, when: str
) -> None:
    billing = orders.consumers["Billing"]
    dead_letter(orders, billing, ["o-1", "o-2", "o-3"])
    dlq = undelivered(orders)

    code, client = interrupted_run(emulator, dlq, journal, method, when, sigint)

    assert client.fired and code == EXIT_INTERRUPTED
    # The batch in hand was finished: its messages are in the queue, the rest still wait.
    assert orders.depth(str(orders.subscription_dead_letter_queue_url)) == 1
    assert fanout_cli(emulator, "redrive", dlq, "--journal", str(journal)) == EXIT_OK
    assert sorted(order_ids(orders, billing)) == ["o-1", "o-2", "o-3"]
    assert orders.depth(str(orders.subscription_dead_letter_queue_url)) == 0


# -- bad input ---------------------------------------------------------------------------


def test_no_wait_is_refused_for_a_subscription_dlq(
    emulator: Emulator, orders: DeployedFanout, capsys: pytest.CaptureFixture[str]
) -> None:
    assert fanout_cli(emulator, "redrive", undelivered(orders), "--no-wait") == EXIT_USAGE
    assert "--no-wait applies to message move tasks only" in capsys.readouterr().err


def test_redrive_refuses_a_queue_that_is_not_a_dead_letter_queue(
    emulator: Emulator, orders: DeployedFanout, capsys: pytest.CaptureFixture[str]
) -> None:
    lonely = orders.sqs.create_queue(QueueName=f"{STACK}-lonely")["QueueUrl"]

    assert fanout_cli(emulator, "redrive", lonely) == EXIT_USAGE
    assert capsys.readouterr().err == (
        f"fanout: error: {STACK}-lonely is not a dead-letter queue: no queue names it in its "
        "redrive policy and no subscription uses it. Find the fanout's dead-letter queues "
        "with `fanout dlq list`.\n"
    )


# -- delete, export, import --------------------------------------------------------------


def test_delete_shows_the_message_then_removes_only_it(
    emulator: Emulator, orders: DeployedFanout, capsys: pytest.CaptureFixture[str]
) -> None:
    billing = orders.consumers["Billing"]
    dead_letter(orders, billing, ["o-1", "o-2", "o-3"])
    dlq_url = str(orders.subscription_dead_letter_queue_url)
    peeked = orders.sqs.receive_message(
        QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0
    )["Messages"]
    poison = next(m for m in peeked if '\\"o-2\\"' in m["Body"])

    assert fanout_cli(emulator, "delete", undelivered(orders), poison["MessageId"], "--yes") == 0

    out = capsys.readouterr().out
    assert f"--- message 1 of 1: {poison['MessageId']}" in out
    assert '"order_id": "o-2"' in out  # shown before it goes
    assert out.endswith(f"Deleted {poison['MessageId']} from {undelivered(orders)}.\n")
    left = orders.receive_all(dlq_url)  # the others are visible again at once
    assert sorted(json.loads(json.loads(m["Body"])["Message"])["order_id"] for m in left) == [
        "o-1",
        "o-3",
    ]


def test_delete_without_yes_off_a_terminal_deletes_nothing(
    emulator: Emulator,
    orders: DeployedFanout,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    billing = orders.consumers["Billing"]
    dead_letter(orders, billing, ["o-1"])
    dlq_url = str(orders.subscription_dead_letter_queue_url)
    [message] = orders.sqs.receive_message(QueueUrl=dlq_url, VisibilityTimeout=0)["Messages"]

    assert fanout_cli(emulator, "delete", undelivered(orders), message["MessageId"]) == EXIT_USAGE

    assert "pass --yes to delete without asking" in capsys.readouterr().err
    assert orders.depth(dlq_url) == 1
    assert len(orders.receive_all(dlq_url)) == 1  # and visible


def test_delete_of_an_unknown_id_says_how_to_find_ids(
    emulator: Emulator, orders: DeployedFanout, capsys: pytest.CaptureFixture[str]
) -> None:
    dead_letter(orders, orders.consumers["Billing"], ["o-1"])

    assert fanout_cli(emulator, "delete", undelivered(orders), "no-such-id", "--yes") == 2

    err = capsys.readouterr().err
    assert f"no message no-such-id is visible in {undelivered(orders)} (1 looked at)" in err
    assert orders.depth(str(orders.subscription_dead_letter_queue_url)) == 1


def test_export_then_import_puts_the_same_messages_back(
    emulator: Emulator, ledger: DeployedFanout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    balances = ledger.consumers["Balances"]
    # Order ids no other test publishes: the FIFO topic deduplicates by content for 5 minutes.
    with queue_deleted(ledger, balances):
        for n in range(3):
            ledger.publish({"order_id": f"x-{n}"}, group_id="account-a")
    dlq_url = str(ledger.subscription_dead_letter_queue_url)
    assert ledger.depth(dlq_url) == 3
    exported = tmp_path / "ledger.jsonl"

    assert fanout_cli(emulator, "export", undelivered(ledger), str(exported)) == 0

    assert capsys.readouterr().out == (
        f"Exported 3 message(s) from {undelivered(ledger)} to {exported}; none removed.\n"
    )
    records = [json.loads(line) for line in exported.read_text().splitlines()]
    assert [json.loads(json.loads(r["Body"])["Message"])["order_id"] for r in records] == [
        "x-0",
        "x-1",
        "x-2",
    ]
    assert {r["Attributes"]["MessageGroupId"] for r in records} == {"account-a"}
    assert ledger.depth(dlq_url) == 3  # nothing consumed, and visible again:
    assert len(ledger.receive_all(dlq_url)) == 3  # (emptied here)

    assert fanout_cli(emulator, "import", balances.queue_url, str(exported)) == 0

    received = ledger.receive_all(balances.queue_url)
    assert [json.loads(json.loads(m["Body"])["Message"])["order_id"] for m in received] == [
        "x-0",
        "x-1",
        "x-2",
    ]
    assert {m["Attributes"]["MessageGroupId"] for m in received} == {"account-a"}


def test_export_to_standard_output_writes_json_lines(
    emulator: Emulator, orders: DeployedFanout, capsys: pytest.CaptureFixture[str]
) -> None:
    dead_letter(orders, orders.consumers["Billing"], ["o-1", "o-2"])

    assert fanout_cli(emulator, "export", undelivered(orders), "-") == 0

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert {
        json.loads(json.loads(json.loads(line)["Body"])["Message"])["order_id"] for line in lines
    } == {
        "o-1",
        "o-2",
    }


def test_import_refuses_a_file_that_is_not_an_export(
    emulator: Emulator, orders: DeployedFanout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"Body": "fine"}\nnot json\n')

    assert fanout_cli(emulator, "import", orders.consumers["Billing"].queue_url, str(bad)) == 2

    assert capsys.readouterr().err.startswith(f"fanout: error: {bad} line 2 is not an exported")
    assert orders.receive_all(orders.consumers["Billing"].queue_url) == []  # nothing sent


def test_import_into_a_fifo_queue_needs_message_groups(
    emulator: Emulator, ledger: DeployedFanout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    standard = tmp_path / "standard.jsonl"
    standard.write_text('{"Body": "no group"}\n')

    code = fanout_cli(emulator, "import", ledger.consumers["Balances"].queue_url, str(standard))

    assert code == EXIT_USAGE
    assert "is a FIFO queue but 1 message(s) have no message group" in capsys.readouterr().err
