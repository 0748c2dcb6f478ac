"""QueueWorkerPool: a fleet of workers that drains a queue and scales on backlog per worker.

AWS recommends scaling queue workers on *backlog per worker* — messages visible divided by
workers in service — tracked against ``acceptable_latency / processing_time_per_message``.
aws-cdk-lib's target tracking rejects the metric math this needs (aws-cdk#20659), so the
policies here are the L1 ``CfnScalingPolicy`` resources with ``CustomizedMetricSpecification``.
Target tracking cannot scale out from zero workers (its new capacity is proportional to the
current one), so a step policy sets the first capacity whenever messages are visible while the
desired capacity is zero.

The worker program (``runtime/queue_worker``: the loop, heartbeats, scale-in protection,
draining) ships in the package; the job is the user's code (:class:`WorkerJob`).
"""

from __future__ import annotations

import fnmatch
import hashlib
import ipaddress
import math
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, Unpack, cast

import jsii
from aws_cdk import (
    Acknowledgment,
    ArnFormat,
    CfnResource,
    CfnTag,
    Duration,
    Names,
    Stack,
    Stage,
    Token,
    Validations,
)
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ._private import monitoring
from ._private.metrics import ALARM_PERIOD, SUM, MetricOptions, metric_of
from ._private.nag import acknowledge_managed_policy, acknowledge_wildcard_resource
from ._private.options import Declared, check_type, settle
from ._private.queue_facts import SQS_DEFAULT_VISIBILITY_TIMEOUT, QueueFacts, queue_facts
from ._private.validation import EnvironmentRules, Problems, known_seconds
from ._private.worker_metrics import BACKLOG_PER_WORKER, BacklogMetrics, PoolMetrics
from .consumer_queue import ConsumerQueue

WORKER_PROGRAM = Path(__file__).resolve().parent / "runtime" / "queue_worker"
"""The packaged worker program: ``worker.py``, ``protection.py``, ``requirements.txt`` (boto3),
``Dockerfile`` and ``.dockerignore``."""
PROGRAM_FILES = ("worker.py", "protection.py", "requirements.txt", "Dockerfile", ".dockerignore")
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
"""Folder of the App's outdir where worker build folders are staged (see :func:`_stage_build`)."""
HANDLER_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$")
VPC_CIDR = "10.0.0.0/16"
AZ_CONTEXT_KEY = "availability-zones:account={account}:region={region}"
FLOW_LOG_RETENTION = logs.RetentionDays.ONE_MONTH
"""How long the default VPC's flow logs are kept."""


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


DEFAULT_MIN_CAPACITY = 0
DEFAULT_MAX_CAPACITY = 10
DEFAULT_LOG_RETENTION = logs.RetentionDays.ONE_MONTH
DEFAULT_LATENCY_ALARM_THRESHOLD = Duration.minutes(15)
"""What the latency alarm allows the oldest message when no ``acceptable_latency`` is given."""
FARGATE_STOP_TIMEOUT = Duration.seconds(120)
"""The most Fargate waits between SIGTERM and SIGKILL; the worker drains within it."""
DRAIN_TIMEOUT = Duration.minutes(15)
"""How long a terminating EC2 instance may finish its message (lifecycle hook heartbeat)."""
DRAIN_HOOK_NAME = "drain"
SCALE_OUT_COOLDOWN_SECONDS = 180
"""How long Fargate target tracking waits after a scale-out before it scales out again."""
MAX_FROM_ZERO_STEPS = 8


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


class QueueWorkerPoolOptions(TypedDict, total=False):
    """The options of :class:`QueueWorkerPool` other than ``queue`` and ``workers``,
    declared once: the constructor takes them as keyword arguments; see
    :class:`QueueWorkerPool` for what each one means and its default.
    """

    vpc: ec2.IVpc | None
    availability_zones: Sequence[str] | None
    min_capacity: int
    max_capacity: int
    acceptable_latency: Duration | None
    processing_time_per_message: Duration | None
    target_backlog_per_worker: float | None
    environment: Mapping[str, str] | None
    log_retention: logs.RetentionDays
    alarms: bool
    alarm_topic: sns.ITopic | None


OPTIONS = Declared(
    construct="QueueWorkerPool",
    options=QueueWorkerPoolOptions,
    defaults=QueueWorkerPoolOptions(
        vpc=None,
        availability_zones=None,
        min_capacity=DEFAULT_MIN_CAPACITY,
        max_capacity=DEFAULT_MAX_CAPACITY,
        acceptable_latency=None,
        processing_time_per_message=None,
        target_backlog_per_worker=None,
        environment=None,
        log_retention=DEFAULT_LOG_RETENTION,
        alarms=True,
        alarm_topic=None,
    ),
    expected={
        "queue": "the work queue: a ConsumerQueue (e.g. FanoutTopic.add_queue_consumer(...)) "
        "or an sqs.IQueue",
        "workers": "Ec2Workers(job=WorkerJob(...)) or FargateWorkers(job=WorkerJob(...))",
        "availability_zones": "a list of zone names, e.g. ['eu-west-1a', 'eu-west-1b']",
        "acceptable_latency": "a Duration, e.g. Duration.seconds(30)",
        "processing_time_per_message": "a Duration, e.g. Duration.seconds(30)",
        "environment": "a dict of variable name to string",
        "alarm_topic": "an sns.ITopic (e.g. sns.Topic or Topic.from_topic_arn)",
    },
)

VISIBILITY_NEEDED = (
    "at least as long as a job takes, or two workers will run the same message at once"
)
"""What the warning on a queue whose visibility timeout cannot be read asks of it."""


@dataclass(frozen=True)
class _Settings:
    """The options in effect once validated, with what the rules worked out from them."""

    options: QueueWorkerPoolOptions
    target_backlog_per_worker: float
    """Given, or ``acceptable_latency / processing_time_per_message``."""
    availability_zones: list[str] | None
    """The zones of the default VPC when given."""


@jsii.implements(cloudwatch.IAlarmAction)
class _ScalingPolicyAction:
    """An alarm action that runs a scaling policy given by its ARN (L1 policies)."""

    def __init__(self, policy_arn: str) -> None:
        self._arn = policy_arn

    def bind(self, _scope: Construct, _alarm: cloudwatch.IAlarm) -> cloudwatch.AlarmActionConfig:
        return cloudwatch.AlarmActionConfig(alarm_action_arn=self._arn)


@dataclass(frozen=True)
class _ZonedNetwork:
    """The L1 VPC of :meth:`QueueWorkerPool._zoned_vpc` and its internet gateway."""

    scope: Construct
    vpc: ec2.CfnVPC
    gateway: ec2.CfnInternetGateway
    attachment: ec2.CfnVPCGatewayAttachment


