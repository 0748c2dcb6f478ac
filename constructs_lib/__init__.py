"""Safe-by-default SNS → SQS fanout constructs for the AWS CDK (Python).

The public API is the names imported below, each listed once. They are imported on first use
(PEP 562), so that ``constructs_lib.cli``, the operator command, starts without loading
aws_cdk and its jsii runtime (Node).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._private.lazy import lazy_exports

if TYPE_CHECKING:
    from .consumer_queue import ConsumerQueue as ConsumerQueue
    from .consumer_queue import ConsumerQueueOptions as ConsumerQueueOptions
    from .dashboard import FanoutDashboard as FanoutDashboard
    from .dashboard import FanoutDashboardOptions as FanoutDashboardOptions
    from .data_protection import Audit as Audit
    from .data_protection import AuditDestination as AuditDestination
    from .data_protection import CustomDataIdentifier as CustomDataIdentifier
    from .data_protection import DataProtection as DataProtection
    from .data_protection import Deidentify as Deidentify
    from .data_protection import DenyInbound as DenyInbound
    from .data_protection import DenyOutbound as DenyOutbound
    from .errors import FanoutConfigurationError as FanoutConfigurationError
    from .fanout_topic import FanoutTopic as FanoutTopic
    from .fanout_topic import FanoutTopicOptions as FanoutTopicOptions
    from .lambda_consumer import LambdaConsumer as LambdaConsumer
    from .lambda_consumer import LambdaConsumerOptions as LambdaConsumerOptions
    from .lambda_consumer import required_visibility_timeout as required_visibility_timeout
    from .push import ApnsAuth as ApnsAuth
    from .push import MobilePush as MobilePush
    from .push import MobilePushOptions as MobilePushOptions
    from .push import PushPlatform as PushPlatform
    from .push import PushPlatformApplication as PushPlatformApplication
    from .push import PushPlatformApplicationOptions as PushPlatformApplicationOptions
    from .subscribers import EmailSubscriber as EmailSubscriber
    from .subscribers import EmailSubscriberOptions as EmailSubscriberOptions
    from .subscribers import FirehoseSubscriber as FirehoseSubscriber
    from .subscribers import FirehoseSubscriberOptions as FirehoseSubscriberOptions
    from .subscribers import HttpSubscriber as HttpSubscriber
    from .subscribers import HttpSubscriberOptions as HttpSubscriberOptions
    from .subscribers import LambdaSubscriber as LambdaSubscriber
    from .subscribers import LambdaSubscriberOptions as LambdaSubscriberOptions
    from .subscribers import SmsSubscriber as SmsSubscriber
    from .subscribers import SmsSubscriberOptions as SmsSubscriberOptions
    from .subscribers import SubscriptionOptions as SubscriptionOptions
    from .worker_pool import QueueWorkerPool as QueueWorkerPool
    from .worker_pool import QueueWorkerPoolOptions as QueueWorkerPoolOptions
    from .workers import Ec2Workers as Ec2Workers
    from .workers import FargateWorkers as FargateWorkers
    from .workers import WorkerJob as WorkerJob
    from .workers import worker_program_path as worker_program_path

__getattr__, __dir__, __all__ = lazy_exports(__name__, globals(), __file__)
