"""``fanout-dlq``: list, peek at and redrive the dead-letter queues of fanouts.

A runtime tool for operators, not a construct: it talks to SQS and SNS through boto3 (the
standard credential chain, or ``--profile``) and never imports aws_cdk, so it starts in a
fraction of a second and needs no Node.

What it finds, it finds from AWS state, not from names: every queue's ``RedrivePolicy``
names its *processing* dead-letter queue (messages a consumer failed ``maxReceiveCount``
times), and every SQS subscription's ``RedrivePolicy`` names its *undelivered* dead-letter
queue (messages SNS itself could not deliver). Subscriptions group both by topic.

Redrive uses SQS message move tasks. SQS accepts them only from dead-letter queues of SQS
queues, so a subscription dead-letter queue (whose source is an SNS subscription) cannot be
redriven this way; the command says so instead of trying.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

PROG = "fanout-dlq"

EXIT_OK = 0
EXIT_AWS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

PROCESSING = "processing"
UNDELIVERED = "undelivered"
KIND_HELP = {
    PROCESSING: "a consumer failed these messages max-receive-count times",
    UNDELIVERED: "SNS could not deliver these messages to the consumer queue",
}

QUEUE_NOT_FOUND = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
NOT_FOUND = {*QUEUE_NOT_FOUND, "ResourceNotFoundException", "NotFound"}
ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "AuthorizationError"}

RUNNING = "RUNNING"
CANCELLING = "CANCELLING"
ACTIVE_TASK = {RUNNING, CANCELLING}
POLL_SECONDS = 5.0
MAX_POLLS_WITHOUT_TASK = 12
MAX_PEEK = 100
RECEIVE_BATCH = 10

DEPTH_ATTRIBUTES = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]

# boto3 ships no type information; clients are dynamic objects.
Client = Any


class OperatorError(Exception):
    """An expected failure: printed as one line, no traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_AWS) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class UsageError(OperatorError):
    """The request cannot be carried out as given (bad argument, unknown queue)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)


@dataclass(frozen=True)
class Clients:
    sqs: Client
    sns: Client


def connect(args: argparse.Namespace) -> Clients:
    """SQS and SNS clients from the standard credential chain (or ``--profile``)."""
    session = boto3.Session(profile_name=args.profile, region_name=args.region)
    try:
        return Clients(
            sqs=session.client("sqs", endpoint_url=args.endpoint_url),
            sns=session.client("sns", endpoint_url=args.endpoint_url),
        )
    except ValueError as err:  # botocore: "Invalid endpoint: ..."
        raise UsageError(f"--endpoint-url {args.endpoint_url}: {err}") from err


def endpoint_url(text: str) -> str:
    """``--endpoint-url``: an http(s) URL with a host, e.g. ``http://127.0.0.1:5000``."""
    try:
        parsed = urllib.parse.urlsplit(text)
        parsed.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a URL: {err}") from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an http(s) URL with a host, e.g. http://127.0.0.1:5000"
        )
    return text


# -- queues ------------------------------------------------------------------------------


def queue_name(arn_or_url: str) -> str:
    """The queue name at the end of an ARN (``...:name``) or a URL (``.../name``)."""
    return arn_or_url.rstrip("/").replace("/", ":").rsplit(":", 1)[-1]


def resolve_queue_url(sqs: Client, ref: str) -> str:
    """A queue URL from a name, an ARN or a URL; a UsageError when there is no such queue."""
    if ref.startswith(("https://", "http://")):
        return ref
    try:
        if ref.startswith("arn:"):
            parts = ref.split(":")
            if len(parts) != 6 or parts[2] != "sqs":
                raise UsageError(f"not an SQS queue ARN: {ref}")
            url: str = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])[
                "QueueUrl"
            ]
            return url
        url = sqs.get_queue_url(QueueName=ref)["QueueUrl"]
        return url
    except ClientError as err:
        if _code(err) in QUEUE_NOT_FOUND:
            raise UsageError(f"queue not found: {ref}") from err
        raise


def queue_attributes(sqs: Client, url: str, names: Sequence[str]) -> dict[str, str]:
    try:
        attributes: dict[str, str] = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=list(names)
        )["Attributes"]
    except ClientError as err:
        if _code(err) in QUEUE_NOT_FOUND:
            raise UsageError(f"queue not found: {url}") from err
        raise
    return attributes


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _message(err: ClientError) -> str:
    """The error's message on one line (an endpoint that is not AWS may answer with HTML)."""
    message = " ".join(str(err.response.get("Error", {}).get("Message", "")).split())
    if not message or message.startswith("<"):
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        return f"HTTP {status} without an AWS error (does the endpoint implement this API?)"
    return message


