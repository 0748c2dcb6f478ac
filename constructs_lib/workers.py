"""What a :class:`~constructs_lib.QueueWorkerPool` runs: your :class:`WorkerJob`, run by the
library's worker program, on :class:`Ec2Workers` or :class:`FargateWorkers`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs

WORKER_PROGRAM = Path(__file__).resolve().parent / "runtime" / "queue_worker"
"""The packaged worker program: ``worker.py``, ``protection.py``, ``requirements.txt`` (boto3),
``Dockerfile`` and ``.dockerignore``."""


PROGRAM_FILES = ("worker.py", "protection.py", "requirements.txt", "Dockerfile", ".dockerignore")


def worker_program_path() -> str:
    """The folder of the packaged worker program, to copy into your own image or instance.

    It holds ``worker.py`` (run as ``python3 worker.py`` with ``WORKER_HANDLER`` naming your
    job, plus the settings :class:`QueueWorkerPool` sets), ``protection.py``,
    ``requirements.txt`` (boto3), a ``Dockerfile`` and ``.dockerignore``. Copy its files next
    to your job's modules (the job's requirements as ``job-requirements.txt``), leaving out
    ``__pycache__``.
    """
    return str(WORKER_PROGRAM)


@dataclass(frozen=True)
class WorkerJob:
    """Your job, run by the library's worker program.

    :param code_path: folder holding the job's modules (and, optionally, a
        ``requirements.txt`` of its own dependencies, installed in the image or on the
        instance). Its files are put beside ``worker.py``; none may be named like a file of
        the worker program (``worker.py``, ``protection.py``, ``Dockerfile``,
        ``.dockerignore``, ``job-requirements.txt``).
    :param handler: ``module.function`` in that folder, like a Lambda handler string
        (``"jobs.handler"``). The function takes a message body (``str``) and returns fields
        for the log line of its success (a mapping, or None); it raises to fail, and an
        exception with a ``problems`` attribute (a sequence of strings) is logged as an
        invalid job. The message is deleted only after it returns; a failed message comes
        back after ``RETRY_DELAY_SECONDS`` and reaches the queue's DLQ after
        ``maxReceiveCount`` receives. The worker sets ``AWS_DEFAULT_REGION`` before it
        imports the module, so its own boto3 clients find the region.
    """

    code_path: str
    handler: str


@dataclass(frozen=True, kw_only=True)
class Ec2Workers:
    """Workers on EC2 instances of an Auto Scaling group.

    Give exactly one of ``job`` (the default way: your job run by the library's worker
    program) and ``code_path`` (your own program).

    :param job: your job (:class:`WorkerJob`); the library's worker program and the job's
        folder are shipped as one S3 asset, unpacked to ``/opt/queue-worker`` and run by
        systemd as ``python3 worker.py`` with ``WORKER_HANDLER`` set to the job's handler.
        A ``requirements.txt`` in the job's folder is installed with pip at boot.
    :param code_path: folder holding your own worker program instead; shipped the same way
        and run with ``command``. See below for what it must do.
    :param command: Default: ``python3 worker.py`` (run in ``/opt/queue-worker``).
    :param instance_type: Default: t4g.small (Graviton).
    :param machine_image: Default: the latest Amazon Linux 2023 for the instance's CPU (an
        SSM parameter read at deploy time: no lookup at synth).
    :param packages: dnf packages installed at boot. Default: python3, python3-boto3 and
        unzip.

    What your own program (``code_path``) must do to keep scale-in safe, as the packaged
    worker does (:func:`worker_program_path` gives its folder, to copy or to start from):

    * while it holds a message, protect its instance from scale-in: Auto Scaling
      ``SetInstanceProtection`` (``ProtectedFromScaleIn=True``) for its instance id (IMDSv2)
      in ``AUTOSCALING_GROUP_NAME``, and ``False`` once the queue is empty;
    * heartbeat: ``ChangeMessageVisibility`` to ``VISIBILITY_TIMEOUT`` every third of it
      while the job runs, however long it takes;
    * delete the message only after its job succeeded;
    * on SIGTERM (systemd's stop, ``TimeoutStopSec=120``) stop receiving, and finish the
      message in flight within the 120 s or give it back (``ChangeMessageVisibility`` to 0);
    * watch ``autoscaling/target-lifecycle-state`` in instance metadata; when it turns to
      ``Terminated``, drain as on SIGTERM, then complete the termination lifecycle hook
      ``LIFECYCLE_HOOK_NAME`` (``drain``) with ``CompleteLifecycleAction`` ``CONTINUE``
      (else the instance waits up to 15 minutes before it terminates).
    """

    job: WorkerJob | None = None
    code_path: str | None = None
    command: str = "python3 worker.py"
    instance_type: ec2.InstanceType = field(
        default_factory=lambda: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.SMALL)
    )
    machine_image: ec2.IMachineImage | None = None
    packages: tuple[str, ...] = ("python3", "python3-boto3", "unzip")


@dataclass(frozen=True, kw_only=True)
class FargateWorkers:
    """Workers as ECS Fargate tasks (ARM64).

    Give exactly one of ``job`` (the default way: your job run by the library's worker
    program) and ``image`` (your own image).

    :param job: your job (:class:`WorkerJob`); the image is built from the library's
        Dockerfile (Python 3.13 slim, non-root, ``STOPSIGNAL SIGTERM``) with the worker
        program, the job's folder and its ``requirements.txt`` if it has one. Synth only
        stages the build folder (under the App's output folder); ``cdk deploy`` builds the
        image (linux/arm64), so synth needs no Docker.
    :param image: your own image instead, e.g. ``ecs.ContainerImage.from_asset(folder,
        platform=ecr_assets.Platform.LINUX_ARM64)``. See below for what it must do.
    :param cpu: Default: 256 (.25 vCPU).
    :param memory_limit_mib: Default: 512.
    :param cluster: Default: a new cluster with Container Insights.

    What your own image (``image``) must do to keep scale-in safe, as the packaged worker
    does (:func:`worker_program_path` gives its folder and Dockerfile, to copy or to start
    from):

    * while it holds a message, protect its task from scale-in through the ECS agent:
      ``PUT $ECS_AGENT_URI/task-protection/v1/state`` with
      ``{"ProtectionEnabled": true, "ExpiresInMinutes": N}``, renewed before it expires, and
      ``{"ProtectionEnabled": false}`` once the queue is empty (the task role may call
      ``ecs:UpdateTaskProtection``);
    * heartbeat: ``ChangeMessageVisibility`` to ``VISIBILITY_TIMEOUT`` every third of it
      while the job runs, however long it takes;
    * delete the message only after its job succeeded;
    * on SIGTERM stop receiving, and finish the message in flight within the task's 120 s
      stop timeout or give it back (``ChangeMessageVisibility`` to 0) before exiting: ECS
      sends SIGKILL at 120 s.
    """

    job: WorkerJob | None = None
    image: ecs.ContainerImage | None = None
    cpu: int = 256
    memory_limit_mib: int = 512
    cluster: ecs.ICluster | None = None