class QueueWorkerPool(Construct):
    """Workers that drain ``queue``, scaled on backlog per worker, safe on scale-in.

    * Scaling: target tracking on ``ApproximateNumberOfMessagesVisible / workers in service``
      (metric math in the L1 policy) at ``target_backlog_per_worker`` =
      ``acceptable_latency / processing_time_per_message``; plus a step policy that sets the
      capacity straight from zero (1, 2, 4, … up to ``max_capacity`` by backlog) as soon as
      messages are visible while no worker is wanted.
    * Safe scale-in: workers protect themselves while they hold a message (ECS task scale-in
      protection; EC2 instance scale-in protection), drain on SIGTERM (Fargate gives
      120 s) or on the Auto Scaling termination lifecycle hook (EC2, up to 15 minutes), and
      give the message back rather than die holding it. This is the library's worker
      program (``constructs_lib/runtime/queue_worker``, see :func:`worker_program_path`),
      which runs your :class:`WorkerJob`; an own image or program must do the same (see
      :class:`FargateWorkers` and :class:`Ec2Workers`).
    * Least privilege: consume rights on the queue (and decrypt on its key), scale-in
      protection of its own workers, nothing else; grant more with :attr:`grant_principal`.
    * EC2: private subnets without inbound rules, IMDSv2 required, encrypted volumes,
      detailed monitoring, Systems Manager instead of SSH. Fargate: Container Insights,
      logs in a log group with retention.

    The workers are told the queue's visibility timeout (``VISIBILITY_TIMEOUT``, their
    heartbeat); for a queue whose timeout cannot be read at synth (imported by ARN, say)
    they are told SQS's default, 30 seconds, and synth warns.

    :param queue: the work queue (:class:`ConsumerQueue` or ``sqs.IQueue``).
    :param workers: :class:`Ec2Workers` or :class:`FargateWorkers`, by default with a
        :class:`WorkerJob` (your job, the library's worker program).
    :param vpc: Default: a new VPC (2 AZs, one NAT gateway, flow logs).
    :param availability_zones: the zones of the default VPC, e.g.
        ``["eu-west-1a", "eu-west-1b"]``; given here, the VPC is built without any lookup,
        so a stack pinned to an account and region synthesizes without credentials. Not
        with ``vpc``. Default: two zones of the stack's region, which in a stack pinned to
        an account and region CDK looks up with AWS credentials (a context lookup saved in
        ``cdk.context.json``).
    :param min_capacity: Default: 0 (scale to zero).
    :param max_capacity: Default: 10.
    :param acceptable_latency: how long a message may wait; with
        ``processing_time_per_message`` gives the target backlog per worker. Default: none
        (then give ``target_backlog_per_worker``).
    :param processing_time_per_message: average time a worker spends on one message.
        Default: none (then give ``target_backlog_per_worker``).
    :param target_backlog_per_worker: give the target directly instead of the two above
        (needed when either of them is a deploy-time token). Default: none (computed as
        ``acceptable_latency / processing_time_per_message``).
    :param environment: extra environment for the worker program (and the job). Default:
        none.
    :param log_retention: how long the workers' log group keeps their logs. Default: one
        month.
    :param alarms: alarm when the oldest message waits longer than ``acceptable_latency``
        (or 15 minutes) three minutes in a row. Default: True.
    :param alarm_topic: a standard SNS topic for the alarm's notifications. Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        queue: ConsumerQueue | sqs.IQueue,
        workers: Ec2Workers | FargateWorkers,
        **options: Unpack[QueueWorkerPoolOptions],
    ) -> None:
        super().__init__(scope, id)
        settings = self._validate(queue, workers, options)
        given = settings.options
        facts = queue_facts(queue)
        self.queue: sqs.IQueue = facts.queue
        """The work queue (a ConsumerQueue's ``queue``)."""
        self.consumer_queue: ConsumerQueue | None = facts.consumer_queue
        """The ConsumerQueue the pool works, when it was given as one."""
        self.target_backlog_per_worker: float = settings.target_backlog_per_worker
        """Messages visible per worker that target tracking keeps the pool at."""
        self.min_capacity: int = given["min_capacity"]
        self.max_capacity: int = given["max_capacity"]
        self._egress_routes: list[Construct] = []
        """The private subnets' routes to the NAT gateway of a VPC built in given zones."""
        self.vpc: ec2.IVpc
        """The VPC the workers run in (in its private subnets): given, or a new one."""
        self.role: iam.IRole
        """The workers' role: the instance role (EC2) or the task role (Fargate)."""
        self.grant_principal: iam.IGrantable
        """Grant the workers more with this (the workers' role)."""
        self.security_group: ec2.ISecurityGroup
        """The workers' security group: no inbound rules."""
        self.log_group: logs.LogGroup
        """Where the workers log."""
        self.workers_metric: cloudwatch.Metric
        """Workers in service (instances in service, running tasks)."""
        self.scaling_policy: CfnResource
        """The target tracking policy on backlog per worker (L1, with metric math)."""
        self.from_zero_policy: CfnResource
        """The step policy that sets the first capacity when work arrives at zero."""
        self.from_zero_alarm: cloudwatch.Alarm
        """The alarm that runs :attr:`from_zero_policy` (a scaling trigger, not a page)."""
        self.launch_template: ec2.LaunchTemplate | None = None
        """EC2 only: the workers' launch template (with their user data)."""
        self.auto_scaling_group: autoscaling.AutoScalingGroup | None = None
        """EC2 only: the workers' Auto Scaling group."""
        self.cluster: ecs.ICluster | None = None
        """Fargate only: the cluster the service runs in (given, or a new one)."""
        self.task_definition: ecs.FargateTaskDefinition | None = None
        """Fargate only: the workers' task definition."""
        self.service: ecs.FargateService | None = None
        """Fargate only: the workers' service."""
        self.scalable_target: appscaling.CfnScalableTarget | None = None
        """Fargate only: the service's desired count as an Application Auto Scaling target."""
        self.backlog_alarm: cloudwatch.Alarm | None = None
        """The latency alarm on the age of the oldest message (None with ``alarms=False``)."""

        self.vpc = given["vpc"] or self._new_vpc(settings.availability_zones)
        environment = self._worker_environment(facts, workers, given["environment"])
        if isinstance(workers, Ec2Workers):
            self._build_ec2_workers(workers, environment, given["log_retention"])
        else:
            self._build_fargate_workers(workers, environment, given["log_retention"])

        self.queue.grant_consume_messages(self.grant_principal)
        if given["alarms"]:
            self._add_latency_alarm(given["acceptable_latency"], given["alarm_topic"])

    # -- validate ------------------------------------------------------------------------

    def _validate(
        self,
        queue: ConsumerQueue | sqs.IQueue,
        workers: Ec2Workers | FargateWorkers,
        options: QueueWorkerPoolOptions,
    ) -> _Settings:
        """Every rule on the options, all problems raised together (wrong types first: the
        value rules read each value as its declared type)."""
        problems = Problems()
        settings = cast(
            QueueWorkerPoolOptions,
            settle(
                OPTIONS,
                options,
                problems,
                required={
                    "queue": (queue, ConsumerQueue | sqs.IQueue),
                    "workers": (workers, Ec2Workers | FargateWorkers),
                },
            ),
        )
        if isinstance(workers, Ec2Workers | FargateWorkers):
            _check_worker_types(problems, workers)
        problems.raise_if_any(self)

        _check_capacities(problems, settings["min_capacity"], settings["max_capacity"])
        target = _target_backlog(
            problems,
            settings["acceptable_latency"],
            settings["processing_time_per_message"],
            settings["target_backlog_per_worker"],
        )
        problems.check_alarm_topic("alarm_topic", settings["alarm_topic"])
        _check_workers(problems, workers)
        zones = self._check_network(problems, settings["vpc"], settings["availability_zones"])
        if settings["acceptable_latency"] is not None:
            problems.check_duration(
                "acceptable_latency",
                settings["acceptable_latency"],
                Duration.seconds(1),
                Duration.days(14),
            )
        problems.check_environment(
            "environment",
            settings["environment"],
            _worker_environment_rules(isinstance(workers, Ec2Workers)),
        )
        problems.raise_if_any(self)
        return _Settings(settings, target, zones)

    def _check_network(
        self, problems: Problems, vpc: ec2.IVpc | None, availability_zones: Sequence[str] | None
    ) -> list[str] | None:
        """A given VPC has private subnets; given zones are the region's; without either,
        the default VPC's zones can be had. The zones when given."""
        zones = _check_zones(problems, availability_zones, vpc, Stack.of(self).region)
        if vpc is not None and not vpc.private_subnets:
            problems.add(
                "vpc",
                vpc.node.path,
                "has no private subnets; the workers run in private subnets with egress (no "
                "public IP): give the VPC a PRIVATE_WITH_EGRESS subnet group, or leave the "
                "option out for a new VPC",
            )
        if vpc is None and availability_zones is None:
            self._check_zone_lookup(problems)
        return zones

    def _check_zone_lookup(self, problems: Problems) -> None:
        """The default VPC's zones can be had: the stack is environment-agnostic, or the
        zones are in the context, or the CDK CLI can look them up."""
        stack = Stack.of(self)
        if Token.is_unresolved(stack.account) or Token.is_unresolved(stack.region):
            return
        key = AZ_CONTEXT_KEY.format(account=stack.account, region=stack.region)
        # The CDK CLI sets CDK_DEFAULT_ACCOUNT only when it holds credentials; for the
        # stack's account it looks the zones up itself (and writes cdk.context.json).
        # Anywhere else the lookup cannot happen: an in-process synth would silently use
        # CDK's dummy zones, and the CLI without credentials fails naming neither the
        # pool nor the lookup.
        can_look_up = os.environ.get("CDK_DEFAULT_ACCOUNT") == stack.account
        if self.node.try_get_context(key) is not None or can_look_up:
            return
        problems.add(
            "availability_zones",
            None,
            "the default VPC needs two availability zones "
            f"of account {stack.account} region {stack.region}, which CDK looks "
            f"up with credentials for that account (context lookup {key!r}), and "
            "none are at hand. Pass availability_zones="
            f"['{stack.region}a', '{stack.region}b'] (no lookup at all); or add "
            f'the zones to cdk.context.json: {{"{key}": ["{stack.region}a", '
            f'"{stack.region}b", "{stack.region}c"]}}; or run `cdk synth` once '
            f"with credentials for account {stack.account}, which writes them "
            "there (commit the file)",
        )

    # -- build: the workers' settings and network ------------------------------------------

    def _worker_environment(
        self,
        facts: QueueFacts,
        workers: Ec2Workers | FargateWorkers,
        environment: Mapping[str, str] | None,
    ) -> dict[str, str]:
        """What every worker is told: the queue, its visibility timeout (the heartbeat),
        the job, then the user's own variables."""
        return {
            "QUEUE_URL": self.queue.queue_url,
            "VISIBILITY_TIMEOUT": self._visibility_seconds(facts),
            **({"WORKER_HANDLER": workers.job.handler} if workers.job is not None else {}),
            **(environment or {}),
        }

    def _visibility_seconds(self, facts: QueueFacts) -> str:
        """The queue's visibility timeout in seconds: known, a deploy-time token, or (when
        it cannot be read, with a warning) SQS's default."""
        visibility = facts.visibility_timeout
        if visibility is None:
            facts.warn_if_visibility_unknown(self, VISIBILITY_NEEDED)
            visibility = SQS_DEFAULT_VISIBILITY_TIMEOUT
        if visibility.is_unresolved():
            return Token.as_string(visibility.to_seconds())
        return str(int(visibility.to_seconds()))

    def _new_vpc(self, zones: list[str] | None) -> ec2.IVpc:
        """The default VPC: in ``zones`` when given, else two zones of the stack's region."""
        if zones is not None:
            return self._zoned_vpc(zones)
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=1,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC),
                ec2.SubnetConfiguration(
                    name="Workers", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
                ),
            ],
        )
        # The VPC's default security group is emptied by a CDK custom resource whose handler
        # both references and DependsOn its role; cfn-lint reports that redundancy (W3005).
        provider = Stack.of(self).node.try_find_child(
            "Custom::VpcRestrictDefaultSGCustomResourceProvider"
        )
        handler = provider.node.try_find_child("Handler") if provider is not None else None
        if isinstance(handler, CfnResource):
            handler.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                logs.LogGroup(self, "FlowLogGroup", retention=FLOW_LOG_RETENTION)
            ),
        )
        for subnet in (*vpc.public_subnets, *vpc.private_subnets):
            cfn_subnet = subnet.node.default_child
            if isinstance(cfn_subnet, ec2.CfnSubnet):
                _named_zone_is_intended(cfn_subnet)
        return vpc

    def _zoned_vpc(self, zones: list[str]) -> ec2.IVpc:
        """The default VPC's layout in ``zones``, from L1 resources.

        ``ec2.Vpc`` reads the stack's availability zones even when it is given its zones (to
        check them), and in a stack pinned to an account and region that read is a context
        lookup needing credentials. Here: one public and one private (egress through one NAT
        gateway) subnet per zone, flow logs, imported as an ``ec2.IVpc``.
        """
        network = self._zoned_network()
        blocks = _subnet_blocks(len(zones))
        public_ids: list[str] = []
        public_tables: list[str] = []
        private_ids: list[str] = []
        private_tables: list[str] = []
        nat: ec2.CfnNatGateway | None = None
        for index, zone in enumerate(zones, start=1):
            subnet, table, nat = self._public_subnet(
                network, index, zone, blocks[2 * index - 2], nat
            )
            public_ids.append(subnet.ref)
            public_tables.append(table.ref)
            subnet, table = self._private_subnet(network, index, zone, blocks[2 * index - 1], nat)
            private_ids.append(subnet.ref)
            private_tables.append(table.ref)
        imported = ec2.Vpc.from_vpc_attributes(
            network.scope,
            "Imported",
            vpc_id=network.vpc.ref,
            vpc_cidr_block=VPC_CIDR,
            availability_zones=zones,
            public_subnet_ids=public_ids,
            public_subnet_route_table_ids=public_tables,
            private_subnet_ids=private_ids,
            private_subnet_route_table_ids=private_tables,
        )
        ec2.FlowLog(
            network.scope,
            "FlowLog",
            resource_type=ec2.FlowLogResourceType.from_vpc(imported),
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                logs.LogGroup(self, "FlowLogGroup", retention=FLOW_LOG_RETENTION)
            ),
        )
        return imported

    def _zoned_network(self) -> _ZonedNetwork:
        """The zoned VPC itself and its internet gateway."""
        scope = Construct(self, "Vpc")
        vpc = ec2.CfnVPC(
            scope,
            "Resource",
            cidr_block=VPC_CIDR,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=[CfnTag(key="Name", value=scope.node.path)],
        )
        gateway = ec2.CfnInternetGateway(scope, "IGW")
        attachment = ec2.CfnVPCGatewayAttachment(
            scope, "VPCGW", vpc_id=vpc.ref, internet_gateway_id=gateway.ref
        )
        return _ZonedNetwork(scope, vpc, gateway, attachment)

    def _public_subnet(
        self,
        network: _ZonedNetwork,
        index: int,
        zone: str,
        block: str,
        nat: ec2.CfnNatGateway | None,
    ) -> tuple[ec2.CfnSubnet, ec2.CfnRouteTable, ec2.CfnNatGateway]:
        """A public subnet routed to the internet gateway; the first one holds the NAT
        gateway (returned: ``nat`` when there already is one)."""
        subnet_scope, subnet, table = _zoned_subnet(network, "Public", index, zone, block)
        route = ec2.CfnRoute(
            subnet_scope,
            "DefaultRoute",
            route_table_id=table.ref,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=network.gateway.ref,
        )
        route.node.add_dependency(network.attachment)
        if nat is None:
            address = ec2.CfnEIP(subnet_scope, "EIP", domain="vpc")
            nat = ec2.CfnNatGateway(
                subnet_scope,
                "NATGateway",
                subnet_id=subnet.ref,
                allocation_id=address.attr_allocation_id,
            )
            nat.node.add_dependency(route)
        return subnet, table, nat

    def _private_subnet(
        self, network: _ZonedNetwork, index: int, zone: str, block: str, nat: ec2.CfnNatGateway
    ) -> tuple[ec2.CfnSubnet, ec2.CfnRouteTable]:
        """A private (workers') subnet whose egress goes through ``nat``."""
        subnet_scope, subnet, table = _zoned_subnet(network, "Workers", index, zone, block)
        self._egress_routes.append(
            ec2.CfnRoute(
                subnet_scope,
                "DefaultRoute",
                route_table_id=table.ref,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nat.ref,
            )
        )
        return subnet, table

    # -- build: EC2 ----------------------------------------------------------------------

    def _build_ec2_workers(
        self, workers: Ec2Workers, settings: Mapping[str, str], log_retention: logs.RetentionDays
    ) -> None:
        """Instances of an Auto Scaling group that drain before they terminate."""
        role = self._instance_role()
        self.role = role
        self.grant_principal = role
        self.log_group = logs.LogGroup(self, "LogGroup", retention=log_retention)
        code = self._worker_code(workers, role)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=self.vpc,
            description=f"{self.node.path} workers: no inbound traffic",
            allow_all_outbound=True,
        )
        user_data = ec2.UserData.for_linux()
        self.launch_template = self._launch_template(workers, role, user_data)
        # Known names, so that the instances' user data and role can name the group and its
        # hook without referencing them (the group depends on the launch template).
        group_name = Names.unique_resource_name(self, max_length=255, separator="-")
        asg = self._auto_scaling_group(group_name, self.launch_template)
        self.auto_scaling_group = asg
        self._drain_hook(asg, role, group_name)
        self.log_group.grant_write(role)
        environment = {
            **settings,
            "WORKER_PLATFORM": "ec2",
            "AUTOSCALING_GROUP_NAME": group_name,
            "LIFECYCLE_HOOK_NAME": DRAIN_HOOK_NAME,
        }
        self._write_user_data(user_data, workers, code, environment)
        self._ec2_scaling(asg)

    def _instance_role(self) -> iam.Role:
        """The instances' role: Systems Manager (instead of SSH), nothing else yet."""
        ssm_core = iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore")
        role = iam.Role(
            self,
            "InstanceRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            managed_policies=[ssm_core],
            description=f"Worker instances of {self.node.path}",
        )
        acknowledge_managed_policy(
            role,
            ssm_core.managed_policy_arn,
            "Systems Manager Session Manager replaces SSH (no key pair, no inbound "
            "port); AmazonSSMManagedInstanceCore is the AWS-maintained minimum it needs "
            "and tracks new SSM API actions.",
        )
        return role

    def _worker_code(self, workers: Ec2Workers, role: iam.Role) -> s3_assets.Asset:
        """The program (and job) as one S3 asset that ``role`` may download."""
        if workers.job is not None:
            code_path = str(_stage_build(self, workers.job))
            exclude = [*BUILD_EXCLUDE, "Dockerfile", ".dockerignore"]
        else:
            code_path, exclude = str(workers.code_path), list(BUILD_EXCLUDE)
        code = s3_assets.Asset(self, "WorkerCode", path=code_path, exclude=exclude)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[code.bucket.arn_for_objects(code.s3_object_key)],
            )
        )
        return code

    def _launch_template(
        self, workers: Ec2Workers, role: iam.IRole, user_data: ec2.UserData
    ) -> ec2.LaunchTemplate:
        """Hardened instances: IMDSv2 only, one hop, detailed monitoring, encrypted gp3."""
        return ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            instance_type=workers.instance_type,
            machine_image=workers.machine_image
            or ec2.MachineImage.latest_amazon_linux2023(
                cpu_type=ec2.AmazonLinuxCpuType.ARM_64
                if workers.instance_type.architecture == ec2.InstanceArchitecture.ARM_64
                else ec2.AmazonLinuxCpuType.X86_64
            ),
            role=role,
            security_group=self.security_group,
            user_data=user_data,
            require_imdsv2=True,
            http_put_response_hop_limit=1,
            detailed_monitoring=True,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        8, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3
                    ),
                )
            ],
        )

    def _auto_scaling_group(
        self, group_name: str, launch_template: ec2.LaunchTemplate
    ) -> autoscaling.AutoScalingGroup:
        """The group, in the private subnets, publishing the counts the policies read."""
        asg = autoscaling.AutoScalingGroup(
            self,
            "Group",
            auto_scaling_group_name=group_name,
            vpc=self.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            launch_template=launch_template,
            min_capacity=self.min_capacity,
            max_capacity=self.max_capacity,
            group_metrics=[
                autoscaling.GroupMetrics(
                    autoscaling.GroupMetric.IN_SERVICE_INSTANCES,
                    autoscaling.GroupMetric.DESIRED_CAPACITY,
                )
            ],
            default_instance_warmup=Duration.minutes(2),
            cooldown=Duration.minutes(2),
        )
        Validations.of(asg).acknowledge(
            Acknowledgment(
                id="AwsSolutions-AS3",
                reason="A queue-driven pool scales many times an hour: a notification per "
                "launch or termination would be noise. The pool's latency alarm reports when "
                "scaling does not keep up, and the group's activity history records every event.",
            )
        )
        if self._egress_routes:
            asg.node.add_dependency(*self._egress_routes)
        return asg

    def _drain_hook(
        self, asg: autoscaling.AutoScalingGroup, role: iam.Role, group_name: str
    ) -> None:
        """The termination lifecycle hook, and the right of the instances to protect
        themselves and complete it, in this group only."""
        asg.add_lifecycle_hook(
            "Drain",
            lifecycle_hook_name=DRAIN_HOOK_NAME,
            lifecycle_transition=autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
            heartbeat_timeout=DRAIN_TIMEOUT,
            default_result=autoscaling.DefaultResult.CONTINUE,
        )
        group_arns = Stack.of(self).format_arn(
            service="autoscaling",
            resource="autoScalingGroup",
            resource_name=f"*:autoScalingGroupName/{group_name}",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "autoscaling:SetInstanceProtection",
                    "autoscaling:CompleteLifecycleAction",
                ],
                resources=[group_arns],
            )
        )
        acknowledge_wildcard_resource(
            role.node.find_child("DefaultPolicy"),
            group_arns,
            "An Auto Scaling group ARN contains a UUID assigned at creation; the "
            "wildcard stands only for it, the group name is fixed. Workers may only protect "
            "themselves and complete their own termination hook in this group.",
        )

    def _write_user_data(
        self,
        user_data: ec2.UserData,
        workers: Ec2Workers,
        code: s3_assets.Asset,
        environment: Mapping[str, str],
    ) -> None:
        zip_path = user_data.add_s3_download_command(
            bucket=code.bucket, bucket_key=code.s3_object_key, local_file="/tmp/queue-worker.zip"
        )
        env_lines = "\n".join(f"{k}={v}" for k, v in environment.items())
        packages = list(workers.packages)
        install_job_requirements: list[str] = []
        if workers.job is not None and (Path(workers.job.code_path) / "requirements.txt").is_file():
            packages.append("python3-pip")
            install_job_requirements.append(
                f"python3 -m pip install --no-cache-dir -r /opt/queue-worker/{JOB_REQUIREMENTS}"
            )
        user_data.add_commands(
            f"dnf install -y {' '.join(packages)}",
            "mkdir -p /opt/queue-worker",
            f"unzip -o {zip_path} -d /opt/queue-worker",
            *install_job_requirements,
            "useradd --system --no-create-home queue-worker || true",
            f"cat > /etc/queue-worker.env <<'ENV'\n{env_lines}\nENV",
            "cat > /etc/systemd/system/queue-worker.service <<'UNIT'\n"
            "[Unit]\nDescription=Queue worker\nAfter=network-online.target\n"
            "Wants=network-online.target\n[Service]\nUser=queue-worker\n"
            "WorkingDirectory=/opt/queue-worker\nEnvironmentFile=/etc/queue-worker.env\n"
            f"ExecStart=/usr/bin/env {workers.command}\nKillSignal=SIGTERM\n"
            f"TimeoutStopSec={int(FARGATE_STOP_TIMEOUT.to_seconds())}\nRestart=always\n"
            "[Install]\nWantedBy=multi-user.target\nUNIT",
            "systemctl daemon-reload",
            "systemctl enable --now queue-worker",
        )

    def _ec2_scaling(self, asg: autoscaling.AutoScalingGroup) -> None:
        metrics = PoolMetrics.of_auto_scaling_group(asg.auto_scaling_group_name)
        self.workers_metric = metrics.workers_in_service()
        scaling = autoscaling.CfnScalingPolicy
        self.scaling_policy = scaling(
            self,
            "BacklogPerWorkerScaling",
            auto_scaling_group_name=asg.auto_scaling_group_name,
            policy_type="TargetTrackingScaling",
            estimated_instance_warmup=120,
            target_tracking_configuration=scaling.TargetTrackingConfigurationProperty(
                target_value=self.target_backlog_per_worker,
                customized_metric_specification=scaling.CustomizedMetricSpecificationProperty(
                    metrics=self._target_tracking_metrics(scaling, "ec2")
                ),
            ),
        )
        from_zero = scaling(
            self,
            "FromZeroScaling",
            auto_scaling_group_name=asg.auto_scaling_group_name,
            policy_type="StepScaling",
            adjustment_type="ExactCapacity",
            step_adjustments=[
                scaling.StepAdjustmentProperty(
                    metric_interval_lower_bound=lower,
                    metric_interval_upper_bound=upper,
                    scaling_adjustment=capacity,
                )
                for lower, upper, capacity in self._from_zero_steps()
            ],
        )
        self.from_zero_policy = from_zero
        self._from_zero_alarm(metrics.desired_workers(), from_zero.attr_arn)

    # -- build: Fargate ------------------------------------------------------------------

    def _build_fargate_workers(
        self,
        workers: FargateWorkers,
        settings: Mapping[str, str],
        log_retention: logs.RetentionDays,
    ) -> None:
        """Tasks of an ECS service that protect themselves while they hold a message."""
        cluster = workers.cluster or ecs.Cluster(
            self, "Cluster", vpc=self.vpc, container_insights_v2=ecs.ContainerInsights.ENABLED
        )
        self.cluster = cluster
        task = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            cpu=workers.cpu,
            memory_limit_mib=workers.memory_limit_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        self.task_definition = task
        self.role = task.task_role
        self.grant_principal = task.task_role
        self.log_group = logs.LogGroup(self, "LogGroup", retention=log_retention)
        self._worker_container(task, workers, settings)
        service = self._fargate_service(cluster, task)
        self.service = service
        self.security_group = service.connections.security_groups[0]
        self._task_protection(task, cluster)
        self._fargate_scaling(cluster, service)

    def _worker_container(
        self, task: ecs.FargateTaskDefinition, workers: FargateWorkers, settings: Mapping[str, str]
    ) -> None:
        """The worker's container: read-only root, logs kept, 120 s to drain on SIGTERM."""
        task.add_container(
            "Worker",
            image=_worker_image(self, workers),
            environment={**settings, "WORKER_PLATFORM": "ecs"},
            logging=ecs.LogDrivers.aws_logs(stream_prefix="worker", log_group=self.log_group),
            stop_timeout=FARGATE_STOP_TIMEOUT,
            readonly_root_filesystem=True,
        )
        Validations.of(task).acknowledge(
            Acknowledgment(
                id="AwsSolutions-ECS2",
                reason="The environment holds only the queue URL, the visibility timeout and "
                "resource names the worker needs; no secret is passed (credentials come from "
                "the task role).",
            )
        )

    def _fargate_service(
        self, cluster: ecs.ICluster, task: ecs.FargateTaskDefinition
    ) -> ecs.FargateService:
        """The service, in the private subnets without public IPs; scaling sets its count."""
        service = ecs.FargateService(
            self,
            "Service",
            cluster=cluster,
            task_definition=task,
            desired_count=self.min_capacity,
            min_healthy_percent=0,
            max_healthy_percent=200,
            assign_public_ip=False,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
        )
        if self._egress_routes:
            service.node.add_dependency(*self._egress_routes)
        return service

    def _task_protection(self, task: ecs.FargateTaskDefinition, cluster: ecs.ICluster) -> None:
        """The tasks' right to set their own scale-in protection, in this cluster only."""
        task_arns = Stack.of(self).format_arn(
            service="ecs", resource="task", resource_name=f"{cluster.cluster_name}/*"
        )
        task.task_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:UpdateTaskProtection", "ecs:GetTaskProtection"],
                resources=[task_arns],
            )
        )
        acknowledge_wildcard_resource(
            task.task_role,
            task_arns,
            "Task ids are assigned when ECS starts a task; the wildcard stands only "
            "for them, within this pool's cluster. A task may only set its own scale-in "
            "protection.",
        )
        if task.execution_role is not None:
            Validations.of(task.execution_role).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-IAM5[Resource::*]",
                    reason="ecr:GetAuthorizationToken, which pulling the worker image needs, "
                    "supports no resource-level permissions; the image pull itself is scoped "
                    "to the image's repository.",
                )
            )

    def _fargate_scaling(self, cluster: ecs.ICluster, service: ecs.FargateService) -> None:
        metrics = PoolMetrics.of_fargate_service(cluster.cluster_name, service.service_name)
        self.workers_metric = metrics.workers_in_service()
        scalable_target = appscaling.CfnScalableTarget(
            self,
            "ScalableTarget",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=f"service/{cluster.cluster_name}/{service.service_name}",
            min_capacity=self.min_capacity,
            max_capacity=self.max_capacity,
        )
        self.scalable_target = scalable_target
        scaling = appscaling.CfnScalingPolicy
        self.scaling_policy = scaling(
            self,
            "BacklogPerWorkerScaling",
            policy_name="backlog-per-worker",
            policy_type="TargetTrackingScaling",
            scaling_target_id=scalable_target.ref,
            target_tracking_scaling_policy_configuration=scaling.TargetTrackingScalingPolicyConfigurationProperty(
                target_value=self.target_backlog_per_worker,
                # New tasks show in the metric only after they start (~1 min) and the
                # metrics catch up (~2 min); a shorter cooldown multiplies capacity by a
                # stale backlog per worker (benchmarks/scaling_sim.py: 32 workers on
                # average instead of 4 at 60 s).
                scale_out_cooldown=SCALE_OUT_COOLDOWN_SECONDS,
                scale_in_cooldown=120,
                customized_metric_specification=scaling.CustomizedMetricSpecificationProperty(
                    metrics=self._target_tracking_metrics(scaling, "ecs")
                ),
            ),
        )
        from_zero = self._fargate_from_zero_policy(scalable_target)
        self.from_zero_policy = from_zero
        self._from_zero_alarm(metrics.desired_workers(), from_zero.ref)  # Ref is the policy ARN

    def _fargate_from_zero_policy(
        self, scalable_target: appscaling.CfnScalableTarget
    ) -> appscaling.CfnScalingPolicy:
        scaling = appscaling.CfnScalingPolicy
        return scaling(
            self,
            "FromZeroScaling",
            policy_name="from-zero",
            policy_type="StepScaling",
            scaling_target_id=scalable_target.ref,
            step_scaling_policy_configuration=scaling.StepScalingPolicyConfigurationProperty(
                adjustment_type="ExactCapacity",
                cooldown=60,
                step_adjustments=[
                    scaling.StepAdjustmentProperty(
                        metric_interval_lower_bound=lower,
                        metric_interval_upper_bound=upper,
                        scaling_adjustment=capacity,
                    )
                    for lower, upper, capacity in self._from_zero_steps()
                ],
            ),
        )

    # -- build: scaling pieces shared by both compute options ------------------------------

    def _backlog_queries(self) -> list[_Query]:
        """``visible / workers`` (a worker count of 0 counts as 1: the backlog itself)."""
        return [
            _Query("visible", metric=BacklogMetrics(self.queue).messages_visible()),
            _Query("workers", metric=self.workers_metric),
            _Query(
                "backlog_per_worker",
                expression=BACKLOG_PER_WORKER,
                label="Messages visible per worker in service",
                return_data=True,
            ),
        ]

    def _target_tracking_metrics(self, scaling: Any, kind: str) -> list[Any]:
        """:meth:`_backlog_queries` as the L1 properties of ``scaling``'s module.

        EC2 Auto Scaling and Application Auto Scaling spell the same structure with different
        class names for the metric and its dimensions.
        """
        metric_cls = (
            scaling.MetricProperty if kind == "ec2" else scaling.TargetTrackingMetricProperty
        )
        dimension_cls = (
            scaling.MetricDimensionProperty
            if kind == "ec2"
            else scaling.TargetTrackingMetricDimensionProperty
        )
        return [
            scaling.TargetTrackingMetricDataQueryProperty(
                id=query.id,
                expression=query.expression,
                label=query.label,
                return_data=query.return_data,
                metric_stat=None
                if query.metric is None
                else scaling.TargetTrackingMetricStatProperty(
                    stat=query.metric.statistic,
                    metric=metric_cls(
                        namespace=query.metric.namespace,
                        metric_name=query.metric.metric_name,
                        dimensions=[
                            dimension_cls(name=k, value=v)
                            for k, v in (query.metric.dimensions or {}).items()
                        ],
                    ),
                ),
            )
            for query in self._backlog_queries()
        ]

    def _from_zero_steps(self) -> list[tuple[float, float | None, int]]:
        """(lower, upper, capacity) bands on the from-zero alarm metric, relative to 1.

        The alarm fires at 1 message visible while no worker is wanted; each band sets the
        capacity whose backlog per worker is near the target: 1, 2, 4, … workers, the last
        band ``max_capacity``.
        """
        capacities: list[int] = []
        n = 1
        while n < self.max_capacity and len(capacities) < MAX_FROM_ZERO_STEPS - 1:
            capacities.append(n)
            n *= 2
        capacities.append(self.max_capacity)
        if Token.is_unresolved(self.target_backlog_per_worker):
            # The target is known at deploy time only: start one worker, and let target
            # tracking size the pool from there.
            return [(0.0, None, 1)]
        steps: list[tuple[float, float | None, int]] = []
        lower = 0.0
        for capacity in capacities[:-1]:
            upper = float(math.ceil(capacity * self.target_backlog_per_worker))
            steps.append((lower, upper, capacity))
            lower = upper
        steps.append((lower, None, capacities[-1]))
        return steps

    def _from_zero_alarm(self, desired: cloudwatch.Metric, policy_arn: str) -> None:
        """Alarm at 1 on messages visible while the desired capacity is zero (else 0)."""
        self.from_zero_alarm = cloudwatch.Alarm(
            self,
            "FromZeroAlarm",
            metric=BacklogMetrics(self.queue).while_no_worker_is_wanted(desired),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"{self.node.path}: work arrived while the pool is at zero",
        )
        self.from_zero_alarm.add_alarm_action(_ScalingPolicyAction(policy_arn))

    # -- wire ----------------------------------------------------------------------------

    def _add_latency_alarm(
        self, acceptable_latency: Duration | None, alarm_topic: sns.ITopic | None
    ) -> None:
        """Alarm when messages wait longer than ``acceptable_latency`` (or 15 minutes)."""
        threshold = (
            DEFAULT_LATENCY_ALARM_THRESHOLD if acceptable_latency is None else acceptable_latency
        )
        waited = "acceptable_latency" if threshold.is_unresolved() else threshold.to_human_string()
        self.backlog_alarm = monitoring.oldest_message_age_alarm(
            self,
            "LatencyAlarm",
            metric=self.metric_approximate_age_of_oldest_message(),
            threshold=threshold,
            description=f"{self.node.path}: messages wait longer than {waited}; the pool is at "
            "max capacity or stuck",
        )
        monitoring.notify(self.backlog_alarm, alarm_topic)

    # -- metrics -------------------------------------------------------------------------

    def metric_backlog_per_worker(
        self, *, period: Duration = ALARM_PERIOD, statistic: str = SUM
    ) -> cloudwatch.MathExpression:
        """The scaling metric: messages visible (``statistic``) per worker in service.
        Default: the Sum of messages visible over 1 minute."""
        return BacklogMetrics(self.queue).per_worker(
            self.workers_metric, period=period, statistic=statistic
        )

    def metric_approximate_age_of_oldest_message(
        self, **options: Unpack[MetricOptions]
    ) -> cloudwatch.Metric:
        """Age of the oldest message in the work queue. Default: Maximum over 1 minute."""
        return metric_of(self, self.queue, "ApproximateAgeOfOldestMessage", options)


