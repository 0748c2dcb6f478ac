"""The built wheel carries everything the constructs need, and an app outside the repository
synthesizes with nothing but that wheel and its dependencies (how: ``installed_wheel.py``).
"""

from __future__ import annotations

import ast
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT
from installed_wheel import PACKAGE, install, outside_repository, run_app

RUNTIME = PACKAGE / "runtime"

APP = """
import json
import os

import aws_cdk
import constructs_lib
from aws_cdk import App, RemovalPolicy, Stack
from aws_cdk import aws_secretsmanager as secretsmanager

from constructs_lib import FanoutTopic, MobilePush, PushPlatform

app = App(outdir="cdk.out")
stack = Stack(app, "Consumer")
orders = FanoutTopic(stack, "Orders")
orders.add_queue_consumer("Billing")
orders.add_queue_consumer("Shipping", raw_message_delivery=True)
ledger = FanoutTopic(
    stack, "Ledger", fifo=True, archive_retention_days=3, removal_policy=RemovalPolicy.DESTROY
)
MobilePush(
    stack,
    "Push",
    credentials={
        PushPlatform.APNS: secretsmanager.Secret.from_secret_name_v2(stack, "Apns", "push/apns")
    },
)
assembly = app.synth()
print(json.dumps({
    "constructs_lib": constructs_lib.__file__,
    "aws_cdk": aws_cdk.__file__,
    "cwd": os.getcwd(),
    "templates": [os.path.abspath(s.template_full_path) for s in assembly.stacks],
}))
"""


@pytest.fixture(scope="module")
def wheel_files(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv outside the repository with the wheel installed; its python."""
    return install(wheel, tmp_path_factory.mktemp("consumer-venv"))


@pytest.fixture(scope="module")
def consumer_app(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The small app synthesized in a directory outside the repository; what it printed."""
    app_dir = outside_repository(tmp_path_factory.mktemp("consumer-app"))
    (app_dir / "app.py").write_text(APP)
    printed = run_app(installed, app_dir)
    printed["outdir"] = app_dir / "cdk.out"
    printed["venv"] = installed.parent.parent
    return printed


def _source_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]


def _in_wheel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_wheel_carries_every_module_and_the_typing_marker(wheel_files: set[str]) -> None:
    wanted = {_in_wheel(p) for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    wanted.add("constructs_lib/py.typed")
    assert wanted - wheel_files == set()


def test_wheel_carries_every_file_of_the_runtime_folders(wheel_files: set[str]) -> None:
    runtime_files = {_in_wheel(p) for p in _source_files(RUNTIME)}
    assert runtime_files, "constructs_lib/runtime holds the library's function code"
    assert runtime_files - wheel_files == set()


def test_wheel_carries_the_emulators_lambda_runtimes(wheel_files: set[str]) -> None:
    """The emulator starts these to run Python and Node.js functions (``lambda_runtime``)."""
    folder = PACKAGE / "testing" / "lambda_bootstrap"
    bootstraps = {_in_wheel(p) for p in _source_files(folder)}
    assert {Path(p).name for p in bootstraps} == {"python_runtime.py", "node_runtime.js"}
    assert bootstraps - wheel_files == set()


def _calls(module: Path, name: str) -> list[ast.Call]:
    """The calls of ``name`` (a function or a method) in ``module``."""
    return [
        node
        for node in ast.walk(ast.parse(module.read_text()))
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Attribute) and node.func.attr == name)
            or (isinstance(node.func, ast.Name) and node.func.id == name)
        )
    ]


def test_library_functions_deploy_code_only_from_the_packaged_runtime_folder() -> None:
    """Every Lambda asset of the library is ``runtime_code("<folder>")``: a folder of
    constructs_lib/runtime with a handler, staged without byte-compiled files."""
    named = {
        f"{module.relative_to(PACKAGE)}: {ast.unparse(call)}": call
        for module in (*PACKAGE.glob("*.py"), *PACKAGE.glob("_private/*.py"))
        for call in _calls(module, "runtime_code")
    }
    assert named, "push.py deploys its handlers with runtime_code(...)"
    for where, call in named.items():
        (argument,) = call.args
        assert isinstance(argument, ast.Constant), f"{where}: name the runtime folder literally"
        assert (RUNTIME / argument.value / "handler.py").is_file(), f"{where}: no such folder"
    lambda_assets = {
        f"{module.relative_to(PACKAGE)}: {ast.unparse(call)}"
        for module in (*PACKAGE.glob("*.py"), *PACKAGE.glob("_private/*.py"))
        for call in _calls(module, "from_asset")
        if "lambda_" in ast.unparse(call.func)
    }
    assert lambda_assets == {
        "_private/functions.py: "
        "lambda_.Code.from_asset(str(RUNTIME / name), exclude=list(ASSET_EXCLUDES))"
    }


def test_app_imports_constructs_lib_from_the_fresh_virtualenv(
    consumer_app: dict[str, Any],
) -> None:
    library = Path(consumer_app["constructs_lib"]).resolve()
    assert library.is_relative_to(consumer_app["venv"].resolve())
    assert not library.is_relative_to(ROOT)
    assert not Path(consumer_app["cwd"]).resolve().is_relative_to(ROOT)


def test_app_synthesizes_its_stack_from_the_installed_wheel(consumer_app: dict[str, Any]) -> None:
    (template_path,) = consumer_app["templates"]
    template = json.loads(Path(template_path).read_text())
    types = {r["Type"] for r in template["Resources"].values()}
    assert {"AWS::SNS::Topic", "AWS::SNS::Subscription", "AWS::Lambda::Function"} <= types


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_push_function_assets_carry_the_packaged_handlers(consumer_app: dict[str, Any]) -> None:
    staged = {
        _digest(handler): handler.parent.name
        for handler in consumer_app["outdir"].glob("asset.*/handler.py")
    }
    # The function folders (queue_worker is the worker fleet's program, not a function).
    for folder in sorted(p for p in RUNTIME.iterdir() if (p / "handler.py").is_file()):
        assert _digest(folder / "handler.py") in staged, f"no asset carries {folder.name}"


def test_the_installed_fanout_command_runs_against_an_emulator(
    installed: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The wheel's console script, from a directory outside the repository, as a user runs it."""
    import subprocess

    from moto.server import ThreadedMotoServer

    fanout = installed.parent / "fanout"
    assert fanout.exists(), "pip created the console script from [project.scripts]"
    cwd = outside_repository(tmp_path_factory.mktemp("operator"))
    env = {
        "PATH": str(installed.parent),
        "HOME": str(cwd),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    version = subprocess.run(
        [str(fanout), "--version"], capture_output=True, text=True, cwd=cwd, env=env, check=True
    )
    assert version.stdout.startswith("fanout ")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        listed = subprocess.run(
            [
                str(fanout),
                "dlq",
                "list",
                "--region=eu-west-1",
                f"--endpoint-url={endpoint}",
                "--output=json",
            ],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            check=False,
        )
    finally:
        server.stop()
    assert (listed.returncode, listed.stdout, listed.stderr) == (0, "[]\n", "")
