"""``fanout dlq``: list, peek at, redrive, delete, export and import dead-letter queue messages.

What it finds, it finds from AWS state, not from names: every queue's ``RedrivePolicy`` names
its *processing* dead-letter queue (messages a consumer failed ``maxReceiveCount`` times), and
every subscription's ``RedrivePolicy`` names its *undelivered* dead-letter queue (messages SNS
itself could not deliver). Subscriptions group both by topic.

``redrive`` moves a processing dead-letter queue with an SQS message move task (SQS takes
those only out of dead-letter queues of SQS queues), and a subscription dead-letter queue
itself (:mod:`constructs_lib.cli.undelivered`), back to each message's subscription.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .aws import (
    ACCESS_DENIED,
    QUEUE_NOT_FOUND,
    code,
    json_attribute,
    message,
    queue_attributes,
    queue_name,
    resolve_queue_url,
    subscriptions,
)
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
    counts,
    describe,
    export_line,
    hold_all,
    import_entry,
    peek,
    release,
    render,
    timestamp,
)

if TYPE_CHECKING:
    from .main import Commands

PROCESSING = "processing"
UNDELIVERED = "undelivered"
KIND_HELP = {
    PROCESSING: "a consumer failed these messages max-receive-count times",
    UNDELIVERED: "SNS could not deliver these messages to the consumer",
}

RUNNING = "RUNNING"
CANCELLING = "CANCELLING"
ACTIVE_TASK = {RUNNING, CANCELLING}
POLL_SECONDS = 5.0
MAX_POLLS_WITHOUT_TASK = 12
MAX_PEEK = 100
HOLD_SECONDS = 60
"""How long ``export`` and ``delete`` keep the messages they read invisible (then release)."""

DEPTH_ATTRIBUTES = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]


# -- list --------------------------------------------------------------------------------


@dataclass
class DeadLetterQueue:
    """One row of ``list``: a dead-letter queue, what feeds it and how deep it is."""

    topic_arn: str | None
    kind: str
    name: str
    url: str
    arn: str
    sources: list[str]
    visible: int
    in_flight: int

    def as_json(self) -> dict[str, Any]:
        return {
            "topic": queue_name(self.topic_arn) if self.topic_arn else None,
            "topic_arn": self.topic_arn,
            "kind": self.kind,
            "dead_letter_queue": self.name,
            "dead_letter_queue_url": self.url,
            "dead_letter_queue_arn": self.arn,
            "sources": self.sources,
            "messages_visible": self.visible,
            "messages_in_flight": self.in_flight,
        }


@dataclass
class _Queue:
    url: str
    attributes: dict[str, str]

    @property
    def arn(self) -> str:
        return self.attributes["QueueArn"]

    def depth(self, name: str) -> int:
        return int(self.attributes.get(name, "0") or 0)


@dataclass
class _Subscriptions:
    """What SNS says about the queues: their topics and the subscription DLQs."""

    topics_of_queue: dict[str, set[str]] = field(default_factory=dict)
    # (topic ARN, dead-letter queue ARN) -> endpoints of the subscriptions that name it
    undelivered: dict[tuple[str, str], set[str]] = field(default_factory=dict)


def _list_queues(sqs: Client, prefix: str | None) -> dict[str, _Queue]:
    from botocore.exceptions import ClientError

    queues: dict[str, _Queue] = {}
    request: dict[str, Any] = {"PaginationConfig": {"PageSize": 1000}}
    if prefix:
        request["QueueNamePrefix"] = prefix
    for page in sqs.get_paginator("list_queues").paginate(**request):
        for url in page.get("QueueUrls", []):
            try:
                attributes = sqs.get_queue_attributes(
                    QueueUrl=url, AttributeNames=["QueueArn", "RedrivePolicy", *DEPTH_ATTRIBUTES]
                )["Attributes"]
            except ClientError as err:
                if code(err) in QUEUE_NOT_FOUND:
                    continue  # deleted since ListQueues
                raise
            queue = _Queue(url=url, attributes=attributes)
            queues[queue.arn] = queue
    return queues


def _read_subscriptions(sns: Client, warn: Callable[[str], None]) -> _Subscriptions:
    from botocore.exceptions import ClientError

    found = _Subscriptions()
    try:
        for sub in subscriptions(sns):
            if sub.protocol == "sqs":
                found.topics_of_queue.setdefault(sub.endpoint, set()).add(sub.topic_arn)
            target = sub.dead_letter_queue_arn
            if target:
                found.undelivered.setdefault((sub.topic_arn, target), set()).add(sub.endpoint)
    except ClientError as err:
        if code(err) not in ACCESS_DENIED:
            raise
        warn(
            f"cannot read SNS subscriptions ({message(err)}): dead-letter queues are not "
            "grouped by topic and subscription dead-letter queues are not listed"
        )
        return _Subscriptions()
    return found


def discover(ctx: Context, prefix: str | None) -> list[DeadLetterQueue]:
    """Every dead-letter queue among the queues named ``prefix...``, grouped by topic."""
    queues = _list_queues(ctx.sqs, prefix)
    subs = _read_subscriptions(ctx.sns, ctx.warn)

    processing: dict[str, set[str]] = {}
    for queue in queues.values():
        target = json_attribute(queue.attributes, "RedrivePolicy").get("deadLetterTargetArn")
        if target in queues:
            processing.setdefault(target, set()).add(queue.arn)

    def row(topic: str | None, kind: str, dlq_arn: str, sources: Iterable[str]) -> DeadLetterQueue:
        dlq = queues[dlq_arn]
        return DeadLetterQueue(
            topic_arn=topic,
            kind=kind,
            name=queue_name(dlq.arn),
            url=dlq.url,
            arn=dlq.arn,
            sources=sorted(queue_name(source) for source in sources),
            visible=dlq.depth("ApproximateNumberOfMessages"),
            in_flight=dlq.depth("ApproximateNumberOfMessagesNotVisible"),
        )

    rows: list[DeadLetterQueue] = []
    for dlq_arn, sources in processing.items():
        topics: Sequence[str | None] = sorted(
            set().union(*(subs.topics_of_queue.get(s, set()) for s in sources))
        )
        for topic in topics or [None]:
            rows.append(row(topic, PROCESSING, dlq_arn, sources))
    for (topic, dlq_arn), sources in subs.undelivered.items():
        if dlq_arn in queues:
            rows.append(row(topic, UNDELIVERED, dlq_arn, sources))
    rows.sort(key=lambda r: (r.topic_arn is None, r.topic_arn or "", r.kind, r.sources))
    return rows


def _table(columns: Sequence[tuple[str, bool]]) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for header, right in columns:
        # Numbers never wrap; names fold rather than lose characters a command needs.
        table.add_column(
            header,
            justify="right" if right else "left",
            no_wrap=right,
            overflow="ellipsis" if right else "fold",
        )
    return table


def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    rows = discover(ctx, args.prefix)
    if ctx.json_output:
        ctx.print_json([r.as_json() for r in rows])
        return EXIT_OK
    if not rows:
        where = f" among queues named {args.prefix}*" if args.prefix else ""
        ctx.print(f"No dead-letter queues found{where}.")
        return EXIT_OK
    for topic in dict.fromkeys(r.topic_arn for r in rows):
        ctx.print(f"Topic {queue_name(topic)} ({topic})" if topic else "Not subscribed to a topic")
        table = _table(
            [
                ("CONSUMER", False),
                ("DEAD-LETTER QUEUE", False),
                ("KIND", False),
                ("VISIBLE", True),
                ("IN FLIGHT", True),
            ],
        )
        for r in rows:
            if r.topic_arn == topic:
                consumer = r.sources[0] if len(r.sources) == 1 else f"({len(r.sources)} consumers)"
                table.add_row(consumer, r.name, r.kind, str(r.visible), str(r.in_flight))
        ctx.out.print(table)
        ctx.print()
    for kind in sorted({r.kind for r in rows}):
        ctx.print(f"{kind}: {KIND_HELP[kind]}")
    return EXIT_OK


# -- peek --------------------------------------------------------------------------------


def _refuse_source_queue(ctx: Context, url: str, what: str) -> dict[str, str]:
    attributes = queue_attributes(ctx.sqs, url, ["All"])
    redrive = json_attribute(attributes, "RedrivePolicy")
    if redrive:
        raise UsageError(
            f"{queue_name(url)} has a dead-letter queue "
            f"({queue_name(redrive['deadLetterTargetArn'])}, "
            f"maxReceiveCount {redrive.get('maxReceiveCount')}): every {what} counts as a "
            "receive and would move its messages there; use its dead-letter queue instead"
        )
    return attributes


def cmd_peek(args: argparse.Namespace, ctx: Context) -> int:
    if not 1 <= args.count <= MAX_PEEK:
        raise UsageError(f"--count must be from 1 to {MAX_PEEK}, not {args.count}")
    url = resolve_queue_url(ctx.sqs, args.queue)
    _refuse_source_queue(ctx, url, "peek")
    messages = [describe(m) for m in peek(ctx.sqs, url, args.count)]
    if ctx.json_output:
        ctx.print_json(messages)
        return EXIT_OK
    if not messages:
        ctx.print(f"No messages visible in {queue_name(url)}.")
        return EXIT_OK
    ctx.print(f"{len(messages)} message(s) from {queue_name(url)}, left in the queue:")
    for index, described in enumerate(messages, start=1):
        ctx.print(render(index, len(messages), described))
    return EXIT_OK


# -- redrive -----------------------------------------------------------------------------


def _tasks(sqs: Client, source_arn: str) -> list[dict[str, Any]]:
    """The most recent message move tasks of ``source_arn`` (up to 10), newest first."""
    results: list[dict[str, Any]] = sqs.list_message_move_tasks(
        SourceArn=source_arn, MaxResults=10
    ).get("Results", [])
    return results


def _progress(task: Mapping[str, Any]) -> str:
    moved = task.get("ApproximateNumberOfMessagesMoved", 0)
    to_move = task.get("ApproximateNumberOfMessagesToMove")
    if to_move is None:
        return f"{task['Status']}: {moved} moved (counting the messages to move)"
    share = f" ({100 * moved // to_move}%)" if to_move else ""
    return f"{task['Status']}: {moved} of {to_move} moved{share}"


def _destination_arn(sqs: Client, ref: str, source_arn: str) -> str:
    """The ARN of ``--to``: an ARN as given, a URL looked up, a name in the DLQ's account."""
    if ref.startswith("arn:"):
        return ref
    if ref.startswith(("https://", "http://")):
        return queue_attributes(sqs, ref, ["QueueArn"])["QueueArn"]
    partition, service, region, account = source_arn.split(":")[1:5]
    return f"arn:{partition}:{service}:{region}:{account}:{ref}"