RESERVED_ENVIRONMENT = frozenset(
    {
        "QUEUE_URL",
        "VISIBILITY_TIMEOUT",
        "WORKER_HANDLER",
        "WORKER_PLATFORM",
        "AUTOSCALING_GROUP_NAME",
        "LIFECYCLE_HOOK_NAME",
        "ECS_AGENT_URI",
    }
)
"""Variables the pool (or ECS) sets for the worker program; a user value would break it."""
MAX_EC2_ENVIRONMENT_BYTES = 8192
"""EC2 passes the environment in the instances' user data, which EC2 limits to 16 KB (raw);
half of it is left to the pool's own boot script."""
_ENVIRONMENT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _worker_environment_rules(ec2_workers: bool) -> EnvironmentRules:
    """Names a shell and the worker accept, none the pool sets itself, values on one line
    (the EC2 environment file holds one variable a line), and room in EC2's user data."""
    return EnvironmentRules(
        reserved=RESERVED_ENVIRONMENT,
        reserved_reason="is set by the pool for the worker program (queue, visibility "
        "timeout, job, platform); a value of yours would break it: rename the variable",
        name=_ENVIRONMENT_NAME,
        name_rule="letters, digits and underscores, not starting with a digit",
        max_bytes=MAX_EC2_ENVIRONMENT_BYTES if ec2_workers else None,
        size_reason="on EC2 they travel in the instances' user data, which EC2 limits to "
        f"16 KB, so the pool allows {MAX_EC2_ENVIRONMENT_BYTES}",
        one_line=True,
    )


