"""pytest fixtures for testing your own app on the local emulator.

Installed with ``pip install "constructs-lib[testing]"``, this module is registered through the
``pytest11`` entry point: the fixtures are there in every test without an import.

* ``aws_emulator`` (session): moto in server mode on 127.0.0.1 with the CloudFormation types it
  lacks filled in, bootstrapped like ``cdk bootstrap`` for ``--emulator-region`` (default
  eu-west-1); while it runs, AWS clients of the test process point at it. Stopped at the end of
  the session.
* ``deploy_app`` (session): ``deploy_app(app_or_cdk_out, stacks=None)`` deploys once per
  session and returns the deployed stacks by name (a second call with the same source returns
  the same stacks).

Nothing here imports aws_cdk or moto until a fixture is used, so pytest starts as fast with
the plugin as without it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .harness import DeployedStack, Emulator


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--emulator-region",
        default="eu-west-1",
        help="region of the local AWS emulator for stacks that pin none (default eu-west-1)",
    )


@pytest.fixture(scope="session")
def aws_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A running, bootstrapped emulator for the whole test session."""
    from .harness import running_emulator

    with running_emulator(region=request.config.getoption("--emulator-region")) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def deploy_app(aws_emulator: Emulator) -> Callable[..., dict[str, DeployedStack]]:
    """Deploy an app (``App``, cloud assembly or ``cdk.out`` folder) once per session."""
    deployed: dict[int | str, dict[str, DeployedStack]] = {}

    def deploy(source: Any, **options: Any) -> dict[str, DeployedStack]:
        key = str(source) if isinstance(source, str) else id(source)
        if key not in deployed:
            deployed[key] = aws_emulator.deploy_app(source, **options)
        return deployed[key]

    return deploy
