"""``fanout dlq``: list, peek, and redrive, status and cancel by SQS message move tasks.

``list`` and ``peek`` run against a moto server on 127.0.0.1 through ``--endpoint-url``, on
queues, redrive policies and subscriptions shaped like the ones the constructs create (names
as ``generated_queue_name`` makes them, the shared subscription DLQ with a denyAll
redrive-allow policy, subscription RedrivePolicy). Each test builds its own stack-named set
of queues, so tests share the server but not state.

``redrive``, ``status`` and ``cancel`` run end to end against the emulator's message move
tasks in ``tests/cli/test_dlq_move_tasks_on_emulator.py``. Here they run against botocore's
Stubber, which checks every request and response against the real SQS API shapes, where a
test needs answers no emulator gives on cue (a given sequence of progress reports, a KMS
failure reason, access denied, an endpoint without the API, Ctrl-C at a given moment) or
checks the exact requests.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from helpers import ROOT
from moto.server import ThreadedMotoServer

from constructs_lib.cli import dlq
from constructs_lib.cli import main as cli
from constructs_lib.cli.core import EXIT_INTERRUPTED, EXIT_UNREACHABLE, Context

REGION = "eu-west-1"
ACCOUNT = "123456789012"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
STACK_NUMBERS = count(1)


# -- a moto server and fanouts shaped like the library's ---------------------------------


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A moto server on a free port of 127.0.0.1, with fake credentials in the environment."""
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            env.delenv(name, raising=False)
        for name, value in FAKE_CREDENTIALS.items():
            env.setenv(name, value)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@dataclass
class Fanout:
    """A topic with consumer queues as FanoutTopic deploys them, on the moto server."""

    stack: str
    endpoint: str
    sqs: Any
    sns: Any
    topic_arn: str
    undelivered: str  # the shared subscription DLQ's name

    def queue_url(self, name: str) -> str:
        url: str = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return url

    def queue_arn(self, name: str) -> str:
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"

    def create_queue(self, name: str, **attributes: str) -> str:
        url: str = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        return url

    def add_consumer(self, consumer: str, *, raw: bool = False) -> str:
        """A consumer queue, its processing DLQ and its subscription; returns the queue name."""
        name = f"{self.stack}-OrderPlaced-{consumer}-F3BD42EB"
        dlq_name = f"{name}-dlq"
        self.create_queue(
            dlq_name,
            RedriveAllowPolicy=json.dumps(
                {"redrivePermission": "byQueue", "sourceQueueArns": [self.queue_arn(name)]}
            ),
        )
        self.create_queue(
            name,
            RedrivePolicy=json.dumps(
                {"deadLetterTargetArn": self.queue_arn(dlq_name), "maxReceiveCount": 1}
            ),
        )
        self.sns.subscribe(
            TopicArn=self.topic_arn,
            Protocol="sqs",
            Endpoint=self.queue_arn(name),
            Attributes={
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": self.queue_arn(self.undelivered)}
                ),
                "RawMessageDelivery": "true" if raw else "false",
            },
        )
        return name

    def publish(self, message: dict[str, Any], **attributes: str) -> None:
        self.sns.publish(
            TopicArn=self.topic_arn,
            Message=json.dumps(message),
            MessageAttributes={
                key: {"DataType": "String", "StringValue": value}
                for key, value in attributes.items()
            },
        )

    def dead_letter(self, queue: str) -> None:
        """Fail the queue's messages once (maxReceiveCount 1): SQS moves them to the DLQ."""
        url = self.queue_url(queue)
        assert self.sqs.receive_message(QueueUrl=url, VisibilityTimeout=0).get("Messages")
        assert not self.sqs.receive_message(QueueUrl=url, VisibilityTimeout=0).get("Messages")

    def receive(self, queue: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.sqs.receive_message(
            QueueUrl=self.queue_url(queue), MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages", [])
        return messages

    def cli(self, *argv: str) -> int:
        """``fanout --endpoint-url ... --region ... dlq ARGV``."""
        return cli.main(["--endpoint-url", self.endpoint, "--region", REGION, "dlq", *argv])


@dataclass(frozen=True)
class Clients:
    sqs: Any
    sns: Any


@pytest.fixture(scope="module")
def clients(endpoint: str) -> Clients:
    """Clients of the moto server for the tests' own setup and checks."""
    session = boto3.Session(region_name=REGION, **_session_credentials())
    return Clients(
        sqs=session.client("sqs", endpoint_url=endpoint),
        sns=session.client("sns", endpoint_url=endpoint),
    )


@pytest.fixture
def fanout(endpoint: str, clients: Clients) -> Fanout:
    """An "OrderPlaced" fanout in a stack of its own (no consumers yet)."""
    stack = f"Shop{next(STACK_NUMBERS)}"
    sqs, sns = clients.sqs, clients.sns
    topic_arn = sns.create_topic(Name=f"{stack}-OrderPlacedTopic6C42D0B1-Q2Ldz1XsKJ9b")["TopicArn"]
    undelivered = f"{stack}-OrderPlaced-394B649F-undelivered"
    sqs.create_queue(
        QueueName=undelivered,
        Attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "denyAll"})},
    )
    return Fanout(stack, endpoint, sqs, sns, topic_arn, undelivered)


