"""The ``fanout`` command: how fast it starts, and how fast it redrives on the emulator.

Run from the repository root, with no AWS account and no network:

    .venv/bin/python benchmarks/operator_cli.py [--messages 500] [--runs 10]

1. Start-up: ``fanout --help`` and ``fanout dlq list --help`` in fresh subprocesses (median
   of ``--runs``), beside ``python -c pass`` (the interpreter alone) and
   ``python -c "import boto3"`` (what every AWS subcommand needs). Target: well under a
   second; the command imports no aws_cdk and no jsii.
2. Redrive throughput on the package's emulator (moto in server mode on 127.0.0.1, one
   process): ``--messages`` undelivered messages in a subscription dead-letter queue,
   redriven by ``fanout dlq redrive`` (receive, journal, send in the subscription's form,
   delete: batches of 10), beside the same number of messages moved out of a processing
   dead-letter queue by an SQS message move task (the emulator's, in ``sqs_fixes``), the
   peer this command's own redrive stands in for. Both are messages per second of wall time,
   from the command's start to the last message in its queue.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def startup(runs: int) -> list[tuple[str, float]]:
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        'python -c "import boto3"': [sys.executable, "-c", "import boto3"],
        "fanout --help": [sys.executable, "-m", "constructs_lib.cli", "--help"],
        "fanout dlq list --help": [
            sys.executable,
            "-m",
            "constructs_lib.cli",
            "dlq",
            "list",
            "--help",
        ],
    }
    figures = []
    for label, command in commands.items():
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
            times.append(time.perf_counter() - started)
        figures.append((label, statistics.median(times)))
    return figures


def _fanout(sqs: Any, sns: Any, account: str, region: str) -> dict[str, str]:
    """A topic, a consumer queue with a processing DLQ, and a subscription DLQ."""
    arn = f"arn:aws:sqs:{region}:{account}:"
    sqs.create_queue(QueueName="bench-undelivered")
    sqs.create_queue(QueueName="bench-consumer-dlq")
    consumer = sqs.create_queue(
        QueueName="bench-consumer",
        Attributes={
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": arn + "bench-consumer-dlq", "maxReceiveCount": 1}
            )
        },
    )["QueueUrl"]
    topic = sns.create_topic(Name="bench")["TopicArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn + "bench-consumer",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn + "bench-undelivered"})
        },
    )
    return {"topic": topic, "consumer": consumer}


def _publish(sns: Any, topic: str, messages: int) -> None:
    for start in range(0, messages, 10):
        sns.publish_batch(
            TopicArn=topic,
            PublishBatchRequestEntries=[
                {"Id": str(i), "Message": json.dumps({"order": start + i})}
                for i in range(min(10, messages - start))
            ],
        )


def _count(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def _drain(sqs: Any, url: str) -> None:
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)
            ],
        )


def redrive(messages: int, emulator: Any = None) -> list[tuple[str, int, float]]:
    """Both redrives on ``emulator`` (a running ``constructs_lib.testing.Emulator``, whose
    environment is in ``os.environ``), or on one of its own."""
    from constructs_lib.testing import Emulator

    if emulator is None:
        with Emulator() as own:
            return _redrive(messages, own)
    return _redrive(messages, emulator)


def _redrive(messages: int, emulator: Any) -> list[tuple[str, int, float]]:
    import boto3

    from constructs_lib.cli.main import run

    figures = []
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    fanout = _fanout(sqs, sns, emulator.account, emulator.region)
    consumer = fanout["consumer"]
    base = consumer.rsplit("/", 1)[0]
    argv = ["--endpoint-url", emulator.endpoint_url, "--region", emulator.region]

    # Undelivered: the consumer queue is deleted, SNS dead-letters every message.
    sqs.delete_queue(QueueUrl=consumer)
    _publish(sns, fanout["topic"], messages)
    sqs.create_queue(
        QueueName="bench-consumer",
        Attributes={
            "RedrivePolicy": json.dumps(
                {
                    "deadLetterTargetArn": f"arn:aws:sqs:{emulator.region}:"
                    f"{emulator.account}:bench-consumer-dlq",
                    "maxReceiveCount": 1,
                }
            )
        },
    )
    assert _count(sqs, f"{base}/bench-undelivered") == messages
    with (
        tempfile.TemporaryDirectory() as state,
        redirect_stdout(io.StringIO()),
        redirect_stderr(io.StringIO()),
    ):
        started = time.perf_counter()
        code = run(["dlq", "redrive", "bench-undelivered", "--journal", f"{state}/j", *argv])
        elapsed = time.perf_counter() - started
    assert code == 0 and _count(sqs, consumer) == messages, code
    figures.append(("fanout dlq redrive (subscription DLQ)", messages, elapsed))

    # Processing: the consumer fails every message once; a move task brings them back.
    _drain(sqs, consumer)
    _publish(sns, fanout["topic"], messages)
    while sqs.receive_message(QueueUrl=consumer, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
        "Messages"
    ):
        pass
    sqs.receive_message(QueueUrl=consumer, MaxNumberOfMessages=10)  # moves the rest
    dlq = f"{base}/bench-consumer-dlq"
    assert _count(sqs, dlq) == messages, _count(sqs, dlq)
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    started = time.perf_counter()
    sqs.start_message_move_task(SourceArn=dlq_arn)
    while _count(sqs, consumer) < messages:
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    figures.append(("SQS message move task (processing DLQ)", messages, elapsed))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"Start-up, median of {args.runs} fresh processes")
    table.add_column("command")
    table.add_column("seconds", justify="right")
    for label, seconds in startup(args.runs):
        table.add_row(label, f"{seconds:.3f}")
    console.print(table)

    table = Table(title=f"Redrive of {args.messages} messages on the emulator")
    table.add_column("how")
    table.add_column("messages", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("messages/s", justify="right")
    for label, count, seconds in redrive(args.messages):
        table.add_row(label, str(count), f"{seconds:.2f}", f"{count / seconds:.0f}")
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
