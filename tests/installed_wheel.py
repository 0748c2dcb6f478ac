"""Building the wheel and installing it into fresh virtualenvs outside the repository, as a
user's machine or CI would: shared by the packaging test and the user-app test.

How the wheel is installed, and why:

* The wheel is built from a copy of ``pyproject.toml``, ``README.md`` and ``constructs_lib/``
  with pip's build isolation, as ``pip install .`` builds it for a user. The copy keeps a
  stale ``build/`` folder of the checkout out of the wheel and the build out of the
  checkout. Isolation is needed because the project's virtualenv has the setuptools that
  ``python -m venv`` ships (65.x), older than the ``setuptools>=77`` pyproject.toml asks for;
  pip fetches that one package from the index (or its cache), nothing else.
* A fresh virtualenv gets the wheel with ``--no-deps --no-index`` (pip byte-compiles it, as
  for any user) and a ``.pth`` file that appends the project virtualenv's site-packages, so
  aws-cdk-lib (about 100 MB) and constructs are not downloaded again. Python processes
  ``.pth`` files only in its own site directories, not in directories a ``.pth`` line adds,
  so the project's editable install of constructs_lib (a path hook installed by a ``.pth``
  file) is not active in the new environment: the app must find constructs_lib in the new
  virtualenv, which a test checks.
* Apps run with ``python -I`` (no PYTHONPATH, no script or working directory on
  ``sys.path``) from a temporary directory outside the repository, with Node 22 from the
  repository's ``node_modules`` on PATH for jsii.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT

PACKAGE = ROOT / "constructs_lib"
NODE_BIN = ROOT / "node_modules" / ".bin"
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")


def outside_repository(path: Path) -> Path:
    if path.resolve().is_relative_to(ROOT):
        pytest.fail(f"{path} is inside the repository; point TMPDIR elsewhere")
    return path


def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL, **kwargs
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def build_wheel(work: Path) -> Path:
    """The wheel, built in ``work`` from a copy of the package sources."""
    source = outside_repository(work) / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(PACKAGE, source / PACKAGE.name, ignore=IGNORED)
    dist = work / "dist"
    run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-input"),
            *("--disable-pip-version-check", "--wheel-dir", str(dist), str(source)),
        ],
        timeout=300,
    )
    (built,) = dist.glob("constructs_lib-*.whl")
    return built


def install(wheel: Path, env_dir: Path) -> Path:
    """A fresh virtualenv at ``env_dir`` with the wheel installed; its python."""
    venv.create(outside_repository(env_dir), with_pip=False, clear=True)
    python = env_dir / "bin" / "python"
    run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"),
            *("--no-deps", "--no-index", "--disable-pip-version-check", "--no-input", str(wheel)),
        ],
        timeout=300,
    )
    site_packages = run(
        [str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    ).stdout.strip()
    project_paths = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (Path(site_packages) / "project-dependencies.pth").write_text(
        "".join(f"{path}\n" for path in project_paths)
    )
    return python


def installed_package(python: Path) -> Path:
    """Where ``python`` imports constructs_lib from."""
    printed = run(
        [str(python), "-I", "-c", "import constructs_lib, json; print(constructs_lib.__file__)"],
        env=app_environment(python),
    ).stdout.strip()
    return Path(printed).parent


def app_environment(python: Path) -> dict[str, str]:
    """The environment an app runs in: this virtualenv and Node 22 first, nothing of ours."""
    if not (NODE_BIN / "node").exists():
        pytest.fail("node_modules is missing: run through `make test`, which installs it")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join([str(python.parent), str(NODE_BIN), env.get("PATH", "")])
    env["JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION"] = "1"
    # As a strict CI runs it: any deprecated aws-cdk-lib API the library calls fails the synth.
    env["JSII_DEPRECATED"] = "fail"
    return env


def run_app(python: Path, app_dir: Path, script: str = "app.py") -> dict[str, Any]:
    """Run ``script`` in ``app_dir`` with ``python -I``; the JSON object it printed last."""
    result = run(
        [str(python), "-I", script],
        cwd=outside_repository(app_dir),
        env=app_environment(python),
        timeout=900,
    )
    printed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return printed