def _named_zone_is_intended(subnet: ec2.CfnSubnet) -> None:
    """A subnet of a pinned stack names its zone (given, or from cdk.context.json): that is
    what cfn-lint's W3010 ("avoid hardcoding availability zones") flags. Acknowledged on the
    subnet only; in an environment-agnostic stack the zone is ``Fn::GetAZs`` and nothing is
    flagged."""
    subnet.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3010"]}})


def _subnet_blocks(zone_count: int) -> list[str]:
    """:data:`VPC_CIDR` cut into equal blocks, two per zone (public, private)."""
    network = ipaddress.ip_network(VPC_CIDR)
    prefix = network.prefixlen + max(1, math.ceil(math.log2(2 * zone_count)))
    return [str(block) for block in network.subnets(new_prefix=prefix)]


def _zoned_subnet(
    network: _ZonedNetwork, kind: str, index: int, zone: str, block: str
) -> tuple[Construct, ec2.CfnSubnet, ec2.CfnRouteTable]:
    """A subnet of the zoned VPC with its own route table (no routes yet), in its own scope
    ``<kind>Subnet<index>`` as ``ec2.Vpc`` names them."""
    subnet_scope = Construct(network.scope, f"{kind}Subnet{index}")
    subnet = ec2.CfnSubnet(
        subnet_scope,
        "Subnet",
        vpc_id=network.vpc.ref,
        cidr_block=block,
        availability_zone=zone,
        map_public_ip_on_launch=False,
        tags=[CfnTag(key="Name", value=subnet_scope.node.path)],
    )
    _named_zone_is_intended(subnet)
    table = ec2.CfnRouteTable(subnet_scope, "RouteTable", vpc_id=network.vpc.ref)
    ec2.CfnSubnetRouteTableAssociation(
        subnet_scope,
        "RouteTableAssociation",
        subnet_id=subnet.ref,
        route_table_id=table.ref,
    )
    return subnet_scope, subnet, table


