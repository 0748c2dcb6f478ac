"""``fanout replay`` against a deployed FIFO fanout on the emulator.

One stack, deployed once for the module: an archived FIFO ``Ledger`` fanout with a filtered
consumer (``Balances``, debits only) and an unfiltered one (``Audit``), a FIFO fanout without
an archive (``Journal``), a standard fanout (``Orders``), and a queue subscribed to both FIFO
topics. Messages are published before, inside and after a window; each test then replays
(the emulator keeps the archive and replays it as SNS does, ``constructs_lib.testing.
sns_archive``) and reads what arrives. Replays run at once unless a test paces them to watch
their status, stop them or interrupt the command.
"""

from __future__ import annotations

import io
import json
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import boto3
import docs_pages
import pytest
from aws_cdk import Stack
from aws_cdk import aws_sns as sns
from helpers import ROOT, project_app

from constructs_lib import FanoutTopic
from constructs_lib._private.replay import replay_policy
from constructs_lib.cli import replay
from constructs_lib.cli.core import Context
from constructs_lib.cli.main import run
from constructs_lib.testing import Emulator, receive_all, sns_archive

STACK = "Payments"
BALANCES = "payments-balances.fifo"
AUDIT = "payments-audit.fifo"
SHARED = "payments-shared.fifo"
QUEUES = (BALANCES, AUDIT, SHARED)


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return self.err.splitlines()


SESSION = boto3.Session()
"""One session for every run: a new one per run would load botocore's models each time."""


def fanout(emulator: Emulator, *argv: str, sleep: Callable[[float], None] | None = None) -> Result:
    """The command as operators run it, with its output captured and short polls."""
    out, err = io.StringIO(), io.StringIO()
    ctx = Context(
        args=None,  # type: ignore[arg-type]
        session_factory=lambda args: SESSION,
        sleep=sleep or (lambda seconds: time.sleep(0.02)),
        stdout=out,
        stderr=err,
    )
    endpoint = ["--endpoint-url", emulator.endpoint_url, "--region", emulator.region]
    code = run([*endpoint, *argv], ctx=ctx)
    return Result(code, out.getvalue(), err.getvalue())


