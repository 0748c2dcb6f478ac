"""Fixtures for the queue worker: moto, the work queue and its DLQ, the results table, local
stand-ins for the ECS agent and the instance metadata service, and a virtual clock.

The worker program is flat (``python3 worker.py`` puts its folder on ``sys.path``), so it is
imported from the packaged folder ``constructs_lib/runtime/queue_worker`` with that folder on
``sys.path``, and removed from ``sys.modules`` afterwards; ``worker`` imports ``protection``
itself, and the tests use those very module objects. The job most tests run is the reference
stack's thumbnail job (``lambda_src/image_thumbnails/jobs.py``), imported the same way.

The emulated account lasts for a test module; each test gets a new queue (with a redrive
policy to a new dead-letter queue, maxReceiveCount 3) and a new results table. Logs go to
stdout as JSON lines, and ``logs()`` reads what was written since its last call.
"""

from __future__ import annotations

import importlib
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import boto3
import pytest
from helpers import emulated_aws
from image_jobs import image_job

from constructs_lib.testing.fanout import queue_counts
from constructs_lib.testing.local_http import LocalEndpoint, Request

ROOT = Path(__file__).resolve().parents[4]
SOURCE = ROOT / "constructs_lib" / "runtime" / "queue_worker"
JOB_SOURCE = ROOT / "lambda_src" / "image_thumbnails"
SOURCE_MODULES = ("worker", "jobs", "protection")
REGION = "eu-west-1"
MAX_RECEIVE_COUNT = 3


def forget_source_modules() -> None:
    for name in SOURCE_MODULES:
        sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def source() -> Iterator[SimpleNamespace]:
    """The worker modules, imported as ``python3 worker.py`` finds them, and the image job."""
    forget_source_modules()
    sys.path[:0] = [str(SOURCE), str(JOB_SOURCE)]
    try:
        worker = importlib.import_module("worker")
        jobs = importlib.import_module("jobs")
    finally:
        sys.path.remove(str(SOURCE))
        sys.path.remove(str(JOB_SOURCE))
    modules = SimpleNamespace(worker=worker, jobs=jobs, protection=sys.modules["protection"])
    worker.configure_logging("DEBUG")
    yield modules
    forget_source_modules()


@dataclass
class Account:
    """Clients of the emulated AWS account."""

    sqs: Any
    sns: Any
    dynamodb: Any
    ec2: Any
    autoscaling: Any


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    """An emulated account (moto, in process); nothing reaches AWS."""
    with emulated_aws(REGION, unset=("AWS_REGION",)):
        yield Account(
            sqs=boto3.client("sqs", region_name=REGION),
            sns=boto3.client("sns", region_name=REGION),
            dynamodb=boto3.client("dynamodb", region_name=REGION),
            ec2=boto3.client("ec2", region_name=REGION),
            autoscaling=boto3.client("autoscaling", region_name=REGION),
        )


@dataclass
class WorkQueue:
    """A work queue with a redrive policy to its dead-letter queue, read as tests need it."""

    sqs: Any
    url: str
    dlq_url: str
    max_receive_count: int = MAX_RECEIVE_COUNT

    def send(self, body: str) -> str:
        return self.sqs.send_message(QueueUrl=self.url, MessageBody=body)["MessageId"]

    def counts(self) -> tuple[int, int]:
        """(visible, in flight) messages of the work queue."""
        visible, in_flight = queue_counts(self.sqs, self.url)
        return visible, in_flight

    def receive(self, url: str | None = None) -> list[dict[str, Any]]:
        """What another consumer would get now (no waiting), receive counts included."""
        return self.sqs.receive_message(
            QueueUrl=url or self.url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            AttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])


@pytest.fixture
def queue(account: Account) -> WorkQueue:
    """A new, empty work queue (visibility timeout 30 s) and its DLQ (maxReceiveCount 3)."""
    suffix = uuid4().hex[:12]
    dlq_url = account.sqs.create_queue(QueueName=f"jobs-dlq-{suffix}")["QueueUrl"]
    dlq_arn = account.sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    url = account.sqs.create_queue(
        QueueName=f"jobs-{suffix}",
        Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
            ),
        },
    )["QueueUrl"]
    return WorkQueue(account.sqs, url, dlq_url)