def _own_task(
    tasks: Sequence[Mapping[str, Any]], handle: str, earlier: set[int | None]
) -> Mapping[str, Any] | None:
    """Our task among ``tasks``.

    SQS gives the TaskHandle only while a task is RUNNING; once it has finished, ours is the
    newest task that did not exist before we started it (``earlier`` holds their start times).
    """
    for task in tasks:
        if task.get("TaskHandle") == handle:
            return task
    for task in tasks:
        if "TaskHandle" not in task and task.get("StartedTimestamp") not in earlier:
            return task
    return None


def follow(ctx: Context, source_arn: str, handle: str, earlier: set[int | None]) -> int:
    """Show the task's progress until it ends; Ctrl-C cancels it."""
    sqs = ctx.sqs
    polls_without_task = 0
    with ctx.progress() as bar:
        bar_task = bar.add_task("move task", total=None, detail="starting")
        try:
            while True:
                task = _own_task(_tasks(sqs, source_arn), handle, earlier)
                if task is None:
                    polls_without_task += 1
                    if polls_without_task > MAX_POLLS_WITHOUT_TASK:
                        raise OperatorError(
                            f"SQS no longer lists message move task {handle}; check it with "
                            f"`{PROG} dlq status {queue_name(source_arn)}`"
                        )
                else:
                    moved = task.get("ApproximateNumberOfMessagesMoved", 0)
                    bar.update(
                        bar_task,
                        completed=moved,
                        total=task.get("ApproximateNumberOfMessagesToMove"),
                        detail=task["Status"],
                    )
                    status = task["Status"]
                    if status == "COMPLETED":
                        break
                    if status == "FAILED":
                        reason = task.get("FailureReason", "no reason given")
                        raise OperatorError(f"the message move task failed: {reason}")
                    if status == "CANCELLED":
                        raise OperatorError("the message move task was cancelled")
                ctx.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            interrupted = True
        else:
            interrupted = False
    if interrupted:
        return _cancel_followed(ctx, handle)
    if ctx.json_output:
        ctx.print_json({"status": "COMPLETED", "moved": moved, "task": handle})
    else:
        ctx.print(f"Done: {moved} message(s) moved.")
    return EXIT_OK


