"""worker over several queues in priority order (``QUEUE_URLS``): the settings, the polling
policy (strict order, the starvation limit, the idle long poll on the highest queue only), and
heartbeats, deletes, give-backs and the SIGTERM drain on the queue each message came from."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from itertools import count
from typing import Any
from uuid import uuid4

import pytest

ACCOUNT = "https://sqs.eu-west-1.amazonaws.com/123456789012"
HIGH, LOW = f"{ACCOUNT}/paid", f"{ACCOUNT}/free"
REQUIRED = {"VISIBILITY_TIMEOUT": "300", "WORKER_HANDLER": "jobs.handler"}


@pytest.fixture(scope="module")
def worker_module(source):
    return source.worker


def problems_of(worker_module, environ: dict[str, str]) -> tuple[str, ...]:
    with pytest.raises(worker_module.ConfigurationError) as raised:
        worker_module.Settings.from_environ({**REQUIRED, **environ})
    return raised.value.problems


# --- settings -------------------------------------------------------------------------------


def test_reads_queue_urls_in_priority_order_with_the_region_they_name(worker_module):
    settings = worker_module.Settings.from_environ({**REQUIRED, "QUEUE_URLS": f"{HIGH}, {LOW}"})

    assert settings.queues == (HIGH, LOW)
    assert settings.queue_url == HIGH
    assert settings.region == "eu-west-1"
    assert settings.priority_starvation_limit == 20


def test_queue_url_alone_still_reads_as_one_queue(worker_module):
    settings = worker_module.Settings.from_environ({**REQUIRED, "QUEUE_URL": HIGH})

    assert settings.queues == (HIGH,)
    assert settings.queue_urls == ()


def test_reads_the_starvation_limit_and_zero_for_strict_priority(worker_module):
    environ = {**REQUIRED, "QUEUE_URLS": f"{HIGH},{LOW}"}
    settings = worker_module.Settings.from_environ({**environ, "PRIORITY_STARVATION_LIMIT": "0"})

    assert settings.priority_starvation_limit == 0


REFUSED = {
    "both": (
        {"QUEUE_URL": HIGH, "QUEUE_URLS": f"{HIGH},{LOW}"},
        "QUEUE_URL and QUEUE_URLS are both set; set QUEUE_URL for one queue or QUEUE_URLS for "
        "several in priority order, not both",
    ),
    "neither": (
        {"AWS_REGION": "eu-west-1"},
        "QUEUE_URL is not set (nor QUEUE_URLS, for several queues in priority order)",
    ),
    "twice": (
        {"QUEUE_URLS": f"{HIGH},{LOW},{HIGH}"},
        f"QUEUE_URLS names {HIGH!r} twice; list each queue once, highest priority first",
    ),
    "empty entry": (
        {"QUEUE_URLS": f"{HIGH},,{LOW}"},
        "QUEUE_URLS has an empty entry at position 2; expected queue URLs separated by commas, "
        "highest priority first",
    ),
    "not a url": (
        {"QUEUE_URLS": f"{HIGH},free"},
        "QUEUE_URLS entry 2 is 'free'; expected a queue's URL",
    ),
    "two regions": (
        {"QUEUE_URLS": f"{HIGH},https://sqs.us-east-1.amazonaws.com/123456789012/free"},
        "QUEUE_URLS names queues in several regions (eu-west-1, us-east-1); all the queues of "
        "one worker must be in one region",
    ),
    "no region": (
        {"QUEUE_URLS": "http://127.0.0.1:5000/123456789012/paid,http://127.0.0.1:5000/1/free"},
        "AWS_REGION is not set, and a queue in QUEUE_URLS names no region",
    ),
    "starvation limit": (
        {"QUEUE_URLS": f"{HIGH},{LOW}", "PRIORITY_STARVATION_LIMIT": "-1"},
        "PRIORITY_STARVATION_LIMIT is '-1'; expected a whole number of messages from 0 (strict "
        "priority) to 10000",
    ),
}
"""Queue settings the worker refuses, and the problem it names."""


@pytest.mark.parametrize(("environ", "problem"), REFUSED.values(), ids=list(REFUSED))
def test_rejects_queue_settings_naming_the_problem(worker_module, environ, problem):
    assert problems_of(worker_module, environ) == (problem,)


def test_main_exits_with_2_when_both_queue_settings_are_set(worker_module, logs):
    status = worker_module.main({**REQUIRED, "QUEUE_URL": HIGH, "QUEUE_URLS": f"{HIGH},{LOW}"})

    assert status == 2
    (line,) = logs()
    assert line["level"] == "CRITICAL"
    assert line["problems"][0].startswith("QUEUE_URL and QUEUE_URLS are both set")
    worker_module.configure_logging("DEBUG")


# --- the polling policy, on a fake SQS ------------------------------------------------------


class FakeSqs:
    """Queues of message bodies; records every call (name and arguments)."""

    def __init__(self, *urls: str) -> None:
        self.queues: dict[str, list[str]] = {url: [] for url in urls}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._ids = count(1)

    def send(self, url: str, *bodies: str) -> None:
        self.queues[url].extend(bodies)

    def receive_message(self, **call: Any) -> dict[str, Any]:
        self.calls.append(("receive_message", call))
        waiting = self.queues[call["QueueUrl"]]
        if not waiting:
            return {}
        body = waiting.pop(0)
        number = next(self._ids)
        message = {
            "MessageId": f"m-{number}",
            "ReceiptHandle": f"{call['QueueUrl']}#{number}",
            "Body": body,
            "Attributes": {"ApproximateReceiveCount": "1"},
        }
        return {"Messages": [message]}

    def delete_message(self, **call: Any) -> dict[str, Any]:
        self.calls.append(("delete_message", call))
        return {}

    def change_message_visibility(self, **call: Any) -> dict[str, Any]:
        self.calls.append(("change_message_visibility", call))
        return {}

    def receives(self) -> list[tuple[str, int]]:
        """(queue name, WaitTimeSeconds) of every receive, and forgets them."""
        done = [
            (call["QueueUrl"].rsplit("/", 1)[1], call["WaitTimeSeconds"])
            for name, call in self.calls
            if name == "receive_message"
        ]
        self.calls.clear()
        return done


@pytest.fixture
def fake_sqs() -> FakeSqs:
    return FakeSqs(HIGH, LOW)


@pytest.fixture
def priority_worker(worker_module, fake_sqs):
    """``priority_worker(**settings)``: a worker over HIGH then LOW on the fake SQS whose job
    records the bodies it does, in ``worker.done``."""

    def make(*, work: Any = None, clock: Any = None, **changes: Any) -> Any:
        values: dict[str, Any] = {
            "queue_url": HIGH,
            "queue_urls": (HIGH, LOW),
            "visibility_timeout": 30,
            "handler": "jobs.handler",
            "region": "eu-west-1",
            "wait_time_seconds": 20,
            **changes,
        }
        done: list[str] = []
        worker = worker_module.Worker(
            worker_module.Settings(**values),
            fake_sqs,
            work or done.append,
            worker_module.NoProtection(),
            **({"clock": clock, "wait": clock.wait} if clock else {}),
        )
        worker.done = done
        return worker

    return make


def test_high_queue_messages_are_taken_before_low_ones(priority_worker, fake_sqs):
    fake_sqs.send(LOW, "low-1", "low-2")
    fake_sqs.send(HIGH, "high-1", "high-2")
    worker = priority_worker()

    for _ in range(4):
        worker.step()

    assert worker.done == ["high-1", "high-2", "low-1", "low-2"]


def test_low_message_is_taken_when_the_high_queue_is_empty(priority_worker, fake_sqs):
    fake_sqs.send(LOW, "low-1")
    worker = priority_worker()

    worker.step()

    assert worker.done == ["low-1"]
    assert fake_sqs.receives() == [("paid", 0), ("free", 0)]


def test_starvation_limit_gives_a_low_message_its_turn_after_that_many_highs(
    priority_worker, fake_sqs
):
    # GIVEN more high-priority work than the worker can do, and low work waiting
    fake_sqs.send(HIGH, *[f"high-{n}" for n in range(1, 9)])
    fake_sqs.send(LOW, "low-1", "low-2")
    worker = priority_worker(priority_starvation_limit=3)

    # WHEN it takes eight messages
    for _ in range(8):
        worker.step()

    # THEN every fourth one is a low one
    assert worker.done == [
        "high-1", "high-2", "high-3", "low-1",
        "high-4", "high-5", "high-6", "low-2",
    ]  # fmt: skip


def test_starvation_turn_on_an_empty_low_queue_goes_back_to_the_high_queue(
    priority_worker, fake_sqs
):
    fake_sqs.send(HIGH, *[f"high-{n}" for n in range(1, 5)])
    worker = priority_worker(priority_starvation_limit=2)
    for _ in range(2):
        worker.step()
    fake_sqs.receives()

    worker.step()

    assert fake_sqs.receives() == [("free", 0), ("paid", 0)]
    assert worker.done == ["high-1", "high-2", "high-3"]


def test_starvation_limit_0_is_strict_priority(priority_worker, fake_sqs):
    fake_sqs.send(HIGH, *[f"high-{n}" for n in range(1, 51)])
    fake_sqs.send(LOW, "low-1")
    worker = priority_worker(priority_starvation_limit=0)

    for _ in range(51):
        worker.step()

    assert worker.done == [f"high-{n}" for n in range(1, 51)] + ["low-1"]


def test_idle_worker_short_polls_every_queue_then_long_polls_only_the_highest(
    priority_worker, fake_sqs, worker_module
):
    worker = priority_worker(wait_time_seconds=20)

    outcome = worker.step()

    assert outcome is worker_module.Outcome.EMPTY
    assert fake_sqs.receives() == [("paid", 0), ("free", 0), ("paid", 20)]


def test_one_queue_is_long_polled_as_before(worker_module, fake_sqs):
    settings = worker_module.Settings(
        queue_url=HIGH, visibility_timeout=30, handler="jobs.handler", region="eu-west-1"
    )
    worker = worker_module.Worker(settings, fake_sqs, print, worker_module.NoProtection())

    worker.step()

    assert fake_sqs.receives() == [("paid", 20)]


def test_message_from_the_low_queue_is_deleted_from_the_low_queue(priority_worker, fake_sqs):
    fake_sqs.send(LOW, "low-1")

    priority_worker().step()

    deletes = [call for name, call in fake_sqs.calls if name == "delete_message"]
    assert [(call["QueueUrl"], call["ReceiptHandle"].split("#")[0]) for call in deletes] == [
        (LOW, LOW)
    ]


def visibility_changes(fake_sqs: FakeSqs) -> list[tuple[str, int]]:
    """(queue name, VisibilityTimeout) of every ChangeMessageVisibility call."""
    return [
        (call["QueueUrl"].rsplit("/", 1)[1], call["VisibilityTimeout"])
        for name, call in fake_sqs.calls
        if name == "change_message_visibility"
    ]


def test_heartbeats_of_a_low_job_go_to_the_low_queue(priority_worker, fake_sqs, clock):
    # GIVEN a visibility timeout of 30 s (a heartbeat every 10 s) and a low job of 25 s
    fake_sqs.send(LOW, "low-1")

    def job(body: str) -> None:
        for _ in range(5):
            clock.advance(5)
            time.sleep(0.02)

    # WHEN the worker runs it
    priority_worker(work=job, clock=clock).step()

    # THEN its visibility was extended on the low queue, twice
    assert visibility_changes(fake_sqs) == [("free", 30), ("free", 30)]


def test_retry_backoff_of_a_failed_low_job_is_set_on_the_low_queue(priority_worker, fake_sqs):
    fake_sqs.send(LOW, "low-1")

    def fail(body: str) -> None:
        raise RuntimeError("boom")

    priority_worker(work=fail, retry_delay_seconds=7).step()

    assert visibility_changes(fake_sqs) == [("free", 7)]


def test_log_lines_name_the_queue_of_the_message(priority_worker, fake_sqs, logs):
    fake_sqs.send(LOW, "low-1")
    logs()

    priority_worker().step()

    (done,) = [line for line in logs() if line["message"] == "job done"]
    assert done["queue"] == "free"


# --- on moto: heartbeats, retries, give-back and the drain on the message's own queue -------


@pytest.fixture
def two_queues(account, queue):
    """The test's work queue (high) and a second one (low), each with its own DLQ."""
    suffix = uuid4().hex[:12]
    dlq_url = account.sqs.create_queue(QueueName=f"free-dlq-{suffix}")["QueueUrl"]
    dlq_arn = account.sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    low_url = account.sqs.create_queue(
        QueueName=f"free-{suffix}",
        Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
        },
    )["QueueUrl"]
    low = type(queue)(account.sqs, low_url, dlq_url)
    return queue, low


