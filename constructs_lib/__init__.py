"""Safe-by-default SNS → SQS fanout constructs for the AWS CDK (Python)."""

from ._validation import FanoutConfigurationError
from .consumer_queue import ConsumerQueue, ConsumerQueueOptions
from .fanout_topic import FanoutTopic
from .lambda_consumer import LambdaConsumer, LambdaConsumerOptions, required_visibility_timeout
from .push import ApnsAuth, MobilePush, PushPlatform, PushPlatformApplication
from .worker_pool import Ec2Workers, FargateWorkers, QueueWorkerPool

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
    "required_visibility_timeout",
]
