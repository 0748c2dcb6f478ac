"""The SQS and SNS behaviour ``constructs_lib.testing.sqs_fixes`` restores, through boto3.

Dead-letter queue redrive (message move tasks), ``DeadLetterQueueSourceArn``,
``RedriveAllowPolicy`` and a FIFO topic's content-based deduplication, each asserted as a
client sees it against a running emulator. Every test makes queues of its own (one emulator
for the module), so tests share the server but not state.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from typing import Any

import pytest
from botocore.exceptions import ClientError

from constructs_lib.testing import Emulator
from constructs_lib.testing.fanout import receive_all

NAMES = count(1)
TERMINAL = {"COMPLETED", "CANCELLED", "FAILED"}


@pytest.fixture(scope="module")
def sqs(emulator: Emulator) -> Any:
    return emulator.client("sqs")


@pytest.fixture(scope="module")
def sns(emulator: Emulator) -> Any:
    return emulator.client("sns")


def _arn(sqs: Any, url: str) -> str:
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return arn


@dataclass
class Queue:
    url: str
    arn: str


@dataclass
class Queues:
    """Creates uniquely named queues on the emulator, and fails messages into DLQs."""

    sqs: Any

    def make(self, role: str, *, fifo: bool = False, **attributes: str) -> Queue:
        name = f"{role}-{next(NAMES)}" + (".fifo" if fifo else "")
        if fifo:
            attributes = {"FifoQueue": "true", **attributes}
        url: str = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        return Queue(url, _arn(self.sqs, url))

    def with_dead_letter_queue(self, dlq: Queue, role: str = "source", **options: Any) -> Queue:
        redrive = json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 1})
        return self.make(role, RedrivePolicy=redrive, **options)

    def pipe(self, *, fifo: bool = False) -> tuple[Queue, Queue]:
        """A source queue and its dead-letter queue (maxReceiveCount 1)."""
        dlq = self.make("dlq", fifo=fifo)
        return self.with_dead_letter_queue(dlq, fifo=fifo), dlq

    def send(self, queue: Queue, *bodies: str, **options: Any) -> None:
        for body in bodies:
            self.sqs.send_message(QueueUrl=queue.url, MessageBody=body, **options)

    def fail_all(self, queue: Queue) -> None:
        """Receive and never delete until SQS has moved every message to the DLQ."""
        while self.sqs.receive_message(
            QueueUrl=queue.url, MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages"):
            pass

    def depth(self, queue: Queue) -> int:
        return int(
            self.sqs.get_queue_attributes(
                QueueUrl=queue.url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]["ApproximateNumberOfMessages"]
        )


@pytest.fixture
def queues(sqs: Any) -> Queues:
    return Queues(sqs)


def _tasks(sqs: Any, source: Queue, **options: Any) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = sqs.list_message_move_tasks(SourceArn=source.arn, **options)[
        "Results"
    ]
    return results


def _wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _finished(sqs: Any, dlq: Queue) -> dict[str, Any]:
    """The newest task of ``dlq`` once it has ended."""
    _wait_for(lambda: _tasks(sqs, dlq)[0]["Status"] in TERMINAL)
    return _tasks(sqs, dlq)[0]


def _bodies(messages: list[dict[str, Any]]) -> list[str]:
    return sorted(m["Body"] for m in messages)


def _error(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


# -- DeadLetterQueueSourceArn ---------------------------------------------------------------


def test_a_dead_lettered_message_names_the_queue_it_came_from(sqs: Any, queues: Queues) -> None:
    source, dlq = queues.pipe()
    queues.send(source, "poison")
    queues.fail_all(source)

    (by_name,) = sqs.receive_message(
        QueueUrl=dlq.url,
        VisibilityTimeout=0,
        MessageSystemAttributeNames=["DeadLetterQueueSourceArn"],
    )["Messages"]
    (with_all,) = sqs.receive_message(
        QueueUrl=dlq.url, VisibilityTimeout=0, MessageSystemAttributeNames=["All"]
    )["Messages"]

    assert by_name["Attributes"] == {"DeadLetterQueueSourceArn": source.arn}
    assert with_all["Attributes"]["DeadLetterQueueSourceArn"] == source.arn


def test_a_failed_fifo_batch_reaches_the_dlq_in_order(sqs: Any, queues: Queues) -> None:
    source, dlq = queues.pipe(fifo=True)
    for sequence in (1, 2, 3):
        queues.send(
            source, f"a{sequence}", MessageGroupId="a", MessageDeduplicationId=f"a-{sequence}"
        )
    assert (
        len(
            sqs.receive_message(QueueUrl=source.url, MaxNumberOfMessages=10, VisibilityTimeout=0)[
                "Messages"
            ]
        )
        == 3
    )

    # the next receive finds the whole group past maxReceiveCount and dead-letters it
    assert "Messages" not in sqs.receive_message(QueueUrl=source.url, MaxNumberOfMessages=10)

    assert [m["Body"] for m in receive_all(sqs, dlq.url)] == ["a1", "a2", "a3"]


def test_a_message_sent_to_a_queue_has_no_dead_letter_source(sqs: Any, queues: Queues) -> None:
    source, _ = queues.pipe()
    queues.send(source, "fresh")

    (message,) = sqs.receive_message(
        QueueUrl=source.url, VisibilityTimeout=0, MessageSystemAttributeNames=["All"]
    )["Messages"]

    assert "DeadLetterQueueSourceArn" not in message["Attributes"]


# -- message move tasks: moving ---------------------------------------------------------------


def test_redrive_without_destination_returns_each_message_to_its_own_source(
    sqs: Any, queues: Queues
) -> None:
    dlq = queues.make("dlq")
    orders, refunds = queues.with_dead_letter_queue(dlq), queues.with_dead_letter_queue(dlq)
    queues.send(orders, "order-1", "order-2", "order-3")
    queues.send(refunds, "refund-1", "refund-2")
    queues.fail_all(orders)
    queues.fail_all(refunds)
    before = int(time.time() * 1000)

    sqs.start_message_move_task(SourceArn=dlq.arn)
    task = _finished(sqs, dlq)

    assert _bodies(receive_all(sqs, orders.url)) == ["order-1", "order-2", "order-3"]
    assert _bodies(receive_all(sqs, refunds.url)) == ["refund-1", "refund-2"]
    assert queues.depth(dlq) == 0
    started = task.pop("StartedTimestamp")
    assert before <= started <= int(time.time() * 1000)
    assert task == {
        "Status": "COMPLETED",
        "SourceArn": dlq.arn,
        "ApproximateNumberOfMessagesMoved": 5,
        "ApproximateNumberOfMessagesToMove": 5,
    }


def test_redriven_messages_are_new_messages_with_the_same_body_and_attributes(
    sqs: Any, queues: Queues
) -> None:
    source, dlq = queues.pipe()
    attributes = {"contact": {"DataType": "String", "StringValue": "email"}}
    queues.send(source, "order-1", MessageAttributes=attributes)
    (original,) = sqs.receive_message(QueueUrl=source.url, VisibilityTimeout=0)["Messages"]
    queues.fail_all(source)
    redriven_after = int(time.time() * 1000)

    sqs.start_message_move_task(SourceArn=dlq.arn)
    _finished(sqs, dlq)

    (message,) = receive_all(sqs, source.url)
    assert message["MessageId"] != original["MessageId"]
    assert message["Body"] == "order-1"
    assert message["MessageAttributes"] == {
        "contact": {"DataType": "String", "StringValue": "email"}
    }
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    assert int(message["Attributes"]["SentTimestamp"]) >= redriven_after


def test_redrive_to_a_destination_moves_every_message_exactly_once(
    sqs: Any, queues: Queues
) -> None:
    source, dlq = queues.pipe()
    replay = queues.make("replay")
    bodies = [f"order-{n:02}" for n in range(25)]  # more than one receive batch
    queues.send(source, *bodies)
    queues.fail_all(source)

    sqs.start_message_move_task(SourceArn=dlq.arn, DestinationArn=replay.arn)
    task = _finished(sqs, dlq)

    assert _bodies(receive_all(sqs, replay.url)) == bodies
    assert receive_all(sqs, source.url) == []
    assert queues.depth(dlq) == 0
    assert task["DestinationArn"] == replay.arn
    assert (task["ApproximateNumberOfMessagesMoved"], task["Status"]) == (25, "COMPLETED")


def test_a_task_moves_no_faster_than_its_rate(sqs: Any, queues: Queues) -> None:
    source, dlq = queues.pipe()
    queues.send(source, "a", "b", "c", "d")
    queues.fail_all(source)
    started = time.monotonic()

    handle = sqs.start_message_move_task(SourceArn=dlq.arn, MaxNumberOfMessagesPerSecond=2)[
        "TaskHandle"
    ]
    (running,) = _tasks(sqs, dlq)
    task = _finished(sqs, dlq)

    # the first at once, then one every half second
    assert time.monotonic() - started >= 1.5
    assert running["Status"] == "RUNNING"
    assert running["TaskHandle"] == handle
    assert running["ApproximateNumberOfMessagesMoved"] < 4
    assert running["MaxNumberOfMessagesPerSecond"] == 2
    assert "TaskHandle" not in task
    assert task["ApproximateNumberOfMessagesMoved"] == 4


def test_the_task_handle_encodes_the_task_and_its_source(sqs: Any, queues: Queues) -> None:
    _, dlq = queues.pipe()

    handle = sqs.start_message_move_task(SourceArn=dlq.arn)["TaskHandle"]

    document = json.loads(base64.b64decode(handle))
    assert set(document) == {"taskId", "sourceArn"}
    assert document["sourceArn"] == dlq.arn


def test_a_fifo_redrive_keeps_each_message_group_in_order(sqs: Any, queues: Queues) -> None:
    source, dlq = queues.pipe(fifo=True)
    for group, sequence in [("a", 1), ("b", 1), ("a", 2), ("a", 3), ("b", 2)]:
        queues.send(
            source,
            f"{group}{sequence}",
            MessageGroupId=group,
            MessageDeduplicationId=f"{group}-{sequence}",
        )
    queues.fail_all(source)

    sqs.start_message_move_task(SourceArn=dlq.arn)
    _finished(sqs, dlq)

    by_group: dict[str, list[str]] = {}
    for message in receive_all(sqs, source.url):
        by_group.setdefault(message["Attributes"]["MessageGroupId"], []).append(message["Body"])
    assert by_group == {"a": ["a1", "a2", "a3"], "b": ["b1", "b2"]}


# -- message move tasks: cancel and failure ----------------------------------------------------


def test_cancel_stops_the_task_and_every_message_is_in_exactly_one_queue(
    sqs: Any, queues: Queues
) -> None:
    source, dlq = queues.pipe()
    replay = queues.make("replay")
    bodies = [f"order-{n}" for n in range(10)]
    queues.send(source, *bodies)
    queues.fail_all(source)
    handle = sqs.start_message_move_task(
        SourceArn=dlq.arn, DestinationArn=replay.arn, MaxNumberOfMessagesPerSecond=2
    )["TaskHandle"]
    _wait_for(lambda: _tasks(sqs, dlq)[0]["ApproximateNumberOfMessagesMoved"] >= 1)

    moved_at_cancel = sqs.cancel_message_move_task(TaskHandle=handle)[
        "ApproximateNumberOfMessagesMoved"
    ]
    task = _finished(sqs, dlq)

    moved, left = receive_all(sqs, replay.url), receive_all(sqs, dlq.url)
    assert task["Status"] == "CANCELLED"
    assert 1 <= moved_at_cancel <= task["ApproximateNumberOfMessagesMoved"] < 10
    assert len(moved) == task["ApproximateNumberOfMessagesMoved"]
    assert _bodies(moved + left) == sorted(bodies)


def test_only_a_running_task_can_be_cancelled(sqs: Any, queues: Queues) -> None:
    _, dlq = queues.pipe()
    handle = sqs.start_message_move_task(SourceArn=dlq.arn)["TaskHandle"]
    _finished(sqs, dlq)

    code, message, status = _error(lambda: sqs.cancel_message_move_task(TaskHandle=handle))

    assert (code, status) == ("AWS.SimpleQueueService.UnsupportedOperation", 400)
    assert "only be cancelled when its status is RUNNING" in message


def test_cancel_refuses_a_handle_that_names_no_task(sqs: Any, queues: Queues) -> None:
    _, dlq = queues.pipe()

    def handle(task_id: str, source_arn: str) -> str:
        document = json.dumps({"taskId": task_id, "sourceArn": source_arn})
        return base64.b64encode(document.encode()).decode()

    missing_queue = dlq.arn + "-gone"
    assert _error(lambda: sqs.cancel_message_move_task(TaskHandle="foobared")) == (
        "InvalidParameterValue",
        "Value for parameter TaskHandle is invalid.",
        400,
    )
    assert _error(
        lambda: sqs.cancel_message_move_task(TaskHandle=handle("no-such-task", dlq.arn))
    ) == ("ResourceNotFoundException", "Task does not exist.", 404)
    assert _error(
        lambda: sqs.cancel_message_move_task(TaskHandle=handle("no-such-task", missing_queue))
    ) == (
        "ResourceNotFoundException",
        "The resource that you specified for the SourceArn parameter doesn't exist.",
        404,
    )


def test_a_task_fails_when_its_destination_is_deleted_and_keeps_the_rest(
    sqs: Any, queues: Queues
) -> None:
    source, dlq = queues.pipe()
    replay = queues.make("replay")
    queues.send(source, *[f"order-{n}" for n in range(6)])
    queues.fail_all(source)
    sqs.start_message_move_task(
        SourceArn=dlq.arn, DestinationArn=replay.arn, MaxNumberOfMessagesPerSecond=2
    )
    _wait_for(lambda: _tasks(sqs, dlq)[0]["ApproximateNumberOfMessagesMoved"] >= 1)

    sqs.delete_queue(QueueUrl=replay.url)
    task = _finished(sqs, dlq)

    assert task["Status"] == "FAILED"
    assert task["FailureReason"] == "AWS.SimpleQueueService.NonExistentQueue"
    _wait_for(lambda: queues.depth(dlq) == 6 - task["ApproximateNumberOfMessagesMoved"])


def test_a_message_sent_straight_to_the_dlq_fails_a_redrive_to_its_source(
    sqs: Any, queues: Queues
) -> None:
    """Without a DestinationArn SQS sends each message back where it was dead-lettered from;
    a message that was never dead-lettered has no such queue."""
    _, dlq = queues.pipe()
    queues.send(dlq, "sent by hand")

    sqs.start_message_move_task(SourceArn=dlq.arn)
    task = _finished(sqs, dlq)

    assert task["Status"] == "FAILED"
    assert "no source queue" in task["FailureReason"]
    _wait_for(lambda: queues.depth(dlq) == 1)


# -- message move tasks: requests SQS refuses --------------------------------------------------


def test_start_refuses_a_queue_no_queue_dead_letters_into(sqs: Any, queues: Queues) -> None:
    source, _ = queues.pipe()

    assert _error(lambda: sqs.start_message_move_task(SourceArn=source.arn)) == (
        "InvalidParameterValue",
        "Source queue must be configured as a Dead Letter Queue.",
        400,
    )


def test_start_refuses_a_second_task_while_one_is_running(sqs: Any, queues: Queues) -> None:
    source, dlq = queues.pipe()
    queues.send(source, "a", "b", "c")
    queues.fail_all(source)
    handle = sqs.start_message_move_task(SourceArn=dlq.arn, MaxNumberOfMessagesPerSecond=1)[
        "TaskHandle"
    ]

    code, message, status = _error(lambda: sqs.start_message_move_task(SourceArn=dlq.arn))

    sqs.cancel_message_move_task(TaskHandle=handle)
    assert (code, status) == ("InvalidParameterValue", 400)
    assert message == (
        "There is already a task running. Only one active task is allowed for a source queue "
        "arn at a given time."
    )


def test_start_refuses_queues_that_do_not_exist(sqs: Any, queues: Queues) -> None:
    _, dlq = queues.pipe()

    assert _error(lambda: sqs.start_message_move_task(SourceArn=dlq.arn + "-gone")) == (
        "ResourceNotFoundException",
        "The resource that you specified for the SourceArn parameter doesn't exist.",
        404,
    )
    assert _error(
        lambda: sqs.start_message_move_task(SourceArn=dlq.arn, DestinationArn=dlq.arn + "-gone")
    ) == (
        "ResourceNotFoundException",
        "The resource that you specified for the DestinationArn parameter doesn't exist.",
        404,
    )


def test_start_refuses_a_destination_of_the_other_queue_type(sqs: Any, queues: Queues) -> None:
    _, dlq = queues.pipe()
    fifo = queues.make("replay", fifo=True)

    code, message, _ = _error(
        lambda: sqs.start_message_move_task(SourceArn=dlq.arn, DestinationArn=fifo.arn)
    )

    assert code == "InvalidParameterValue"
    assert "same type of queue" in message


@pytest.mark.parametrize("rate", [0, 501])
def test_start_refuses_a_rate_outside_1_to_500(sqs: Any, queues: Queues, rate: int) -> None:
    _, dlq = queues.pipe()

    code, message, _ = _error(
        lambda: sqs.start_message_move_task(SourceArn=dlq.arn, MaxNumberOfMessagesPerSecond=rate)
    )

    assert code == "InvalidParameterValue"
    assert "MaxNumberOfMessagesPerSecond" in message
    assert _tasks(sqs, dlq) == []


# -- ListMessageMoveTasks ------------------------------------------------------------------


def test_list_gives_the_newest_task_by_default_and_up_to_ten_newest_first(
    sqs: Any, queues: Queues
) -> None:
    source, dlq = queues.pipe()
    replay = queues.make("replay")
    sqs.start_message_move_task(SourceArn=dlq.arn)
    _finished(sqs, dlq)
    sqs.start_message_move_task(SourceArn=dlq.arn, DestinationArn=replay.arn)
    _finished(sqs, dlq)

    newest_only = _tasks(sqs, dlq)
    both = _tasks(sqs, dlq, MaxResults=10)

    assert [t.get("DestinationArn") for t in newest_only] == [replay.arn]
    assert [t.get("DestinationArn") for t in both] == [replay.arn, None]
    assert both[0]["StartedTimestamp"] >= both[1]["StartedTimestamp"]
    assert _tasks(sqs, source) == []


@pytest.mark.parametrize("max_results", [0, 11])
def test_list_refuses_max_results_outside_1_to_10(
    sqs: Any, queues: Queues, max_results: int
) -> None:
    _, dlq = queues.pipe()

    code, message, _ = _error(lambda: _tasks(sqs, dlq, MaxResults=max_results))

    assert code == "InvalidParameterValue"
    assert "MaxResults" in message


# -- RedriveAllowPolicy ----------------------------------------------------------------------


def _by_queue(*arns: str) -> str:
    return json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": list(arns)})


def _redrive_to(dlq: Queue) -> dict[str, str]:
    return {"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 3})}


def test_get_queue_attributes_returns_the_redrive_allow_policy(sqs: Any, queues: Queues) -> None:
    policy = _by_queue("arn:aws:sqs:eu-west-1:123456789012:orders")
    dlq = queues.make("dlq", RedriveAllowPolicy=policy)

    by_name = sqs.get_queue_attributes(QueueUrl=dlq.url, AttributeNames=["RedriveAllowPolicy"])
    with_all = sqs.get_queue_attributes(QueueUrl=dlq.url, AttributeNames=["All"])

    assert json.loads(by_name["Attributes"]["RedriveAllowPolicy"]) == json.loads(policy)
    assert (
        with_all["Attributes"]["RedriveAllowPolicy"] == by_name["Attributes"]["RedriveAllowPolicy"]
    )


def test_deny_all_refuses_every_source_queue_and_the_call_changes_nothing(
    sqs: Any, queues: Queues
) -> None:
    dlq = queues.make("dlq", RedriveAllowPolicy=json.dumps({"redrivePermission": "denyAll"}))
    plain = queues.make("source")

    created = _error(lambda: queues.make("source", **_redrive_to(dlq)))
    updated = _error(
        lambda: sqs.set_queue_attributes(
            QueueUrl=plain.url, Attributes={"VisibilityTimeout": "60", **_redrive_to(dlq)}
        )
    )

    for code, message, status in (created, updated):
        assert (code, status) == ("InvalidParameterValue", 400)
        assert "for parameter RedrivePolicy is invalid" in message
        assert "does not allow" in message
    attributes = sqs.get_queue_attributes(QueueUrl=plain.url, AttributeNames=["All"])["Attributes"]
    assert "RedrivePolicy" not in attributes
    assert attributes["VisibilityTimeout"] == "30"


def test_by_queue_accepts_the_named_sources_only(sqs: Any, queues: Queues) -> None:
    named = f"source-named-{next(NAMES)}"
    named_arn = f"arn:aws:sqs:eu-west-1:123456789012:{named}"
    dlq = queues.make("dlq", RedriveAllowPolicy=_by_queue(named_arn))

    url = sqs.create_queue(QueueName=named, Attributes=_redrive_to(dlq))["QueueUrl"]
    code, message, _ = _error(lambda: queues.make("source", **_redrive_to(dlq)))

    assert (
        json.loads(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"][
                "RedrivePolicy"
            ]
        )["deadLetterTargetArn"]
        == dlq.arn
    )
    assert code == "InvalidParameterValue"
    assert "does not allow" in message


@pytest.mark.parametrize(
    "policy",
    [None, json.dumps({"redrivePermission": "allowAll"})],
    ids=["no policy", "allowAll"],
)
def test_allow_all_and_no_policy_accept_any_source(
    sqs: Any, queues: Queues, policy: str | None
) -> None:
    dlq = queues.make("dlq", **({"RedriveAllowPolicy": policy} if policy else {}))

    source = queues.make("source", **_redrive_to(dlq))

    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq.url)["queueUrls"] == [source.url]


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        ("not json", "as it\u2019s in an unsupported format"),
        (json.dumps({"redrivePermission": "someQueues"}), "as it\u2019s in an unsupported format"),
        (json.dumps({"redrivePermission": "byQueue"}), "you must also specify one or more"),
        (_by_queue(), "you must also specify one or more"),
        (
            _by_queue(*[f"arn:aws:sqs:eu-west-1:123456789012:q{n}" for n in range(11)]),
            "The maximum number of source queue ARNs you can specify is 10.",
        ),
        (
            json.dumps({"redrivePermission": "allowAll", "sourceQueueArns": []}),
            "you must set redrivePermission to byQueue",
        ),
    ],
    ids=[
        "not json",
        "unknown permission",
        "byQueue alone",
        "no arns",
        "11 arns",
        "arns on allowAll",
    ],
)
def test_a_malformed_redrive_allow_policy_is_refused(
    queues: Queues, policy: str, reason: str
) -> None:
    code, message, status = _error(lambda: queues.make("dlq", RedriveAllowPolicy=policy))

    assert (code, status) == ("InvalidParameterValue", 400)
    assert reason in message


def _template(dlq_policy: dict[str, Any], suffix: str) -> str:
    source_name = f"stack-source-{suffix}"
    return json.dumps(
        {
            "Resources": {
                "DeadLetterQueue": {
                    "Type": "AWS::SQS::Queue",
                    "Properties": {
                        "QueueName": f"stack-dlq-{suffix}",
                        "RedriveAllowPolicy": dlq_policy,
                    },
                },
                "Queue": {
                    "Type": "AWS::SQS::Queue",
                    "Properties": {
                        "QueueName": source_name,
                        "RedrivePolicy": {
                            "deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
                            "maxReceiveCount": 3,
                        },
                    },
                },
            }
        }
    )


def test_cloudformation_creates_a_queue_its_dlq_allows(emulator: Emulator, sqs: Any) -> None:
    suffix = str(next(NAMES))
    source_arn = "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:stack-source-"
    policy = {"redrivePermission": "byQueue", "sourceQueueArns": [{"Fn::Sub": source_arn + suffix}]}

    emulator.client("cloudformation").create_stack(
        StackName=f"Allowed{suffix}", TemplateBody=_template(policy, suffix)
    )

    url = sqs.get_queue_url(QueueName=f"stack-dlq-{suffix}")["QueueUrl"]
    held = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedriveAllowPolicy"])
    assert json.loads(held["Attributes"]["RedriveAllowPolicy"]) == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [f"arn:aws:sqs:eu-west-1:123456789012:stack-source-{suffix}"],
    }
    assert sqs.get_queue_url(QueueName=f"stack-source-{suffix}")["QueueUrl"]


def test_cloudformation_fails_a_queue_whose_dlq_denies_it(emulator: Emulator) -> None:
    suffix = str(next(NAMES))

    code, message, _ = _error(
        lambda: emulator.client("cloudformation").create_stack(
            StackName=f"Denied{suffix}",
            TemplateBody=_template({"redrivePermission": "denyAll"}, suffix),
        )
    )

    assert "does not allow" in message, (code, message)


# -- a FIFO topic's content-based deduplication ------------------------------------------------


@dataclass
class FifoFanout:
    topic_arn: str
    fifo: Queue
    standard: Queue


def _fifo_fanout(sns: Any, queues: Queues, *, content_based: str) -> FifoFanout:
    topic_arn: str = sns.create_topic(
        Name=f"ledger-{next(NAMES)}.fifo",
        Attributes={"FifoTopic": "true", "ContentBasedDeduplication": content_based},
    )["TopicArn"]
    fanout = FifoFanout(topic_arn, queues.make("balances", fifo=True), queues.make("audit"))
    for queue in (fanout.fifo, fanout.standard):
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue.arn,
            Attributes={"RawMessageDelivery": "true"},
        )
    return fanout


def test_content_based_deduplication_delivers_a_repeated_body_once(
    sqs: Any, sns: Any, queues: Queues
) -> None:
    fanout = _fifo_fanout(sns, queues, content_based="true")

    first = sns.publish(TopicArn=fanout.topic_arn, Message="entry-1", MessageGroupId="acct-a")
    again = sns.publish(TopicArn=fanout.topic_arn, Message="entry-1", MessageGroupId="acct-a")
    sns.publish(TopicArn=fanout.topic_arn, Message="entry-2", MessageGroupId="acct-a")

    fifo = receive_all(sqs, fanout.fifo.url)
    assert [m["Body"] for m in fifo] == ["entry-1", "entry-2"]
    assert _bodies(receive_all(sqs, fanout.standard.url)) == ["entry-1", "entry-2"]
    assert again["MessageId"] == first["MessageId"]
    assert fifo[0]["Attributes"]["MessageDeduplicationId"] == (
        hashlib.sha256(b"entry-1").hexdigest()
    )


def test_an_explicit_deduplication_id_wins_over_the_body(
    sqs: Any, sns: Any, queues: Queues
) -> None:
    fanout = _fifo_fanout(sns, queues, content_based="true")

    for deduplication_id in ("retry-1", "retry-2", "retry-2"):
        sns.publish(
            TopicArn=fanout.topic_arn,
            Message="same body",
            MessageGroupId="acct-a",
            MessageDeduplicationId=deduplication_id,
        )

    assert [
        m["Attributes"]["MessageDeduplicationId"] for m in receive_all(sqs, fanout.fifo.url)
    ] == [
        "retry-1",
        "retry-2",
    ]
    assert len(receive_all(sqs, fanout.standard.url)) == 2


def test_without_content_based_deduplication_a_deduplication_id_is_required(
    sns: Any, queues: Queues
) -> None:
    fanout = _fifo_fanout(sns, queues, content_based="false")

    code, message, _ = _error(
        lambda: sns.publish(TopicArn=fanout.topic_arn, Message="entry-1", MessageGroupId="acct-a")
    )

    assert code == "InvalidParameter"
    assert "ContentBasedDeduplication enabled or MessageDeduplicationId provided" in message
