"""Secure-by-default building blocks shared by FanoutTopic and ConsumerQueue."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Names, Validations
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .validation import FIFO_SUFFIX, MAX_QUEUE_NAME_LENGTH, MAX_RETENTION


def rotating_key(scope: Construct, id: str, *, description: str) -> kms.Key:
    """A customer-managed KMS key with yearly automatic rotation."""
    return kms.Key(scope, id, description=description, enable_key_rotation=True)


def generated_queue_name(scope: Construct, *, fifo: bool, suffix: str = "") -> str:
    """A deterministic queue name from the stack name and construct path.

    Queues get a known name so that a dead-letter queue's redrive-allow policy can name its
    source queue without a circular reference (the source's redrive policy already
    references the dead-letter queue). The name fits SQS's 80-character limit including
    ``suffix`` and ``.fifo``.
    """
    reserved = len(suffix) + (len(FIFO_SUFFIX) if fifo else 0)
    base = Names.unique_resource_name(
        scope, max_length=MAX_QUEUE_NAME_LENGTH - reserved, separator="-"
    )
    return f"{base}{suffix}{FIFO_SUFFIX if fifo else ''}"


def new_subscription_dead_letter_queue(scope: Construct, id: str, *, fifo: bool) -> sqs.Queue:
    """A queue that holds messages SNS itself could not deliver to a subscribed queue.

    It is encrypted with SQS-managed keys (SSE-SQS), not with the consumers' KMS key: one of
    the failures it exists for is a consumer key whose policy no longer lets SNS in, and a
    dead-letter queue behind the same key would lose those messages too. No queue may use
    it as its own dead-letter queue (redrive-allow policy ``denyAll``).
    """
    queue = sqs.Queue(
        scope,
        id,
        queue_name=generated_queue_name(scope, fifo=fifo, suffix="-undelivered"),
        fifo=True if fifo else None,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=MAX_RETENTION,
        redrive_allow_policy=sqs.RedriveAllowPolicy(
            redrive_permission=sqs.RedrivePermission.DENY_ALL
        ),
    )
    Validations.of(queue).acknowledge(
        Acknowledgment(
            id="AwsSolutions-SQS3",
            reason="This queue is itself a dead-letter queue: SNS subscriptions name it in "
            "their RedrivePolicy, which the rule does not inspect (it only recognises queues "
            "named in another queue's RedrivePolicy). A dead-letter queue of a dead-letter "
            "queue would add nothing; its alarm fires on the first message.",
        )
    )
    return queue