def _session_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }


def _listed(fanout: Fanout, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert fanout.cli("list", "--prefix", f"{fanout.stack}-", "--output", "json") == 0
    rows: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return rows


# -- list (moto) -------------------------------------------------------------------------


def test_list_groups_each_consumer_dlq_under_its_topic(
    fanout: Fanout, capsys: pytest.CaptureFixture[str]
) -> None:
    billing = fanout.add_consumer("Billing")
    shipping = fanout.add_consumer("Shipping")
    capsys.readouterr()

    assert fanout.cli("list", "--prefix", f"{fanout.stack}-") == 0

    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0]
        == f"Topic {fanout.stack}-OrderPlacedTopic6C42D0B1-Q2Ldz1XsKJ9b ({fanout.topic_arn})"
    )
    assert re.split(r"\s{2,}", lines[1].strip()) == [
        "CONSUMER",
        "DEAD-LETTER QUEUE",
        "KIND",
        "VISIBLE",
        "IN FLIGHT",
    ]
    assert set(lines[2]) == {"─"}  # the header's underline
    assert lines[3].split() == [billing, f"{billing}-dlq", "processing", "0", "0"]
    assert lines[4].split() == [shipping, f"{shipping}-dlq", "processing", "0", "0"]
    assert lines[5].split() == ["(2", "consumers)", fanout.undelivered, "undelivered", "0", "0"]


def test_list_counts_dead_lettered_messages_as_visible(
    fanout: Fanout, capsys: pytest.CaptureFixture[str]
) -> None:
    billing = fanout.add_consumer("Billing")
    fanout.add_consumer("Shipping")
    fanout.publish({"order_id": "o-1"})
    fanout.dead_letter(billing)

    depth = {r["dead_letter_queue"]: r["messages_visible"] for r in _listed(fanout, capsys)}

    assert depth == {
        f"{billing}-dlq": 1,
        f"{fanout.stack}-OrderPlaced-Shipping-F3BD42EB-dlq": 0,
        fanout.undelivered: 0,
    }


def test_list_names_every_queue_whose_subscription_uses_the_undelivered_dlq(
    fanout: Fanout, capsys: pytest.CaptureFixture[str]
) -> None:
    billing = fanout.add_consumer("Billing")
    shipping = fanout.add_consumer("Shipping")

    rows = [r for r in _listed(fanout, capsys) if r["kind"] == dlq.UNDELIVERED]

    assert rows == [
        {
            "topic": fanout.topic_arn.rsplit(":", 1)[1],
            "topic_arn": fanout.topic_arn,
            "kind": "undelivered",
            "dead_letter_queue": fanout.undelivered,
            "dead_letter_queue_url": fanout.queue_url(fanout.undelivered),
            "dead_letter_queue_arn": fanout.queue_arn(fanout.undelivered),
            "sources": [billing, shipping],
            "messages_visible": 0,
            "messages_in_flight": 0,
        }
    ]


