"""Dockerfile: the container image of the worker program and a job (built at deploy time; no
Docker here, so its instructions are read, not run)."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
SOURCE = ROOT / "constructs_lib" / "runtime" / "queue_worker"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = (SOURCE / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_image_installs_the_boto3_the_repository_is_tested_with():
    # GIVEN the image's requirements and the repository's constraints
    pins = [
        line.strip()
        for line in (SOURCE / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    constraints = (ROOT / "constraints.txt").read_text().splitlines()

    # THEN boto3 is its only dependency, pinned to the version the tests run with
    assert len(pins) == 1
    assert pins[0].startswith("boto3==")
    assert pins[0] in constraints


def test_image_runs_the_worker_with_the_job_as_a_non_root_user_and_stops_with_sigterm():
    steps = instructions()
    by_name: dict[str, list[str]] = {}
    for name, arguments in steps:
        by_name.setdefault(name, []).append(arguments)

    assert by_name["FROM"] == ["public.ecr.aws/docker/library/python:3.13-slim"]
    assert any("--no-cache-dir -r requirements.txt" in run for run in by_name["RUN"])
    # The job's own requirements, when it has any, are installed too; then the program and
    # the job's code (the whole build folder) are copied in.
    assert any("-r job-requirements.txt" in run for run in by_name["RUN"])
    assert "requirements.txt job-requirements.tx[t] ./" in by_name["COPY"]
    assert ". ./" in by_name["COPY"]
    assert by_name["USER"][-1].split(":")[0] not in ("root", "0")
    assert by_name["STOPSIGNAL"] == ["SIGTERM"]
    assert json.loads(by_name["CMD"][-1]) == ["python", "worker.py"]
    assert steps[-1][0] == "CMD"


def test_build_context_leaves_out_byte_code_and_caches():
    ignored = {
        line.strip()
        for line in (SOURCE / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {"**/__pycache__", "**/*.pyc", ".mypy_cache"} <= ignored
