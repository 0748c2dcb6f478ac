"""Fixtures shared across test folders."""

from __future__ import annotations

import pytest
from aws_cdk import cx_api
from emulator import cli_app

from stacks import OrderFanoutStack


@pytest.fixture(scope="session")
def order_fanout_assembly(tmp_path_factory: pytest.TempPathFactory) -> cx_api.CloudAssembly:
    """The OrderFanout stack synthesized once, as `cdk synth` writes it, for the emulator
    scenarios and the demo."""
    app = cli_app(tmp_path_factory.mktemp("cdk.out"))
    OrderFanoutStack(app, "OrderFanout")
    return app.synth()
