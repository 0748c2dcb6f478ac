"""A deployed stack's SQS-triggered functions, as the emulator's Lambda service runs them.

The emulator runs the stack's event source mappings itself (``event_sources``: a poller per
mapping, the function's deployed code run by ``lambda_runtime``). ``LambdaService`` watches
that work for one stack: :meth:`LambdaService.drain` waits until a queue's mapping has handled
everything, letting SQS's clock pass the visibility timeout whenever only failed messages are
left in flight, so that they are received again and, after ``maxReceiveCount`` receives,
moved to the dead-letter queue by SQS; it returns each batch the function was handed.
"""

from __future__ import annotations

import io
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from . import event_sources
from .fanout import IN_QUEUE, queue_counts
from .harness import DeployedStack

SETTLE_SECONDS = 0.1
"""How long a queue must look the same before the drain trusts what it sees."""


class CurrentStdout(io.TextIOBase):
    """Writes to ``sys.stdout`` as it is at the time of writing.

    Powertools' log handler keeps the stream that was stdout when the handler module was
    imported; pointed at this, its lines go wherever stdout is redirected later (capsys).
    """

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@dataclass
class Invocation(event_sources.Handled):
    """One batch the mapping handed to the function: the records, which failed, the log."""

    function: str
    message_ids: list[str]
    failed: list[str]
    error: str | None = None
    output: str = ""
    records: list[dict[str, Any]] = field(default_factory=list)
    """The SQS records of the event (``messageId``, ``body``, ``attributes``, ...)."""


@dataclass
class EventSourceMapping:
    """A deployed SQS event source mapping: which queue feeds which function."""

    logical_id: str
    uuid: str
    function_name: str
    queue_url: str
    visibility_timeout: int


class LambdaService:
    """Watches the emulator run one deployed stack's SQS-triggered functions."""

    def __init__(self, deployed: DeployedStack) -> None:
        self.deployed = deployed
        self._handed_over = len(event_sources.batches())
        self._sqs = deployed.client("sqs")
        self.mappings: dict[str, EventSourceMapping] = {}
        for lid, resource in deployed.of_type("AWS::Lambda::EventSourceMapping").items():
            props = resource["Properties"]
            queue_lid = props["EventSourceArn"]["Fn::GetAtt"][0]
            queue_url = deployed.queue_url(queue_lid)
            visibility = self._sqs.get_queue_attributes(
                QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"]
            )["Attributes"]["VisibilityTimeout"]
            self.mappings[queue_lid] = EventSourceMapping(
                logical_id=lid,
                uuid=deployed.physical_id(lid),
                function_name=deployed.physical_id(props["FunctionName"]["Ref"]),
                queue_url=queue_url,
                visibility_timeout=int(visibility),
            )

    def close(self) -> None:
        """Nothing to release: the emulator owns the pollers."""

    def __enter__(self) -> LambdaService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _counts(self, mapping: EventSourceMapping) -> tuple[int, int, int]:
        visible, in_flight, delayed = queue_counts(
            self._sqs, mapping.queue_url, (*IN_QUEUE, "ApproximateNumberOfMessagesDelayed")
        )
        return visible, in_flight, delayed

    def _quiet(self, mapping: EventSourceMapping) -> tuple[int, int, int] | None:
        """The queue's counts if its poller is idle and nothing is visible, twice in a row
        ``SETTLE_SECONDS`` apart; None while there is work."""
        first = self._counts(mapping)
        if first[0] or event_sources.busy(mapping.uuid):
            return None
        time.sleep(SETTLE_SECONDS)
        second = self._counts(mapping)
        if second != first or event_sources.busy(mapping.uuid):
            return None
        return second

    def drain(self, queue_logical_id: str, *, timeout: float = 120) -> list[Invocation]:
        """Wait until the mapping on this queue has handled every message, and return the
        batches it handed to the function since this service was made, oldest first.

        Whenever the poller is idle and only messages in flight are left (failed ones,
        waiting for their visibility timeout), SQS's clock is moved past the timeout so they
        are received again; SQS moves a message to the dead-letter queue on the receive
        after ``maxReceiveCount``.
        """
        mapping = self.mappings[queue_logical_id]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            counts = self._quiet(mapping)
            if counts is None:
                time.sleep(0.05)
                continue
            _, in_flight, delayed = counts
            if not in_flight and not delayed:
                return [
                    _invocation(batch)
                    for batch in event_sources.batches()[self._handed_over :]
                    if batch.mapping_uuid == mapping.uuid
                ]
            self.deployed.emulator.advance_sqs_clock(mapping.visibility_timeout + 1)
        raise AssertionError(f"{queue_logical_id}: still not drained after {timeout:.0f} s")


def _invocation(batch: Any) -> Invocation:
    error = None
    if batch.error is not None:
        error = f"{batch.error.get('errorType')}: {batch.error.get('errorMessage')}"
    return Invocation(
        batch.function_name,
        batch.message_ids,
        batch.failed,
        error,
        "\n".join(batch.output),
        batch.records,
    )