def test_list_prefix_leaves_out_queues_of_other_stacks(
    fanout: Fanout, capsys: pytest.CaptureFixture[str]
) -> None:
    fanout.add_consumer("Billing")
    other = fanout.create_queue(f"Other{fanout.stack}-Jobs-dlq")

    listed = {r["dead_letter_queue_url"] for r in _listed(fanout, capsys)}

    assert other not in listed
    assert len(listed) == 2


def test_list_says_so_when_no_queue_has_a_dead_letter_queue(
    fanout: Fanout, capsys: pytest.CaptureFixture[str]
) -> None:
    fanout.create_queue(f"{fanout.stack}-Plain-0A1B2C3D")
    capsys.readouterr()

    assert fanout.cli("list", "--prefix", f"{fanout.stack}-Plain") == 0

    assert (
        capsys.readouterr().out
        == f"No dead-letter queues found among queues named {fanout.stack}-Plain*.\n"
    )


# -- peek (moto) -------------------------------------------------------------------------


def test_peek_shows_the_sns_message_unwrapped_with_its_attributes(
    fanout: Fanout, capsys: pytest.CaptureFixture[str]
) -> None:
    billing = fanout.add_consumer("Billing")
    fanout.publish({"order_id": "o-1", "total": 1250}, customer_contact="email")
    fanout.dead_letter(billing)
    capsys.readouterr()

    assert fanout.cli("peek", f"{billing}-dlq") == 0

    out = capsys.readouterr().out
    assert f"SNS topic: {fanout.topic_arn}\n" in out
    assert "attribute customer_contact (String): email\n" in out
    assert "receive count: " in out
    assert out.endswith('body:\n  {\n    "order_id": "o-1",\n    "total": 1250\n  }\n')


def test_peek_leaves_the_message_in_the_dead_letter_queue(
    fanout: Fanout, capsys: pytest.CaptureFixture[str]
) -> None:
    billing = fanout.add_consumer("Billing")
    fanout.publish({"order_id": "o-1"})
    fanout.dead_letter(billing)
    (before,) = fanout.receive(f"{billing}-dlq")

    assert fanout.cli("peek", f"{billing}-dlq", "--output", "json") == 0

    (peeked,) = json.loads(capsys.readouterr().out)
    assert peeked["message_id"] == before["MessageId"]
    assert [m["MessageId"] for m in fanout.receive(f"{billing}-dlq")] == [before["MessageId"]]


def test_peek_shows_raw_delivery_attributes_from_sqs(
    fanout: Fanout, capsys: pytest.CaptureFixture[str]
) -> None:
    analytics = fanout.add_consumer("Analytics", raw=True)
    fanout.publish({"order_id": "o-2"}, customer_contact="sms")
    fanout.dead_letter(analytics)
    capsys.readouterr()

    assert fanout.cli("peek", f"{analytics}-dlq", "--output", "json") == 0

    (peeked,) = json.loads(capsys.readouterr().out)
    assert peeked["sns"] is None
    assert peeked["attributes"] == {"customer_contact": {"type": "String", "value": "sms"}}
    assert json.loads(peeked["body"]) == {"order_id": "o-2"}


def test_peek_accepts_a_queue_url(fanout: Fanout, capsys: pytest.CaptureFixture[str]) -> None:
    billing = fanout.add_consumer("Billing")
    fanout.publish({"order_id": "o-3"})
    fanout.dead_letter(billing)
    capsys.readouterr()

    assert fanout.cli("peek", fanout.queue_url(f"{billing}-dlq"), "--output", "json") == 0

    assert len(json.loads(capsys.readouterr().out)) == 1


def test_peek_of_an_unknown_queue_exits_2_with_one_line(
    fanout: Fanout, capsys: pytest.CaptureFixture[str]
) -> None:
    assert fanout.cli("peek", f"{fanout.stack}-Missing-dlq") == 2

    captured = capsys.readouterr()
    assert captured.err == (
        f"fanout: error: queue not found: {fanout.stack}-Missing-dlq (check the name and "
        "--region; `fanout dlq list` shows the dead-letter queues)\n"
    )
    assert captured.out == ""


