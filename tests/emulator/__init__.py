"""A local AWS emulator for the reference stacks: moto in server mode on 127.0.0.1.

``running_emulator()`` starts it; ``Emulator.deploy()`` deploys a synthesized stack from
its cloud assembly and fails if the emulator skipped any part of the template;
``LambdaService`` runs the stack's Lambda consumers in this process, as the SQS event source
mapping would. The scenario tests (``tests/stacks/test_*_on_emulator.py``) and ``make demo``
(``emulator.demo``) share it.
"""

from .harness import (
    NOT_EMULATED,
    DeployedStack,
    Emulator,
    EmulatorGap,
    cli_app,
    running_emulator,
)

__all__ = [
    "NOT_EMULATED",
    "DeployedStack",
    "Emulator",
    "EmulatorGap",
    "cli_app",
    "running_emulator",
]
