"""Fixtures shared by the construct tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A worker program folder of one module and a Dockerfile (for own-code and own-image
    pools), once per test module."""
    folder = tmp_path_factory.mktemp("worker")
    (folder / "worker.py").write_text("print('work')\n")
    (folder / "Dockerfile").write_text("FROM public.ecr.aws/docker/library/python:3.13-slim\n")
    return folder