def test_peek_refuses_a_queue_that_has_a_dead_letter_queue(
    fanout: Fanout, capsys: pytest.CaptureFixture[str]
) -> None:
    billing = fanout.add_consumer("Billing")
    fanout.publish({"order_id": "o-4"})

    assert fanout.cli("peek", billing) == 2

    assert "every peek counts as a receive" in capsys.readouterr().err
    assert len(fanout.receive(billing)) == 1  # not received by peek, so not dead-lettered


def test_runs_as_a_program_against_the_emulator(fanout: Fanout) -> None:
    billing = fanout.add_consumer("Billing")
    command = [sys.executable, "-m", "constructs_lib.cli", "--endpoint-url", fanout.endpoint]
    listed = subprocess.run(
        [*command, "--region", REGION, "dlq", "list", "--prefix", billing, "--output", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert [r["dead_letter_queue"] for r in json.loads(listed.stdout)] == [f"{billing}-dlq"]


def test_missing_credentials_exit_3_with_one_line(
    endpoint: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    for name in FAKE_CREDENTIALS:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    assert cli.main(["--endpoint-url", endpoint, "--region", REGION, "dlq", "list"]) == (
        EXIT_UNREACHABLE
    )

    err = capsys.readouterr().err
    assert err.startswith("fanout: error: no AWS credentials found")
    assert err.count("\n") == 1


# -- redrive, status, cancel (Stubber: answers given on cue, requests checked) ----------

DLQ = "Shop-OrderPlaced-Billing-F3BD42EB-dlq"
SOURCE = "Shop-OrderPlaced-Billing-F3BD42EB"
DLQ_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{DLQ}"
DLQ_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{DLQ}"
SOURCE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{SOURCE}"
HANDLE = "eyJ0YXNrSWQiOiJkYzEzMDJkMS1lOWE2LTQ5NjQtYjA0Yi1hMDUxZDUzNjg4NDQifQ=="
EARLIER = 1_796_000_000_000
STARTED = 1_796_150_000_000
BY_QUEUE = json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [SOURCE_ARN]})


@dataclass(frozen=True)
class StubbedSession:
    """What the command's ``Context.session_factory`` returns: its clients, already made."""

    clients: dict[str, Any]

    def client(self, service: str, endpoint_url: str | None = None) -> Any:
        return self.clients[service]


@dataclass
class Stubbed:
    """A real SQS client behind botocore's Stubber, and the command run against it. SNS is
    stubbed too, with no answer queued: a command that calls it fails the test."""

    sqs: Any
    sns: Any
    stub: Stubber
    slept: list[float]
    calls: list[str]

    def expect(self, operation: str, response: dict[str, Any], params: dict[str, Any]) -> None:
        self.stub.add_response(operation, response, params)

    def expect_dlq(self, redrive_allow_policy: str = BY_QUEUE, visible: str = "3") -> None:
        self.expect("get_queue_url", {"QueueUrl": DLQ_URL}, {"QueueName": DLQ})
        self.expect(
            "get_queue_attributes",
            {
                "Attributes": {
                    "QueueArn": DLQ_ARN,
                    "RedriveAllowPolicy": redrive_allow_policy,
                    "ApproximateNumberOfMessages": visible,
                }
            },
            {"QueueUrl": DLQ_URL, "AttributeNames": ["All"]},
        )

    def expect_tasks(self, *tasks: dict[str, Any]) -> None:
        self.expect(
            "list_message_move_tasks",
            {"Results": list(tasks)},
            {"SourceArn": DLQ_ARN, "MaxResults": 10},
        )

    def run(self, *argv: str, sleep: Callable[[float], None] | None = None) -> int:
        """``fanout dlq ARGV`` on the stubbed clients."""
        session = StubbedSession({"sqs": self.sqs, "sns": self.sns})
        ctx = Context(
            args=argparse.Namespace(),
            session_factory=lambda _: session,
            sleep=sleep or self.slept.append,
        )
        code = cli.run(["dlq", *argv], ctx=ctx)
        self.stub.assert_no_pending_responses()
        return code


@pytest.fixture
def stubbed() -> Iterator[Stubbed]:
    sqs = boto3.client("sqs", region_name=REGION, **_session_credentials())
    sns = boto3.client("sns", region_name=REGION, **_session_credentials())
    calls: list[str] = []
    sqs.meta.events.register(
        "before-parameter-build.sqs", lambda model, **_: calls.append(model.name)
    )
    with Stubber(sqs) as stub, Stubber(sns):
        yield Stubbed(sqs=sqs, sns=sns, stub=stub, slept=[], calls=calls)


def _task(status: str, moved: int, to_move: int | None = 3, **extra: Any) -> dict[str, Any]:
    task: dict[str, Any] = {
        "Status": status,
        "SourceArn": DLQ_ARN,
        "ApproximateNumberOfMessagesMoved": moved,
        "StartedTimestamp": STARTED,
        **extra,
    }
    if to_move is not None:
        task["ApproximateNumberOfMessagesToMove"] = to_move
    if status == "RUNNING":
        task["TaskHandle"] = HANDLE
    return task


OLD_TASK = {
    "Status": "COMPLETED",
    "SourceArn": DLQ_ARN,
    "StartedTimestamp": EARLIER,
    "ApproximateNumberOfMessagesMoved": 7,
    "ApproximateNumberOfMessagesToMove": 7,
}


def test_redrive_shows_progress_until_the_task_completes(
    stubbed: Stubbed, capsys: pytest.CaptureFixture[str]
) -> None:
    """A given sequence of ListMessageMoveTasks answers (counting first, then 2 of 3). Off a
    terminal the progress bar on stderr is drawn once, in its final state."""
    stubbed.expect_dlq()
    stubbed.expect_tasks(OLD_TASK)
    stubbed.expect("start_message_move_task", {"TaskHandle": HANDLE}, {"SourceArn": DLQ_ARN})
    stubbed.expect_tasks(_task("RUNNING", 0, to_move=None), OLD_TASK)
    stubbed.expect_tasks(_task("RUNNING", 2), OLD_TASK)
    stubbed.expect_tasks(_task("COMPLETED", 3), OLD_TASK)  # no TaskHandle once finished

    assert stubbed.run("redrive", DLQ) == 0

    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"Moving about 3 message(s) from {DLQ} to {SOURCE} (task {HANDLE}).",
        "Done: 3 message(s) moved.",
    ]
    (bar,) = captured.err.splitlines()
    assert re.fullmatch(r"move task ━+ 3/3 COMPLETED \d+:\d\d:\d\d", bar), bar
    assert stubbed.slept == [dlq.POLL_SECONDS, dlq.POLL_SECONDS]


