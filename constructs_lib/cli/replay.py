"""``fanout replay``: replay a FIFO topic's archive to one consumer, follow it, or stop it.

SNS replays the archived messages of a FIFO topic whose archive policy is active to one
subscription when the subscription is given a ``ReplayPolicy`` (``{"PointType": "Timestamp",
"StartingPoint": ..., "EndingPoint": ...}``), through that subscription's filter policy; the
other subscriptions of the topic get nothing. The command finds the consumer queue's
subscription, refuses what SNS cannot replay (a standard topic, a topic without an archive, a
start the archive no longer holds), sets the policy and follows ``ReplayStatus`` (``Pending``,
``In progress``, then ``Completed`` or ``Failed``) until it ends. ``--cancel`` sets an empty
policy (``{}``), which stops a replay in progress.

The policy is set outside CloudFormation: the stack drifts. ``ConsumerQueue(replay_from=...)``
is the declarative way.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .._private.replay_policy import replay_policy, timestamp
from .core import EXIT_AWS, EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK, UsageError
from .main import Commands

if TYPE_CHECKING:
    from .core import Context

POLL_SECONDS = 2.0
"""How often ``ReplayStatus`` is read while following a replay."""

PENDING = "Pending"
IN_PROGRESS = "In progress"
COMPLETED = "Completed"
FAILED = "Failed"
RUNNING = (PENDING, IN_PROGRESS)
"""The ``ReplayStatus`` values of a replay that has not ended (SNS API reference)."""
STOPPED = "Stopped"
"""Not an SNS status: what this command reports once the replay policy is gone (cancelled)."""

RELATIVE = re.compile(r"^-(\d+)([smhdw])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
TIME_FORMS = "ISO 8601 with a time zone (2026-12-01T09:00:00Z) or a relative time (-2h, -90m, -1d)"

DESCRIPTION = """\
Replay a FIFO topic's archive to one consumer: set its SNS subscription's ReplayPolicy and
follow ReplayStatus until the replay completes or fails. SNS replays the archived messages
published in the window (--from, to --to or until it catches up) through the consumer's
filter policy, with their original message ids; the topic's other consumers get nothing.

CONSUMER is the consumer's queue (name, URL or ARN) or its subscription ARN; --topic picks
the topic when the queue is subscribed to several. TIME is ISO 8601 with a time zone
(2026-12-01T09:00:00Z, 2026-12-01T10:00:00+01:00) or relative to now (-30s, -90m, -2h, -1d,
-1w). A time without a time zone is refused as ambiguous.

The replay policy is changed outside CloudFormation (the stack drifts until the next deploy
of that subscription); ConsumerQueue(replay_from=...) is the declarative way. With --to, SNS
stops delivering newly published messages to the subscription once the replay completes (SNS
API reference, ReplayStatus); without it, the replay catches up and live delivery goes on.
"""


# -- times ---------------------------------------------------------------------------------


def parse_time(option: str, text: str, now: datetime) -> datetime:
    """``text`` as an aware datetime: ISO 8601 with a time zone, or ``-<n><s|m|h|d|w>``
    before ``now``; a :class:`UsageError` naming ``option`` otherwise."""
    relative = RELATIVE.match(text.strip())
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return now - timedelta(**{UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a time: give {TIME_FORMS}") from None
    if moment.utcoffset() is None:
        raise UsageError(
            f"{option} {text} has no time zone, which is ambiguous: add Z for UTC or an offset "
            f"(e.g. {moment.isoformat()}Z), or give a relative time (-2h)"
        )
    return moment


def _epoch_or_iso(text: str | None) -> datetime | None:
    """A time SNS reports (ISO 8601, or epoch seconds or milliseconds); None if unreadable."""

    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            return None
        return moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)
    return datetime.fromtimestamp(number / 1000 if number > 1e11 else number, UTC)


# -- the consumer's subscription -----------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The subscription to replay to, with its topic and queue."""

    subscription_arn: str
    topic_arn: str
    queue_arn: str
    attributes: dict[str, str]

    @property
    def queue_name(self) -> str:
        return self.queue_arn.rsplit(":", 1)[-1]

    @property
    def topic_name(self) -> str:
        return self.topic_arn.rsplit(":", 1)[-1]


def _topic_matches(wanted: str, topic_arn: str) -> bool:
    return wanted in (topic_arn, topic_arn.rsplit(":", 1)[-1])