def _cancel_followed(ctx: Context, handle: str) -> int:
    from botocore.exceptions import ClientError

    ctx.print("Interrupted: cancelling the message move task (CancelMessageMoveTask)...")
    try:
        moved = ctx.sqs.cancel_message_move_task(TaskHandle=handle).get(
            "ApproximateNumberOfMessagesMoved", 0
        )
    except ClientError as err:
        raise OperatorError(f"could not cancel message move task {handle}: {message(err)}") from err
    ctx.print(
        f"Cancel requested after about {moved} message(s) moved; SQS stops the task and the "
        "rest stay in the dead-letter queue."
    )
    return EXIT_INTERRUPTED


def _subscriptions_using(ctx: Context, dlq_arn: str, topic: str | None) -> list[Any]:
    return [s for s in subscriptions(ctx.sns, topic) if s.dead_letter_queue_arn == dlq_arn]


def cmd_redrive(args: argparse.Namespace, ctx: Context) -> int:
    sqs = ctx.sqs
    if args.max_per_second is not None and not 1 <= args.max_per_second <= 500:
        raise UsageError(f"--max-per-second must be from 1 to 500, not {args.max_per_second}")
    url = resolve_queue_url(sqs, args.queue)
    # "All" rather than the three names needed: moto rejects the name RedriveAllowPolicy.
    attributes = queue_attributes(sqs, url, ["All"])
    source_arn = attributes["QueueArn"]
    name = queue_name(source_arn)
    allow = json_attribute(attributes, "RedriveAllowPolicy")
    own = json_attribute(attributes, "RedrivePolicy")
    if own.get("deadLetterTargetArn"):
        dlq = queue_name(own["deadLetterTargetArn"])
        raise UsageError(
            f"{name} is a source queue, not a dead-letter queue: its own dead-letter queue is "
            f"{dlq}. Redrive that one: `{PROG} dlq redrive {dlq}`"
        )
    if allow.get("redrivePermission") != "denyAll" and (
        allow.get("sourceQueueArns")
        or sqs.list_dead_letter_source_queues(QueueUrl=url, MaxResults=1).get("queueUrls")
    ):
        return _redrive_with_move_task(args, ctx, attributes, allow)
    users = _subscriptions_using(ctx, source_arn, args.topic)
    if not users and not args.to:
        if allow.get("redrivePermission") == "denyAll":
            raise UsageError(
                f"no subscription uses {name} as its dead-letter queue any more, so the command "
                "cannot tell where its messages belong: pass --to QUEUE"
            )
        raise UsageError(
            f"{name} is not a dead-letter queue: no queue names it in its redrive policy and no "
            f"subscription uses it. Find the fanout's dead-letter queues with `{PROG} dlq list`."
        )
    return _redrive_undelivered(args, ctx, url, source_arn, users)


