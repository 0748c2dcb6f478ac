"""Redrive of a subscription dead-letter queue: the messages SNS could not deliver.

SQS message move tasks only move messages out of dead-letter queues of SQS queues, so these
are moved by the command itself, one batch of up to 10 at a time:

1. receive a batch from the dead-letter queue (each message stays invisible meanwhile);
2. decide each message's subscription: the one its SNS envelope names (``UnsubscribeURL``),
   else the only subscription using the queue that delivers that form (raw or envelope);
3. write the batch's ids to the journal as *sending*, send each message to its subscription's
   queue in the form the subscription delivers (raw body and message attributes, or the SNS
   envelope), FIFO message group and deduplication ids kept;
4. write the ids SQS accepted as *sent*, then delete exactly those from the dead-letter queue
   and write them as *done*. A message SQS refused is made visible again at once.

Ctrl-C stops after the current batch. A rerun continues with the same journal: a message
journalled *sent* is deleted without being sent again; a message journalled *sending* (the
run ended between writing the journal and hearing SQS's answer, so nobody knows whether SQS
took it) is left in the dead-letter queue and reported, to be checked and then sent with
``--resend-uncertain`` or deleted with ``fanout dlq delete``. So no interruption loses a
message or delivers one twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .aws import Subscription, queue_name, resolve_queue_url
from .core import (
    EXIT_AWS,
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    PROG,
    Client,
    Context,
    OperatorError,
    UsageError,
)
from .messages import (
    RECEIVE_BATCH,
    counts,
    envelope_from_raw,
    envelope_of,
    raw_from_envelope,
    receive,
    release,
    sqs_attributes,
    subscription_of_envelope,
    timestamp,
)

SENDING = "sending"
SENT = "sent"
DONE = "done"


def default_journal(dlq_arn: str) -> Path:
    """``$XDG_STATE_HOME/fanout/redrive/<queue>-<hash>.jsonl`` (``~/.local/state`` by
    default): one journal per dead-letter queue, so a rerun finds the previous run's."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    digest = hashlib.sha256(dlq_arn.encode()).hexdigest()[:12]
    return base / "fanout" / "redrive" / f"{queue_name(dlq_arn)}-{digest}.jsonl"


@dataclass
class Journal:
    """What a redrive did with each message, appended and flushed to disk before the next
    step, so that a later run knows which sends SQS had already accepted."""

    path: Path
    states: dict[str, str] = field(default_factory=dict)

    @classmethod
    def open(cls, path: Path) -> Journal:
        journal = cls(path)
        if path.exists():
            for line in path.read_text().splitlines():
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    entry = json.loads(line)
                    journal.states[str(entry["id"])] = str(entry["state"])
        return journal

    def mark(self, ids: Sequence[str], state: str) -> None:
        if not ids:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as stream:
            for message_id in ids:
                stream.write(json.dumps({"id": message_id, "state": state}) + "\n")
                self.states[message_id] = state
            stream.flush()
            os.fsync(stream.fileno())

    def forget(self, ids: Sequence[str]) -> None:
        """The messages are back as they were (SQS refused the send): nothing to remember."""
        self.mark(ids, "failed")

    def remove(self) -> None:
        """Forget everything: called once the queue holds none of the messages named."""
        self.states.clear()
        self.path.unlink(missing_ok=True)


@dataclass
class Target:
    """Where a message goes back to, and in which form."""

    queue_url: str
    queue_arn: str
    raw: bool | None
    """True: raw delivery; False: the SNS envelope; None: each message as stored."""
    subscription: Subscription | None = None

    @property
    def fifo(self) -> bool:
        return self.queue_arn.endswith(".fifo")

    @property
    def name(self) -> str:
        return queue_name(self.queue_arn)


@dataclass
class Skipped:
    reason: str
    messages: dict[str, str] = field(default_factory=dict)  # message id -> receipt handle