def _json_attribute(attributes: Mapping[str, str], name: str) -> dict[str, Any]:
    raw = attributes.get(name)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# -- list --------------------------------------------------------------------------------


@dataclass
class DeadLetterQueue:
    """One row of ``list``: a dead-letter queue, what feeds it and how deep it is."""

    topic_arn: str | None
    kind: str
    name: str
    url: str
    arn: str
    source_queues: list[str]
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
            "source_queues": self.source_queues,
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

    @property
    def name(self) -> str:
        return queue_name(self.arn)

    def depth(self, name: str) -> int:
        return int(self.attributes.get(name, "0") or 0)


@dataclass
class _Subscriptions:
    """What SNS says about the queues: their topics and their subscription DLQs."""

    readable: bool = True
    topics_of_queue: dict[str, set[str]] = field(default_factory=dict)
    # (topic ARN, dead-letter queue ARN) -> ARNs of the subscribed queues that name it
    undelivered: dict[tuple[str, str], set[str]] = field(default_factory=dict)


def _list_queues(sqs: Client, prefix: str | None) -> dict[str, _Queue]:
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
                if _code(err) in QUEUE_NOT_FOUND:
                    continue  # deleted since ListQueues
                raise
            queue = _Queue(url=url, attributes=attributes)
            queues[queue.arn] = queue
    return queues


def _read_subscriptions(
    sns: Client, queue_arns: Iterable[str], warn: Callable[[str], None]
) -> _Subscriptions:
    wanted = set(queue_arns)
    found = _Subscriptions()
    try:
        for page in sns.get_paginator("list_subscriptions").paginate():
            for sub in page.get("Subscriptions", []):
                endpoint = sub.get("Endpoint", "")
                if sub.get("Protocol") != "sqs" or endpoint not in wanted:
                    continue
                topic = sub["TopicArn"]
                found.topics_of_queue.setdefault(endpoint, set()).add(topic)
                if not sub["SubscriptionArn"].startswith("arn:"):
                    continue  # PendingConfirmation: no attributes to read yet
                try:
                    attributes = sns.get_subscription_attributes(
                        SubscriptionArn=sub["SubscriptionArn"]
                    )["Attributes"]
                except ClientError as err:
                    if _code(err) in NOT_FOUND:
                        continue  # unsubscribed since ListSubscriptions
                    raise
                target = _json_attribute(attributes, "RedrivePolicy").get("deadLetterTargetArn")
                if target:
                    found.undelivered.setdefault((topic, target), set()).add(endpoint)
    except ClientError as err:
        if _code(err) not in ACCESS_DENIED:
            raise
        warn(
            f"cannot read SNS subscriptions ({_message(err)}): dead-letter queues are not "
            "grouped by topic and subscription dead-letter queues are not listed"
        )
        return _Subscriptions(readable=False)
    return found


def discover(
    clients: Clients, prefix: str | None, warn: Callable[[str], None]
) -> list[DeadLetterQueue]:
    """Every dead-letter queue among the queues named ``prefix...``, grouped by topic."""
    queues = _list_queues(clients.sqs, prefix)
    subscriptions = _read_subscriptions(clients.sns, queues, warn)

    processing: dict[str, set[str]] = {}
    for queue in queues.values():
        target = _json_attribute(queue.attributes, "RedrivePolicy").get("deadLetterTargetArn")
        if target in queues:
            processing.setdefault(target, set()).add(queue.arn)

    def row(topic: str | None, kind: str, dlq_arn: str, sources: Iterable[str]) -> DeadLetterQueue:
        dlq = queues[dlq_arn]
        return DeadLetterQueue(
            topic_arn=topic,
            kind=kind,
            name=dlq.name,
            url=dlq.url,
            arn=dlq.arn,
            source_queues=sorted(queue_name(source) for source in sources),
            visible=dlq.depth("ApproximateNumberOfMessages"),
            in_flight=dlq.depth("ApproximateNumberOfMessagesNotVisible"),
        )

    rows: list[DeadLetterQueue] = []
    for dlq_arn, sources in processing.items():
        topics: Sequence[str | None] = sorted(
            set().union(*(subscriptions.topics_of_queue.get(s, set()) for s in sources))
        )
        for topic in topics or [None]:
            rows.append(row(topic, PROCESSING, dlq_arn, sources))
    for (topic, dlq_arn), sources in subscriptions.undelivered.items():
        if dlq_arn in queues:
            rows.append(row(topic, UNDELIVERED, dlq_arn, sources))
    rows.sort(key=lambda r: (r.topic_arn is None, r.topic_arn or "", r.kind, r.source_queues))
    return rows


