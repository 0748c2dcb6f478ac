"""Safe-by-default SNS → SQS fanout constructs for the AWS CDK (Python).

The constructs are imported on first use (PEP 562), so that ``constructs_lib.dlq``, the
operator command, starts without loading aws_cdk and its jsii runtime (Node).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

if TYPE_CHECKING:
    from ._validation import FanoutConfigurationError
    from .consumer_queue import ConsumerQueue, ConsumerQueueOptions
    from .fanout_topic import FanoutTopic
    from .lambda_consumer import (
        LambdaConsumer,
        LambdaConsumerOptions,
        required_visibility_timeout,
    )
    from .push import ApnsAuth, MobilePush, PushPlatform, PushPlatformApplication
    from .worker_pool import (
        Ec2Workers,
        FargateWorkers,
        QueueWorkerPool,
        WorkerJob,
        worker_program_path,
    )

_EXPORTS = {
    "ApnsAuth": ".push",
    "ConsumerQueue": ".consumer_queue",
    "ConsumerQueueOptions": ".consumer_queue",
    "Ec2Workers": ".worker_pool",
    "FanoutConfigurationError": "._validation",
    "FanoutTopic": ".fanout_topic",
    "FargateWorkers": ".worker_pool",
    "LambdaConsumer": ".lambda_consumer",
    "LambdaConsumerOptions": ".lambda_consumer",
    "MobilePush": ".push",
    "PushPlatform": ".push",
    "PushPlatformApplication": ".push",
    "QueueWorkerPool": ".worker_pool",
    "WorkerJob": ".worker_pool",
    "required_visibility_timeout": ".lambda_consumer",
    "worker_program_path": ".worker_pool",
}

__all__ = [
    "ApnsAuth",
    "ConsumerQueue",
    "ConsumerQueueOptions",
    "Ec2Workers",
    "FanoutConfigurationError",
    "FanoutTopic",
    "FargateWorkers",
    "LambdaConsumer",
    "LambdaConsumerOptions",
    "MobilePush",
    "PushPlatform",
    "PushPlatformApplication",
    "QueueWorkerPool",
    "WorkerJob",
    "required_visibility_timeout",
    "worker_program_path",
]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