def _queue_arn(ctx: Context, ref: str) -> str:
    """The queue ARN of a queue name, URL or ARN (an ARN is taken as given: the subscription
    may live in another region than the queue)."""
    from botocore.exceptions import ClientError

    from .aws import QUEUE_NOT_FOUND, code, queue_attributes

    if ref.startswith("arn:"):
        parts = ref.split(":")
        if len(parts) != 6 or parts[2] != "sqs":
            raise UsageError(
                f"{ref} is neither an SQS queue ARN nor an SNS subscription ARN: name the "
                "consumer's queue (name, URL or ARN) or its subscription ARN"
            )
        return ref
    url = ref
    if not ref.startswith(("https://", "http://")):
        try:
            url = ctx.sqs.get_queue_url(QueueName=ref)["QueueUrl"]
        except ClientError as err:
            if code(err) in QUEUE_NOT_FOUND:
                raise UsageError(
                    f"queue not found: {ref} (check the name, .fifo included, and --region)"
                ) from err
            raise
    return queue_attributes(ctx.sqs, url, ["QueueArn"])["QueueArn"]


def _subscription_attributes(ctx: Context, arn: str) -> dict[str, str]:
    from botocore.exceptions import ClientError

    from .aws import NOT_FOUND, code

    try:
        attributes: dict[str, str] = ctx.sns.get_subscription_attributes(SubscriptionArn=arn)[
            "Attributes"
        ]
    except ClientError as err:
        if code(err) in NOT_FOUND:
            raise UsageError(f"subscription not found: {arn} (check the ARN and --region)") from err
        raise
    return attributes


def find_target(ctx: Context, consumer: str, topic: str | None) -> Target:
    """The SQS subscription ``consumer`` names (a queue, or a subscription ARN)."""
    parts = consumer.split(":")
    if consumer.startswith("arn:") and len(parts) >= 6 and parts[2] == "sns":
        if len(parts) != 7:
            raise UsageError(
                f"{consumer} is a topic ARN: name the consumer's queue (name, URL or ARN) or its "
                "subscription ARN (`--topic` picks the topic)"
            )
        attributes = _subscription_attributes(ctx, consumer)
        topic_arn = attributes.get("TopicArn", ":".join(parts[:6]))
        if topic is not None and not _topic_matches(topic, topic_arn):
            raise UsageError(
                f"--topic {topic}: subscription {consumer} is on topic {topic_arn} instead"
            )
        return Target(consumer, topic_arn, attributes.get("Endpoint", ""), attributes)
    queue_arn = _queue_arn(ctx, consumer)
    name = queue_arn.rsplit(":", 1)[-1]
    found = [
        subscription
        for page in ctx.sns.get_paginator("list_subscriptions").paginate()
        for subscription in page.get("Subscriptions", [])
        if subscription.get("Endpoint") == queue_arn
        and subscription.get("Protocol") == "sqs"
        and str(subscription.get("SubscriptionArn", "")).startswith("arn:")
    ]
    region = ctx.sns.meta.region_name
    if not found:
        raise UsageError(
            f"no SNS subscription in {region} delivers to queue {name}: check the queue and "
            "--region (a subscription lives in its topic's region)"
        )
    topics = sorted({s["TopicArn"] for s in found})
    if topic is not None:
        found = [s for s in found if _topic_matches(topic, s["TopicArn"])]
        if not found:
            raise UsageError(
                f"--topic {topic}: queue {name} is not subscribed to it; its topics: "
                + ", ".join(t.rsplit(":", 1)[-1] for t in topics)
            )
    elif len(topics) > 1:
        raise UsageError(
            f"queue {name} is subscribed to {len(topics)} topics ("
            + ", ".join(t.rsplit(":", 1)[-1] for t in topics)
            + "): pass --topic with the one to replay"
        )
    chosen = found[0]
    arn = chosen["SubscriptionArn"]
    return Target(arn, chosen["TopicArn"], queue_arn, _subscription_attributes(ctx, arn))


# -- the checks SNS would make, said before the policy is set ------------------------------


def _retention_days(policy: dict[str, Any]) -> int | None:
    days = policy.get("MessageRetentionPeriod")
    try:
        return int(days) if days is not None else None
    except (TypeError, ValueError):
        return None


