"""Fixtures for the thumbnail job: its module, imported as the worker imports it (its folder
on ``sys.path``, then removed from ``sys.modules``), and a job's JSON."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from helpers import import_from
from image_jobs import image_job

SOURCE = Path(__file__).resolve().parents[3] / "lambda_src" / "image_thumbnails"


@pytest.fixture(scope="module")
def jobs() -> Iterator[ModuleType]:
    yield import_from(SOURCE, "jobs")
    sys.modules.pop("jobs", None)


@pytest.fixture
def a_job() -> Callable[..., dict[str, Any]]:
    """``a_job(job_id, *, width, height, pixels, max_size, **changes)``: a job's JSON."""
    return image_job
