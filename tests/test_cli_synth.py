"""`cdk synth` through the pinned CLI and Node, exactly as `make synth` and CI run it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REFERENCE_STACKS, ROOT

NODE_BIN = ROOT / "node_modules" / ".bin"


@pytest.fixture(scope="module")
def synth(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    if not (NODE_BIN / "cdk").exists():
        pytest.fail("node_modules is missing: run through `make test`, which installs it")
    outdir = tmp_path_factory.mktemp("cli.out")
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), str(NODE_BIN), env["PATH"]])
    env["CDK_DISABLE_CLI_TELEMETRY"] = "true"
    result = subprocess.run(
        ["cdk", "synth", "--quiet", "--output", str(outdir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    return result, outdir


def test_cli_synthesizes_every_reference_stack(
    synth: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, outdir = synth
    assert result.returncode == 0, result.stderr
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks = [
        name
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    ]
    assert sorted(stacks) == REFERENCE_STACKS


def test_cli_runs_on_the_pinned_node_without_an_end_of_life_banner(
    synth: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, _ = synth
    assert "end-of-life" not in result.stderr + result.stdout
    node = shutil.which("node", path=str(NODE_BIN))
    assert node is not None
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("v22.")