def check_archive(ctx: Context, target: Target, start: datetime) -> None:
    """Refuse a standard topic, a topic without an active archive, and a start older than the
    archive's retention; warn when the archive began after the start."""
    from .aws import json_attribute

    attributes = ctx.sns.get_topic_attributes(TopicArn=target.topic_arn)["Attributes"]
    topic = target.topic_name
    if str(attributes.get("FifoTopic", "false")).lower() != "true":
        raise UsageError(
            f"topic {topic} is a standard topic: SNS replays only FIFO topics with an archive "
            "(FanoutTopic(fifo=True, archive_retention_days=...))"
        )
    policy = json_attribute(attributes, "ArchivePolicy")
    days = _retention_days(policy)
    if not days:
        raise UsageError(
            f"topic {topic} keeps no archive (no active ArchivePolicy): SNS replays only what a "
            "FIFO topic archived; give it one with FanoutTopic(archive_retention_days=...)"
        )
    earliest = ctx.now() - timedelta(days=days)
    if start < earliest:
        raise UsageError(
            f"--from {timestamp(start)} is older than the archive's retention: topic {topic} "
            f"keeps {days} days, from {timestamp(earliest)}; give a later --from"
        )
    beginning = _epoch_or_iso(attributes.get("BeginningArchiveTime"))
    if beginning is not None and start < beginning:
        ctx.warn(
            f"topic {topic}'s archive begins at {timestamp(beginning)} (BeginningArchiveTime): "
            "nothing published before it is replayed"
        )


# -- status --------------------------------------------------------------------------------


def read_status(ctx: Context, target: Target) -> str:
    """The subscription's ``ReplayStatus``; ``Pending`` while a policy is set but no status is
    reported yet; :data:`STOPPED` once the policy is gone."""
    attributes = _subscription_attributes(ctx, target.subscription_arn)
    policy = str(attributes.get("ReplayPolicy", "")).strip()
    if policy in ("", "{}"):
        return STOPPED
    return str(attributes.get("ReplayStatus") or PENDING)


@contextlib.contextmanager
def status_line(ctx: Context, description: str) -> Iterator[Callable[[str], None]]:
    """A rich status line on standard error (spinner, what, status, elapsed time): live on a
    terminal, elsewhere printed once when the replay ends; nothing with ``--output json``."""
    if ctx.json_output:
        yield lambda status: None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(finished_text="-"),
        TextColumn("{task.description}"),
        TextColumn("[bold]{task.fields[status]}"),
        TimeElapsedColumn(),
        console=ctx.err,
        auto_refresh=ctx.err.is_terminal,
    ) as bar:
        task = bar.add_task(description, total=None, status=PENDING)

        def show(status: str) -> None:
            done = status not in RUNNING
            bar.update(task, status=status, total=1 if done else None, completed=int(done))

        yield show


# -- the command ---------------------------------------------------------------------------


def _window(start: datetime, end: datetime | None) -> str:
    return f"{timestamp(start)} to {timestamp(end) if end else 'now, then live (no --to)'}"


def _report(ctx: Context, record: dict[str, Any]) -> None:
    """The record as JSON, or as aligned ``key  value`` lines."""
    if ctx.json_output:
        ctx.print_json(record)
        return
    shown = {k.replace("_", " "): v for k, v in record.items() if v is not None}
    width = max(len(key) for key in shown)
    for key, value in shown.items():
        text = json.dumps(value) if isinstance(value, dict) else str(value)
        ctx.print(f"{key.ljust(width)}  {text}")


def _record(target: Target, **fields: Any) -> dict[str, Any]:
    return {
        "subscription": target.subscription_arn,
        "topic": target.topic_arn,
        "queue": target.queue_arn,
        **fields,
    }