def _table(rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(r)
        ).rstrip()
        for r in rows
    ]


def render_list(rows: Sequence[DeadLetterQueue]) -> str:
    lines: list[str] = []
    topics = list(dict.fromkeys(r.topic_arn for r in rows))
    for topic in topics:
        if lines:
            lines.append("")
        lines.append(
            f"Topic {queue_name(topic)} ({topic})" if topic else "Not subscribed to a topic"
        )
        table = [("CONSUMER QUEUE", "DEAD-LETTER QUEUE", "KIND", "VISIBLE", "IN FLIGHT")]
        for r in rows:
            if r.topic_arn != topic:
                continue
            consumer = (
                r.source_queues[0]
                if len(r.source_queues) == 1
                else f"({len(r.source_queues)} queues)"
            )
            table.append((consumer, r.name, r.kind, str(r.visible), str(r.in_flight)))
        lines += ["  " + line for line in _table(table, right={3, 4})]
    kinds = sorted({r.kind for r in rows})
    lines.append("")
    lines += [f"{kind}: {KIND_HELP[kind]}" for kind in kinds]
    return "\n".join(lines)


def cmd_list(args: argparse.Namespace, clients: Clients, io: Console) -> int:
    rows = discover(clients, args.prefix, io.warn)
    if args.json:
        io.out(json.dumps([r.as_json() for r in rows], indent=2))
    elif not rows:
        where = f" among queues named {args.prefix}*" if args.prefix else ""
        io.out(f"No dead-letter queues found{where}.")
    else:
        io.out(render_list(rows))
    return EXIT_OK


# -- peek --------------------------------------------------------------------------------