def _redrive_undelivered(
    args: argparse.Namespace, ctx: Context, url: str, dlq_arn: str, users: list[Any]
) -> int:
    from .undelivered import Journal, Redrive, Target, default_journal

    to = None
    if args.to:
        to_url = resolve_queue_url(ctx.sqs, args.to)
        to_arn = queue_attributes(ctx.sqs, to_url, ["QueueArn"])["QueueArn"]
        # In the form of the queue's own subscription when it has one, else as stored.
        sub = next((s for s in users if s.endpoint == to_arn), None)
        to = Target(to_url, to_arn, raw=sub.raw if sub else None, subscription=sub)
    if not args.wait:
        raise UsageError(
            "--no-wait applies to message move tasks only: a subscription dead-letter queue is "
            "redriven by this command itself, which must run until it is done"
        )
    journal = Journal.open(Path(args.journal) if args.journal else default_journal(dlq_arn))
    redrive = Redrive(
        ctx,
        url,
        dlq_arn,
        users,
        journal,
        to=to,
        max_per_second=args.max_per_second,
        visibility=args.visibility_timeout,
        resend_uncertain=args.resend_uncertain,
    )
    return redrive.run()


def _redrive_with_move_task(
    args: argparse.Namespace, ctx: Context, attributes: Mapping[str, str], allow: Mapping[str, Any]
) -> int:
    sqs = ctx.sqs
    source_arn = attributes["QueueArn"]
    name = queue_name(source_arn)
    destination = _destination_arn(sqs, args.to, source_arn) if args.to else None
    if destination and destination.endswith(".fifo") != name.endswith(".fifo"):
        raise UsageError(
            f"--to {args.to}: a FIFO dead-letter queue redrives only to a FIFO queue and a "
            "standard one only to a standard queue"
        )
    earlier = _tasks(sqs, source_arn)
    active = [t for t in earlier if t.get("Status") in ACTIVE_TASK]
    if active:
        task = active[0]
        raise OperatorError(
            f"a message move task is already {task['Status']} for {name} "
            f"(started {timestamp(task.get('StartedTimestamp'))}, {_progress(task)}); "
            "SQS runs one at a time per queue: wait for it to finish or cancel it with "
            f"`{PROG} dlq cancel {name}`"
        )
    request: dict[str, Any] = {"SourceArn": source_arn}
    if destination:
        request["DestinationArn"] = destination
    if args.max_per_second is not None:
        request["MaxNumberOfMessagesPerSecond"] = args.max_per_second
    handle = sqs.start_message_move_task(**request)["TaskHandle"]
    sources = allow.get("sourceQueueArns") or []
    target = (
        queue_name(destination)
        if destination
        else ", ".join(queue_name(s) for s in sources) or "their source queues"
    )
    rate = f" at most {args.max_per_second}/s" if args.max_per_second else ""
    if not ctx.json_output:
        ctx.print(
            f"Moving about {attributes.get('ApproximateNumberOfMessages', '?')} message(s) "
            f"from {name} to {target}{rate} (task {handle})."
        )
    if not args.wait:
        if ctx.json_output:
            ctx.print_json({"status": RUNNING, "task": handle})
        else:
            ctx.print(f"Not waiting. Follow it with `{PROG} dlq status {name}`.")
        return EXIT_OK
    return follow(ctx, source_arn, handle, {t.get("StartedTimestamp") for t in earlier})


