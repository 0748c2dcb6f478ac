"""Local worker processes over two queues on the emulator (``QUEUE_URLS``): a burst of
low-priority jobs, then high-priority ones; every high job is taken before any low one, none is
lost, and a poison job in either queue ends in that queue's own DLQ.

The worker program alone (``constructs_lib/runtime/queue_worker/worker.py``), on queues made
here, run as the pool's tasks run it with the emulator's endpoint and test credentials; the
deployed ``QueueWorkerPool(queues=[...])`` of the ImageProcessing stack is exercised in
``tests/stacks/test_image_processing_on_emulator.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from constructs_lib.testing import Emulator
from constructs_lib.testing.workers import WorkerProcess

SOURCE = Path(__file__).resolve().parents[4] / "constructs_lib" / "runtime" / "queue_worker"
MAX_RECEIVE_COUNT = 2
HIGH_JOBS = [f"high-{n}" for n in range(1, 9)]
LOW_JOBS = [f"low-{n}" for n in range(1, 13)]
JOB = """
import json
import time


def handle(body):
    started = time.time()
    job = json.loads(body)
    if job.get("poison"):
        raise RuntimeError("poison job")
    time.sleep(0.05)
    return {"job": job["id"], "started": started}
"""


def make_queue(sqs: Any, name: str) -> tuple[str, str]:
    """A queue with a redrive policy to its own DLQ; (queue URL, DLQ URL)."""
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
            ),
        },
    )["QueueUrl"]
    return url, dlq_url


def dead_letters(sqs: Any, dlq_url: str) -> list[dict[str, Any]]:
    return [
        json.loads(message["Body"])
        for message in sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
    ]


@pytest.fixture(scope="module")
def drained(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Two queues filled (low burst first, then high, a poison job in each), drained by two
    local workers; what they logged and the queues afterwards."""
    sqs = emulator.client("sqs")
    high_url, high_dlq = make_queue(sqs, "paid")
    low_url, low_dlq = make_queue(sqs, "free")
    for job in LOW_JOBS:
        sqs.send_message(QueueUrl=low_url, MessageBody=json.dumps({"id": job}))
    sqs.send_message(QueueUrl=low_url, MessageBody=json.dumps({"id": "low-x", "poison": True}))
    for job in HIGH_JOBS:
        sqs.send_message(QueueUrl=high_url, MessageBody=json.dumps({"id": job}))
    sqs.send_message(QueueUrl=high_url, MessageBody=json.dumps({"id": "high-x", "poison": True}))

    folder = tmp_path_factory.mktemp("priority_job")
    (folder / "priority_job.py").write_text(JOB)
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "QUEUE_URLS": f"{high_url},{low_url}",
        "VISIBILITY_TIMEOUT": "30",
        "WORKER_HANDLER": "priority_job.handle",
        "WAIT_TIME_SECONDS": "1",
        "RETRY_DELAY_SECONDS": "0",
        "STOP_GRACE_SECONDS": "5",
        "PRIORITY_STARVATION_LIMIT": "20",
        "AWS_REGION": emulator.region,
        "AWS_DEFAULT_REGION": emulator.region,
        "AWS_ENDPOINT_URL": emulator.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "HOME": tempfile.gettempdir(),
        "PYTHONPATH": str(folder),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    workers = [
        WorkerProcess(
            f"worker-{n}",
            subprocess.Popen(
                [sys.executable, str(SOURCE / "worker.py")],
                cwd=folder,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                bufsize=1,
            ),
        )
        for n in (1, 2)
    ]
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            done = sum(len(worker.logged("job done")) for worker in workers)
            if done >= len(HIGH_JOBS) + len(LOW_JOBS) and all(
                emulator_counts(sqs, url) > 0 for url in (high_dlq, low_dlq)
            ):
                break
            time.sleep(0.1)
        high_dead, low_dead = dead_letters(sqs, high_dlq), dead_letters(sqs, low_dlq)
    finally:
        for worker in workers:
            worker.stop()
        statuses = [worker.wait(10) for worker in workers]
    yield {
        "done": [line for worker in workers for line in worker.logged("job done")],
        "high_dead": high_dead,
        "low_dead": low_dead,
        "statuses": statuses,
        "left": [emulator_counts(sqs, url) for url in (high_url, low_url)],
        "output": "\n".join(worker.output() for worker in workers),
    }


def emulator_counts(sqs: Any, url: str) -> int:
    """Messages in the queue, visible or in flight."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_every_job_is_done_once_and_none_is_left(drained):
    jobs = sorted(line["job"] for line in drained["done"])

    assert jobs == sorted(HIGH_JOBS + LOW_JOBS), drained["output"]
    assert drained["left"] == [0, 0]


def test_every_high_job_is_taken_before_any_low_job(drained):
    started = {line["job"]: line["started"] for line in drained["done"]}

    assert max(started[job] for job in HIGH_JOBS) < min(started[job] for job in LOW_JOBS)


def test_log_lines_name_the_queue_each_job_came_from(drained):
    queues = {line["job"]: line["queue"] for line in drained["done"]}

    assert {queues[job] for job in HIGH_JOBS} == {"paid"}
    assert {queues[job] for job in LOW_JOBS} == {"free"}


def test_a_poison_job_ends_in_its_own_queues_dlq(drained):
    assert [job["id"] for job in drained["high_dead"]] == ["high-x"]
    assert [job["id"] for job in drained["low_dead"]] == ["low-x"]


def test_workers_stop_on_sigterm_with_status_0(drained):
    assert drained["statuses"] == [0, 0]
