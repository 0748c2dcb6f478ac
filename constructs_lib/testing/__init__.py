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

from constructs_lib._private.lazy import lazy_exports

if TYPE_CHECKING:
    from .events import lambda_event as lambda_event
    from .events import lambda_record as lambda_record
    from .fanout import Consumer as Consumer
    from .fanout import DeployedFanout as DeployedFanout
    from .fanout import published_body as published_body
    from .fanout import receive_all as receive_all
    from .harness import NOT_EMULATED as NOT_EMULATED
    from .harness import DeployedStack as DeployedStack
    from .harness import Emulator as Emulator
    from .harness import EmulatorGap as EmulatorGap
    from .harness import cli_app as cli_app
    from .harness import running_emulator as running_emulator
    from .lambda_service import Invocation as Invocation
    from .lambda_service import LambdaService as LambdaService
    from .workers import DeployedWorkerPool as DeployedWorkerPool
    from .workers import PoolScaling as PoolScaling
    from .workers import ScalingDecision as ScalingDecision
    from .workers import WorkerFleet as WorkerFleet
    from .workers import WorkerProcess as WorkerProcess

# Imported on first use (PEP 562): the pytest plugin, which pytest loads in every run once the
# extra is installed, lives in this package and must not load aws_cdk and moto up front.
__getattr__, __dir__, __all__ = lazy_exports(__name__, globals(), __file__)