def _worker_image(scope: Construct, workers: FargateWorkers) -> ecs.ContainerImage:
    """Your image, or the worker program and your job built into one (linux/arm64).

    Exactly one of ``image`` and ``job`` is given (a rule of :func:`_check_workers`).
    """
    if workers.job is None:
        return cast(ecs.ContainerImage, workers.image)
    return ecs.ContainerImage.from_asset(
        str(_stage_build(scope, workers.job)),
        platform=ecr_assets.Platform.LINUX_ARM64,
        exclude=list(BUILD_EXCLUDE),
    )


@dataclass(frozen=True)
class _Query:
    id: str
    metric: cloudwatch.Metric | None = None
    expression: str | None = None
    label: str | None = None
    return_data: bool = False


# -- validation helpers -------------------------------------------------------------------

_FOLDER: Any = str | os.PathLike
"""A folder option: a path string (or a ``pathlib.Path``)."""


def _check_worker_types(problems: Problems, workers: Ec2Workers | FargateWorkers) -> None:
    """Each field of ``workers`` (and of its job) is of its declared type."""
    fields: list[tuple[str, object, Any, str | None]] = [
        ("job", workers.job, WorkerJob | None, "WorkerJob(code_path=..., handler=...)")
    ]
    if isinstance(workers, Ec2Workers):
        fields += [
            ("code_path", workers.code_path, _FOLDER | None, "a folder path (str)"),
            ("command", workers.command, str, None),
            ("instance_type", workers.instance_type, ec2.InstanceType, None),
            ("machine_image", workers.machine_image, ec2.IMachineImage | None, None),
            ("packages", workers.packages, Sequence[str], "a tuple of dnf package names"),
        ]
    else:
        fields += [
            ("image", workers.image, ecs.ContainerImage | None, None),
            ("cpu", workers.cpu, int, None),
            ("memory_limit_mib", workers.memory_limit_mib, int, None),
            ("cluster", workers.cluster, ecs.ICluster | None, None),
        ]
    if isinstance(workers.job, WorkerJob):
        fields += [
            ("job.code_path", workers.job.code_path, _FOLDER, "a folder path (str)"),
            ("job.handler", workers.job.handler, str, "a str, module.function"),
        ]
    for name, value, hint, what in fields:
        check_type(problems, f"workers.{name}", value, hint, what)