# -- status and cancel -------------------------------------------------------------------


def cmd_status(args: argparse.Namespace, ctx: Context) -> int:
    url = resolve_queue_url(ctx.sqs, args.queue)
    source_arn = queue_attributes(ctx.sqs, url, ["QueueArn"])["QueueArn"]
    tasks = _tasks(ctx.sqs, source_arn)
    if ctx.json_output:
        ctx.print_json(tasks)
        return EXIT_OK
    if not tasks:
        ctx.print(f"No message move tasks for {queue_name(source_arn)}.")
        return EXIT_OK
    ctx.print(f"Message move tasks of {queue_name(source_arn)}, newest first:")
    table = _table(
        [
            ("STARTED", False),
            ("STATUS", False),
            ("MOVED", True),
            ("TO MOVE", True),
            ("DESTINATION", False),
            ("FAILURE", False),
        ],
    )
    for task in tasks:
        table.add_row(
            timestamp(task.get("StartedTimestamp")) or "?",
            task["Status"],
            str(task.get("ApproximateNumberOfMessagesMoved", 0)),
            str(task.get("ApproximateNumberOfMessagesToMove", "?")),
            queue_name(task["DestinationArn"]) if task.get("DestinationArn") else "source",
            task.get("FailureReason", ""),
        )
    ctx.out.print(table)
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace, ctx: Context) -> int:
    url = resolve_queue_url(ctx.sqs, args.queue)
    source_arn = queue_attributes(ctx.sqs, url, ["QueueArn"])["QueueArn"]
    running = [t for t in _tasks(ctx.sqs, source_arn) if t.get("Status") == RUNNING]
    if not running:
        raise UsageError(f"no message move task is running for {queue_name(source_arn)}")
    moved = ctx.sqs.cancel_message_move_task(TaskHandle=running[0]["TaskHandle"]).get(
        "ApproximateNumberOfMessagesMoved", 0
    )
    if ctx.json_output:
        ctx.print_json({"status": CANCELLING, "moved": moved})
    else:
        ctx.print(f"Cancelling the move task of {queue_name(source_arn)}; about {moved} moved.")
    return EXIT_OK