def _publish(emulator: Emulator, topic_arn: str, n: int, kind: str) -> None:
    emulator.client("sns").publish(
        TopicArn=topic_arn,
        Message=json.dumps({"n": n, "kind": kind}),
        MessageGroupId="ledger",
        MessageDeduplicationId=f"entry-{n}",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": kind}},
    )


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture(scope="module")
def ledger(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    app = project_app(tmp_path_factory.mktemp("cdk.out"))
    stack = Stack(app, STACK)
    archived = FanoutTopic(
        stack, "Ledger", fifo=True, content_based_deduplication=False, archive_retention_days=7
    )
    archived.add_queue_consumer(
        "Balances",
        queue_name="payments-balances",
        raw_message_delivery=True,
        filter_policy={"kind": sns.SubscriptionFilter.string_filter(allowlist=["debit"])},
    )
    archived.add_queue_consumer("Audit", queue_name="payments-audit", raw_message_delivery=True)
    journal = FanoutTopic(stack, "Journal", fifo=True, content_based_deduplication=False)
    journal.add_queue_consumer("Entries", queue_name="payments-journal", raw_message_delivery=True)
    FanoutTopic(stack, "Orders").add_queue_consumer("Billing", queue_name="payments-billing")
    deployed = emulator.deploy(app.synth().get_stack_by_name(STACK))

    def physical(path: str) -> str:
        return deployed.physical_id(deployed.logical_id_at(f"{STACK}/{path}"))

    topic_arn, journal_arn = physical("Ledger/Topic/Resource"), physical("Journal/Topic/Resource")
    sqs, sns_client = emulator.client("sqs"), emulator.client("sns")
    shared = sqs.create_queue(QueueName=SHARED, Attributes={"FifoQueue": "true"})["QueueUrl"]
    shared_arn = sqs.get_queue_attributes(QueueUrl=shared, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    for topic in (topic_arn, journal_arn):
        sns_client.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=shared_arn,
            Attributes={"RawMessageDelivery": "true"},
        )

    for n, kind in ((1, "debit"), (2, "credit")):
        _publish(emulator, topic_arn, n, kind)
    time.sleep(0.05)
    start = datetime.now(UTC)
    time.sleep(0.05)
    for n, kind in ((3, "debit"), (4, "credit"), (5, "debit")):
        _publish(emulator, topic_arn, n, kind)
    time.sleep(0.05)
    end = datetime.now(UTC)
    time.sleep(0.05)
    _publish(emulator, topic_arn, 6, "debit")
    audit_subscription = physical("Ledger/Audit/Subscription/Resource")
    balances_subscription = physical("Ledger/Balances/Subscription/Resource")
    return SimpleNamespace(
        emulator=emulator,
        topic_arn=topic_arn,
        start=_stamp(start),
        end=_stamp(end),
        start_time=start,
        end_time=end,
        audit_subscription=audit_subscription,
        balances_subscription=balances_subscription,
    )


def received(emulator: Emulator, queue: str) -> list[int]:
    url = emulator.client("sqs").get_queue_url(QueueName=queue)["QueueUrl"]
    return [json.loads(m["Body"])["n"] for m in receive_all(emulator.client("sqs"), url)]


def _replay_status(ledger: SimpleNamespace, subscription: str) -> dict[str, str]:
    attributes: dict[str, str] = ledger.emulator.client("sns").get_subscription_attributes(
        SubscriptionArn=subscription
    )["Attributes"]
    return {k: v for k, v in attributes.items() if k.startswith("Replay")}


@pytest.fixture(autouse=True)
def live_messages_consumed(ledger: SimpleNamespace) -> Iterator[None]:
    """Each test starts with the live messages consumed and no replay running, as an operator
    finds a consumer that has processed what it was sent."""
    for queue in QUEUES:
        received(ledger.emulator, queue)
    yield
    sns_client = ledger.emulator.client("sns")
    for subscription in (ledger.audit_subscription, ledger.balances_subscription):
        if _replay_status(ledger, subscription).get("ReplayStatus") in replay.RUNNING:
            sns_client.set_subscription_attributes(
                SubscriptionArn=subscription, AttributeName="ReplayPolicy", AttributeValue="{}"
            )


@pytest.fixture
def paced(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Replays in the background, one message per interval, as SNS runs them."""

    def pace(seconds: float) -> None:
        monkeypatch.setattr(sns_archive, "REPLAY_INTERVAL_SECONDS", seconds)

    return pace


def _wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# -- replays -------------------------------------------------------------------------------


def test_a_window_replays_its_messages_through_the_filter_in_order(
    ledger: SimpleNamespace,
) -> None:
    result = fanout(ledger.emulator, "replay", BALANCES, "--from", ledger.start, "--to", ledger.end)
    assert result.code == 0, result.err
    assert received(ledger.emulator, BALANCES) == [3, 5]
    assert re.search(r"status\s+Completed", result.out)


def test_the_fanouts_other_consumers_get_nothing(ledger: SimpleNamespace) -> None:
    fanout(ledger.emulator, "replay", BALANCES, "--from", ledger.start, "--to", ledger.end)
    assert received(ledger.emulator, AUDIT) == []
    assert received(ledger.emulator, SHARED) == []


def test_a_subscription_arn_names_the_consumer(ledger: SimpleNamespace) -> None:
    result = fanout(
        ledger.emulator,
        "replay",
        ledger.audit_subscription,
        "--from",
        ledger.start,
        "--to",
        ledger.end,
    )
    assert result.code == 0, result.err
    assert received(ledger.emulator, AUDIT) == [3, 4, 5]
    assert received(ledger.emulator, BALANCES) == []


def test_a_relative_start_replays_until_now_and_says_where_the_archive_begins(
    ledger: SimpleNamespace,
) -> None:
    result = fanout(ledger.emulator, "replay", BALANCES, "--from", "-10m")
    assert result.code == 0, result.err
    assert received(ledger.emulator, BALANCES) == [1, 3, 5, 6]
    assert "archive begins at" in result.err
    assert "(BeginningArchiveTime): nothing published before it is replayed" in result.err


def test_the_topic_option_picks_one_of_the_queues_topics(ledger: SimpleNamespace) -> None:
    topic_name = ledger.topic_arn.rsplit(":", 1)[-1]
    result = fanout(
        ledger.emulator,
        *("replay", SHARED, "--topic", topic_name, "--from", ledger.start, "--to", ledger.end),
    )
    assert result.code == 0, result.err
    assert received(ledger.emulator, SHARED) == [3, 4, 5]


def test_the_policy_is_written_as_the_construct_option_writes_it(
    ledger: SimpleNamespace,
) -> None:
    fanout(ledger.emulator, "replay", BALANCES, "--from", ledger.start, "--to", ledger.end)
    written = _replay_status(ledger, ledger.balances_subscription)["ReplayPolicy"]
    assert json.loads(written) == replay_policy(ledger.start_time, ledger.end_time)
    assert json.loads(written) == {
        "PointType": "Timestamp",
        "StartingPoint": ledger.start,
        "EndingPoint": ledger.end,
    }


def test_json_output_is_the_final_status(ledger: SimpleNamespace) -> None:
    result = fanout(
        ledger.emulator,
        *("--output", "json", "replay", BALANCES, "--from", ledger.start, "--to", ledger.end),
    )
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["status"] == "Completed"
    assert report["subscription"] == ledger.balances_subscription
    assert report["topic"] == ledger.topic_arn
    assert report["queue"].endswith(f":{BALANCES}")
    assert report["replay_policy"]["StartingPoint"] == ledger.start
    assert isinstance(report["seconds"], float)


def test_the_to_option_warns_that_sns_then_stops_live_delivery(ledger: SimpleNamespace) -> None:
    result = fanout(ledger.emulator, "replay", BALANCES, "--from", ledger.start, "--to", ledger.end)
    assert "SNS stops delivering newly published messages to this subscription" in result.err


def test_following_shows_the_status_until_the_replay_completes(
    ledger: SimpleNamespace, paced: Callable[[float], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    paced(0.1)
    seen: list[str] = []
    read = replay.read_status

    def recording(ctx: Any, target: Any) -> str:
        seen.append(read(ctx, target))
        return seen[-1]

    monkeypatch.setattr(replay, "read_status", recording)
    result = fanout(ledger.emulator, "replay", BALANCES, "--from", ledger.start)
    assert result.code == 0, result.err
    assert seen[0] == "Pending"
    assert "In progress" in seen
    assert seen[-1] == "Completed"
    assert re.search(r"replay \S+ to payments-balances.fifo, .* Completed", result.err)
    assert received(ledger.emulator, BALANCES) == [3, 5, 6]


def test_no_wait_returns_while_the_replay_goes_on(
    ledger: SimpleNamespace, paced: Callable[[float], None]
) -> None:
    paced(0.1)
    result = fanout(ledger.emulator, "replay", BALANCES, "--from", ledger.start, "--no-wait")
    assert result.code == 0, result.err
    assert re.search(r"status\s+Pending", result.out)
    _wait_for(
        lambda: _replay_status(ledger, ledger.balances_subscription)["ReplayStatus"] == "Completed"
    )
    assert received(ledger.emulator, BALANCES) == [3, 5, 6]


def test_cancel_stops_a_replay_in_progress(
    ledger: SimpleNamespace, paced: Callable[[float], None]
) -> None:
    paced(0.3)
    fanout(ledger.emulator, "replay", BALANCES, "--from", ledger.start, "--no-wait")
    result = fanout(ledger.emulator, "replay", BALANCES, "--cancel")
    assert result.code == 0, result.err
    assert re.search(r"cancelled\s+True", result.out)
    assert re.search(r"status before\s+(Pending|In progress)", result.out)
    before_the_cancel = received(ledger.emulator, BALANCES)
    assert before_the_cancel in ([], [3])  # at most the first, sent after one interval
    time.sleep(1.0)  # the replay would have sent the rest by now
    assert received(ledger.emulator, BALANCES) == []
    assert _replay_status(ledger, ledger.balances_subscription) == {}


def test_cancel_as_json(ledger: SimpleNamespace, paced: Callable[[float], None]) -> None:
    paced(0.3)
    fanout(ledger.emulator, "replay", BALANCES, "--from", ledger.start, "--no-wait")
    result = fanout(ledger.emulator, "--output", "json", "replay", BALANCES, "--cancel")
    report = json.loads(result.out)
    assert report.pop("status_before") in ("Pending", "In progress")
    assert report == {
        "subscription": ledger.balances_subscription,
        "topic": ledger.topic_arn,
        "queue": report["queue"],
        "cancelled": True,
        "status": "Stopped",
    }
    assert report["queue"].endswith(f":{BALANCES}")


def test_a_new_replay_is_refused_while_one_is_in_progress(
    ledger: SimpleNamespace, paced: Callable[[float], None]
) -> None:
    paced(0.3)
    fanout(ledger.emulator, "replay", BALANCES, "--from", ledger.start, "--no-wait")
    result = fanout(ledger.emulator, "replay", BALANCES, "--from", ledger.start)
    assert result.code == 2
    assert len(result.error_lines) == 1
    assert re.fullmatch(
        r"fanout: error: a replay is in progress to queue payments-balances\.fifo \(ReplayStatus "
        r"(Pending|In progress)\): wait for it, or stop it with "
        rf"`fanout replay {re.escape(BALANCES)} --cancel`",
        result.error_lines[0],
    )


def test_ctrl_c_stops_following_and_leaves_the_replay_running(
    ledger: SimpleNamespace, paced: Callable[[float], None]
) -> None:
    paced(0.3)

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    result = fanout(ledger.emulator, "replay", BALANCES, "--from", ledger.start, sleep=interrupted)
    assert result.code == 130
    assert result.error_lines[-1] == (
        "fanout: error: interrupted: stopped following; the replay goes on in SNS "
        f"(`fanout replay {BALANCES} --cancel` stops it)"
    )
    status = _replay_status(ledger, ledger.balances_subscription)["ReplayStatus"]
    assert status in ("Pending", "In progress")


def test_a_failed_replay_exits_1(ledger: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replay, "read_status", lambda ctx, target: "Failed")
    result = fanout(ledger.emulator, "replay", BALANCES, "--from", ledger.start)
    assert result.code == 1
    assert result.error_lines[-1].startswith(
        "fanout: error: the replay to queue payments-balances.fifo ended with ReplayStatus Failed"
    )


# -- refusals ------------------------------------------------------------------------------

REFUSALS = {
    "standard topic": (
        ["payments-billing", "--from", "-1m"],
        "topic Payments-OrdersTopic",
        "is a standard topic: SNS replays only FIFO topics with an archive",
    ),
    "no archive": (
        ["payments-journal.fifo", "--from", "-1m"],
        "topic Payments-Journal-Topic",
        "keeps no archive (no active ArchivePolicy)",
    ),
    "malformed time": (
        [BALANCES, "--from", "yesterday"],
        "--from 'yesterday' is not a time: give ISO 8601 with a time zone",
        "or a relative time (-2h, -90m, -1d)",
    ),
    "no time zone": (
        [BALANCES, "--from", "2026-12-01T09:00:00"],
        "--from 2026-12-01T09:00:00 has no time zone, which is ambiguous",
        "(e.g. 2026-12-01T09:00:00Z), or give a relative time (-2h)",
    ),
    "end before start": (
        [BALANCES, "--from", "-1h", "--to", "-2h"],
        "--to -2h is not after --from -1h",
        "swap them",
    ),
    "future start": ([BALANCES, "--from", "2999-01-01T00:00:00Z"], "is in the future", ""),
    "before the retention": (
        [BALANCES, "--from", "-8d"],
        "is older than the archive's retention: topic Payments-Ledger-Topic",
        "keeps 7 days, from",
    ),
    "several topics": (
        [SHARED, "--from", "-1m"],
        "queue payments-shared.fifo is subscribed to 2 topics (",
        "): pass --topic with the one to replay",
    ),
    "another topic": (
        [SHARED, "--topic", "Elsewhere.fifo", "--from", "-1m"],
        "--topic Elsewhere.fifo: queue payments-shared.fifo is not subscribed to it",
        "its topics: Payments-Journal-Topic",
    ),
    "unknown queue": (
        ["payments-nothing.fifo", "--from", "-1m"],
        "queue not found: payments-nothing.fifo",
        "(check the name, .fifo included, and --region)",
    ),
    "unsubscribed queue": (
        ["Payments-Ledger-Balances-dlq.fifo", "--from", "-1m"],
        "",
        "",
    ),
    "no start": ([BALANCES], "--from TIME is required", "(e.g. --from -2h)"),
    "cancel with times": (
        [BALANCES, "--cancel", "--from", "-1m"],
        "--cancel stops the replay in progress: it takes no --from or --to",
        "",
    ),
    "cancel without a replay": (
        [BALANCES, "--cancel"],
        "no replay in progress to queue payments-balances.fifo (ReplayStatus ",
        "nothing to cancel",
    ),
}


@pytest.mark.parametrize(("argv", "says", "and_says"), REFUSALS.values(), ids=REFUSALS.keys())
def test_refusals_are_one_line_with_exit_code_2(
    ledger: SimpleNamespace, argv: list[str], says: str, and_says: str
) -> None:
    if argv[0] == "Payments-Ledger-Balances-dlq.fifo":  # the consumer's DLQ: no subscription
        argv = [_dead_letter_queue(ledger), *argv[1:]]
        says = f"no SNS subscription in {ledger.emulator.region} delivers to queue"
        and_says = "(a subscription lives in its topic's region)"
    result = fanout(ledger.emulator, "replay", *argv)
    assert result.code == 2
    assert result.out == ""
    assert len(result.error_lines) == 1, result.err
    line = result.error_lines[0]
    assert line.startswith("fanout: error: ")
    assert says in line
    assert and_says in line


def _dead_letter_queue(ledger: SimpleNamespace) -> str:
    sqs = ledger.emulator.client("sqs")
    urls = sqs.list_queues(QueueNamePrefix="Payments-Ledger-Balances")["QueueUrls"]
    return next(url for url in urls if url.endswith("-dlq.fifo"))


def test_a_topic_arn_is_refused_naming_what_to_give(ledger: SimpleNamespace) -> None:
    result = fanout(ledger.emulator, "replay", ledger.topic_arn, "--from", "-1m")
    assert result.code == 2
    assert result.error_lines == [
        f"fanout: error: {ledger.topic_arn} is a topic ARN: name the consumer's queue (name, URL "
        "or ARN) or its subscription ARN (`--topic` picks the topic)"
    ]


# -- as operators run it -------------------------------------------------------------------


def test_it_runs_as_a_command(ledger: SimpleNamespace) -> None:
    emulator = ledger.emulator
    command = [sys.executable, "-m", "constructs_lib.cli", "--output", "json"]
    command += ["--endpoint-url", emulator.endpoint_url, "--region", emulator.region]
    command += ["replay", BALANCES, "--from", ledger.start, "--to", ledger.end]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "Completed"
    assert received(emulator, BALANCES) == [3, 5]


def test_it_imports_neither_aws_cdk_nor_jsii(ledger: SimpleNamespace) -> None:
    emulator = ledger.emulator
    argv = ["--endpoint-url", emulator.endpoint_url, "--region", emulator.region]
    argv += ["replay", BALANCES, "--from", ledger.start, "--to", ledger.end]
    program = (
        "import sys\n"
        "from constructs_lib.cli.main import run\n"
        f"code = run({argv!r})\n"
        "print(code, sorted({m.split('.')[0] for m in sys.modules} & {'aws_cdk', 'jsii', 'moto'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.splitlines()[-1] == "0 []", done.stderr


def _readme_commands() -> list[list[str]]:
    """The ``fanout`` lines of the README block that says this module runs it."""
    section = (docs_pages.DOCS / "cli" / "replay.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    block = next(b for b in blocks if "tests/cli/test_replay_on_emulator.py runs" in b)
    lines = [shlex.split(line, comments=True) for line in block.splitlines()]
    return [words[1:] for words in lines if words and words[0] == "fanout"]


def test_the_readme_examples_run_on_the_emulator(
    ledger: SimpleNamespace, paced: Callable[[float], None]
) -> None:
    paced(0.1)  # so that the last line finds the replay the one before started
    commands = _readme_commands()
    assert len(commands) >= 3
    for argv in commands:
        result = fanout(ledger.emulator, *argv)
        assert result.code == 0, (argv, result.err)