@pytest.fixture
def make_priority_settings(make_settings, two_queues):
    high, low = two_queues

    def make(**changes: Any) -> Any:
        return make_settings(queue_urls=(high.url, low.url), **changes)

    return make


def test_long_low_job_heartbeats_on_the_low_queue_and_is_deleted_there(
    make_worker, make_priority_settings, two_queues, account
):
    # GIVEN a visibility timeout of 1 s, and a low-priority job that takes 1.6 s
    high, low = two_queues
    low.send("slow")
    seen: list[Any] = []

    def slow(body: str) -> None:
        time.sleep(1.6)
        seen.append(low.receive())

    worker = make_worker(make_priority_settings(visibility_timeout=1), work=slow)

    # WHEN the worker runs it
    worker.step()

    # THEN nobody else got it meanwhile, and it was deleted from the low queue
    assert seen == [[]]
    assert low.counts() == (0, 0)
    assert high.counts() == (0, 0)


def test_failed_low_job_is_retried_then_dead_lettered_in_the_low_queues_dlq(
    make_worker, make_priority_settings, two_queues, worker_module
):
    high, low = two_queues
    low.send("poison")

    def fail(body: str) -> None:
        raise RuntimeError("boom")

    worker = make_worker(make_priority_settings(retry_delay_seconds=0), work=fail)

    outcomes = []
    for _ in range(low.max_receive_count + 1):
        time.sleep(0.01)
        outcomes.append(worker.step())

    Outcome = worker_module.Outcome
    assert outcomes == [Outcome.FAILED] * low.max_receive_count + [Outcome.EMPTY]
    assert [message["Body"] for message in low.receive(low.dlq_url)] == ["poison"]
    assert high.receive(high.dlq_url) == []


