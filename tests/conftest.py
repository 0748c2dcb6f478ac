"""Fixtures shared across test folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import cx_api
from helpers import ROOT
from installed_wheel import build_wheel

from constructs_lib.testing import cli_app
from stacks import OrderFanoutStack


@pytest.fixture(scope="session")
def order_fanout_assembly(tmp_path_factory: pytest.TempPathFactory) -> cx_api.CloudAssembly:
    """The OrderFanout stack synthesized once, as `cdk synth` writes it, for the emulator
    scenarios and the demo."""
    app = cli_app(tmp_path_factory.mktemp("cdk.out"), cdk_json=ROOT / "cdk.json")
    OrderFanoutStack(app, "OrderFanout")
    return app.synth()


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The constructs_lib wheel, built once per session as ``pip install .`` builds it."""
    return build_wheel(tmp_path_factory.mktemp("wheel"))