def _timestamp(millis: str | int | None) -> str | None:
    if millis in (None, ""):
        return None
    moment = datetime.fromtimestamp(int(millis) / 1000, tz=UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _sqs_attribute(value: Mapping[str, Any]) -> dict[str, str]:
    data_type = str(value.get("DataType", ""))
    if "StringValue" in value:
        return {"type": data_type, "value": str(value["StringValue"])}
    binary = value.get("BinaryValue", b"")
    encoded = base64.b64encode(binary).decode() if isinstance(binary, bytes) else str(binary)
    return {"type": data_type, "value": encoded}


def describe_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """What ``peek`` shows of a message; the SNS envelope is unwrapped when there is one."""
    system = message.get("Attributes", {})
    body = message.get("Body", "")
    attributes = {
        name: _sqs_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
    }
    sns: dict[str, Any] | None = None
    try:
        envelope = json.loads(body)
    except ValueError:
        envelope = None
    if (
        isinstance(envelope, dict)
        and envelope.get("Type") == "Notification"
        and "Message" in envelope
        and "TopicArn" in envelope
    ):
        sns = {
            "topic_arn": envelope["TopicArn"],
            "message_id": envelope.get("MessageId"),
            "timestamp": envelope.get("Timestamp"),
            "subject": envelope.get("Subject"),
        }
        for name, value in (envelope.get("MessageAttributes") or {}).items():
            attributes[name] = {
                "type": str(value.get("Type", "")),
                "value": str(value.get("Value")),
            }
        body = str(envelope["Message"])
    return {
        "message_id": message.get("MessageId"),
        "sent": _timestamp(system.get("SentTimestamp")),
        "receive_count": int(system["ApproximateReceiveCount"])
        if "ApproximateReceiveCount" in system
        else None,
        "dead_letter_queue_source_arn": system.get("DeadLetterQueueSourceArn"),
        "message_group_id": system.get("MessageGroupId"),
        "sns": sns,
        "attributes": attributes,
        "body": body,
    }


def render_message(index: int, total: int, described: Mapping[str, Any]) -> str:
    lines = [f"--- message {index} of {total}: {described['message_id']}"]
    facts = [
        ("sent", described["sent"]),
        ("receive count", described["receive_count"]),
        ("dead-lettered from", described["dead_letter_queue_source_arn"]),
        ("message group", described["message_group_id"]),
    ]
    if described["sns"]:
        sns = described["sns"]
        facts += [
            ("SNS topic", sns["topic_arn"]),
            ("SNS message id", sns["message_id"]),
            ("published", sns["timestamp"]),
            ("subject", sns["subject"]),
        ]
    lines += [f"{label}: {value}" for label, value in facts if value is not None]
    for name, value in sorted(described["attributes"].items()):
        lines.append(f"attribute {name} ({value['type']}): {value['value']}")
    lines.append("body:")
    lines += ["  " + line for line in _pretty(described["body"]).splitlines()]
    return "\n".join(lines)


def peek(sqs: Client, url: str, count: int) -> list[dict[str, Any]]:
    """Up to ``count`` distinct messages, received with a zero visibility timeout.

    Nothing is deleted and every message stays visible; each receive does add one to the
    message's ApproximateReceiveCount. SQS returns at most 10 messages per call and samples
    its servers, so more than 10 is best effort: receiving stops at the first call that
    brings no message not seen yet.
    """
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(-(-count // RECEIVE_BATCH) + 2):
        response = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(RECEIVE_BATCH, count - len(seen)),
            VisibilityTimeout=0,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        new = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
        for message in new[: count - len(seen)]:
            seen[message["MessageId"]] = message
        if not new or len(seen) >= count:
            break
    return list(seen.values())


def cmd_peek(args: argparse.Namespace, clients: Clients, io: Console) -> int:
    if not 1 <= args.count <= MAX_PEEK:
        raise UsageError(f"--count must be from 1 to {MAX_PEEK}, not {args.count}")
    url = resolve_queue_url(clients.sqs, args.queue)
    redrive = _json_attribute(queue_attributes(clients.sqs, url, ["All"]), "RedrivePolicy")
    if redrive:
        raise UsageError(
            f"{queue_name(url)} has a dead-letter queue (maxReceiveCount "
            f"{redrive.get('maxReceiveCount')}): every peek counts as a receive and would "
            "move its messages there; peek at its dead-letter queue instead"
        )
    messages = [describe_message(m) for m in peek(clients.sqs, url, args.count)]
    if args.json:
        io.out(json.dumps(messages, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not messages:
        io.out(f"No messages visible in {queue_name(url)}.")
        return EXIT_OK
    io.out(f"{len(messages)} message(s) from {queue_name(url)}, left in the queue:")
    for index, described in enumerate(messages, start=1):
        io.out(render_message(index, len(messages), described))
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


def follow(sqs: Client, source_arn: str, handle: str, earlier: set[int | None], io: Console) -> int:
    """Print the task's progress until it ends; Ctrl-C cancels it."""
    last = ""
    polls_without_task = 0
    while True:
        try:
            task = _own_task(_tasks(sqs, source_arn), handle, earlier)
            if task is None:
                polls_without_task += 1
                if polls_without_task > MAX_POLLS_WITHOUT_TASK:
                    raise OperatorError(
                        f"SQS no longer lists message move task {handle}; check it with "
                        f"`{PROG} status {queue_name(source_arn)}`"
                    )
            else:
                line = _progress(task)
                if line != last:
                    io.out(f"{io.now()}  {line}")
                    last = line
                status = task["Status"]
                if status == "COMPLETED":
                    moved = task.get("ApproximateNumberOfMessagesMoved", 0)
                    io.out(f"Done: {moved} message(s) moved.")
                    return EXIT_OK
                if status == "FAILED":
                    reason = task.get("FailureReason", "no reason given")
                    raise OperatorError(f"the message move task failed: {reason}")
                if status == "CANCELLED":
                    raise OperatorError("the message move task was cancelled")
            io.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            io.out("Interrupted: cancelling the message move task (CancelMessageMoveTask)...")
            try:
                moved = sqs.cancel_message_move_task(TaskHandle=handle).get(
                    "ApproximateNumberOfMessagesMoved", 0
                )
            except ClientError as err:
                raise OperatorError(
                    f"could not cancel message move task {handle}: {_message(err)}"
                ) from err
            io.out(
                f"Cancel requested after about {moved} message(s) moved; SQS stops the task "
                "and the rest stay in the dead-letter queue."
            )
            return EXIT_INTERRUPTED


def cmd_redrive(args: argparse.Namespace, clients: Clients, io: Console) -> int:
    sqs = clients.sqs
    if args.max_per_second is not None and not 1 <= args.max_per_second <= 500:
        raise UsageError(f"--max-per-second must be from 1 to 500, not {args.max_per_second}")
    url = resolve_queue_url(sqs, args.queue)
    # "All" rather than the three names needed: moto rejects the name RedriveAllowPolicy.
    attributes = queue_attributes(sqs, url, ["All"])
    source_arn = attributes["QueueArn"]
    name = queue_name(source_arn)
    allow = _json_attribute(attributes, "RedriveAllowPolicy")
    own = _json_attribute(attributes, "RedrivePolicy")
    if own.get("deadLetterTargetArn"):
        raise UsageError(
            f"{name} is a source queue, not a dead-letter queue: its own dead-letter queue is "
            f"{queue_name(own['deadLetterTargetArn'])}. Redrive that one: `{PROG} redrive "
            f"{queue_name(own['deadLetterTargetArn'])}`"
        )
    if allow.get("redrivePermission") == "denyAll":
        raise UsageError(
            f"{name} is not the dead-letter queue of any SQS queue (its redrive-allow policy "
            "is denyAll): it is a subscription dead-letter queue, filled by SNS. SQS message "
            f"move tasks only take dead-letter queues of SQS queues. Inspect the messages with "
            f"`{PROG} peek {name}`, fix the delivery problem, then publish them again."
        )
    if not allow.get("sourceQueueArns") and not sqs.list_dead_letter_source_queues(
        QueueUrl=url, MaxResults=1
    ).get("queueUrls"):
        raise UsageError(
            f"{name} is not the dead-letter queue of any SQS queue (no queue names it in its "
            "redrive policy): SQS message move tasks only move messages out of dead-letter "
            f"queues. Find the fanout's dead-letter queues with `{PROG} list`."
        )
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
            f"(started {_timestamp(task.get('StartedTimestamp'))}, {_progress(task)}); "
            "SQS runs one at a time per queue: wait for it to finish or cancel it with "
            f"`{PROG} cancel {name}`"
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
    io.out(
        f"Moving about {attributes.get('ApproximateNumberOfMessages', '?')} message(s) "
        f"from {name} to {target}{rate} (task {handle})."
    )
    if not args.wait:
        io.out(f"Not waiting. Follow it with `{PROG} status {name}`.")
        return EXIT_OK
    return follow(sqs, source_arn, handle, {t.get("StartedTimestamp") for t in earlier}, io)


# -- status and cancel -------------------------------------------------------------------


def cmd_status(args: argparse.Namespace, clients: Clients, io: Console) -> int:
    url = resolve_queue_url(clients.sqs, args.queue)
    source_arn = queue_attributes(clients.sqs, url, ["QueueArn"])["QueueArn"]
    tasks = _tasks(clients.sqs, source_arn)
    if not tasks:
        io.out(f"No message move tasks for {queue_name(source_arn)}.")
        return EXIT_OK
    table = [("STARTED", "STATUS", "MOVED", "TO MOVE", "DESTINATION", "FAILURE")]
    for task in tasks:
        table.append(
            (
                _timestamp(task.get("StartedTimestamp")) or "?",
                task["Status"],
                str(task.get("ApproximateNumberOfMessagesMoved", 0)),
                str(task.get("ApproximateNumberOfMessagesToMove", "?")),
                queue_name(task["DestinationArn"]) if task.get("DestinationArn") else "source",
                task.get("FailureReason", ""),
            )
        )
    io.out(f"Message move tasks of {queue_name(source_arn)}, newest first:")
    io.out("\n".join(_table(table, right={2, 3})))
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace, clients: Clients, io: Console) -> int:
    url = resolve_queue_url(clients.sqs, args.queue)
    source_arn = queue_attributes(clients.sqs, url, ["QueueArn"])["QueueArn"]
    running = [t for t in _tasks(clients.sqs, source_arn) if t.get("Status") == RUNNING]
    if not running:
        raise UsageError(f"no message move task is running for {queue_name(source_arn)}")
    moved = clients.sqs.cancel_message_move_task(TaskHandle=running[0]["TaskHandle"]).get(
        "ApproximateNumberOfMessagesMoved", 0
    )
    io.out(f"Cancelling the move task of {queue_name(source_arn)}; about {moved} moved.")
    return EXIT_OK


# -- command line ------------------------------------------------------------------------


@dataclass
class Console:
    """Where the command writes and how it waits; tests replace ``sleep`` and ``now``."""

    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], str] = lambda: datetime.now(tz=UTC).strftime("%H:%M:%S")

    def out(self, text: str) -> None:
        print(text, file=sys.stdout, flush=True)

    def warn(self, text: str) -> None:
        print(f"{PROG}: warning: {text}", file=sys.stderr, flush=True)

    def error(self, text: str) -> None:
        print(f"{PROG}: error: {text}", file=sys.stderr, flush=True)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog=PROG,
        description="List, peek at and redrive the dead-letter queues of SNS to SQS fanouts.",
    )
    top.add_argument(
        "--endpoint-url", type=endpoint_url, help="SQS and SNS endpoint, e.g. an emulator"
    )
    top.add_argument("--region", help="AWS region (default: the standard configuration)")
    top.add_argument("--profile", help="AWS profile (default: the standard credential chain)")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="dead-letter queues per topic, with their depth")
    listing.add_argument("--prefix", help="only queues whose name starts with this (a stack)")
    listing.add_argument("--json", action="store_true", help="print JSON for scripts")
    listing.set_defaults(handler=cmd_list)

    peeking = commands.add_parser("peek", help="show messages without removing them")
    peeking.add_argument("queue", metavar="QUEUE", help="queue name, URL or ARN")
    peeking.add_argument("--count", type=int, default=10, help="at most this many (default 10)")
    peeking.add_argument("--json", action="store_true", help="print JSON for scripts")
    peeking.set_defaults(handler=cmd_peek)

    redriving = commands.add_parser(
        "redrive", help="move messages back to their source queue (SQS message move task)"
    )
    redriving.add_argument("queue", metavar="DLQ", help="dead-letter queue name, URL or ARN")
    redriving.add_argument(
        "--to", metavar="QUEUE", help="destination queue (default: each message's source)"
    )
    redriving.add_argument(
        "--max-per-second", type=int, metavar="N", help="rate limit, 1..500 (default: SQS's)"
    )
    redriving.add_argument(
        "--no-wait", dest="wait", action="store_false", help="start the task and return"
    )
    redriving.set_defaults(handler=cmd_redrive)

    status = commands.add_parser("status", help="recent message move tasks of a DLQ")
    status.add_argument("queue", metavar="DLQ", help="dead-letter queue name, URL or ARN")
    status.set_defaults(handler=cmd_status)

    cancel = commands.add_parser("cancel", help="cancel the running message move task")
    cancel.add_argument("queue", metavar="DLQ", help="dead-letter queue name, URL or ARN")
    cancel.set_defaults(handler=cmd_cancel)
    return top


