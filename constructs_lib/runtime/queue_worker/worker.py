"""The worker of an autoscaled worker fleet: drains an SQS work queue, one message at a time.

Run it as ``python3 worker.py`` with the settings in the environment (see ``Settings``). The
job is the user's code, named by ``WORKER_HANDLER`` as ``module.function`` (like a Lambda
handler string) and imported from this program's folder or the working directory. Its
contract: ``handler(body: str) -> Mapping[str, object] | None`` (fields added to the log line
of its success); it raises to fail. An exception with a ``problems`` attribute (a sequence of
strings) is logged as an invalid job. Each turn of the loop:

1. long-polls the queue for one message (``ReceiveMessage``, ``WaitTimeSeconds``);
2. on a message, marks the worker busy for scale-in (``protection.py``) and runs the job in a
   thread while this thread keeps the message invisible to other workers
   (``ChangeMessageVisibility`` to ``VISIBILITY_TIMEOUT`` every third of it), however long
   the job takes;
3. deletes the message only when the job succeeded. A failed job's message stays in the
   queue and comes back after a short backoff (``RETRY_DELAY_SECONDS``); after the queue's
   ``maxReceiveCount`` receives, SQS moves it to the dead-letter queue (the redrive policy
   does that, not the worker);
4. on an empty poll, marks the worker idle, so scale-in may choose it.

Several queues in priority order (``QUEUE_URLS``, highest first; each with its own redrive
policy and DLQ): every turn still takes one message, and everything above holds for it on the
queue it came from (heartbeats, delete, retry backoff and give-back go to that queue; log lines
name it in ``queue``). The polling policy is strict priority with a starvation guard:

- The queues are short-polled (``WaitTimeSeconds=0``) in priority order, and the first
  message found is taken: a lower queue is asked only when every higher one returned nothing.
  Strict priority is the point of the option (a burst of low-priority work must not delay a
  high-priority job), and a weighted share would make high jobs wait behind low ones even
  when workers are scarce.
- Starvation guard: for each lower queue the worker counts the messages it took from higher
  queues since it last asked that queue. When the count reaches ``PRIORITY_STARVATION_LIMIT``
  (default 20), the next turn short-polls that queue first; a message there is taken (count
  reset), an empty answer just resets the count. So a lower queue with work gets at least one
  message in every limit + 1 a worker takes (with more than two queues, queues due together
  take their turns one after another, so at least 1 in limit + the number of lower queues).
  The cost is one extra, possibly empty, receive per limit + 1 messages. 0 turns the guard off
  (pure strict priority: a lower queue waits as long as any higher one has work).
- When every queue is empty, the worker long-polls the highest queue only, for
  ``WAIT_TIME_SECONDS`` (default 20), then starts the round again. A long poll never waits on
  a lower queue, so a high-priority message arriving at an idle worker is received at once;
  a lower one waits until the long poll ends: up to ``WAIT_TIME_SECONDS`` when idle (set it
  lower for a tighter bound, at the price of more receive calls). SQS short polls sample a
  subset of the queue's servers, so a queue holding only a few messages can read empty on
  one turn; its message is found on a later one (each idle round asks every queue again).

Stopping: SIGTERM or SIGINT (or, on EC2, the instance's target lifecycle state turning to
``Terminated``) stops receiving. A job in flight may finish within ``STOP_GRACE_SECONDS``
(heartbeats go on meanwhile) and its message is then deleted; past the grace its message is
given back (visible again at once, not deleted) and the process exits, so the job is never
running in two places at once. On EC2 the termination lifecycle action is then completed.
The exit status of a stop is 0; settings that are missing or invalid exit with 2.

Logs are JSON objects, one a line, on stdout: ``time``, ``level``, ``message``, ``logger``
and the fields of the event (``message_id``, ``receive_count``, ``error``, ...).

The clock, the waiting and the signal wiring are parameters of ``Worker`` and ``main`` so
tests can drive the loop step by step and in virtual time. Standard library and boto3 only.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from types import FrameType
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from protection import (
    Ec2InstanceProtection,
    EcsTaskProtection,
    NoProtection,
    Protection,
    ecs_protection_minutes,
)

LOGGER = logging.getLogger("queue_worker")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
PLATFORMS = ("ecs", "ec2", "none")
MAX_VISIBILITY_TIMEOUT = 43200
"""SQS's limit: 12 hours."""
MAX_WAIT_TIME_SECONDS = 20
"""SQS's limit for long polling."""
DEFAULT_RETRY_DELAY_SECONDS = 30
DEFAULT_PRIORITY_STARVATION_LIMIT = 20
MAX_PRIORITY_STARVATION_LIMIT = 10000
TERMINATION_POLL_SECONDS = 5.0
"""How often a running job's heartbeat loop asks whether the platform wants the worker gone."""
RECEIVE_ERROR_PAUSE_SECONDS = 5.0
"""How long the loop pauses after a failed receive before it tries again."""