@contextlib.contextmanager
def stop_after_batch() -> Iterator[threading.Event]:
    """SIGINT sets the event instead of raising, so the batch in hand is finished first."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass
class Redrive:
    """One run of a subscription dead-letter queue redrive."""

    ctx: Context
    dlq_url: str
    dlq_arn: str
    subscriptions: Sequence[Subscription]
    journal: Journal
    to: Target | None = None
    max_per_second: int | None = None
    visibility: int = 60
    resend_uncertain: bool = False
    moved: int = 0
    moved_to: dict[str, int] = field(default_factory=dict)
    settled: int = 0  # journalled sent by an earlier run: deleted without sending again
    skipped: dict[str, Skipped] = field(default_factory=dict)
    _targets: dict[str, Target | str] = field(default_factory=dict)
    _failure: str | None = None

    @property
    def sqs(self) -> Client:
        return self.ctx.sqs

    # -- deciding where a message goes --------------------------------------------------

    def _target_of(self, subscription: Subscription) -> Target | str:
        """The subscription's queue, or why its messages cannot go back."""
        if subscription.arn not in self._targets:
            if subscription.protocol != "sqs":
                self._targets[subscription.arn] = (
                    f"for a {subscription.protocol} subscription ({subscription.endpoint}): "
                    "redrive delivers to queues only"
                )
            else:
                try:
                    url = resolve_queue_url(self.sqs, subscription.endpoint)
                    self._targets[subscription.arn] = Target(
                        url, subscription.endpoint, subscription.raw, subscription
                    )
                except UsageError:
                    self._targets[subscription.arn] = (
                        f"its queue {queue_name(subscription.endpoint)} does not exist: "
                        "create it again (or fix the subscription), then rerun"
                    )
        return self._targets[subscription.arn]

    def target(self, message: Mapping[str, Any]) -> Target | str:
        if self.to is not None:
            return self.to
        envelope = envelope_of(message.get("Body", ""))
        named = subscription_of_envelope(envelope) if envelope else None
        if named:
            match = next((s for s in self.subscriptions if s.arn == named), None)
            if match is None:
                return (
                    f"its subscription {named} no longer uses this dead-letter queue: "
                    "pass --to QUEUE"
                )
            return self._target_of(match)
        # A raw body comes from a subscription with raw delivery; an envelope without
        # UnsubscribeURL from one without.
        candidates = [s for s in self.subscriptions if s.raw == (envelope is None)]
        if len(candidates) == 1:
            return self._target_of(candidates[0])
        names = ", ".join(sorted(queue_name(s.endpoint) for s in candidates)) or "none"
        return (
            "the message does not say which subscription it was for and "
            f"{len(candidates)} subscriptions could have delivered it ({names}): pass --to QUEUE"
        )

    def entry(self, index: int, message: Mapping[str, Any], target: Target) -> dict[str, Any]:
        """The SendMessageBatch entry that delivers ``message`` as ``target`` expects it."""
        body: str = message.get("Body", "")
        attributes = sqs_attributes(message)
        envelope = envelope_of(body)
        if target.raw is None:
            pass  # a queue no subscription delivers to: as stored
        elif target.raw and envelope is not None:
            body, attributes = raw_from_envelope(envelope)
        elif not target.raw and envelope is None and target.subscription is not None:
            body = envelope_from_raw(
                body,
                attributes,
                topic_arn=target.subscription.topic_arn,
                subscription_arn=target.subscription.arn,
                message_id=message["MessageId"],
                sent=timestamp(message.get("Attributes", {}).get("SentTimestamp")),
            )
            attributes = {}
        entry: dict[str, Any] = {"Id": str(index), "MessageBody": body}
        if attributes:
            entry["MessageAttributes"] = attributes
        system = message.get("Attributes", {})
        if target.fifo:
            group = system.get("MessageGroupId")
            if not group:
                raise UsageError(
                    f"--to {target.name} is a FIFO queue, but the message {message['MessageId']} "
                    "has no message group (it comes from a standard queue): redrive it to a "
                    "standard queue"
                )
            entry["MessageGroupId"] = group
            entry["MessageDeduplicationId"] = (
                system.get("MessageDeduplicationId") or message["MessageId"]
            )
        return entry

    # -- one batch ----------------------------------------------------------------------

    def _skip(self, message: Mapping[str, Any], reason: str) -> None:
        self.skipped.setdefault(reason, Skipped(reason)).messages[message["MessageId"]] = message[
            "ReceiptHandle"
        ]

    def _release(self, handles: Sequence[str]) -> None:
        release(self.sqs, self.dlq_url, handles)

    def _delete(self, messages: Sequence[Mapping[str, Any]]) -> list[str]:
        if not messages:
            return []
        answer = self.sqs.delete_message_batch(
            QueueUrl=self.dlq_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
        deleted = [messages[int(e["Id"])]["MessageId"] for e in answer.get("Successful", [])]
        for failed in answer.get("Failed", []):
            self._failure = (
                f"could not delete {messages[int(failed['Id'])]['MessageId']} from the "
                f"dead-letter queue: {failed.get('Code')}: {failed.get('Message', '')}; it "
                "was delivered and is journalled, so a rerun deletes it without sending it again"
            )
        self.journal.mark(deleted, DONE)
        return deleted

    def batch(self, messages: Sequence[Mapping[str, Any]]) -> int:
        """Deliver and delete one batch; returns how many messages left the queue."""
        settle: list[Mapping[str, Any]] = []
        plan: dict[str, tuple[Target, list[tuple[Mapping[str, Any], dict[str, Any]]]]] = {}
        for message in messages:
            state = self.journal.states.get(message["MessageId"])
            if state in (SENT, DONE):
                settle.append(message)
                continue
            if state == SENDING and not self.resend_uncertain:
                self._skip(
                    message,
                    "an earlier run stopped while sending it, so it may already be in its "
                    "queue: check, then rerun with --resend-uncertain or remove it with "
                    f"`{PROG} dlq delete`",
                )
                continue
            target = self.target(message)
            if isinstance(target, str):
                self._skip(message, target)
                continue
            items = plan.setdefault(target.queue_url, (target, []))[1]
            items.append((message, self.entry(len(items), message, target)))

        self.journal.mark([m["MessageId"] for _, items in plan.values() for m, _ in items], SENDING)
        delivered: list[Mapping[str, Any]] = []
        owner: dict[str, str] = {}
        for target, items in plan.values():
            answer = self.sqs.send_message_batch(
                QueueUrl=target.queue_url, Entries=[entry for _, entry in items]
            )
            accepted = [items[int(e["Id"])][0] for e in answer.get("Successful", [])]
            self.journal.mark([m["MessageId"] for m in accepted], SENT)
            delivered += accepted
            for message in accepted:
                owner[message["MessageId"]] = target.name
            refused = [items[int(e["Id"])][0] for e in answer.get("Failed", [])]
            if refused:
                failed = answer["Failed"][0]
                self._failure = (
                    f"{target.name} refused {len(refused)} message(s): {failed.get('Code')}: "
                    f"{failed.get('Message', '')}"
                )
                self.journal.forget([m["MessageId"] for m in refused])
                self._release([m["ReceiptHandle"] for m in refused])
        self.settled += len(self._delete(settle))
        moved = self._delete(delivered)
        for message_id in moved:
            self.moved_to[owner[message_id]] = self.moved_to.get(owner[message_id], 0) + 1
        self.moved += len(moved)
        return len(moved)

    # -- the run ------------------------------------------------------------------------

    def _counts(self) -> tuple[int, int]:
        return counts(self.sqs, self.dlq_url)

    def run(self) -> int:
        approximate = self._counts()[0]
        name = queue_name(self.dlq_arn)
        where = self.to.name if self.to else "their subscriptions' queues"
        rate = f", at most {self.max_per_second}/s" if self.max_per_second else ""
        if not self.ctx.json_output:
            self.ctx.print(
                f"Redriving about {approximate} undelivered message(s) from {name} to {where}"
                f"{rate} (journal {self.journal.path})."
            )
        per_batch = min(RECEIVE_BATCH, self.max_per_second or RECEIVE_BATCH)
        started = time.monotonic()
        idle = 0
        with stop_after_batch() as stop, self.ctx.progress() as bar:
            task = bar.add_task("redrive", total=approximate or None, detail="")
            while not stop.is_set() and self._failure is None:
                received = receive(
                    self.sqs, self.dlq_url, count=per_batch, visibility=self.visibility
                )
                held = {i for s in self.skipped.values() for i in s.messages}
                for message in received:  # seen again: keep its newest receipt handle
                    for skipped in self.skipped.values():
                        if message["MessageId"] in skipped.messages:
                            skipped.messages[message["MessageId"]] = message["ReceiptHandle"]
                fresh = [m for m in received if m["MessageId"] not in held]
                if fresh:
                    idle = 0
                    self.batch(fresh)
                    left = sum(len(s.messages) for s in self.skipped.values())
                    bar.update(
                        task,
                        completed=self.moved + self.settled,
                        total=max(approximate, self.moved + self.settled + left) or None,
                        detail=f"moved {self.moved}" + (f", left {left}" if left else ""),
                    )
                    if self.max_per_second:
                        due = started + self.moved / self.max_per_second
                        if (pause := due - time.monotonic()) > 0:
                            self.ctx.sleep(pause)
                # A short batch may be the last: stop once SQS counts nothing visible (the
                # messages left behind are held invisible until the end), or after three
                # receives in a row that bring nothing new.
                if len(received) < per_batch or not fresh:
                    idle += 0 if fresh else 1
                    if self._counts()[0] == 0 or idle >= 3:
                        break
            interrupted = stop.is_set()
        self._release([h for s in self.skipped.values() for h in s.messages.values()])
        in_flight = self._counts()[1]
        if not interrupted and not self.skipped and not in_flight and self._failure is None:
            self.journal.remove()  # every message it names has left the queue
        return self.report(interrupted, in_flight)

    def report(self, interrupted: bool, in_flight: int) -> int:
        left = {s.reason: sorted(s.messages) for s in self.skipped.values()}
        if self.ctx.json_output:
            self.ctx.print_json(
                {
                    "dead_letter_queue": queue_name(self.dlq_arn),
                    "moved": self.moved,
                    "moved_to": self.moved_to,
                    "settled_from_earlier_run": self.settled,
                    "left": left,
                    "interrupted": interrupted,
                    "in_flight": in_flight,
                    "failure": self._failure,
                    "journal": str(self.journal.path),
                }
            )
        else:
            settled = (
                f" ({self.settled} more that an earlier run had delivered were removed)"
                if self.settled
                else ""
            )
            where = ", ".join(f"{n} to {name}" for name, n in sorted(self.moved_to.items()))
            self.ctx.print(
                f"Moved {self.moved} message(s){': ' + where if where else ''}{settled}."
            )
            for reason, ids in left.items():
                self.ctx.print(
                    f"Left {len(ids)} in the dead-letter queue: {reason}: {', '.join(ids)}"
                )
            if in_flight:
                self.ctx.print(
                    f"{in_flight} message(s) are in flight (received by someone else, or by an "
                    "interrupted run, and invisible until their visibility timeout ends): rerun "
                    "after that to redrive them too."
                )
        if self._failure:
            raise OperatorError(f"stopped: {self._failure}", EXIT_AWS)
        if interrupted:
            self.ctx.print("Interrupted after a whole batch; rerun the same command to continue.")
            return EXIT_INTERRUPTED
        if left or in_flight:
            return EXIT_INCOMPLETE
        return EXIT_OK