# -- delete, export, import --------------------------------------------------------------


def cmd_delete(args: argparse.Namespace, ctx: Context) -> int:
    sqs = ctx.sqs
    url = resolve_queue_url(sqs, args.queue)
    _refuse_source_queue(ctx, url, "search")
    held: dict[str, dict[str, Any]] = {}
    found = None
    try:
        for received in hold_all(sqs, url, visibility=HOLD_SECONDS, stop_at=args.message_id):
            held[received["MessageId"]] = received
            if received["MessageId"] == args.message_id:
                found = received
        if found is None:
            fifo = (
                "; in a FIFO queue only the first 10 messages of each message group can be "
                "read until the earlier ones are gone"
                if url.endswith(".fifo")
                else ""
            )
            raise UsageError(
                f"no message {args.message_id} is visible in {queue_name(url)} ({len(held)} "
                f"looked at); `{PROG} dlq peek {queue_name(url)}` lists message ids{fifo}"
            )
        if not ctx.json_output:
            ctx.print(render(1, 1, describe(found)))
        if not args.yes:
            if not sys.stdin.isatty():
                raise UsageError(
                    "not deleting: confirm on a terminal, or pass --yes to delete without asking"
                )
            answer = input(f"Delete this message from {queue_name(url)}? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                ctx.print("Not deleted.")
                return EXIT_OK
        sqs.delete_message(QueueUrl=url, ReceiptHandle=found["ReceiptHandle"])
        del held[found["MessageId"]]
        if ctx.json_output:
            ctx.print_json({"deleted": describe(found)})
        else:
            ctx.print(f"Deleted {args.message_id} from {queue_name(url)}.")
        return EXIT_OK
    finally:
        release(sqs, url, [m["ReceiptHandle"] for m in held.values()])


def cmd_export(args: argparse.Namespace, ctx: Context) -> int:
    sqs = ctx.sqs
    url = resolve_queue_url(sqs, args.queue)
    _refuse_source_queue(ctx, url, "export")
    name = queue_name(url)
    held: list[dict[str, Any]] = []
    stream = sys.stdout if args.file == "-" else None
    try:
        with ctx.progress() as bar:
            task = bar.add_task("export", total=None, detail=name)
            for received in hold_all(sqs, url, visibility=args.hold, limit=args.limit):
                held.append(received)
                bar.update(task, completed=len(held))
        unread = 0 if args.limit else counts(sqs, url)[0]
        lines = [json.dumps(export_line(m, name), ensure_ascii=False) for m in held]
        if stream is None:
            Path(args.file).write_text("".join(line + "\n" for line in lines))
        else:
            for line in lines:
                stream.write(line + "\n")
            stream.flush()
    finally:
        release(sqs, url, [m["ReceiptHandle"] for m in held])
    if stream is None and ctx.json_output:
        ctx.print_json({"queue": name, "exported": len(held), "file": args.file})
    elif stream is None:
        ctx.print(f"Exported {len(held)} message(s) from {name} to {args.file}; none removed.")
    if unread:
        why = (
            "SQS returns no later message of a FIFO message group while earlier ones are "
            "held, so a FIFO export reads at most 10 messages per group"
            if name.endswith(".fifo")
            else "they arrived or became visible during the export"
        )
        ctx.warn(f"{unread} message(s) of {name} were not exported: {why}")
        return EXIT_INCOMPLETE
    return EXIT_OK


def cmd_import(args: argparse.Namespace, ctx: Context) -> int:
    sqs = ctx.sqs
    records: list[dict[str, Any]] = []
    source = sys.stdin if args.file == "-" else None
    try:
        text = source.read() if source is not None else Path(args.file).read_text()
    except OSError as err:
        raise UsageError(f"cannot read {args.file}: {err.strerror}") from err
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or "Body" not in record:
                raise ValueError("no Body")
        except ValueError as err:
            raise UsageError(
                f"{args.file} line {number} is not an exported message ({err}): "
                f"`{PROG} dlq export` writes one JSON object with a Body per line"
            ) from None
        records.append(record)
    url = resolve_queue_url(sqs, args.queue)
    fifo = url.endswith(".fifo")
    records = records[args.skip :]
    entries = [import_entry(r) for r in records]
    if fifo and (
        missing := [
            r.get("MessageId")
            for r, e in zip(records, entries, strict=True)
            if "MessageGroupId" not in e
        ]
    ):
        raise UsageError(
            f"{queue_name(url)} is a FIFO queue but {len(missing)} message(s) have no message "
            "group (exported from a standard queue): import them into a standard queue"
        )
    if not fifo:
        for entry in entries:
            entry.pop("MessageGroupId", None)
            entry.pop("MessageDeduplicationId", None)
    sent = 0
    with ctx.progress() as bar:
        task = bar.add_task("import", total=len(entries), detail=queue_name(url))
        for start in range(0, len(entries), 10):
            chunk = entries[start : start + 10]
            answer = sqs.send_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), **e} for i, e in enumerate(chunk)]
            )
            sent += len(answer.get("Successful", []))
            bar.update(task, completed=sent)
            if answer.get("Failed"):
                failed = answer["Failed"][0]
                raise OperatorError(
                    f"{queue_name(url)} refused a message after {sent} were sent: "
                    f"{failed.get('Code')}: {failed.get('Message', '')}; the first {sent} were "
                    f"sent: rerun with --skip {args.skip + sent}",
                    EXIT_AWS,
                )
    if ctx.json_output:
        ctx.print_json({"queue": queue_name(url), "sent": sent})
    else:
        ctx.print(f"Sent {sent} message(s) to {queue_name(url)}.")
    return EXIT_OK


