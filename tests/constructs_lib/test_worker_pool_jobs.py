"""QueueWorkerPool with a WorkerJob: the library's worker program and the user's job, built
into one image (Fargate) or one S3 asset (EC2), staged deterministically at synth."""

from __future__ import annotations

import compileall
import json
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_ecs as ecs
from helpers import Tmpl, new_app

from constructs_lib import (
    Ec2Workers,
    FanoutConfigurationError,
    FanoutTopic,
    FargateWorkers,
    QueueWorkerPool,
    WorkerJob,
    worker_program_path,
)
from constructs_lib._private import worker_build

JOB_MODULE = "def handler(body):\n    return {'length': len(body)}\n"


@pytest.fixture(scope="module")
def job_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("job")
    (folder / "thumbs.py").write_text(JOB_MODULE)
    (folder / "requirements.txt").write_text("pillow==11.0.0\n")
    return folder


def _pool(stack: Stack, workers: Ec2Workers | FargateWorkers, **options: Any) -> QueueWorkerPool:
    queue = FanoutTopic(stack, "Jobs").add_queue_consumer(
        "Thumbnails", visibility_timeout=Duration.minutes(2)
    )
    return QueueWorkerPool(
        stack, "Pool", queue=queue, workers=workers, target_backlog_per_worker=10, **options
    )


def _assets(stack: Stack) -> dict[str, Any]:
    assembly = stack.node.root.synth()  # type: ignore[attr-defined]
    manifest: dict[str, Any] = json.loads(
        (Path(assembly.directory) / f"{stack.artifact_id}.assets.json").read_text()
    )
    manifest["directory"] = Path(assembly.directory)
    return manifest


@pytest.fixture(scope="module")
def fargate(job_folder: Path) -> SimpleNamespace:
    stack = Stack(new_app(), "FargateJob")
    pool = _pool(
        stack,
        FargateWorkers(job=WorkerJob(code_path=str(job_folder), handler="thumbs.handler")),
    )
    return SimpleNamespace(stack=stack, pool=pool, t=Tmpl(stack), assets=_assets(stack))


@pytest.fixture(scope="module")
def ec2(job_folder: Path) -> SimpleNamespace:
    stack = Stack(new_app(), "Ec2Job")
    pool = _pool(
        stack, Ec2Workers(job=WorkerJob(code_path=str(job_folder), handler="thumbs.handler"))
    )
    return SimpleNamespace(stack=stack, pool=pool, t=Tmpl(stack), assets=_assets(stack))


def _image(built: SimpleNamespace) -> tuple[str, dict[str, Any]]:
    ((asset_hash, image),) = built.assets["dockerImages"].items()
    return asset_hash, image


def test_fargate_job_image_is_built_from_the_worker_program_and_the_job(
    fargate: SimpleNamespace,
) -> None:
    _, image = _image(fargate)
    staged = fargate.assets["directory"] / image["source"]["directory"]
    names = {p.name for p in staged.iterdir()}
    assert {"Dockerfile", "worker.py", "protection.py", "requirements.txt", "thumbs.py"} <= names
    # The job's requirements are installed by the packaged Dockerfile under their own name.
    assert (staged / "job-requirements.txt").read_text() == "pillow==11.0.0\n"
    assert (staged / "worker.py").read_bytes() == (
        Path(worker_program_path()) / "worker.py"
    ).read_bytes()
    assert image["source"]["platform"] == "linux/arm64"


def test_fargate_job_build_folder_is_staged_under_the_apps_output_folder(
    fargate: SimpleNamespace,
) -> None:
    builds = fargate.assets["directory"] / worker_build.STAGING_FOLDER
    (staged,) = builds.iterdir()
    assert (staged / "thumbs.py").read_text() == JOB_MODULE


def test_fargate_job_container_is_told_its_handler(fargate: SimpleNamespace) -> None:
    (container,) = fargate.t.props(fargate.pool.task_definition)["ContainerDefinitions"]
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert env["WORKER_HANDLER"] == "thumbs.handler"
    assert env["WORKER_PLATFORM"] == "ecs"