def test_low_message_received_after_a_stop_request_is_given_back_to_the_low_queue(
    make_worker, make_priority_settings, two_queues, worker_module
):
    _high, low = two_queues
    low.send("later")
    worker = make_worker(make_priority_settings())
    worker.request_stop("SIGTERM")

    outcome = worker.step()

    assert outcome is worker_module.Outcome.RETURNED
    time.sleep(0.01)
    assert [message["Body"] for message in low.receive()] == ["later"]


def test_sigterm_during_a_low_job_lets_it_finish_and_deletes_it_from_the_low_queue(
    make_worker,
    make_priority_settings,
    two_queues,
    clock,
    wait_until,
    source,
    restore_signal_handlers,
    logs,
):
    # GIVEN a worker over two queues, with a 100 s stop grace, working on a low job
    _high, low = two_queues
    low.send("low-job")
    done: list[str] = []

    def job(body: str) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        wait_until(lambda: worker.stop_requested)
        clock.advance(50)
        done.append(body)

    worker = make_worker(make_priority_settings(stop_grace_seconds=100), work=job, clock=clock)
    source.worker.install_signal_handlers(worker.request_stop)

    # WHEN SIGTERM arrives mid-job
    status = worker.run()

    # THEN the job finished within the grace, its message left the low queue, and it stopped
    assert status == 0
    assert done == ["low-job"]
    assert low.counts() == (0, 0)
    lines = logs()
    assert [line["queue"] for line in lines if line["message"] == "job done"] == [
        low.url.rsplit("/", 1)[1]
    ]
    assert [line["reason"] for line in lines if line["message"] == "worker stopped"] == ["SIGTERM"]


def test_sigterm_past_the_grace_gives_a_low_message_back_to_the_low_queue(
    make_worker, make_priority_settings, two_queues, clock, wait_until, restore_signal_handlers
):
    _high, low = two_queues
    low.send("too-long")
    release = threading.Event()

    def job(body: str) -> None:
        worker.request_stop("SIGTERM")
        clock.advance(101)
        release.wait(10)

    worker = make_worker(make_priority_settings(stop_grace_seconds=100), work=job, clock=clock)

    worker.run()

    assert worker.job_abandoned
    time.sleep(0.01)
    (message,) = low.receive()
    assert message["Body"] == "too-long"
    assert message["Attributes"]["ApproximateReceiveCount"] == "2"
    release.set()
    wait_until(lambda: not worker.job_abandoned)
