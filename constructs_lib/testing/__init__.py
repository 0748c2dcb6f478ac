"""Test your own app on a local AWS emulator: moto in server mode on 127.0.0.1.

Install with ``pip install "constructs-lib[testing]"``. ``running_emulator()`` starts the
emulator (or use the ``aws_emulator`` pytest fixture, registered by the extra);
``Emulator.deploy_app()`` deploys an app, a cloud assembly or a ``cdk.out`` folder the way
``cdk deploy`` does, and fails if the emulator skipped or changed any part of a template;
``DeployedFanout`` finds a deployed ``FanoutTopic``'s topic and consumer queues by construct
path and publishes and receives; ``LambdaService`` runs the stack's Lambda consumers in this
process, as the SQS event source mapping would.
"""

from .events import lambda_event, lambda_record
from .fanout import Consumer, DeployedFanout, published_body, receive_all
from .harness import (
    NOT_EMULATED,
    DeployedStack,
    Emulator,
    EmulatorGap,
    cli_app,
    running_emulator,
)
from .lambda_service import Invocation, LambdaService

__all__ = [
    "NOT_EMULATED",
    "Consumer",
    "DeployedFanout",
    "DeployedStack",
    "Emulator",
    "EmulatorGap",
    "Invocation",
    "LambdaService",
    "cli_app",
    "lambda_event",
    "lambda_record",
    "published_body",
    "receive_all",
    "running_emulator",
]
