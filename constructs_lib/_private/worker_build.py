"""The build folder of a worker: the packaged worker program and the job's files, staged in
the App's output folder so that an asset's hash depends only on what it holds."""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import cast

from aws_cdk import Stage
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from constructs import Construct

from ..workers import PROGRAM_FILES, WORKER_PROGRAM, FargateWorkers, WorkerJob

JOB_REQUIREMENTS = "job-requirements.txt"
"""Name of the job folder's ``requirements.txt`` in the staged build folder."""


BUILD_EXCLUDE = (
    "__pycache__",
    "*.pyc",
    "*.pyo",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".git",
    ".venv",
    ".DS_Store",
)
"""What never goes into a worker asset: byte-compiled files (pip writes them, with its install
time, when it installs the package, so they would change the asset hash per install), caches,
version control."""


STAGING_FOLDER = "queue-worker-builds"
"""Folder of the App's outdir where worker build folders are staged (see :func:`stage_build`)."""


def worker_image(scope: Construct, workers: FargateWorkers) -> ecs.ContainerImage:
    """Your image, or the worker program and your job built into one (linux/arm64).

    Exactly one of ``image`` and ``job`` is given (a rule of :func:`check_workers`).
    """
    if workers.job is None:
        return cast(ecs.ContainerImage, workers.image)
    return ecs.ContainerImage.from_asset(
        str(stage_build(scope, workers.job)),
        platform=ecr_assets.Platform.LINUX_ARM64,
        exclude=list(BUILD_EXCLUDE),
    )


def excluded(relative: Path) -> bool:
    return any(
        fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in BUILD_EXCLUDE
    )


def job_files(folder: Path) -> dict[str, Path]:
    """The files of ``folder`` by relative path (POSIX), sorted, without caches."""
    found = {
        path.relative_to(folder).as_posix(): path
        for path in folder.rglob("*")
        if path.is_file() and not excluded(path.relative_to(folder))
    }
    return dict(sorted(found.items()))


def build_files(job: WorkerJob) -> dict[str, Path]:
    """What the worker's build folder holds: the program, then the job (its requirements.txt
    as ``job-requirements.txt``)."""
    files = {name: WORKER_PROGRAM / name for name in PROGRAM_FILES}
    for name, path in job_files(Path(job.code_path)).items():
        files[JOB_REQUIREMENTS if name == "requirements.txt" else name] = path
    return files


def stage_build(scope: Construct, job: WorkerJob) -> Path:
    """One folder with the worker program and the job, for an image build or an S3 asset.

    A Docker build has one context, so the packaged program and the user's job folder are
    copied together. The folder is named by a digest of the files' names and contents (never
    their times, never ``__pycache__``), so the same sources give the same folder and the
    same asset hash wherever and whenever the library was installed. It lives under the
    App's output folder (``cdk.out/queue-worker-builds/``): the asset manifest points at it
    when asset staging is off, and ``cdk deploy`` builds the image from the staged copy after
    synth, when a temporary folder could be gone.
    """
    files = build_files(job)
    digest = hashlib.sha256()
    for name, path in files.items():
        digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    stage = Stage.of(scope)
    root = Path(stage.outdir) if stage is not None else Path(tempfile.gettempdir())
    target = root / STAGING_FOLDER / digest.hexdigest()[:32]
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
    for name, path in files.items():
        destination = partial / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
    try:
        os.rename(partial, target)
    except OSError:  # staged meanwhile by another synth of the same sources
        shutil.rmtree(partial, ignore_errors=True)
    return target