def _check_capacities(problems: Problems, min_capacity: int, max_capacity: int) -> None:
    problems.check_int("min_capacity", min_capacity, 0, 10_000)
    problems.check_int("max_capacity", max_capacity, 1, 10_000)
    if (
        isinstance(min_capacity, int)
        and isinstance(max_capacity, int)
        and not Token.is_unresolved(min_capacity)
        and not Token.is_unresolved(max_capacity)
        and min_capacity > max_capacity
    ):
        problems.add("min_capacity", min_capacity, f"must not exceed max_capacity ({max_capacity})")


def _target_backlog(
    problems: Problems,
    acceptable_latency: Duration | None,
    processing_time: Duration | None,
    target: float | None,
) -> float:
    """The target backlog per worker: given, or ``acceptable_latency / processing_time``
    (1.0 stands in where a problem was added)."""
    if target is not None:
        return _given_target(problems, target, acceptable_latency, processing_time)
    if acceptable_latency is None or processing_time is None:
        problems.add(
            "acceptable_latency" if acceptable_latency is None else "processing_time_per_message",
            None,
            "the pool needs acceptable_latency and processing_time_per_message (or "
            "target_backlog_per_worker) to compute its target backlog per worker",
        )
        return 1.0
    return _computed_target(problems, acceptable_latency, processing_time)