def test_redrive_failure_prints_the_failure_reason_and_exits_1(
    stubbed: Stubbed, capsys: pytest.CaptureFixture[str]
) -> None:
    """A task SQS fails for a KMS reason (the emulator evaluates no key policy). The progress
    bar stops where the task did, then the error follows on one line."""
    stubbed.expect_dlq()
    stubbed.expect_tasks()
    stubbed.expect("start_message_move_task", {"TaskHandle": HANDLE}, {"SourceArn": DLQ_ARN})
    stubbed.expect_tasks(_task("FAILED", 1, FailureReason="AWS.SimpleQueueService.KmsAccessDenied"))

    assert stubbed.run("redrive", DLQ) == 1

    bar, error = capsys.readouterr().err.splitlines()
    assert re.fullmatch(r"move task ━+ +1/3 FAILED \d+:\d\d:\d\d", bar), bar
    assert error == (
        "fanout: error: the message move task failed: AWS.SimpleQueueService.KmsAccessDenied"
    )


def test_ctrl_c_cancels_the_move_task_and_says_so(
    stubbed: Stubbed, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C while waiting (raised from the context's sleep) calls CancelMessageMoveTask."""
    stubbed.expect_dlq()
    stubbed.expect_tasks()
    stubbed.expect("start_message_move_task", {"TaskHandle": HANDLE}, {"SourceArn": DLQ_ARN})
    stubbed.expect_tasks(_task("RUNNING", 1))
    stubbed.expect(
        "cancel_message_move_task", {"ApproximateNumberOfMessagesMoved": 1}, {"TaskHandle": HANDLE}
    )

    assert stubbed.run("redrive", DLQ, sleep=_interrupt) == EXIT_INTERRUPTED

    out = capsys.readouterr().out
    assert "Interrupted: cancelling the message move task (CancelMessageMoveTask)...\n" in out
    assert out.endswith(
        "Cancel requested after about 1 message(s) moved; SQS stops the task "
        "and the rest stay in the dead-letter queue.\n"
    )


@pytest.mark.parametrize("url", ["not a url", "ftp://host", "http://", "http://host:port"])
def test_a_malformed_endpoint_url_is_a_usage_error_without_traceback(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.run(["--endpoint-url", url, "dlq", "list"]) == 2

    err = capsys.readouterr().err
    assert "--endpoint-url" in err and "Traceback" not in err


def test_redrive_to_another_queue_sends_its_arn_and_the_rate(stubbed: Stubbed) -> None:
    """The exact StartMessageMoveTask request."""
    stubbed.expect_dlq()
    stubbed.expect_tasks()
    stubbed.expect(
        "start_message_move_task",
        {"TaskHandle": HANDLE},
        {
            "SourceArn": DLQ_ARN,
            "DestinationArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:Shop-Replay",
            "MaxNumberOfMessagesPerSecond": 10,
        },
    )

    assert (
        stubbed.run("redrive", DLQ, "--to", "Shop-Replay", "--max-per-second", "10", "--no-wait")
        == 0
    )


def test_no_wait_returns_once_the_task_has_started(
    stubbed: Stubbed, capsys: pytest.CaptureFixture[str]
) -> None:
    """--no-wait does not poll ListMessageMoveTasks (the Stubber counts the calls)."""
    stubbed.expect_dlq()
    stubbed.expect_tasks()
    stubbed.expect("start_message_move_task", {"TaskHandle": HANDLE}, {"SourceArn": DLQ_ARN})

    assert stubbed.run("redrive", DLQ, "--no-wait") == 0

    assert stubbed.calls.count("ListMessageMoveTasks") == 1
    assert capsys.readouterr().out.endswith(
        f"Not waiting. Follow it with `fanout dlq status {DLQ}`.\n"
    )


def test_redrive_of_a_fifo_dlq_to_a_standard_queue_is_a_usage_error(
    stubbed: Stubbed, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checked before any move task call (the Stubber has none queued)."""
    fifo = "Shop-Refunds-Ledger-F685C5BB-dlq.fifo"
    stubbed.expect("get_queue_url", {"QueueUrl": DLQ_URL}, {"QueueName": fifo})
    stubbed.expect(
        "get_queue_attributes",
        {"Attributes": {"QueueArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{fifo}"}},
        {"QueueUrl": DLQ_URL, "AttributeNames": ["All"]},
    )
    stubbed.expect(
        "list_dead_letter_source_queues",
        {"queueUrls": [f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/Shop-Refunds-Ledger.fifo"]},
        {"QueueUrl": DLQ_URL, "MaxResults": 1},
    )

    assert stubbed.run("redrive", fifo, "--to", "Shop-Replay") == 2

    assert "a FIFO dead-letter queue redrives only to a FIFO queue" in capsys.readouterr().err


def test_status_lists_recent_move_tasks(
    stubbed: Stubbed, capsys: pytest.CaptureFixture[str]
) -> None:
    """The table of a given pair of tasks, with fixed start times."""
    stubbed.expect("get_queue_url", {"QueueUrl": DLQ_URL}, {"QueueName": DLQ})
    stubbed.expect(
        "get_queue_attributes",
        {"Attributes": {"QueueArn": DLQ_ARN}},
        {"QueueUrl": DLQ_URL, "AttributeNames": ["QueueArn"]},
    )
    stubbed.expect_tasks(_task("RUNNING", 2), OLD_TASK)

    assert stubbed.run("status", DLQ) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"Message move tasks of {DLQ}, newest first:"
    assert re.split(r"\s{2,}", lines[1].strip()) == [
        "STARTED",
        "STATUS",
        "MOVED",
        "TO MOVE",
        "DESTINATION",
        "FAILURE",
    ]
    assert set(lines[2]) == {"─"}
    assert lines[3].split() == ["2026-12-01T18:33:20Z", "RUNNING", "2", "3", "source"]
    assert lines[4].split() == ["2026-11-30T00:53:20Z", "COMPLETED", "7", "7", "source"]


def test_access_denied_is_one_line_and_exit_1(
    stubbed: Stubbed, capsys: pytest.CaptureFixture[str]
) -> None:
    stubbed.stub.add_client_error(
        "get_queue_url",
        service_error_code="AccessDenied",
        service_message="not authorized to perform: sqs:getqueueurl",
        http_status_code=403,
    )

    assert stubbed.run("peek", DLQ) == 1

    assert capsys.readouterr().err == (
        "fanout: error: access denied for GetQueueUrl: not authorized to perform: sqs:getqueueurl\n"
    )


def test_an_endpoint_without_the_api_gets_a_one_line_error(
    stubbed: Stubbed, capsys: pytest.CaptureFixture[str]
) -> None:
    """Stock moto (without constructs_lib.testing's fixes) answers ListMessageMoveTasks with
    an HTML 500 page; replayed on the Stubber."""
    stubbed.expect_dlq()
    stubbed.stub.add_client_error(
        "list_message_move_tasks",
        service_error_code="500",
        service_message="<!doctype html>\n<title>500 Internal Server Error</title>\n",
        http_status_code=500,
    )

    assert stubbed.run("redrive", DLQ) == 1

    assert capsys.readouterr().err == (
        "fanout: error: ListMessageMoveTasks failed: HTTP 500 without an AWS error "
        "(does the endpoint implement this API?)\n"
    )


# -- packaging and permissions -----------------------------------------------------------


def test_console_script_is_registered() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["fanout"] == "constructs_lib.cli.main:main"


def test_command_starts_without_aws_cdk() -> None:
    """The parser of every subcommand is built at start."""
    script = "import sys; from constructs_lib.cli import main; main.parser(); "
    loaded = subprocess.run(
        [sys.executable, "-c", script + "print('aws_cdk' in sys.modules)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout == "False\n"


def test_peek_redrive_and_cancel_need_only_what_grant_redrive_grants_on_the_dlq(
    stubbed: Stubbed,
) -> None:
    """Every SQS call of a peek, a redrive and a cancel (on the Stubber, which records each
    call) is an action ConsumerQueue.grant_redrive grants on that consumer's DLQ."""
    from aws_cdk import Stack
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_sns as sns
    from helpers import Tmpl, new_app, ref_or_arn

    from constructs_lib import ConsumerQueue

    stack = Stack(new_app(), "Shop")
    consumer = ConsumerQueue(stack, "Billing", topic=sns.Topic(stack, "Topic"))
    consumer.grant_redrive(iam.Role(stack, "Operator", assumed_by=iam.AccountRootPrincipal()))
    tmpl = Tmpl(stack)
    on_dlq = ref_or_arn(tmpl.logical_id(consumer.dead_letter_queue))
    granted = {
        action
        for policy in tmpl.of_type("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Resource"] in on_dlq
        for action in statement["Action"]
    }

    stubbed.expect("get_queue_url", {"QueueUrl": DLQ_URL}, {"QueueName": DLQ})
    stubbed.expect(
        "get_queue_attributes",
        {"Attributes": {"QueueArn": DLQ_ARN}},
        {"QueueUrl": DLQ_URL, "AttributeNames": ["All"]},
    )
    stubbed.expect("receive_message", {"Messages": []}, None)
    assert stubbed.run("peek", DLQ) == 0
    stubbed.expect_dlq()
    stubbed.expect_tasks()
    stubbed.expect("start_message_move_task", {"TaskHandle": HANDLE}, {"SourceArn": DLQ_ARN})
    stubbed.expect_tasks(_task("RUNNING", 1))
    stubbed.expect(
        "cancel_message_move_task", {"ApproximateNumberOfMessagesMoved": 1}, {"TaskHandle": HANDLE}
    )
    assert stubbed.run("redrive", DLQ, sleep=_interrupt) == EXIT_INTERRUPTED

    assert {"ReceiveMessage", "StartMessageMoveTask", "CancelMessageMoveTask"} <= set(stubbed.calls)
    assert {f"sqs:{call}" for call in stubbed.calls} <= granted


def _interrupt(_: float) -> None:
    raise KeyboardInterrupt
