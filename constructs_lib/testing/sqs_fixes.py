"""What moto 5.2.5 lacks in SQS dead-letter handling and FIFO fanout, put right in the server.

* Dead-letter queue redrive: ``StartMessageMoveTask``, ``ListMessageMoveTasks`` and
  ``CancelMessageMoveTask`` (moto answers HTTP 500), with the request and response shapes,
  statuses and errors of SQS. A task moves messages in a background thread of the server
  process, at most ``MaxNumberOfMessagesPerSecond``; each message is claimed in the dead-letter
  queue (as a receive would), sent to its destination, and only then deleted, so a task that
  stops (cancelled, failed, the emulator reset) leaves every message in exactly one queue.
* ``DeadLetterQueueSourceArn``: moto moves a message to the dead-letter queue after
  ``maxReceiveCount`` receives without noting where it came from; here the message remembers
  its source queue, ``ReceiveMessage`` returns it, and a move task without a destination sends
  each message back there.
* FIFO message groups: moto keeps a group blocked by messages whose visibility timeout has
  expired, which dead-letters a failed batch out of order; only messages in flight hold it.
* ``RedriveAllowPolicy``: validated, returned by ``GetQueueAttributes`` and enforced when a
  queue names a dead-letter queue (``CreateQueue``, ``SetQueueAttributes``, CloudFormation).
* A FIFO topic's content-based deduplication: the deduplication id SNS derives from the
  message body, applied at the topic and passed on to the subscribed queues.

Each fix is registered with :func:`~constructs_lib.testing.gaps.fills`; :func:`apply` installs
them all once per process (``moto_fixes.apply`` calls it, so every ``Emulator`` has them).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.core.responses import ActionResult
from moto.sns import exceptions as sns_exceptions
from moto.sns.models import SNSBackend, Topic
from moto.sqs.exceptions import InvalidParameterValue, QueueDoesNotExist, SQSException
from moto.sqs.models import Message, Queue, SQSBackend, sqs_backends
from moto.sqs.responses import SQSResponse

from .gaps import Original, apply_once, fills, patch

_APPLIED = "_constructs_lib_sqs_fixed"

DEAD_LETTER_SOURCE = "_constructs_lib_dead_letter_queue_source_arn"
"""The attribute of a moto ``Message`` holding the ARN of the queue it was dead-lettered from."""

RUNNING = "RUNNING"
COMPLETED = "COMPLETED"
CANCELLING = "CANCELLING"
CANCELLED = "CANCELLED"
FAILED = "FAILED"

MAX_RATE = 500
"""``MaxNumberOfMessagesPerSecond`` at most (SQS's limit)."""
MAX_LISTED = 10
"""``ListMessageMoveTasks`` returns at most this many tasks (default 1)."""
MAX_SOURCE_QUEUE_ARNS = 10
"""A ``byQueue`` redrive-allow policy names at most this many source queues."""
RECEIVE_BATCH = 10
CLAIM_SECONDS = 30
"""Visibility timeout of a message a move task has claimed and not yet moved: if the task
stopped without deleting or releasing it, the message would reappear in its queue."""
DEDUPLICATION_SECONDS = 300
"""SNS and SQS FIFO deduplication interval."""

_ARN = re.compile(r"^arn:[\w-]+:sqs:([\w-]+):(\w+):([\w.-]+)$")
_TASKS = "_constructs_lib_message_move_tasks"
_TASKS_LOCK = threading.Lock()
_SEEN = "_constructs_lib_deduplication"
_SEEN_LOCK = threading.Lock()


def apply() -> None:
    """Apply every fix (idempotent)."""
    apply_once(
        SQSBackend,
        _APPLIED,
        _fix_dead_letter_source,
        _fix_fifo_group_visibility,
        _fix_redrive_allow_policy,
        _fix_message_move_tasks,
        _fix_fifo_topic_deduplication,
    )


class ResourceNotFound(SQSException):
    """SQS's ``ResourceNotFoundException``, which it answers with HTTP 404 (the service
    model gives no status, so moto would send 400; see :func:`_serve`)."""

    code = "ResourceNotFoundException"
    status = 404


class UnsupportedOperation(SQSException):
    """SQS's ``UnsupportedOperation`` (``AWS.SimpleQueueService.UnsupportedOperation``)."""

    code = "UnsupportedOperation"


# -- DeadLetterQueueSourceArn -------------------------------------------------------------

_receiving = threading.local()


def _receiving_from() -> list[Queue]:
    stack: list[Queue] | None = getattr(_receiving, "queues", None)
    if stack is None:
        stack = _receiving.queues = []
    return stack


@fills(
    "sqs",
    moto="moves a message to the dead-letter queue after `maxReceiveCount` receives without "
    "noting its source; `ReceiveMessage` never returns `DeadLetterQueueSourceArn`",
    aws="the message carries the ARN of the queue it was dead-lettered from "
    "(`DeadLetterQueueSourceArn`, returned when asked for), where a redrive without a "
    "destination sends it back",
)
def _fix_dead_letter_source() -> None:
    """moto's ``SQSBackend.receive_message`` moves each message past ``maxReceiveCount`` with
    ``queue.dead_letter_queue.add_message(message)``. The backend call notes which queue it
    receives from (per thread, as receives nest when a Lambda mapping polls), and
    ``add_message`` on that queue's dead-letter queue stamps the source on the message."""

    @patch(SQSBackend, "receive_message")
    def receive_message(
        original: Original, self: SQSBackend, queue_name: str, *args: Any, **kwargs: Any
    ) -> Any:
        stack = _receiving_from()
        stack.append(self.get_queue(queue_name))
        try:
            return original(self, queue_name, *args, **kwargs)
        finally:
            stack.pop()

    @patch(Queue, "add_message")
    def add_message(original: Original, self: Queue, message: Message) -> None:
        stack = _receiving_from()
        if stack and stack[-1].dead_letter_queue is self:
            setattr(message, DEAD_LETTER_SOURCE, stack[-1].queue_arn)
        original(self, message)

    @patch(SQSResponse, "receive_message")
    def respond_receive_message(original: Original, self: SQSResponse) -> Any:
        result = original(self)
        asked = {
            *self._get_param("AttributeNames", []),
            *self._get_param("MessageSystemAttributeNames", []),
        }
        messages = result.result.get("Messages") if isinstance(result.result, dict) else None
        if not messages or not asked & {"All", "DeadLetterQueueSourceArn"}:
            return result
        queue = self.sqs_backend.get_queue(self._get_queue_name())
        sources = {m.id: getattr(m, DEAD_LETTER_SOURCE, None) for m in list(queue._messages)}
        for message in messages:
            source = sources.get(message["MessageId"])
            if source:
                message.setdefault("Attributes", {})["DeadLetterQueueSourceArn"] = source
        return result


@fills(
    "sqs",
    moto="a FIFO message group stays blocked by its messages whose visibility timeout has "
    "expired, so after a failed batch the receive that dead-letters them moves the group's "
    "last messages first and returns nothing",
    aws="only messages in flight hold their group: the next receive finds the group's first "
    "message, and messages past `maxReceiveCount` reach the dead-letter queue in order",
)
def _fix_fifo_group_visibility() -> None:
    """moto's receive skips a message whose group is among ``pending_message_groups``, the
    groups of every message received and not deleted, visible again or not."""

    def pending_message_groups(self: Queue) -> set[str]:
        return {
            message.group_id
            for message in list(self._pending_messages)
            if message.group_id is not None and not message.visible
        }

    Queue.pending_message_groups = property(pending_message_groups)  # type: ignore[assignment,method-assign]


# -- RedriveAllowPolicy -------------------------------------------------------------------

_PERMISSIONS = ("allowAll", "denyAll", "byQueue")


def parse_redrive_allow_policy(value: Any) -> dict[str, Any] | None:
    """A ``RedriveAllowPolicy`` as SQS accepts it (JSON text, or the object CloudFormation
    passes), or ``None`` for none; ``InvalidParameterValue`` with SQS's reason otherwise."""
    if value is None or value == "":
        return None
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    unsupported = InvalidParameterValue(
        "Invalid value for the parameter RedriveAllowPolicy. Reason: Amazon SQS can't create "
        "the redrive allow policy, as it\u2019s in an unsupported format."
    )
    try:
        policy = json.loads(text)
    except ValueError:
        raise unsupported from None
    if (
        not isinstance(policy, dict)
        or policy.get("redrivePermission") not in _PERMISSIONS
        or set(policy) - {"redrivePermission", "sourceQueueArns"}
    ):
        raise unsupported
    arns = policy.get("sourceQueueArns")
    if arns is not None and (
        not isinstance(arns, list) or not all(isinstance(arn, str) for arn in arns)
    ):
        raise unsupported

    def invalid(reason: str) -> InvalidParameterValue:
        return InvalidParameterValue(
            f"Value {text} for parameter RedriveAllowPolicy is invalid. Reason: Amazon SQS "
            f"can't create the redrive allow policy. {reason}"
        )

    if arns is not None and policy["redrivePermission"] != "byQueue":
        raise invalid(
            "To specify one or more source queue ARNs, you must set redrivePermission to byQueue."
        )
    if policy["redrivePermission"] == "byQueue":
        if not arns:
            raise invalid(
                "When you specify the byQueue permission type, you must also specify one or "
                "more sourceQueueArns values."
            )
        if len(arns) > MAX_SOURCE_QUEUE_ARNS:
            raise invalid(
                f"The maximum number of source queue ARNs you can specify is "
                f"{MAX_SOURCE_QUEUE_ARNS}."
            )
    return policy


def allows_source(policy: dict[str, Any] | None, source_arn: str) -> bool:
    """Whether a dead-letter queue with this redrive-allow policy accepts ``source_arn``."""
    if policy is None or policy["redrivePermission"] == "allowAll":
        return True
    return policy["redrivePermission"] == "byQueue" and source_arn in policy["sourceQueueArns"]


def _dead_letter_target(redrive_policy: Any) -> str | None:
    """The ``deadLetterTargetArn`` of a redrive policy (text or object), if it has one."""
    if isinstance(redrive_policy, str):
        try:
            redrive_policy = json.loads(redrive_policy)
        except ValueError:
            return None  # moto's own check refuses it
    if not isinstance(redrive_policy, dict):
        return None
    target = redrive_policy.get("deadLetterTargetArn")
    return target if isinstance(target, str) else None


@fills(
    "sqs",
    moto="`RedriveAllowPolicy` is stored unchecked, never returned (asking for it by name is "
    "`InvalidAttributeName`) and not enforced",
    aws="validated (`allowAll`, `denyAll`, `byQueue` with 1 to 10 `sourceQueueArns`), returned "
    "by `GetQueueAttributes`, and a `RedrivePolicy` naming a dead-letter queue that does not "
    "allow the queue is refused (`CreateQueue`, `SetQueueAttributes`, CloudFormation)",
)
def _fix_redrive_allow_policy() -> None:
    """Checked before moto applies any attribute, so a refused call changes nothing."""

    @patch(Queue, "_set_attributes")
    def _set_attributes(
        original: Original, self: Queue, attributes: dict[str, Any], now: float | None = None
    ) -> None:
        if "RedriveAllowPolicy" in attributes:
            given = attributes["RedriveAllowPolicy"]
            stored = None
            if parse_redrive_allow_policy(given) is not None:
                stored = given if isinstance(given, str) else json.dumps(given)
            attributes = {**attributes, "RedriveAllowPolicy": stored}
        target = _dead_letter_target(attributes.get("RedrivePolicy"))
        if target is not None:
            _check_redrive_allowed(self, target, attributes["RedrivePolicy"])
        original(self, attributes, now)

    Queue.redrive_allow_policy = None  # type: ignore[attr-defined]
    Queue.BASE_ATTRIBUTES = [*Queue.BASE_ATTRIBUTES, "RedriveAllowPolicy"]


def _check_redrive_allowed(queue: Queue, target_arn: str, redrive_policy: Any) -> None:
    backend = sqs_backends[queue.account_id][queue.region]
    dead_letter_queue = next(
        (q for q in list(backend.queues.values()) if q.queue_arn == target_arn), None
    )
    if dead_letter_queue is None:
        return  # moto's own check refuses a dead-letter queue that does not exist
    policy = parse_redrive_allow_policy(getattr(dead_letter_queue, "redrive_allow_policy", None))
    if allows_source(policy, queue.queue_arn):
        return
    text = redrive_policy if isinstance(redrive_policy, str) else json.dumps(redrive_policy)
    assert policy is not None
    raise InvalidParameterValue(
        f"Value {text} for parameter RedrivePolicy is invalid. Reason: The dead-letter queue "
        f"{target_arn} does not allow {queue.queue_arn} as a source queue (its "
        f"RedriveAllowPolicy is {policy['redrivePermission']})."
    )


# -- message move tasks -------------------------------------------------------------------


@dataclass
class MoveTask:
    """One message move task, held by the SQS backend of its source queue (an emulator reset
    forgets it, and its thread stops)."""

    backend: SQSBackend
    source: Queue
    destination_arn: str | None
    rate: int | None
    to_move: int
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: int = field(default_factory=lambda: int(time.time() * 1000))
    status: str = RUNNING
    moved: int = 0
    failure: str | None = None
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def source_arn(self) -> str:
        return self.source.queue_arn

    @property
    def handle(self) -> str:
        """What SQS hands out: base64 of ``{"taskId": ..., "sourceArn": ...}``."""
        document = json.dumps(
            {"taskId": self.id, "sourceArn": self.source_arn}, separators=(",", ":")
        )
        return base64.b64encode(document.encode()).decode()

    def entry(self) -> dict[str, Any]:
        """The task as ``ListMessageMoveTasks`` describes it."""
        entry: dict[str, Any] = {
            "Status": self.status,
            "SourceArn": self.source_arn,
            "ApproximateNumberOfMessagesMoved": self.moved,
            "ApproximateNumberOfMessagesToMove": self.to_move,
            "StartedTimestamp": self.started,
        }
        if self.status == RUNNING:
            entry["TaskHandle"] = self.handle
        if self.destination_arn:
            entry["DestinationArn"] = self.destination_arn
        if self.rate is not None:
            entry["MaxNumberOfMessagesPerSecond"] = self.rate
        if self.status == FAILED and self.failure:
            entry["FailureReason"] = self.failure
        return entry

    def is_current(self) -> bool:
        """False once the emulator has been reset (the backend no longer holds the task)."""
        return _tasks_of(self.backend).get(self.id) is self

    def finish(self, failure: str | None = None) -> None:
        with self.lock:
            if failure is not None:
                self.status, self.failure = FAILED, failure
            elif self.status == CANCELLING:
                self.status = CANCELLED
            else:
                self.status = COMPLETED


def _tasks_of(backend: SQSBackend) -> dict[str, MoveTask]:
    with _TASKS_LOCK:
        tasks: dict[str, MoveTask] = backend.__dict__.setdefault(_TASKS, {})
        return tasks


def _queue_at(arn: Any, parameter: str) -> tuple[SQSBackend, Queue]:
    match = _ARN.match(arn) if isinstance(arn, str) else None
    if match is None:
        raise InvalidParameterValue(
            f"You must use this format to specify the {parameter}: "
            "arn:<partition>:<service>:<region>:<account-id>:<resource-id>"
        )
    region, account, name = match.groups()
    try:
        backend = sqs_backends[account][region]
        queue = backend.get_queue(name)
    except (KeyError, QueueDoesNotExist):
        raise ResourceNotFound(
            f"The resource that you specified for the {parameter} parameter doesn't exist."
        ) from None
    if queue.queue_arn != arn:
        raise ResourceNotFound(
            f"The resource that you specified for the {parameter} parameter doesn't exist."
        )
    return backend, queue


def _integer(value: Any, parameter: str, low: int, high: int) -> int:
    if isinstance(value, int) and low <= value <= high:
        return value
    raise InvalidParameterValue(
        f"Value for parameter {parameter} is invalid. Reason: You must enter a number that's "
        f"between {low} and {high}."
    )


def start_message_move_task(
    source_arn: Any, destination_arn: Any = None, rate: Any = None
) -> MoveTask:
    """``StartMessageMoveTask``: check the request as SQS does, then start the task."""
    backend, source = _queue_at(source_arn, "SourceArn")
    if not any(q.dead_letter_queue is source for q in list(backend.queues.values())):
        raise InvalidParameterValue("Source queue must be configured as a Dead Letter Queue.")
    if destination_arn is not None:
        _, destination = _queue_at(destination_arn, "DestinationArn")
        if destination.fifo_queue != source.fifo_queue:
            raise InvalidParameterValue(
                "The destination queue must be the same type of queue (standard or FIFO) as "
                "the source queue."
            )
    if rate is not None:
        rate = _integer(rate, "MaxNumberOfMessagesPerSecond", 1, MAX_RATE)
    tasks = _tasks_of(backend)
    with _TASKS_LOCK:
        if any(t.source is source and t.status in (RUNNING, CANCELLING) for t in tasks.values()):
            raise InvalidParameterValue(
                "There is already a task running. Only one active task is allowed for a source "
                "queue arn at a given time."
            )
        task = MoveTask(
            backend, source, destination_arn, rate, source.approximate_number_of_messages
        )
        tasks[task.id] = task
    threading.Thread(
        target=_run, args=(task,), name=f"sqs-message-move-{task.id}", daemon=True
    ).start()
    return task


def list_message_move_tasks(source_arn: Any, max_results: Any = None) -> list[MoveTask]:
    """``ListMessageMoveTasks``: the source's most recent tasks, newest first."""
    backend, source = _queue_at(source_arn, "SourceArn")
    limit = 1 if max_results is None else _integer(max_results, "MaxResults", 1, MAX_LISTED)
    tasks = [t for t in list(_tasks_of(backend).values()) if t.source is source]
    return tasks[::-1][:limit]


def cancel_message_move_task(handle: Any) -> MoveTask:
    """``CancelMessageMoveTask``: only a RUNNING task can be cancelled; it stops before the
    next message, and the messages it has moved stay where they are."""
    try:
        document = json.loads(base64.b64decode(str(handle), validate=True))
        task_id, source_arn = document["taskId"], document["sourceArn"]
        if not isinstance(task_id, str) or not isinstance(source_arn, str):
            raise TypeError(task_id)
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise InvalidParameterValue("Value for parameter TaskHandle is invalid.") from None
    backend, source = _queue_at(source_arn, "SourceArn")
    task = _tasks_of(backend).get(task_id)
    if task is None or task.source is not source:
        raise ResourceNotFound("Task does not exist.")
    with task.lock:
        if task.status != RUNNING:
            raise UnsupportedOperation(
                "A message movement task can only be cancelled when its status is RUNNING; "
                f"this one is {task.status}."
            )
        task.status = CANCELLING
        task.cancel_requested.set()
    return task


def _run(task: MoveTask) -> None:
    try:
        failure = _move(task)
    except Exception as error:  # an emulator bug must show as a failed task, not vanish
        failure = f"{type(error).__name__}: {error}"
    if task.is_current():
        task.finish(failure)


def _move(task: MoveTask) -> str | None:
    """Move up to ``to_move`` messages (those visible when the task started); a failure
    reason, or ``None`` when done or cancelled."""
    interval = 1 / task.rate if task.rate else 0.0
    next_at = time.monotonic()
    while task.moved < task.to_move:
        if task.cancel_requested.is_set() or not task.is_current():
            return None
        batch = min(RECEIVE_BATCH, task.to_move - task.moved, task.rate or RECEIVE_BATCH)
        try:
            claimed = task.backend.receive_message(
                task.source.name, batch, 0, CLAIM_SECONDS, ["All"]
            )
        except QueueDoesNotExist as error:
            return error.code
        if not claimed:
            return None  # what was visible at the start has been moved or taken
        for index, message in enumerate(claimed):
            if interval:
                task.cancel_requested.wait(max(0.0, next_at - time.monotonic()))
                next_at = max(next_at, time.monotonic()) + interval
            if task.cancel_requested.is_set() or not task.is_current():
                _release(task, claimed[index:])
                return None
            failure = _send(task, message)
            if failure is not None:
                _release(task, claimed[index:])
                return failure
            try:
                task.backend.delete_message(task.source.name, str(message.receipt_handle))
            except QueueDoesNotExist as error:  # deleted meanwhile: this message has moved
                task.moved += 1
                return error.code
            task.moved += 1
    return None


def _send(task: MoveTask, message: Message) -> str | None:
    """Send a copy of ``message`` to its destination, as a new message (SQS gives redriven
    messages a new id and enqueue time); a failure reason if that is impossible."""
    arn = task.destination_arn or getattr(message, DEAD_LETTER_SOURCE, None)
    if arn is None:
        # Not a reason SQS is known to give (AWS does not document this case).
        return (
            f"message {message.id} has no source queue (no DeadLetterQueueSourceArn: SQS did "
            "not dead-letter it); give a DestinationArn"
        )
    try:
        backend, destination = _queue_at(arn, "DestinationArn")
        fifo = destination.fifo_queue
        backend.send_message(
            destination.name,
            message.body,
            message_attributes=message.message_attributes,
            deduplication_id=message.deduplication_id if fifo else None,
            group_id=message.group_id if fifo else None,
            system_attributes=message.system_attributes,
        )
    except ResourceNotFound:
        return "AWS.SimpleQueueService.NonExistentQueue"
    except SQSException as error:
        return str(error.code)
    return None


def _release(task: MoveTask, messages: list[Message]) -> None:
    """Make claimed messages visible again in the source queue."""
    for message in messages:
        # A queue or message that is gone has nothing left to give back.
        with contextlib.suppress(SQSException):
            task.backend.change_message_visibility(task.source.name, str(message.receipt_handle), 0)


def _serve(handler: Callable[[SQSResponse], dict[str, Any]]) -> Callable[[SQSResponse], Any]:
    """An SQS response method: the handler's result, or its error with SQS's HTTP status."""

    def action(self: SQSResponse) -> Any:
        try:
            return ActionResult(handler(self))
        except ResourceNotFound as error:
            _, headers, body = self.serialized(ActionResult(error))
            headers["status"] = error.status
            return body, headers

    action.__name__ = handler.__name__
    return action


@fills(
    "sqs",
    moto="`StartMessageMoveTask`, `ListMessageMoveTasks` and `CancelMessageMoveTask` are not "
    "implemented (HTTP 500)",
    aws="dead-letter queue redrive: a task moves the messages in the background, at most "
    "`MaxNumberOfMessagesPerSecond` (1 to 500), to `DestinationArn` or each message's source "
    "queue, as new messages; RUNNING, COMPLETED, CANCELLING, CANCELLED, FAILED with "
    "`FailureReason`; one active task per source, which must be a dead-letter queue; the "
    "newest tasks listed first (`MaxResults` 1 to 10, default 1); only a RUNNING task "
    "cancelled",
)
def _fix_message_move_tasks() -> None:
    def start(self: SQSResponse) -> dict[str, Any]:
        task = start_message_move_task(
            self._get_param("SourceArn"),
            self._get_param("DestinationArn"),
            self._get_param("MaxNumberOfMessagesPerSecond"),
        )
        return {"TaskHandle": task.handle}

    def list_(self: SQSResponse) -> dict[str, Any]:
        tasks = list_message_move_tasks(self._get_param("SourceArn"), self._get_param("MaxResults"))
        return {"Results": [task.entry() for task in tasks]}

    def cancel(self: SQSResponse) -> dict[str, Any]:
        task = cancel_message_move_task(self._get_param("TaskHandle"))
        return {"ApproximateNumberOfMessagesMoved": task.moved}

    start.__name__ = "start_message_move_task"
    list_.__name__ = "list_message_move_tasks"
    cancel.__name__ = "cancel_message_move_task"
    for handler in (start, list_, cancel):
        setattr(SQSResponse, handler.__name__, _serve(handler))


# -- a FIFO topic's deduplication -----------------------------------------------------------


def _true(value: Any) -> bool:
    """A topic attribute as moto holds it: ``True`` from CloudFormation, ``"true"`` from the
    API (moto keeps the string, so ``"false"`` would be truthy)."""
    return value is True or str(value).lower() == "true"


@dataclass
class _Delivery:
    """A deduplication id a FIFO topic has accepted: when, and the id of its message once
    delivered (``done`` is set then, or when the delivery failed and the id was given up)."""

    at: float
    done: threading.Event = field(default_factory=threading.Event)
    message_id: str | None = None


def _deliveries(topic: Topic) -> dict[str, _Delivery]:
    """The topic's deduplication ids of the last five minutes (call with ``_SEEN_LOCK``)."""
    seen: dict[str, _Delivery] = topic.__dict__.setdefault(_SEEN, {})
    now = time.monotonic()
    for key in [
        k for k, d in seen.items() if d.done.is_set() and now - d.at >= DEDUPLICATION_SECONDS
    ]:
        del seen[key]
    return seen


@fills(
    "sns",
    moto="a FIFO topic's `ContentBasedDeduplication` is not applied: a publish without "
    "`MessageDeduplicationId` reaches FIFO queues without one (the publish fails) and "
    "standard queues undeduplicated; `ContentBasedDeduplication=false` still lets it through",
    aws="SNS derives the deduplication id from the SHA-256 of the message body, delivers a "
    "message with an id seen in the last 5 minutes to no subscriber, and passes the id on to "
    "its FIFO queues; without content-based deduplication the id is required",
)
def _fix_fifo_topic_deduplication() -> None:
    @patch(SNSBackend, "publish")
    def publish(
        original: Original,
        self: SNSBackend,
        message: str,
        arn: str | None,
        phone_number: str | None = None,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        message_structure: str | None = None,
    ) -> str:
        def deliver(deduplication: str | None) -> str:
            message_id: str = original(
                self,
                message,
                arn,
                phone_number=phone_number,
                subject=subject,
                message_attributes=message_attributes,
                group_id=group_id,
                deduplication_id=deduplication,
                message_structure=message_structure,
            )
            return message_id

        topic = self.topics.get(arn) if arn and not phone_number else None
        if topic is None or not _true(topic.fifo_topic) or not group_id:
            return deliver(deduplication_id)  # moto's own checks and behaviour
        if deduplication_id is None:
            if not _true(topic.content_based_deduplication):
                raise sns_exceptions.InvalidParameterValue(
                    "The topic should either have ContentBasedDeduplication enabled or "
                    "MessageDeduplicationId provided explicitly"
                )
            deduplication_id = hashlib.sha256(message.encode()).hexdigest()
        # The id is taken before delivering, so a repeat published meanwhile waits for the
        # first and is not delivered; no lock is held while subscribers are called.
        with _SEEN_LOCK:
            seen = _deliveries(topic)
            earlier = seen.get(deduplication_id)
            if earlier is None:
                mine = seen[deduplication_id] = _Delivery(time.monotonic())
        if earlier is not None:
            earlier.done.wait()
            if earlier.message_id is not None:
                return earlier.message_id  # accepted, delivered to no subscriber
            first: str = publish(  # the first delivery failed: this one is a first
                self,
                message,
                arn,
                phone_number,
                subject,
                message_attributes,
                group_id,
                deduplication_id,
                message_structure,
            )
            return first
        try:
            mine.message_id = deliver(deduplication_id)
        except BaseException:
            with _SEEN_LOCK:
                if seen.get(deduplication_id) is mine:
                    del seen[deduplication_id]
            raise
        finally:
            mine.done.set()
        return mine.message_id