def cmd_replay(args: argparse.Namespace, ctx: Context) -> int:
    if args.cancel:
        if args.start is not None or args.end is not None:
            raise UsageError("--cancel stops the replay in progress: it takes no --from or --to")
        return _cancel(args, ctx)
    if args.start is None:
        raise UsageError("--from TIME is required: where the replay starts (e.g. --from -2h)")
    now = ctx.now()
    start = parse_time("--from", args.start, now)
    end = parse_time("--to", args.end, now) if args.end is not None else None
    if start > now:
        raise UsageError(f"--from {args.start} is in the future: the archive holds nothing yet")
    if end is not None and end <= start:
        raise UsageError(f"--to {args.end} is not after --from {args.start}: swap them")
    target = find_target(ctx, args.consumer, args.topic)
    check_archive(ctx, target, start)
    before = target.attributes.get("ReplayStatus")
    if before in RUNNING and str(target.attributes.get("ReplayPolicy", "")).strip() not in (
        "",
        "{}",
    ):
        raise UsageError(
            f"a replay is in progress to queue {target.queue_name} (ReplayStatus {before}): "
            f"wait for it, or stop it with `fanout replay {args.consumer} --cancel`"
        )
    if end is not None:
        ctx.warn(
            "with --to, SNS stops delivering newly published messages to this subscription once "
            "the replay completes (SNS API reference, ReplayStatus); leave --to out to keep it live"
        )
    policy = replay_policy(start, end)
    ctx.sns.set_subscription_attributes(
        SubscriptionArn=target.subscription_arn,
        AttributeName="ReplayPolicy",
        AttributeValue=json.dumps(policy),
    )
    started = time.monotonic()
    if args.no_wait:
        status = read_status(ctx, target)
        _report(ctx, _record(target, replay_policy=policy, status=status))
        if not ctx.json_output:
            ctx.print(
                f"Started; `fanout replay {args.consumer} --cancel` stops it, and SNS reports "
                "its ReplayStatus on the subscription."
            )
        return EXIT_OK
    description = f"replay {target.topic_name} to {target.queue_name}, {_window(start, end)}"
    try:
        with status_line(ctx, description) as show:
            while True:
                status = read_status(ctx, target)
                show(status)
                if status not in RUNNING:
                    break
                ctx.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        ctx.error(
            "interrupted: stopped following; the replay goes on in SNS "
            f"(`fanout replay {args.consumer} --cancel` stops it)"
        )
        return EXIT_INTERRUPTED
    seconds = round(time.monotonic() - started, 1)
    _report(ctx, _record(target, replay_policy=policy, status=status, seconds=seconds))
    if status == COMPLETED:
        return EXIT_OK
    if status == STOPPED:
        ctx.error(
            f"the replay to queue {target.queue_name} was stopped before it completed (its "
            "ReplayPolicy was removed); rerun to replay again"
        )
        return EXIT_INCOMPLETE
    ctx.error(
        f"the replay to queue {target.queue_name} ended with ReplayStatus {status}: see the "
        "topic's replay metrics in CloudWatch, fix the cause, and rerun"
    )
    return EXIT_AWS


def _cancel(args: argparse.Namespace, ctx: Context) -> int:
    target = find_target(ctx, args.consumer, args.topic)
    policy = str(target.attributes.get("ReplayPolicy", "")).strip()
    before = target.attributes.get("ReplayStatus")
    if before not in RUNNING or policy in ("", "{}"):
        raise UsageError(
            f"no replay in progress to queue {target.queue_name} (ReplayStatus "
            f"{before or 'none'}): nothing to cancel"
        )
    ctx.sns.set_subscription_attributes(
        SubscriptionArn=target.subscription_arn, AttributeName="ReplayPolicy", AttributeValue="{}"
    )
    status = read_status(ctx, target)
    _report(ctx, _record(target, cancelled=True, status_before=before, status=status))
    if not ctx.json_output:
        ctx.print("Messages already replayed stay delivered; a new replay starts over.")
    return EXIT_OK


def register(commands: Commands) -> None:
    """Add the ``replay`` subcommand."""
    parser = commands.add(
        "replay",
        help="replay a FIFO topic's archive to one consumer, follow it, or --cancel it",
        description=DESCRIPTION,
        examples=[
            "fanout replay Payments-Ledger-Balances.fifo --from -2h",
            "fanout replay Payments-Ledger-Balances.fifo --from 2026-12-01T09:00:00Z "
            "--to 2026-12-01T10:00:00Z",
            "fanout replay Payments-Ledger-Balances.fifo --from -1d --topic Ledger.fifo --no-wait",
            "fanout replay Payments-Ledger-Balances.fifo --cancel",
            "fanout --output json replay arn:aws:sns:eu-west-1:123456789012:Ledger.fifo:3f9c... "
            "--from -90m",
        ],
        handler=cmd_replay,
    )
    parser.add_argument(
        "consumer",
        metavar="CONSUMER",
        help="the consumer's queue (name, URL or ARN) or its SNS subscription ARN",
    )
    parser.add_argument(
        "--from", dest="start", metavar="TIME", help=f"where the replay starts: {TIME_FORMS}"
    )
    parser.add_argument(
        "--to",
        dest="end",
        metavar="TIME",
        help="where it ends (default: it catches up, then live delivery goes on)",
    )
    parser.add_argument(
        "--topic",
        metavar="TOPIC",
        help="the topic (name or ARN), when the queue is subscribed to several",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--no-wait", action="store_true", help="return once the replay has started")
    mode.add_argument("--cancel", action="store_true", help="stop the replay in progress")
    # `--from -2h`: argparse would take "-2h" for an option; only negative numbers are let
    # through as values, so relative times are added to what it takes for one.
    parser._negative_number_matcher = re.compile(r"^-\d+[smhdw]?$|^-\d*\.\d+$")
