"""Test your own app on a local AWS emulator: moto in server mode on 127.0.0.1.

Install with ``pip install "constructs-lib[testing]"``. ``running_emulator()`` starts the
emulator (or use the ``aws_emulator`` pytest fixture, registered by the extra);
``Emulator.deploy_app()`` deploys an app, a cloud assembly or a ``cdk.out`` folder the way
``cdk deploy`` does, and fails if the emulator skipped or changed any part of a template;
``DeployedFanout`` finds a deployed ``FanoutTopic``'s topic and consumer queues by construct
path and publishes and receives; the stack's functions run in the emulator as deployed (no
Docker: ``lambda_runtime``), driven by moto's own event source mappings, subscriptions, rules
and custom resources, and ``LambdaService`` waits for a queue's mapping to work it off and
returns what the function was handed; ``DeployedWorkerPool`` runs a deployed Fargate
``QueueWorkerPool``'s worker program as local processes with the task definition's environment,
and computes its scaling decisions from the emulator's queue and service figures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from constructs_lib._lazy import lazy_exports

if TYPE_CHECKING:
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
    from .workers import (
        DeployedWorkerPool,
        PoolScaling,
        ScalingDecision,
        WorkerFleet,
        WorkerProcess,
    )

# Imported on first use (PEP 562): the pytest plugin, which pytest loads in every run once the
# extra is installed, lives in this package and must not load aws_cdk and moto up front.
_EXPORTS = {
    "Consumer": ".fanout",
    "DeployedFanout": ".fanout",
    "DeployedStack": ".harness",
    "DeployedWorkerPool": ".workers",
    "Emulator": ".harness",
    "EmulatorGap": ".harness",
    "Invocation": ".lambda_service",
    "LambdaService": ".lambda_service",
    "NOT_EMULATED": ".harness",
    "PoolScaling": ".workers",
    "ScalingDecision": ".workers",
    "WorkerFleet": ".workers",
    "WorkerProcess": ".workers",
    "cli_app": ".harness",
    "lambda_event": ".events",
    "lambda_record": ".events",
    "published_body": ".fanout",
    "receive_all": ".fanout",
    "running_emulator": ".harness",
}

__all__ = [
    "NOT_EMULATED",
    "Consumer",
    "DeployedFanout",
    "DeployedStack",
    "DeployedWorkerPool",
    "Emulator",
    "EmulatorGap",
    "Invocation",
    "LambdaService",
    "PoolScaling",
    "ScalingDecision",
    "WorkerFleet",
    "WorkerProcess",
    "cli_app",
    "lambda_event",
    "lambda_record",
    "published_body",
    "receive_all",
    "running_emulator",
]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