def _client_error(err: ClientError) -> OperatorError:
    code, message = _code(err), _message(err)
    operation = getattr(err, "operation_name", "request")
    if code in NOT_FOUND:
        return UsageError(f"not found: {message} ({operation})")
    if code in ACCESS_DENIED:
        return OperatorError(f"access denied for {operation}: {message}")
    if code.isdigit():  # no AWS error code, only an HTTP status
        return OperatorError(f"{operation} failed: {message}")
    return OperatorError(f"{operation} failed: {code}: {message}")


def run(
    argv: Sequence[str] | None = None,
    *,
    connect: Callable[[argparse.Namespace], Clients] = connect,
    io: Console | None = None,
) -> int:
    """The command with its AWS clients and waiting injectable (for tests)."""
    io = io or Console()
    try:
        args = parser().parse_args(argv)
    except SystemExit as exit_:  # argparse has printed usage and the error
        return int(exit_.code or 0)
    try:
        return int(args.handler(args, connect(args), io))
    except OperatorError as err:
        io.error(str(err))
        return err.exit_code
    except ClientError as err:
        failure = _client_error(err)
        io.error(str(failure))
        return failure.exit_code
    except NoCredentialsError:
        io.error(
            "no AWS credentials found: configure the standard credential chain "
            "(environment, profile, SSO) or pass --profile"
        )
        return EXIT_AWS
    except NoRegionError:
        io.error("no AWS region: pass --region or set AWS_REGION")
        return EXIT_USAGE
    except ProfileNotFound as err:
        io.error(str(err))
        return EXIT_USAGE
    except EndpointConnectionError as err:
        io.error(f"cannot reach AWS: {err}")
        return EXIT_AWS
    except BotoCoreError as err:
        io.error(f"AWS request failed: {err}")
        return EXIT_AWS
    except KeyboardInterrupt:
        io.error("interrupted")
        return EXIT_INTERRUPTED


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: ``fanout-dlq [--endpoint-url URL] COMMAND ...``."""
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
