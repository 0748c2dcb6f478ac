"""What a consumer of a queue needs to know about it, decided in one place.

A :class:`~constructs_lib.LambdaConsumer` and a :class:`~constructs_lib.QueueWorkerPool`
both work a queue given as a :class:`~constructs_lib.ConsumerQueue` or any ``sqs.IQueue``;
both need its visibility timeout (to check their own timeouts against it, or to hand it to
the workers) and whether it is FIFO, and both must say so the same way when a fact cannot be
read at synth. (Its key needs no fact: ``grant_consume_messages`` grants it.)
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Annotations, Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ..consumer_queue import ConsumerQueue

SQS_DEFAULT_VISIBILITY_TIMEOUT = Duration.seconds(30)
"""What SQS uses when a queue sets no visibility timeout."""


@dataclass(frozen=True)
class QueueFacts:
    """A worked queue, as far as it is known at synth."""

    queue: sqs.IQueue
    """The SQS queue itself (a ConsumerQueue's ``queue``)."""
    consumer_queue: ConsumerQueue | None
    """The ConsumerQueue it belongs to, when it was given as one."""
    visibility_timeout: Duration | None
    """Its visibility timeout (possibly a deploy-time token), or None when it cannot be
    read: a queue imported by ARN, or one defined by other means than ``sqs.Queue``."""

    @property
    def fifo(self) -> bool:
        return self.queue.fifo

    def warn_if_visibility_unknown(self, scope: Construct, needed: str) -> None:
        """A synth warning on ``scope`` when the visibility timeout cannot be read;
        ``needed`` says how long it must be and why."""
        if self.visibility_timeout is None:
            Annotations.of(scope).add_warning_v2(
                "constructs-lib:unknownVisibilityTimeout",
                f"cannot read the visibility timeout of {self.queue.node.path}: make sure it "
                f"is {needed}.",
            )


def queue_facts(queue: ConsumerQueue | sqs.IQueue) -> QueueFacts:
    """The facts of ``queue``, read without any call to AWS."""
    if isinstance(queue, ConsumerQueue):
        return QueueFacts(
            queue=queue.queue,
            consumer_queue=queue,
            visibility_timeout=queue.visibility_timeout,
        )
    cfn = queue.node.default_child
    visibility: Duration | None = None
    if isinstance(cfn, sqs.CfnQueue):
        seconds = cfn.visibility_timeout
        visibility = (
            SQS_DEFAULT_VISIBILITY_TIMEOUT if seconds is None else Duration.seconds(seconds)
        )
    return QueueFacts(
        queue=queue,
        consumer_queue=None,
        visibility_timeout=visibility,
    )
