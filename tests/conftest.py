"""Fixtures shared across test folders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aws_cdk import cx_api
from helpers import project_app
from installed_wheel import build_wheel

from constructs_lib.testing import Emulator, running_emulator
from stacks import OrderFanoutStack, PushNotificationsStack


@pytest.fixture(scope="session")
def demo_assembly(tmp_path_factory: pytest.TempPathFactory) -> cx_api.CloudAssembly:
    """OrderFanout and PushNotifications synthesized once per worker, as `cdk synth` writes
    them: the demo deploys both, the emulator scenarios one each."""
    app = project_app(tmp_path_factory.mktemp("cdk.out"))
    OrderFanoutStack(app, "OrderFanout")
    PushNotificationsStack(app, "PushNotifications")
    return app.synth()


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """A running, bootstrapped emulator of the test module's own."""
    with running_emulator() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The constructs_lib wheel, built once per session as ``pip install .`` builds it."""
    return build_wheel(tmp_path_factory.mktemp("wheel"))


SLOWEST_FIRST = (
    "test_cli_on_emulator.py",
    "test_benchmarks_smoke.py",
    "test_fanout_scale.py",
    "test_dashboard.py",
    "test_user_app.py",
    "test_testing_package.py",
    "test_image_processing_on_emulator.py",
    "test_emulator_lambda.py",
    "test_dlq_move_tasks_on_emulator.py",
    "test_dlq_messages_on_emulator.py",
    "test_diagram.py",
    "test_local.py",
    "test_cli_synth.py",
    "test_packaging.py",
    "test_emulator_harness.py",
    "test_order_fanout_on_emulator.py",
    "test_demo.py",
    "test_app.py",
    "test_push_notifications_on_emulator.py",
)
"""Modules that take longest (tens of seconds: installs, the real CLI, large synths), run
first, so that on two workers (``pytest -n 2 --dist loadfile``) the short ones fill the end
instead of one long module running alone."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)  # stable: within a module, and among the others, the order stays
