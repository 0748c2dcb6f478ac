"""`constructs_lib.testing` for a user's own app: the README's example, run with pytest from a
temporary folder outside the repository against the installed wheel (fixtures from the
``pytest11`` entry point, not from this repository's conftest)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import docs_pages
import pytest
from helpers import ROOT
from installed_wheel import app_environment, install, outside_repository

SECTION = re.compile(r"^# Test your own app on the emulator\n(.*?)(?=^## |\Z)", re.DOTALL | re.M)
FENCE = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)


def _readme_files() -> dict[str, str]:
    """The section's ``cdk.json`` and test module, as a user would save them."""
    match = SECTION.search((docs_pages.DOCS / "testing" / "your-app.md").read_text())
    assert match, "the docs have a 'Test your own app on the emulator' page"
    blocks = dict((lang, body) for lang, body in FENCE.findall(match.group(1)))
    test_module = blocks["py"]
    name = test_module.splitlines()[0].removeprefix("# ").strip()
    return {"cdk.json": blocks["json"], name: test_module}


@pytest.fixture(scope="module")
def user_run(
    wheel: Path, tmp_path_factory: pytest.TempPathFactory
) -> subprocess.CompletedProcess[str]:
    python = install(wheel, tmp_path_factory.mktemp("tester-venv"))
    app_dir = outside_repository(tmp_path_factory.mktemp("tester-app"))
    for name, text in _readme_files().items():
        (app_dir / name).write_text(text)
    return subprocess.run(
        [str(python), "-I", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore"],
        cwd=app_dir,
        env=app_environment(python),
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )


def test_the_readme_example_passes_in_a_users_folder(
    user_run: subprocess.CompletedProcess[str],
) -> None:
    assert user_run.returncode == 0, user_run.stdout + user_run.stderr
    assert re.search(r"\b2 passed\b", user_run.stdout), user_run.stdout


def test_the_fixtures_come_from_the_installed_package(
    user_run: subprocess.CompletedProcess[str],
) -> None:
    """No conftest of this repository is on the way: the plugin is the wheel's."""
    assert "conftest" not in user_run.stdout + user_run.stderr


def test_the_pytest_plugin_loads_neither_aws_cdk_nor_moto() -> None:
    """pytest imports the plugin in every run once the extra is installed: it must cost
    nothing until a fixture is used."""
    import sys

    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, constructs_lib.testing.pytest_plugin; "
            "print(sorted(m for m in ('aws_cdk', 'moto', 'boto3') if m in sys.modules))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"