AWS_ERRORS = (BotoCoreError, ClientError)
HANDLER_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$")
"""``WORKER_HANDLER``: a module path and the name of a function in it, like ``jobs.handler``."""
QUEUE_URL_REGION = re.compile(
    r"^https://(?:sqs\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
    r"|(?P<legacy>[a-z0-9-]+)\.queue\.amazonaws\.com(?:\.cn)?)/"
)


class ConfigurationError(RuntimeError):
    """The environment lacks a setting the worker needs, or holds one it cannot use."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("the queue worker cannot start: " + "; ".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class Settings:
    """What the worker is told by its environment (the CDK stack sets it)."""

    queue_url: str
    """``QUEUE_URL``: the work queue. With ``QUEUE_URLS``, the highest-priority queue."""
    visibility_timeout: int
    """``VISIBILITY_TIMEOUT`` (required): the queue's visibility timeout in seconds, 1 to
    43200. Each receive asks for it, and heartbeats renew it every third of it."""
    handler: str
    """``WORKER_HANDLER`` (required): the job, as ``module.function`` (``jobs.handler``)."""
    region: str
    """``AWS_REGION``, else ``AWS_DEFAULT_REGION``, else the region in ``QUEUE_URL``."""
    wait_time_seconds: int = MAX_WAIT_TIME_SECONDS
    """``WAIT_TIME_SECONDS``: long-poll wait, 0 to 20; default 20."""
    stop_grace_seconds: int = 100
    """``STOP_GRACE_SECONDS``: how long a job in flight may still run after a stop is
    requested before its message is given back; default 100 (Fargate sends SIGKILL 120 s
    after SIGTERM by default)."""
    retry_delay_seconds: int = DEFAULT_RETRY_DELAY_SECONDS
    """``RETRY_DELAY_SECONDS``: how long a failed job's message stays invisible before it is
    retried, 0 to the visibility timeout; default the smaller of 30 and the visibility
    timeout."""
    platform: str = "none"
    """``WORKER_PLATFORM``: ``ecs``, ``ec2`` or ``none`` (no scale-in protection); default
    ``none``."""
    ecs_agent_uri: str = ""
    """``ECS_AGENT_URI``, which ECS sets in every container (``ecs`` only)."""
    autoscaling_group_name: str = ""
    """``AUTOSCALING_GROUP_NAME`` (required for ``ec2``)."""
    lifecycle_hook_name: str = ""
    """``LIFECYCLE_HOOK_NAME``: the group's termination lifecycle hook (required for
    ``ec2``)."""
    log_level: str = "INFO"
    """``LOG_LEVEL``: ``DEBUG``, ``INFO`` (default), ``WARNING``, ``ERROR`` or
    ``CRITICAL``."""
    queue_urls: tuple[str, ...] = ()
    """``QUEUE_URLS``: instead of ``QUEUE_URL`` (exactly one of the two is set), the work
    queues in priority order, highest first, comma-separated; all in one region. Empty when
    ``QUEUE_URL`` is used."""
    priority_starvation_limit: int = DEFAULT_PRIORITY_STARVATION_LIMIT
    """``PRIORITY_STARVATION_LIMIT``: with ``QUEUE_URLS``, after this many messages in a row
    taken from higher queues, a lower queue is asked first (see the module's docstring);
    0 to 10000, 0 for pure strict priority; default 20. Ignored with ``QUEUE_URL``."""

    @property
    def queues(self) -> tuple[str, ...]:
        """The queues the worker drains, highest priority first (one with ``QUEUE_URL``)."""
        return self.queue_urls or (self.queue_url,)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from environment variables; raises naming every one missing or invalid."""
        problems: list[str] = []

        def required(name: str) -> str:
            value = environ.get(name, "").strip()
            if not value:
                problems.append(f"{name} is not set")
            return value

        def whole_number(name: str, low: int, high: int, default: int | None) -> int:
            text = environ.get(name, "").strip()
            if not text:
                if default is None:
                    problems.append(f"{name} is not set")
                    return 0
                return default
            try:
                value = int(text)
            except ValueError:
                value = low - 1
            if not low <= value <= high:
                problems.append(
                    f"{name} is {text!r}; expected a whole number of seconds from {low} to {high}"
                )
                return 0
            return value

        queue_url = environ.get("QUEUE_URL", "").strip()
        queue_urls_text = environ.get("QUEUE_URLS", "").strip()
        queue_urls: tuple[str, ...] = ()
        if queue_url and queue_urls_text:
            problems.append(
                "QUEUE_URL and QUEUE_URLS are both set; set QUEUE_URL for one queue or "
                "QUEUE_URLS for several in priority order, not both"
            )
        elif queue_urls_text:
            queue_urls = tuple(url.strip() for url in queue_urls_text.split(","))
            problems.extend(_queue_list_problems(queue_urls))
            queue_url = queue_urls[0]
        elif not queue_url:
            problems.append(
                "QUEUE_URL is not set (nor QUEUE_URLS, for several queues in priority order)"
            )
        elif not queue_url.startswith(("https://", "http://")):
            problems.append(f"QUEUE_URL is {queue_url!r}; expected the queue's URL")
        visibility_timeout = whole_number("VISIBILITY_TIMEOUT", 1, MAX_VISIBILITY_TIMEOUT, None)
        handler = required("WORKER_HANDLER")
        if handler and not HANDLER_PATTERN.match(handler):
            problems.append(
                f"WORKER_HANDLER is {handler!r}; expected module.function, like jobs.handler"
            )
        wait_time_seconds = whole_number(
            "WAIT_TIME_SECONDS", 0, MAX_WAIT_TIME_SECONDS, MAX_WAIT_TIME_SECONDS
        )
        stop_grace_seconds = whole_number("STOP_GRACE_SECONDS", 0, MAX_VISIBILITY_TIMEOUT, 100)
        retry_delay_seconds = whole_number(
            "RETRY_DELAY_SECONDS",
            0,
            visibility_timeout or MAX_VISIBILITY_TIMEOUT,
            min(DEFAULT_RETRY_DELAY_SECONDS, visibility_timeout or DEFAULT_RETRY_DELAY_SECONDS),
        )

        starvation_text = environ.get("PRIORITY_STARVATION_LIMIT", "").strip()
        priority_starvation_limit = DEFAULT_PRIORITY_STARVATION_LIMIT
        if starvation_text:
            try:
                priority_starvation_limit = int(starvation_text)
            except ValueError:
                priority_starvation_limit = -1
            if not 0 <= priority_starvation_limit <= MAX_PRIORITY_STARVATION_LIMIT:
                problems.append(
                    f"PRIORITY_STARVATION_LIMIT is {starvation_text!r}; expected a whole number "
                    f"of messages from 0 (strict priority) to {MAX_PRIORITY_STARVATION_LIMIT}"
                )
                priority_starvation_limit = DEFAULT_PRIORITY_STARVATION_LIMIT

        region = (
            environ.get("AWS_REGION", "").strip() or environ.get("AWS_DEFAULT_REGION", "").strip()
        )
        if not region and queue_urls:
            regions = {_region_of(url) for url in queue_urls if url}
            if len(regions) == 1 and "" not in regions:
                region = regions.pop()
            elif "" in regions and not problems:
                problems.append("AWS_REGION is not set, and a queue in QUEUE_URLS names no region")
        elif not region and queue_url:
            region = _region_of(queue_url)
            if not region:
                problems.append("AWS_REGION is not set, and QUEUE_URL names no region")

        platform = environ.get("WORKER_PLATFORM", "none").strip().lower() or "none"
        ecs_agent_uri = autoscaling_group_name = lifecycle_hook_name = ""
        if platform not in PLATFORMS:
            problems.append(
                f"WORKER_PLATFORM is {environ['WORKER_PLATFORM']!r}; "
                f"expected one of {', '.join(PLATFORMS)}"
            )
        elif platform == "ecs":
            ecs_agent_uri = environ.get("ECS_AGENT_URI", "").strip()
            if not ecs_agent_uri:
                problems.append(
                    "ECS_AGENT_URI is not set (ECS sets it in every container; WORKER_PLATFORM "
                    "is ecs)"
                )
        elif platform == "ec2":
            autoscaling_group_name = required("AUTOSCALING_GROUP_NAME")
            lifecycle_hook_name = required("LIFECYCLE_HOOK_NAME")

        log_level = environ.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
        if log_level not in LOG_LEVELS:
            problems.append(
                f"LOG_LEVEL is {environ['LOG_LEVEL']!r}; expected one of {', '.join(LOG_LEVELS)}"
            )

        if problems:
            raise ConfigurationError(problems)
        return cls(
            queue_url=queue_url,
            visibility_timeout=visibility_timeout,
            handler=handler,
            region=region,
            wait_time_seconds=wait_time_seconds,
            stop_grace_seconds=stop_grace_seconds,
            retry_delay_seconds=retry_delay_seconds,
            platform=platform,
            ecs_agent_uri=ecs_agent_uri,
            autoscaling_group_name=autoscaling_group_name,
            lifecycle_hook_name=lifecycle_hook_name,
            log_level=log_level,
            queue_urls=queue_urls,
            priority_starvation_limit=priority_starvation_limit,
        )


def _region_of(queue_url: str) -> str:
    """The region an SQS queue URL names, or ``""`` (an emulator's URL names none)."""
    match = QUEUE_URL_REGION.match(queue_url)
    return (match.group("region") or match.group("legacy")) if match else ""


def queue_name(queue_url: str) -> str:
    """The queue's name: the last part of its URL."""
    return queue_url.rstrip("/").rsplit("/", 1)[-1]


def _queue_list_problems(queue_urls: tuple[str, ...]) -> list[str]:
    """What is wrong with ``QUEUE_URLS``: entries that are no URL, repeats, mixed regions."""
    problems: list[str] = []
    seen: set[str] = set()
    for position, url in enumerate(queue_urls, start=1):
        if not url:
            problems.append(
                f"QUEUE_URLS has an empty entry at position {position}; expected queue URLs "
                "separated by commas, highest priority first"
            )
        elif not url.startswith(("https://", "http://")):
            problems.append(f"QUEUE_URLS entry {position} is {url!r}; expected a queue's URL")
        elif url in seen:
            problems.append(
                f"QUEUE_URLS names {url!r} twice; list each queue once, highest priority first"
            )
        seen.add(url)
    regions = sorted({_region_of(url) for url in queue_urls} - {""})
    if len(regions) > 1:
        problems.append(
            f"QUEUE_URLS names queues in several regions ({', '.join(regions)}); "
            "all the queues of one worker must be in one region"
        )
    return problems


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, message, logger, fields.

    Fields come from ``extra={"fields": {...}}``; values JSON cannot hold are written as text.
    """

    def format(self, record: logging.LogRecord) -> str:
        seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        document: dict[str, object] = {
            "time": f"{seconds}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            document.update({key: value for key, value in fields.items() if key not in document})
        if record.exc_info:
            document["traceback"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


class _StdoutHandler(logging.Handler):
    """Writes each line to ``sys.stdout`` as it is when the line is written."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except Exception:
            self.handleError(record)


def configure_logging(level: str) -> None:
    """Sends the worker's logs (``queue_worker`` and below) to stdout as JSON lines."""
    handler = _StdoutHandler()
    handler.setFormatter(JsonFormatter())
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(level if level in LOG_LEVELS else "INFO")
    LOGGER.propagate = False


def _log(level: int, text: str, /, **fields: object) -> None:
    """Logs ``text`` with ``fields`` (which may be named anything, ``level`` included)."""
    LOGGER.log(level, text, extra={"fields": fields})


@dataclass(frozen=True)
class Message:
    """A message received from the queue."""

    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    queue_url: str = ""
    """The queue it came from: heartbeats, the delete and a give-back go to that queue."""

    @classmethod
    def from_sqs(cls, message: Mapping[str, Any], queue_url: str = "") -> Message:
        count = str(message.get("Attributes", {}).get("ApproximateReceiveCount", "0"))
        return cls(
            message_id=message["MessageId"],
            receipt_handle=message["ReceiptHandle"],
            body=message.get("Body", ""),
            receive_count=int(count) if count.isdigit() else 0,
            queue_url=queue_url,
        )

    @property
    def fields(self) -> dict[str, object]:
        """What every log line about this message carries."""
        return {
            "message_id": self.message_id,
            "receive_count": self.receive_count,
            "queue": queue_name(self.queue_url),
        }


class Outcome(Enum):
    """What one turn of the loop (``Worker.step``) did."""

    EMPTY = "empty"
    """The poll returned nothing."""
    DONE = "done"
    """A job succeeded and its message was deleted."""
    FAILED = "failed"
    """A job failed; its message stays in the queue and comes back after the retry delay."""
    RETURNED = "returned"
    """A message was given back unprocessed because the worker is stopping."""
    RECEIVE_FAILED = "receive_failed"
    """The receive call failed; the loop paused before going on."""


class _ReceiveFailed(Exception):
    """A receive call failed (already logged, with the queue it was for)."""


class _JobRun:
    """A job running in its own thread; ``done`` is set when it has returned or raised."""

    def __init__(self, work: Callable[[str], Mapping[str, object] | None], body: str) -> None:
        self.done = threading.Event()
        self.fields: Mapping[str, object] | None = None
        self.error: Exception | None = None
        self.thread = threading.Thread(target=self._run, args=(work, body), daemon=True)

    def _run(self, work: Callable[[str], Mapping[str, object] | None], body: str) -> None:
        try:
            self.fields = work(body)
        except Exception as error:
            self.error = error
        finally:
            self.done.set()


def wait_for(event: threading.Event, timeout: float) -> bool:
    """Waits up to ``timeout`` seconds for ``event``; whether it is set."""
    return event.wait(timeout)


class Worker:
    """The receive, work, heartbeat and delete loop over one queue, or several in priority
    order (``Settings.queue_urls``)."""

    def __init__(
        self,
        settings: Settings,
        sqs: Any,
        work: Callable[[str], Mapping[str, object] | None],
        protection: Protection,
        *,
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[threading.Event, float], bool] = wait_for,
    ) -> None:
        """``sqs`` is a boto3 SQS client. ``work`` does the job of a message body and returns
        fields for the log line of its success, or raises. ``clock`` gives seconds (any
        origin); ``wait(event, seconds)`` waits that long by ``clock`` or until ``event`` is
        set, and says whether it is."""
        self.settings = settings
        self._sqs = sqs
        self._work = work
        self._protection = protection
        self._clock = clock
        self._wait = wait
        self._stop = threading.Event()
        self._stop_reason = ""
        self._stop_at = 0.0
        self._terminating = False
        self._abandoned: threading.Thread | None = None
        self._passed_over = [0] * len(settings.queues)
        """Per queue, the messages taken from higher queues since it was last asked."""

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def job_abandoned(self) -> bool:
        """Whether a job whose message was given back is still running in its thread."""
        return self._abandoned is not None and self._abandoned.is_alive()

    def request_stop(self, reason: str) -> None:
        """Stops receiving; a job in flight gets the stop grace. Safe in a signal handler."""
        if self._stop.is_set():
            return
        self._stop_reason = reason
        self._stop_at = self._clock()
        self._stop.set()

    def run(self) -> int:
        """Works until a stop is requested; the process exit status (0)."""
        _log(
            logging.INFO,
            "worker started",
            queue_url=self.settings.queue_url,
            queues=[queue_name(url) for url in self.settings.queues],
            priority_starvation_limit=(
                self.settings.priority_starvation_limit if self.settings.queue_urls else None
            ),
            platform=self.settings.platform,
            visibility_timeout=self.settings.visibility_timeout,
            stop_grace_seconds=self.settings.stop_grace_seconds,
        )
        while not self._stop.is_set():
            self._poll_termination()
            if self._stop.is_set():
                break
            self.step()
        _log(logging.INFO, "worker stopping", reason=self._stop_reason)
        if self._terminating:
            self._protection.complete_termination()
        else:
            self._protection.unprotect()
        _log(logging.INFO, "worker stopped", reason=self._stop_reason)
        return 0

    def step(self) -> Outcome:
        """One turn of the loop: a receive, and the job of the message it brings, if any."""
        try:
            message = self._next_message()
        except _ReceiveFailed:
            self._wait(self._stop, RECEIVE_ERROR_PAUSE_SECONDS)
            return Outcome.RECEIVE_FAILED
        if message is None:
            self._protection.unprotect()
            return Outcome.EMPTY
        if self._stop.is_set():
            self._give_back(message, "the worker is stopping")
            return Outcome.RETURNED
        self._protection.protect()
        return self._process(message)

    def _next_message(self) -> Message | None:
        """The next message by the polling policy (the module's docstring), or None."""
        queues = self.settings.queues
        if len(queues) == 1:
            return self._receive(queues[0], self.settings.wait_time_seconds)
        limit = self.settings.priority_starvation_limit
        if limit:
            for index in range(1, len(queues)):
                if self._passed_over[index] < limit:
                    continue
                passed_over = self._passed_over[index]
                message = self._receive(queues[index], 0)
                if message is not None:
                    _log(
                        logging.DEBUG,
                        "lower-priority turn: the starvation limit was reached",
                        passed_over=passed_over,
                        **message.fields,
                    )
                    self._took(index)
                    return message
                self._passed_over[index] = 0
        for index, url in enumerate(queues):
            message = self._receive(url, 0)
            if message is not None:
                self._took(index)
                return message
            self._passed_over[index] = 0
        if self._stop.is_set():
            return None
        message = self._receive(queues[0], self.settings.wait_time_seconds)
        if message is not None:
            self._took(0)
        return message

    def _took(self, index: int) -> None:
        """Counts a message taken from queue ``index`` against every lower queue."""
        self._passed_over[index] = 0
        for lower in range(index + 1, len(self._passed_over)):
            self._passed_over[lower] += 1

    def _receive(self, queue_url: str, wait_time_seconds: int) -> Message | None:
        """One message from ``queue_url``, or None; raises ``_ReceiveFailed`` (logged)."""
        try:
            response = self._sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=1,
                WaitTimeSeconds=wait_time_seconds,
                VisibilityTimeout=self.settings.visibility_timeout,
                AttributeNames=["ApproximateReceiveCount"],
            )
        except AWS_ERRORS as error:
            _log(
                logging.ERROR,
                "receiving from the queue failed; trying again after a pause",
                error=str(error),
                error_type=type(error).__name__,
                pause_seconds=RECEIVE_ERROR_PAUSE_SECONDS,
                queue=queue_name(queue_url),
            )
            raise _ReceiveFailed() from error
        messages = response.get("Messages") or []
        return Message.from_sqs(messages[0], queue_url) if messages else None

    def _process(self, message: Message) -> Outcome:
        """Runs the job in a thread; meanwhile heartbeats, and watches for a stop."""
        _log(logging.DEBUG, "job started", **message.fields)
        started = self._clock()
        job = _JobRun(self._work, message.body)
        job.thread.start()
        heartbeat_every = self.settings.visibility_timeout / 3
        next_heartbeat = started + heartbeat_every
        next_termination_poll = started + TERMINATION_POLL_SECONDS
        stop_noticed = False
        while True:
            wake_at = min(next_heartbeat, next_termination_poll)
            if self._stop.is_set():
                wake_at = min(wake_at, self._stop_at + self.settings.stop_grace_seconds)
            if self._wait(job.done, max(0.0, wake_at - self._clock())):
                break
            now = self._clock()
            if self._stop.is_set():
                if now >= self._stop_at + self.settings.stop_grace_seconds:
                    self._give_back(message, "the job did not finish within the stop grace")
                    self._abandoned = job.thread
                    return Outcome.RETURNED
                if not stop_noticed:
                    stop_noticed = True
                    _log(
                        logging.INFO,
                        "stop requested while a job runs: letting it finish within the grace",
                        reason=self._stop_reason,
                        stop_grace_seconds=self.settings.stop_grace_seconds,
                        **message.fields,
                    )
            if now >= next_termination_poll:
                self._poll_termination()
                next_termination_poll = now + TERMINATION_POLL_SECONDS
            if now >= next_heartbeat:
                self._heartbeat(message)
                self._protection.protect()
                next_heartbeat = now + heartbeat_every
        duration = round(self._clock() - started, 3)
        if job.error is not None:
            self._log_failure(message, job.error, duration)
            self._change_visibility(message, self.settings.retry_delay_seconds, "retry backoff")
            return Outcome.FAILED
        try:
            self._sqs.delete_message(
                QueueUrl=message.queue_url, ReceiptHandle=message.receipt_handle
            )
        except AWS_ERRORS as error:
            _log(
                logging.ERROR,
                "job done, but deleting its message failed: it will be delivered again",
                error=str(error),
                **message.fields,
            )
            return Outcome.DONE
        done = {**dict(job.fields or {}), **message.fields, "duration_seconds": duration}
        _log(logging.INFO, "job done", **done)
        return Outcome.DONE

    def _log_failure(self, message: Message, error: Exception, duration: float) -> None:
        retry = {"retry_in_seconds": self.settings.retry_delay_seconds}
        problems = _problems_of(error)
        if problems is not None:
            _log(
                logging.ERROR,
                "invalid job: it is retried like any failure, then dead-lettered",
                error=str(error),
                problems=problems,
                duration_seconds=duration,
                **retry,
                **message.fields,
            )
            return
        _log(
            logging.ERROR,
            "job failed: the message stays in the queue for a retry",
            error=str(error) or type(error).__name__,
            error_type=type(error).__name__,
            traceback="".join(traceback.format_exception(type(error), error, error.__traceback__)),
            duration_seconds=duration,
            **retry,
            **message.fields,
        )

    def _heartbeat(self, message: Message) -> None:
        if self._change_visibility(message, self.settings.visibility_timeout, "heartbeat"):
            _log(logging.DEBUG, "heartbeat", **message.fields)

    def _give_back(self, message: Message, reason: str) -> None:
        if self._change_visibility(message, 0, "give back"):
            _log(
                logging.WARNING,
                "message given back to the queue unprocessed",
                reason=reason,
                **message.fields,
            )

    def _change_visibility(self, message: Message, seconds: int, purpose: str) -> bool:
        try:
            self._sqs.change_message_visibility(
                QueueUrl=message.queue_url,
                ReceiptHandle=message.receipt_handle,
                VisibilityTimeout=seconds,
            )
        except AWS_ERRORS as error:
            _log(
                logging.WARNING,
                f"changing the message visibility ({purpose}) failed",
                error=str(error),
                visibility_timeout=seconds,
                **message.fields,
            )
            return False
        return True

    def _poll_termination(self) -> None:
        if not self._terminating and self._protection.termination_requested():
            self._terminating = True
            _log(logging.WARNING, "termination notice: draining, then completing the termination")
            self.request_stop("termination notice")


