"""Safe-by-default SNS → SQS fanout constructs for the AWS CDK (Python)."""

from ._validation import FanoutConfigurationError
from .consumer_queue import ConsumerQueue, ConsumerQueueOptions
from .fanout_topic import FanoutTopic
from .lambda_consumer import LambdaConsumer, LambdaConsumerOptions, required_visibility_timeout

__all__ = [
    "ConsumerQueue",
    "ConsumerQueueOptions",
    "FanoutConfigurationError",
    "FanoutTopic",
    "LambdaConsumer",
    "LambdaConsumerOptions",
    "required_visibility_timeout",
]
