"""The built wheel carries everything the constructs need, and an app outside the repository
synthesizes with nothing but that wheel and its dependencies.

How the wheel is installed, and why:

* The wheel is built from a copy of ``pyproject.toml``, ``README.md`` and ``constructs_lib/``
  with pip's build isolation, as ``pip install .`` builds it for a user. The copy keeps a
  stale ``build/`` folder of the checkout out of the wheel and the build out of the
  checkout. Isolation is needed because the project's virtualenv has the setuptools that
  ``python -m venv`` ships (65.x), older than the ``setuptools>=77`` pyproject.toml asks for;
  pip fetches that one package from the index (or its cache), nothing else.
* The fresh virtualenv gets the wheel with ``--no-deps --no-index`` and a ``.pth`` file that
  appends the project virtualenv's site-packages, so aws-cdk-lib (about 100 MB) and
  constructs are not downloaded again. Python processes ``.pth`` files only in its own site
  directories, not in directories a ``.pth`` line adds, so the project's editable install of
  constructs_lib (a path hook installed by a ``.pth`` file) is not active in the new
  environment: the app must find constructs_lib in the new virtualenv, which a test checks.
* The app runs with ``python -I`` (no PYTHONPATH, no script or working directory on
  ``sys.path``) from a temporary directory outside the repository, with Node 22 from the
  repository's ``node_modules`` on PATH for jsii.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT

PACKAGE = ROOT / "constructs_lib"
RUNTIME = PACKAGE / "runtime"
NODE_BIN = ROOT / "node_modules" / ".bin"
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")

APP = """
import json
import os

import aws_cdk
import constructs_lib
from aws_cdk import App, Stack
from aws_cdk import aws_secretsmanager as secretsmanager

from constructs_lib import FanoutTopic, MobilePush, PushPlatform

app = App(outdir="cdk.out")
stack = Stack(app, "Consumer")
orders = FanoutTopic(stack, "Orders")
orders.add_queue_consumer("Billing")
orders.add_queue_consumer("Shipping", raw_message_delivery=True)
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


def _outside_repository(path: Path) -> Path:
    if path.resolve().is_relative_to(ROOT):
        pytest.fail(f"{path} is inside the repository; point TMPDIR elsewhere")
    return path


def _run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL, **kwargs
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built once for this module from a copy of the package sources."""
    work = _outside_repository(tmp_path_factory.mktemp("wheel"))
    source = work / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(PACKAGE, source / PACKAGE.name, ignore=IGNORED)
    dist = work / "dist"
    _run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-input"),
            *("--disable-pip-version-check", "--wheel-dir", str(dist), str(source)),
        ],
        timeout=300,
    )
    (built,) = dist.glob("constructs_lib-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel_files(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv outside the repository with the wheel installed; its python."""
    env_dir = _outside_repository(tmp_path_factory.mktemp("consumer-venv"))
    venv.create(env_dir, with_pip=False, clear=True)
    python = env_dir / "bin" / "python"
    _run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"),
            *("--no-deps", "--no-index", "--disable-pip-version-check", "--no-input", str(wheel)),
        ],
        timeout=300,
    )
    site_packages = _run(
        [str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    ).stdout.strip()
    project_paths = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (Path(site_packages) / "project-dependencies.pth").write_text(
        "".join(f"{path}\n" for path in project_paths)
    )
    return python


@pytest.fixture(scope="module")
def consumer_app(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The small app synthesized in a directory outside the repository; what it printed."""
    if not (NODE_BIN / "node").exists():
        pytest.fail("node_modules is missing: run through `make test`, which installs it")
    app_dir = _outside_repository(tmp_path_factory.mktemp("consumer-app"))
    (app_dir / "app.py").write_text(APP)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join([str(installed.parent), str(NODE_BIN), env.get("PATH", "")])
    result = _run([str(installed), "-I", "app.py"], cwd=app_dir, env=env, timeout=600)
    printed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
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


def _asset_folders(module: Path) -> list[str]:
    """The folder each ``Code.from_asset(...)`` call in ``module`` deploys, as source text."""
    calls = [
        node
        for node in ast.walk(ast.parse(module.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "from_asset"
        # Lambda code (lambda_.Code.from_asset); the worker image is built from a staged folder.
        and ast.unparse(node.func.value).endswith("Code")
    ]
    return [ast.unparse(call.args[0]) for call in calls]


def test_library_functions_deploy_code_only_from_the_packaged_runtime_folder() -> None:
    folders = {
        f"{module.name}: {folder}"
        for module in PACKAGE.glob("*.py")
        for folder in _asset_folders(module)
    }
    assert folders, "push.py deploys its handlers with Code.from_asset"
    for folder in folders:
        # str(RUNTIME / "name"), RUNTIME being the runtime folder beside the module.
        assert "RUNTIME / '" in folder, f"{folder}: deploy code from constructs_lib/runtime"
        name = folder.split("RUNTIME / '")[1].split("'")[0]
        assert (RUNTIME / name / "handler.py").is_file(), f"{folder}: no such runtime folder"
    source = (PACKAGE / "push.py").read_text()
    assert 'RUNTIME = Path(__file__).resolve().parent / "runtime"' in source


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