# -- command line ------------------------------------------------------------------------


def register(commands: Commands) -> None:
    _, dlq = commands.group(
        "dlq",
        help="dead-letter queues: list, peek, redrive, status, cancel, delete, export, import",
        description="List, inspect and redrive the dead-letter queues of SNS to SQS fanouts: "
        "processing DLQs (a consumer failed the messages) and subscription DLQs (SNS could "
        "not deliver them).",
    )
    listing = dlq.add(
        "list",
        help="dead-letter queues per topic, with their depth",
        examples=[
            "fanout dlq list --prefix OrderFanout-      # DLQs of one stack, by topic",
            "fanout dlq list --output json             # every DLQ, for scripts",
        ],
        handler=cmd_list,
    )
    listing.add_argument("--prefix", help="only queues whose name starts with this (a stack)")

    peeking = dlq.add(
        "peek",
        help="show messages without removing them",
        examples=["fanout dlq peek OrderFanout-OrderPlaced-Billing-F3BD42EB-dlq --count 5"],
        handler=cmd_peek,
    )
    peeking.add_argument("queue", metavar="DLQ", help="dead-letter queue name, URL or ARN")
    peeking.add_argument("--count", type=int, default=10, help="at most this many (default 10)")

    redriving = dlq.add(
        "redrive",
        help="send messages back: to their source queue, or to their subscription's queue",
        description="A processing DLQ is redriven by an SQS message move task, to each "
        "message's source queue (or --to). A subscription DLQ (messages SNS could not "
        "deliver; SQS move tasks cannot take them) is redriven by this command: each message "
        "goes to the queue of the subscription it was meant for, in that subscription's form, "
        "deleted only after the send succeeded; Ctrl-C stops after the current batch and a "
        "rerun continues (a journal remembers what was sent).",
        examples=[
            "fanout dlq redrive OrderFanout-OrderPlaced-Billing-F3BD42EB-dlq --max-per-second 50",
            "fanout dlq redrive OrderFanout-OrderPlaced-Billing-F3BD42EB-dlq --no-wait",
            "fanout dlq redrive OrderFanout-OrderPlaced-394B649F-undelivered",
        ],
        handler=cmd_redrive,
    )
    redriving.add_argument("queue", metavar="DLQ", help="dead-letter queue name, URL or ARN")
    redriving.add_argument(
        "--to", metavar="QUEUE", help="destination queue (default: where each message belongs)"
    )
    redriving.add_argument(
        "--max-per-second", type=int, metavar="N", help="rate limit, 1..500 (default: none)"
    )
    redriving.add_argument(
        "--no-wait", dest="wait", action="store_false", help="start the move task and return"
    )
    redriving.add_argument(
        "--topic",
        metavar="TOPIC_ARN",
        help="subscription DLQ: look only at this topic's "
        "subscriptions (faster in an account with many)",
    )
    redriving.add_argument(
        "--journal",
        metavar="FILE",
        help="subscription DLQ: the journal file (default: one per DLQ under "
        "$XDG_STATE_HOME/fanout/redrive)",
    )
    redriving.add_argument(
        "--visibility-timeout",
        type=int,
        default=60,
        metavar="SECONDS",
        help="subscription DLQ: how long a batch stays invisible while it is sent (default 60)",
    )
    redriving.add_argument(
        "--resend-uncertain",
        action="store_true",
        help="subscription DLQ: also send messages an interrupted run may have sent already",
    )

    for name, text in (
        ("status", "recent message move tasks of a DLQ"),
        ("cancel", "cancel the running message move task"),
    ):
        sub = dlq.add(
            name,
            help=text,
            examples=[f"fanout dlq {name} OrderFanout-OrderPlaced-Billing-F3BD42EB-dlq"],
            handler=cmd_status if name == "status" else cmd_cancel,
        )
        sub.add_argument("queue", metavar="DLQ", help="dead-letter queue name, URL or ARN")

    deleting = dlq.add(
        "delete",
        help="delete one message by id, after showing it",
        examples=[
            "fanout dlq delete OrderFanout-OrderPlaced-Billing-F3BD42EB-dlq 5fea7756-0ea4-451a",
            "fanout dlq delete OrderFanout-OrderPlaced-Billing-F3BD42EB-dlq 5fea7756-... --yes",
        ],
        handler=cmd_delete,
    )
    deleting.add_argument("queue", metavar="DLQ", help="dead-letter queue name, URL or ARN")
    deleting.add_argument("message_id", metavar="MESSAGE_ID", help="the SQS message id (peek)")
    deleting.add_argument("--yes", action="store_true", help="delete without asking")

    exporting = dlq.add(
        "export",
        help="write a DLQ's messages to JSON Lines without removing them",
        examples=[
            "fanout dlq export OrderFanout-OrderPlaced-Billing-F3BD42EB-dlq billing-dlq.jsonl",
            "fanout dlq export OrderFanout-OrderPlaced-Billing-F3BD42EB-dlq - | jq .Body",
        ],
        handler=cmd_export,
    )
    exporting.add_argument("queue", metavar="DLQ", help="dead-letter queue name, URL or ARN")
    exporting.add_argument("file", metavar="FILE", help="where to write, - for standard output")
    exporting.add_argument("--limit", type=int, help="at most this many messages")
    exporting.add_argument(
        "--hold",
        type=int,
        default=HOLD_SECONDS,
        metavar="SECONDS",
        help="how long the read messages stay invisible at most (default 60), so each is "
        "read once; they are made visible again as soon as the export is written",
    )

    importing = dlq.add(
        "import",
        help="send exported messages (JSON Lines) to a queue",
        examples=["fanout dlq import OrderFanout-OrderPlaced-Billing-F3BD42EB billing-dlq.jsonl"],
        handler=cmd_import,
    )
    importing.add_argument("queue", metavar="QUEUE", help="queue name, URL or ARN")
    importing.add_argument("file", metavar="FILE", help="a file written by export, - for stdin")
    importing.add_argument(
        "--skip",
        type=int,
        default=0,
        metavar="N",
        help="leave out the first N messages (to continue an import that stopped)",
    )


__all__ = ["register"]