def _given_target(
    problems: Problems,
    target: float,
    acceptable_latency: Duration | None,
    processing_time: Duration | None,
) -> float:
    if not problems.check_finite("target_backlog_per_worker", target):
        return 1.0
    pair_has_token = (
        acceptable_latency is not None and known_seconds(acceptable_latency) is None
    ) or (processing_time is not None and known_seconds(processing_time) is None)
    given_pair = acceptable_latency is not None or processing_time is not None
    # With a deploy-time token in the pair the target cannot be computed: then the
    # target is what counts, and acceptable_latency still sets the latency alarm.
    if given_pair and not pair_has_token:
        problems.add(
            "target_backlog_per_worker",
            target,
            "give either target_backlog_per_worker or acceptable_latency with "
            "processing_time_per_message, not both",
        )
        return 1.0
    if not Token.is_unresolved(target) and target <= 0:
        problems.add("target_backlog_per_worker", target, "must be greater than 0")
    return target


def _computed_target(
    problems: Problems, acceptable_latency: Duration, processing_time: Duration
) -> float:
    latency = known_seconds(acceptable_latency)
    per_message = known_seconds(processing_time)
    if latency is None or per_message is None:
        option, value = (
            ("acceptable_latency", acceptable_latency)
            if latency is None
            else ("processing_time_per_message", processing_time)
        )
        problems.add(
            option,
            value,
            "is a deploy-time token, so the target backlog per worker (acceptable_latency "
            "/ processing_time_per_message) cannot be computed at synth: also pass "
            "target_backlog_per_worker (a number, or a token such as "
            "CfnParameter(...).value_as_number)",
        )
        return 1.0
    if per_message <= 0:
        problems.add("processing_time_per_message", processing_time, "must be greater than 0")
        return 1.0
    if latency < per_message:
        problems.add(
            "acceptable_latency",
            acceptable_latency,
            f"is shorter than processing_time_per_message "
            f"({processing_time.to_human_string()}): no number of workers can meet it",
        )
        return 1.0
    return latency / per_message