def _problems_of(error: Exception) -> list[str] | None:
    """The ``problems`` an invalid-job exception carries (a sequence of strings), if any."""
    problems = getattr(error, "problems", None)
    if isinstance(problems, (str, bytes)) or not isinstance(problems, (list, tuple)):
        return None
    if not all(isinstance(problem, str) for problem in problems):
        return None
    return list(problems)


def load_handler(spec: str, search_path: Sequence[str] = ()) -> Callable[[str], Any]:
    """The job function ``spec`` (``module.function``) names; raises ``ConfigurationError``.

    The module is imported with ``search_path`` (this program's folder and the working
    directory, as ``main`` passes them) first on ``sys.path``.
    """
    module_name, _, function_name = spec.rpartition(".")
    for folder in reversed(search_path):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise ConfigurationError(
            [
                f"WORKER_HANDLER is {spec!r}; its module {module_name!r} cannot be imported "
                f"({type(error).__name__}: {error})"
            ]
        ) from error
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ConfigurationError(
            [
                f"WORKER_HANDLER is {spec!r}; module {module_name!r} "
                f"({getattr(module, '__file__', None) or 'no file'}) has no function "
                f"{function_name!r}"
            ]
        )
    return function  # type: ignore[no-any-return]


def install_signal_handlers(request_stop: Callable[[str], None]) -> None:
    """SIGTERM and SIGINT call ``request_stop`` with the signal's name."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        request_stop(signal.Signals(signum).name)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)


def build_protection(settings: Settings, session: Any, config: Config) -> Protection:
    """The scale-in protection of ``settings.platform``."""
    if settings.platform == "ecs":
        return EcsTaskProtection(
            settings.ecs_agent_uri,
            protection_minutes=ecs_protection_minutes(settings.visibility_timeout),
        )
    if settings.platform == "ec2":
        return Ec2InstanceProtection(
            session.client("autoscaling", config=config),
            group_name=settings.autoscaling_group_name,
            lifecycle_hook_name=settings.lifecycle_hook_name,
        )
    return NoProtection()


def build_worker(settings: Settings, work: Callable[[str], Mapping[str, object] | None]) -> Worker:
    """The worker doing ``work`` over the real AWS clients: SQS and (EC2) Auto Scaling."""
    session = boto3.session.Session(region_name=settings.region)
    config = Config(
        retries={"mode": "standard"},
        connect_timeout=5,
        read_timeout=settings.wait_time_seconds + 10,
    )
    return Worker(
        settings,
        session.client("sqs", config=config),
        work,
        build_protection(settings, session, config),
    )


def main(
    environ: Mapping[str, str] | None = None,
    *,
    install_signals: Callable[[Callable[[str], None]], None] = install_signal_handlers,
) -> int:
    """Reads the settings, works until told to stop; the process exit status."""
    environ = os.environ if environ is None else environ
    configure_logging(environ.get("LOG_LEVEL", "INFO").strip().upper())
    try:
        settings = Settings.from_environ(environ)
        # The job's own boto3 clients find the worker's region (the EC2 unit sets none).
        if not os.environ.get("AWS_REGION") and not os.environ.get("AWS_DEFAULT_REGION"):
            os.environ["AWS_DEFAULT_REGION"] = settings.region
        work = load_handler(
            settings.handler, (os.path.dirname(os.path.abspath(__file__)), os.getcwd())
        )
    except ConfigurationError as error:
        LOGGER.critical(str(error), extra={"fields": {"problems": list(error.problems)}})
        return 2
    configure_logging(settings.log_level)
    worker = build_worker(settings, work)
    install_signals(worker.request_stop)
    status = worker.run()
    if worker.job_abandoned:
        # The job whose message was given back still runs in its thread: end the process now,
        # so it cannot go on (and write) while another worker already has its message.
        logging.shutdown()
        os._exit(status)
    return status


if __name__ == "__main__":
    sys.exit(main())