class ResultsTable:
    """The results table (partition key ``job_id``), read as tests need it."""

    def __init__(self, dynamodb: Any, name: str) -> None:
        self.dynamodb = dynamodb
        self.name = name

    def items(self) -> list[dict[str, Any]]:
        """Every item, attribute values unwrapped (numbers as text)."""
        return [
            {key: next(iter(value.values())) for key, value in item.items()}
            for item in self.dynamodb.scan(TableName=self.name)["Items"]
        ]


@pytest.fixture
def results(account: Account) -> ResultsTable:
    """A new, empty results table, as the stack defines it."""
    name = f"job-results-{uuid4().hex[:12]}"
    account.dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return ResultsTable(account.dynamodb, name)


@pytest.fixture
def make_settings(source: SimpleNamespace, queue: WorkQueue, results: ResultsTable):
    """Settings for the test's queue and table: no long polling, changes applied."""

    def make(**changes: Any) -> Any:
        values: dict[str, Any] = {
            "queue_url": queue.url,
            "visibility_timeout": 30,
            "handler": "jobs.handler",
            "region": REGION,
            "wait_time_seconds": 0,
        }
        return source.worker.Settings(**{**values, **changes})

    return make


@pytest.fixture
def store(source: SimpleNamespace, account: Account, results: ResultsTable) -> Any:
    return source.jobs.ResultStore(account.dynamodb, results.name)


@pytest.fixture
def make_worker(source: SimpleNamespace, account: Account, make_settings, store):
    """A worker on the test's queue; by default it does the real image job."""

    def make(
        settings: Any = None,
        *,
        work: Callable[[str], Any] | None = None,
        protection: Any = None,
        clock: VirtualClock | None = None,
    ) -> Any:
        options: dict[str, Any] = {}
        if clock is not None:
            options = {"clock": clock, "wait": clock.wait}
        return source.worker.Worker(
            settings or make_settings(),
            account.sqs,
            work or (lambda body: source.jobs.run_job(body, store)),
            protection or source.protection.NoProtection(),
            **options,
        )

    return make


class VirtualClock:
    """A clock that only moves when told to: ``advance`` is the passing of time.

    ``wait(event, seconds)`` returns as soon as ``event`` is set, or once the clock has been
    advanced past its deadline; a few milliseconds of real time pass between its checks.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def wait(self, event: threading.Event, timeout: float) -> bool:
        deadline = self() + timeout
        while not event.wait(0.002):
            if self() >= deadline:
                return event.is_set()
        return True


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


def _wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Waits (in real time) until ``condition()`` holds; fails the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting after {timeout} s")
        time.sleep(0.002)


@pytest.fixture
def wait_until() -> Callable[..., None]:
    """``wait_until(condition, timeout=5.0)``: real-time wait for a condition to hold."""
    return _wait_until


@pytest.fixture
def a_job() -> Callable[..., dict[str, Any]]:
    """``a_job(job_id, *, width, height, pixels, max_size, **changes)``: a job's JSON."""
    return image_job


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str]) -> Callable[[], list[dict[str, Any]]]:
    """Call to read the JSON log lines written to stdout since the last call."""

    def read() -> list[dict[str, Any]]:
        out = capsys.readouterr().out
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    return read


@pytest.fixture
def restore_signal_handlers() -> Iterator[None]:
    """Puts back pytest's SIGTERM and SIGINT handlers after a test installs the worker's."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.fixture
def local_endpoint() -> Iterator[Callable[[Callable[[Request], tuple[int, str]]], LocalEndpoint]]:
    """Starts local HTTP endpoints for a test and stops them after it."""
    started: list[LocalEndpoint] = []

    def start(respond: Callable[[Request], tuple[int, str]]) -> LocalEndpoint:
        endpoint = LocalEndpoint(respond).start()
        started.append(endpoint)
        return endpoint

    yield start
    for endpoint in started:
        endpoint.stop()