_ZONE_NAME = re.compile(r"^(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)[a-z]$")


def _check_zones(
    problems: Problems, zones: Sequence[str] | None, vpc: ec2.IVpc | None, region: str
) -> list[str] | None:
    """``availability_zones`` as a list, checked (tokens skipped); None when not given."""
    if zones is None:
        return None
    listed = list(zones)
    if vpc is not None:
        problems.add(
            "availability_zones",
            listed,
            "sets the zones of the default VPC only; with vpc, the workers use that VPC's "
            "private subnets: give one of the two",
        )
        return None
    if not listed:
        problems.add("availability_zones", listed, "must name at least one zone")
        return None
    known = [zone for zone in listed if not Token.is_unresolved(zone)]
    if any(not zone for zone in known):
        problems.add("availability_zones", listed, "must hold zone names (strings)")
        return None
    for zone in known:
        match = _ZONE_NAME.match(zone)
        if match is None:
            problems.add(
                "availability_zones",
                zone,
                "is not a zone name such as 'eu-west-1a' (zone ids such as 'euw1-az1' are not "
                "accepted where a subnet names its zone)",
            )
        elif (
            not Token.is_unresolved(region)
            and match.group("region") != region
            and not match.group("region").startswith(f"{region}-")  # a Local Zone
        ):
            problems.add(
                "availability_zones",
                zone,
                f"is a zone of {match.group('region')}, but the stack is in {region}",
            )
    duplicates = sorted({zone for zone in known if known.count(zone) > 1})
    if duplicates:
        problems.add(
            "availability_zones",
            listed,
            f"names {', '.join(duplicates)} more than once; each zone gets one subnet of each kind",
        )
    return listed


FARGATE_MEMORY = {
    256: range(512, 2049, 512),
    512: range(1024, 4097, 1024),
    1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024),
    4096: range(8192, 30721, 1024),
    8192: range(16384, 61441, 4096),
    16384: range(32768, 122881, 8192),
}
"""The CPU units Fargate offers (Linux) and the memory (MiB) it allows with each."""


def _check_fargate_size(problems: Problems, workers: FargateWorkers) -> None:
    cpu, memory = workers.cpu, workers.memory_limit_mib
    finite = [
        problems.check_finite(f"workers.{n}", v)
        for n, v in (("cpu", cpu), ("memory_limit_mib", memory))
    ]
    if not all(finite) or Token.is_unresolved(cpu) or Token.is_unresolved(memory):
        return
    if cpu not in FARGATE_MEMORY:
        problems.add(
            "workers.cpu",
            cpu,
            f"Fargate offers {', '.join(map(str, FARGATE_MEMORY))} CPU units",
        )
        return
    allowed = FARGATE_MEMORY[cpu]
    if memory not in allowed:
        problems.add(
            "workers.memory_limit_mib",
            memory,
            f"with cpu={cpu} Fargate allows {allowed.start} to {allowed.stop - 1} MiB in steps "
            f"of {allowed.step}",
        )


def _check_workers(problems: Problems, workers: Ec2Workers | FargateWorkers) -> None:
    """Exactly one of job and the own program (``code_path``, ``image``); a usable job."""
    if isinstance(workers, FargateWorkers):
        _check_fargate_size(problems, workers)
    own_name = "code_path" if isinstance(workers, Ec2Workers) else "image"
    own = workers.code_path if isinstance(workers, Ec2Workers) else workers.image
    kind = type(workers).__name__
    if (workers.job is None) == (own is None):
        problems.add(
            f"workers.{own_name}" if workers.job is not None else "workers.job",
            own if workers.job is not None else None,
            f"{kind} takes exactly one of job=WorkerJob(code_path=..., handler=...) (your "
            f"job, run by the library's worker program) and {own_name}= (your own "
            f"{'program' if own_name == 'code_path' else 'image'}); "
            f"{'both were' if workers.job is not None else 'neither was'} given",
        )
        return
    if workers.job is not None:
        _check_job(problems, workers.job)
    elif isinstance(workers, Ec2Workers) and not Path(str(workers.code_path)).is_dir():
        problems.add("workers.code_path", workers.code_path, "must be a folder")


def _check_job(problems: Problems, job: WorkerJob) -> None:
    folder = Path(job.code_path)
    if not folder.is_dir():
        problems.add("workers.job.code_path", job.code_path, "must be a folder holding the job")
        return
    if not HANDLER_PATTERN.match(job.handler):
        problems.add(
            "workers.job.handler",
            job.handler,
            "must be module.function, like 'jobs.handler' (a module of code_path)",
        )
        return
    module = job.handler.rpartition(".")[0].replace(".", "/")
    if not (folder / f"{module}.py").is_file() and not (folder / module / "__init__.py").is_file():
        problems.add(
            "workers.job.handler",
            job.handler,
            f"names module {job.handler.rpartition('.')[0]!r}, but code_path {job.code_path} "
            f"has no {module}.py",
        )
    clashes = sorted(
        name
        for name in _job_files(folder)
        if name in PROGRAM_FILES[:2] + PROGRAM_FILES[3:] + (JOB_REQUIREMENTS,)
    )
    if clashes:
        problems.add(
            "workers.job.code_path",
            job.code_path,
            f"holds {', '.join(clashes)}, which the worker program's build folder already "
            "has: rename them",
        )


def _excluded(relative: Path) -> bool:
    return any(
        fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in BUILD_EXCLUDE
    )


def _job_files(folder: Path) -> dict[str, Path]:
    """The files of ``folder`` by relative path (POSIX), sorted, without caches."""
    found = {
        path.relative_to(folder).as_posix(): path
        for path in folder.rglob("*")
        if path.is_file() and not _excluded(path.relative_to(folder))
    }
    return dict(sorted(found.items()))


def _build_files(job: WorkerJob) -> dict[str, Path]:
    """What the worker's build folder holds: the program, then the job (its requirements.txt
    as ``job-requirements.txt``)."""
    files = {name: WORKER_PROGRAM / name for name in PROGRAM_FILES}
    for name, path in _job_files(Path(job.code_path)).items():
        files[JOB_REQUIREMENTS if name == "requirements.txt" else name] = path
    return files


def _stage_build(scope: Construct, job: WorkerJob) -> Path:
    """One folder with the worker program and the job, for an image build or an S3 asset.

    A Docker build has one context, so the packaged program and the user's job folder are
    copied together. The folder is named by a digest of the files' names and contents (never
    their times, never ``__pycache__``), so the same sources give the same folder and the
    same asset hash wherever and whenever the library was installed. It lives under the
    App's output folder (``cdk.out/queue-worker-builds/``): the asset manifest points at it
    when asset staging is off, and ``cdk deploy`` builds the image from the staged copy after
    synth, when a temporary folder could be gone.
    """
    files = _build_files(job)
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