def test_ec2_job_asset_carries_the_program_and_the_job_and_runs_the_worker(
    ec2: SimpleNamespace,
) -> None:
    asset = ec2.assets["files"][ec2.pool.node.find_child("WorkerCode").asset_hash]
    staged = ec2.assets["directory"] / asset["source"]["path"]
    names = {p.name for p in staged.iterdir()}
    assert {"worker.py", "protection.py", "thumbs.py", "job-requirements.txt"} <= names
    assert "Dockerfile" not in names
    template = ec2.t.props(ec2.pool.node.find_child("LaunchTemplate"))
    user_data = json.dumps(template)
    assert "WORKER_HANDLER=thumbs.handler" in user_data
    assert "ExecStart=/usr/bin/env python3 worker.py" in user_data
    assert "pip install --no-cache-dir -r /opt/queue-worker/job-requirements.txt" in user_data


def _fargate_image_hash(program: Path, job: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(worker_build, "WORKER_PROGRAM", program)
    stack = Stack(new_app(), "Hashed")
    _pool(stack, FargateWorkers(job=WorkerJob(code_path=str(job), handler="thumbs.handler")))
    ((asset_hash, _),) = _assets(stack)["dockerImages"].items()
    return asset_hash


def test_asset_hash_ignores_byte_code_of_the_installed_package(
    job_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the worker program as a fresh install leaves it, without byte code
    program = tmp_path / "queue_worker"
    shutil.copytree(
        worker_program_path(), program, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    job = tmp_path / "job"
    shutil.copytree(job_folder, job)
    before = _fargate_image_hash(program, job, monkeypatch)

    # WHEN pip (or a test run) byte-compiles the program and the job, at another time
    compileall.compile_dir(str(program), quiet=1, force=True)
    compileall.compile_dir(str(job), quiet=1, force=True)
    assert list(program.glob("__pycache__/*.pyc")) and list(job.glob("__pycache__/*.pyc"))

    # THEN the image asset is the same
    assert _fargate_image_hash(program, job, monkeypatch) == before


def test_worker_program_path_is_the_packaged_program_with_its_dockerfile() -> None:
    folder = Path(worker_program_path())
    assert {"worker.py", "protection.py", "Dockerfile", "requirements.txt"} <= {
        p.name for p in folder.iterdir()
    }
    assert folder.parent.name == "runtime"


@pytest.mark.parametrize(
    ("make_workers", "message"),
    [
        (
            lambda job, image: FargateWorkers(job=job, image=image),
            r"workers.image=.*: FargateWorkers takes exactly one of job=WorkerJob\(.*\) .*"
            r"and image= \(your own image\); both were given",
        ),
        (
            lambda job, image: FargateWorkers(),
            r"workers.job=None: FargateWorkers takes exactly one of job=.*; neither was given",
        ),
        (
            lambda job, image: Ec2Workers(job=job, code_path="."),
            r"workers.code_path='.': Ec2Workers takes exactly one of job=.* and code_path= "
            r"\(your own program\); both were given",
        ),
        (
            lambda job, image: Ec2Workers(),
            r"workers.job=None: Ec2Workers takes exactly one of job=.*; neither was given",
        ),
    ],
)
def test_fails_unless_exactly_one_of_job_and_own_program(
    make_workers: Any, message: str, job_folder: Path
) -> None:
    stack = Stack(new_app(), "Some")
    job = WorkerJob(code_path=str(job_folder), handler="thumbs.handler")
    image = ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/python:3.13-slim")
    with pytest.raises(FanoutConfigurationError, match=message):
        _pool(stack, make_workers(job, image))


def test_fails_on_a_handler_whose_module_is_not_in_the_job_folder(job_folder: Path) -> None:
    stack = Stack(new_app(), "Some")
    with pytest.raises(
        FanoutConfigurationError,
        match=r"workers.job.handler='jobs.handler': names module 'jobs', but code_path .* "
        r"has no jobs.py",
    ):
        _pool(
            stack, FargateWorkers(job=WorkerJob(code_path=str(job_folder), handler="jobs.handler"))
        )


def test_fails_on_a_job_file_named_like_a_file_of_the_worker_program(tmp_path: Path) -> None:
    (tmp_path / "thumbs.py").write_text(JOB_MODULE)
    (tmp_path / "worker.py").write_text("")
    stack = Stack(new_app(), "Some")
    with pytest.raises(
        FanoutConfigurationError,
        match=r"workers.job.code_path=.*: holds worker.py, which the worker program's build "
        r"folder already has: rename them",
    ):
        _pool(stack, Ec2Workers(job=WorkerJob(code_path=str(tmp_path), handler="thumbs.handler")))
