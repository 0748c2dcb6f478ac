"""QueueWorkerPool: a fleet of workers that drains a queue (or several, in priority order) and
scales on backlog per worker.

AWS recommends scaling queue workers on *backlog per worker* — messages visible divided by
workers in service — tracked against ``acceptable_latency / processing_time_per_message``.
Here the backlog also counts the messages in flight (being worked): with the visible ones
alone, a pool that keeps up with a steady stream reads 0 and is scaled to zero under its work.
aws-cdk-lib's target tracking rejects the metric math this needs (aws-cdk#20659), so the
policies here are the L1 ``CfnScalingPolicy`` resources with ``CustomizedMetricSpecification``.
Target tracking cannot scale out from zero workers (its new capacity is proportional to the
current one), so a step policy sets the first capacity whenever messages are visible while the
desired capacity is zero.

The worker program (``runtime/queue_worker``: the loop, heartbeats, scale-in protection,
draining) ships in the package; the job is the user's code (:class:`WorkerJob`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, TypeVar, Unpack

import jsii
from aws_cdk import (
    Acknowledgment,
    ArnFormat,
    CfnResource,
    CfnTag,
    Duration,
    Names,
    Stack,
    Token,
    Validations,
)
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ._private import monitoring
from ._private.metrics import SUM, MetricOptions, metric_of, settled_metric_options
from ._private.nag import acknowledge_managed_policy, acknowledge_wildcard_resource
from ._private.options import Declared
from ._private.queue_facts import SQS_DEFAULT_VISIBILITY_TIMEOUT, QueueFacts
from ._private.validation import Problems, known_seconds, unresolved
from ._private.worker_build import BUILD_EXCLUDE, JOB_REQUIREMENTS, stage_build, worker_image
from ._private.worker_metrics import BacklogMetrics, PoolMetrics
from ._private.worker_network import (
    VPC_CIDR,
    ZonedNetwork,
    named_zone_is_intended,
    subnet_blocks,
    zoned_subnet,
)
from ._private.worker_rules import (
    DEFAULT_PRIORITY_STARVATION_LIMIT,
    check_capacities,
    check_starvation_limit,
    check_worker_types,
    check_workers,
    check_zones,
    target_backlog,
    worked_queues,
    worker_environment_rules,
)
from .consumer_queue import ConsumerQueue
from .workers import Ec2Workers, FargateWorkers

_Adjustment = TypeVar("_Adjustment")

WORKER_WAIT_TIME_SECONDS = 20
"""How long the worker program long-polls unless told otherwise (``WAIT_TIME_SECONDS``)."""


def _wait_time(facts: QueueFacts) -> dict[str, str]:
    """``WAIT_TIME_SECONDS`` for a ConsumerQueue that long-polls less than the workers would
    (1..19 s); nothing otherwise (0 s, short polling, would make idle workers spin)."""
    wait = facts.consumer_queue.receive_message_wait_time if facts.consumer_queue else None
    seconds = None if wait is None else known_seconds(wait)
    if seconds is None or not 1 <= seconds < WORKER_WAIT_TIME_SECONDS:
        return {}
    return {"WAIT_TIME_SECONDS": str(int(seconds))}


AZ_CONTEXT_KEY = "availability-zones:account={account}:region={region}"
FLOW_LOG_RETENTION = logs.RetentionDays.ONE_MONTH
"""How long the default VPC's flow logs are kept."""


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
SURPLUS_DATAPOINTS = 3
"""Minutes in a row the workers must outnumber twice the backlog before the surplus policy
shrinks the pool (target tracking waits 15)."""
SURPLUS_COOLDOWN_SECONDS = 120


class QueueWorkerPoolOptions(TypedDict, total=False):
    """The options of :class:`QueueWorkerPool` other than ``queue``, ``queues`` and ``workers``,
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
    priority_starvation_limit: int


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
        priority_starvation_limit=DEFAULT_PRIORITY_STARVATION_LIMIT,
    ),
    expected={
        "queue": "the work queue: a ConsumerQueue (e.g. FanoutTopic.add_queue_consumer(...)) "
        "or an sqs.IQueue",
        "queues": "a list of work queues, highest priority first, each a ConsumerQueue or an "
        "sqs.IQueue",
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
    queues: list[QueueFacts]
    """The worked queues, highest priority first (one for ``queue``)."""
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


class QueueWorkerPool(Construct):
    """Workers that drain ``queue`` (or ``queues``, in priority order), scaled on backlog per
    worker, safe on scale-in.

    * Priority: ``queues=[high, low]`` instead of ``queue=...``. Each worker takes from a lower
      queue only when every higher one returned nothing (strict priority), with a starvation
      guard: after ``priority_starvation_limit`` messages from higher queues in a row, a
      worker asks the lower queue first once. When every queue is empty it long-polls the
      highest queue only, so a high-priority job never waits behind a long poll on a low one.
      The pool scales on the combined backlog (the sum of every queue's messages waiting and
      in flight) per worker, from zero as with one queue. Each queue keeps its own redrive
      policy and DLQ; the pool adds a latency alarm per queue. The queues must be all
      standard or all FIFO, share one visibility timeout, and be in the pool's region.

    * Scaling: target tracking on ``(ApproximateNumberOfMessagesVisible +
      ApproximateNumberOfMessagesNotVisible) / workers in service`` (metric math in the L1
      policy: messages waiting or being worked, per worker) at ``target_backlog_per_worker`` =
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
    * Least privilege: consume rights on the queue(s) (and decrypt on their keys), scale-in
      protection of its own workers, nothing else; grant more with :attr:`grant_principal`.
    * EC2: private subnets without inbound rules, IMDSv2 required, encrypted volumes,
      detailed monitoring, Systems Manager instead of SSH. Fargate: Container Insights,
      logs in a log group with retention.

    The workers are told the queue's visibility timeout (``VISIBILITY_TIMEOUT``, their
    heartbeat); for a queue whose timeout cannot be read at synth (imported by ARN, say)
    they are told SQS's default, 30 seconds, and synth warns. They long-poll 20 seconds, or
    a :class:`ConsumerQueue`'s shorter ``receive_message_wait_time`` of 1 second or more
    (``WAIT_TIME_SECONDS``; never short polling, which would spin on an empty queue).

    :param queue: the work queue (:class:`ConsumerQueue` or ``sqs.IQueue``). Give this or
        ``queues``.
    :param queues: several work queues, highest priority first (each a
        :class:`ConsumerQueue` or ``sqs.IQueue``; at most 4). Give this or ``queue``.
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
    :param priority_starvation_limit: with ``queues``, after this many messages in a row
        from higher queues a worker asks each lower queue first once, so a lower queue with
        work gets at least one message in every limit + 1 a worker takes; 0 is pure strict
        priority (a lower queue waits while any higher one has work). Default: 20.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workers: Ec2Workers | FargateWorkers,
        queue: ConsumerQueue | sqs.IQueue | None = None,
        queues: Sequence[ConsumerQueue | sqs.IQueue] | None = None,
        **options: Unpack[QueueWorkerPoolOptions],
    ) -> None:
        super().__init__(scope, id)
        settings = self._validate(queue, queues, workers, options)
        given = settings.options
        facts = settings.queues[0]
        self.queues: list[sqs.IQueue] = [f.queue for f in settings.queues]
        """The work queues, highest priority first (one when given ``queue``)."""
        self.consumer_queues: list[ConsumerQueue | None] = [
            f.consumer_queue for f in settings.queues
        ]
        """For each of :attr:`queues`, the ConsumerQueue it was given as, or None."""
        self.queue: sqs.IQueue = facts.queue
        """The work queue (a ConsumerQueue's ``queue``); with ``queues``, the highest."""
        self.consumer_queue: ConsumerQueue | None = facts.consumer_queue
        """The ConsumerQueue :attr:`queue` was given as, or None."""
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
        self.surplus_policy: CfnResource | None = None
        """The step policy that shrinks a pool to cover what is left once a burst is drained
        (None when ``max_capacity`` is 1)."""
        self.surplus_alarm: cloudwatch.Alarm | None = None
        """The alarm that runs :attr:`surplus_policy` (a scaling trigger, not a page)."""
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
        """The latency alarm on the age of the oldest message of :attr:`queue` (None with
        ``alarms=False``)."""
        self.latency_alarms: list[cloudwatch.Alarm] = []
        """One latency alarm per queue of :attr:`queues`, in their order (none with
        ``alarms=False``)."""

        self.vpc = given["vpc"] or self._new_vpc(settings.availability_zones)
        environment = self._worker_environment(settings.queues, workers, given)
        if isinstance(workers, Ec2Workers):
            self._build_ec2_workers(workers, environment, given["log_retention"])
        else:
            self._build_fargate_workers(workers, environment, given["log_retention"])

        for worked in self.queues:
            worked.grant_consume_messages(self.grant_principal)
        if given["alarms"]:
            self._add_latency_alarms(given["acceptable_latency"], given["alarm_topic"])

    # -- validate ------------------------------------------------------------------------

    def _validate(
        self,
        queue: ConsumerQueue | sqs.IQueue | None,
        queues: Sequence[ConsumerQueue | sqs.IQueue] | None,
        workers: Ec2Workers | FargateWorkers,
        options: QueueWorkerPoolOptions,
    ) -> _Settings:
        """Every rule on the options, all problems raised together (wrong types first: the
        value rules read each value as its declared type)."""
        problems = Problems()
        settings = OPTIONS.settle(
            self, options, problems, queue=queue, queues=queues, workers=workers
        )
        if isinstance(workers, Ec2Workers | FargateWorkers):
            check_worker_types(problems, workers)
        problems.raise_if_any(self)

        worked = worked_queues(problems, self, queue, queues)
        check_starvation_limit(
            problems,
            "priority_starvation_limit" in options,
            settings["priority_starvation_limit"],
            worked,
        )
        check_capacities(problems, settings["min_capacity"], settings["max_capacity"])
        target = target_backlog(
            problems,
            settings["acceptable_latency"],
            settings["processing_time_per_message"],
            settings["target_backlog_per_worker"],
        )
        problems.check_alarm_topic("alarm_topic", settings["alarm_topic"])
        check_workers(problems, workers)
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
            worker_environment_rules(isinstance(workers, Ec2Workers)),
        )
        problems.raise_if_any(self)
        return _Settings(settings, worked, target, zones)

    def _check_network(
        self, problems: Problems, vpc: ec2.IVpc | None, availability_zones: Sequence[str] | None
    ) -> list[str] | None:
        """A given VPC has private subnets; given zones are the region's; without either,
        the default VPC's zones can be had. The zones when given."""
        zones = check_zones(problems, availability_zones, vpc, Stack.of(self).region)
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
        if unresolved(stack.account) or unresolved(stack.region):
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
        queues: Sequence[QueueFacts],
        workers: Ec2Workers | FargateWorkers,
        given: QueueWorkerPoolOptions,
    ) -> dict[str, str]:
        """What every worker is told: the queue (or the queues in priority order and the
        starvation limit), the visibility timeout (the heartbeat), the job, then the user's
        own variables. The long poll is the highest queue's (the only one long-polled)."""
        if len(queues) == 1:
            worked = {"QUEUE_URL": self.queue.queue_url}
        else:
            worked = {
                "QUEUE_URLS": ",".join(q.queue_url for q in self.queues),
                "PRIORITY_STARVATION_LIMIT": str(int(given["priority_starvation_limit"])),
            }
        return {
            **worked,
            "VISIBILITY_TIMEOUT": self._visibility_seconds(queues),
            **({"WORKER_HANDLER": workers.job.handler} if workers.job is not None else {}),
            **_wait_time(queues[0]),
            **(given["environment"] or {}),
        }

    def _visibility_seconds(self, queues: Sequence[QueueFacts]) -> str:
        """The queues' visibility timeout in seconds (validated to be one): known, a
        deploy-time token, or (when none can be read, with a warning for each queue whose
        timeout cannot) SQS's default."""
        readable = [f.visibility_timeout for f in queues if f.visibility_timeout is not None]
        known = [v for v in readable if not v.is_unresolved()]
        visibility = (known or readable or [SQS_DEFAULT_VISIBILITY_TIMEOUT])[0]
        needed = VISIBILITY_NEEDED
        if len(queues) > 1:
            told = "as long as the other queues'" if readable else "30 seconds (SQS's default)"
            needed += f", and the same for every queue of the pool: the workers are told {told}"
        for facts in queues:
            facts.warn_if_visibility_unknown(self, needed)
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
                named_zone_is_intended(cfn_subnet)
        return vpc

    def _zoned_vpc(self, zones: list[str]) -> ec2.IVpc:
        """The default VPC's layout in ``zones``, from L1 resources.

        ``ec2.Vpc`` reads the stack's availability zones even when it is given its zones (to
        check them), and in a stack pinned to an account and region that read is a context
        lookup needing credentials. Here: one public and one private (egress through one NAT
        gateway) subnet per zone, flow logs, imported as an ``ec2.IVpc``.
        """
        network = self._zoned_network()
        blocks = subnet_blocks(len(zones))
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

    def _zoned_network(self) -> ZonedNetwork:
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
        return ZonedNetwork(scope, vpc, gateway, attachment)

    def _public_subnet(
        self,
        network: ZonedNetwork,
        index: int,
        zone: str,
        block: str,
        nat: ec2.CfnNatGateway | None,
    ) -> tuple[ec2.CfnSubnet, ec2.CfnRouteTable, ec2.CfnNatGateway]:
        """A public subnet routed to the internet gateway; the first one holds the NAT
        gateway (returned: ``nat`` when there already is one)."""
        subnet_scope, subnet, table = zoned_subnet(network, "Public", index, zone, block)
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
        self, network: ZonedNetwork, index: int, zone: str, block: str, nat: ec2.CfnNatGateway
    ) -> tuple[ec2.CfnSubnet, ec2.CfnRouteTable]:
        """A private (workers') subnet whose egress goes through ``nat``."""
        subnet_scope, subnet, table = zoned_subnet(network, "Workers", index, zone, block)
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
            code_path = str(stage_build(self, workers.job))
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
            step_adjustments=self._from_zero_adjustments(scaling.StepAdjustmentProperty),
        )
        self.from_zero_policy = from_zero
        self._from_zero_alarm(metrics.desired_workers(), from_zero.attr_arn)
        steps, below = self._surplus_steps()
        if steps:
            surplus = scaling(
                self,
                "SurplusScaling",
                auto_scaling_group_name=asg.auto_scaling_group_name,
                policy_type="StepScaling",
                adjustment_type="ExactCapacity",
                metric_aggregation_type="Maximum",
                step_adjustments=self._adjustments(scaling.StepAdjustmentProperty, steps),
            )
            self.surplus_policy = surplus
            self._surplus_alarm(metrics.desired_workers(), below, surplus.attr_arn)

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
            image=worker_image(self, workers),
            environment={**settings, "WORKER_PLATFORM": "ecs"},
            logging=ecs.LogDrivers.aws_logs(stream_prefix="worker", log_group=self.log_group),
            stop_timeout=FARGATE_STOP_TIMEOUT,
            readonly_root_filesystem=True,
        )
        Validations.of(task).acknowledge(
            Acknowledgment(
                id="AwsSolutions-ECS2",
                reason="The environment holds only the queue URLs, their priority settings, the "
                "visibility timeout and resource names the worker needs; no secret is passed "
                "(credentials come from the task role).",
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
        steps, below = self._surplus_steps()
        if steps:
            surplus = self._fargate_step_policy(
                scalable_target,
                "SurplusScaling",
                "surplus",
                steps,
                cooldown=SURPLUS_COOLDOWN_SECONDS,
                metric_aggregation_type="Maximum",
            )
            self.surplus_policy = surplus
            self._surplus_alarm(metrics.desired_workers(), below, surplus.ref)

    def _fargate_from_zero_policy(
        self, scalable_target: appscaling.CfnScalableTarget
    ) -> appscaling.CfnScalingPolicy:
        return self._fargate_step_policy(
            scalable_target, "FromZeroScaling", "from-zero", self._from_zero_steps(), cooldown=60
        )

    def _fargate_step_policy(
        self,
        scalable_target: appscaling.CfnScalableTarget,
        id: str,
        name: str,
        steps: Sequence[tuple[float, float | None, int]],
        *,
        cooldown: int,
        metric_aggregation_type: str | None = None,
    ) -> appscaling.CfnScalingPolicy:
        """A step policy that sets the service's desired count to its band's capacity."""
        scaling = appscaling.CfnScalingPolicy
        return scaling(
            self,
            id,
            policy_name=name,
            policy_type="StepScaling",
            scaling_target_id=scalable_target.ref,
            step_scaling_policy_configuration=scaling.StepScalingPolicyConfigurationProperty(
                adjustment_type="ExactCapacity",
                cooldown=cooldown,
                metric_aggregation_type=metric_aggregation_type,
                step_adjustments=self._adjustments(scaling.StepAdjustmentProperty, steps),
            ),
        )

    # -- build: scaling pieces shared by both compute options ------------------------------

    @property
    def _backlog(self) -> BacklogMetrics:
        return BacklogMetrics(self.queues)

    def _backlog_queries(self) -> list[_Query]:
        """``(visible + in_flight) / workers`` (a worker count of 0 counts as 1: the backlog
        itself), the backlog being the sum over the queues when there are several."""
        return [
            *(
                _Query(query_id, metric=metric)
                for query_id, metric in self._backlog.tracking_metrics().items()
            ),
            _Query("workers", metric=self.workers_metric),
            _Query(
                "backlog_per_worker",
                expression=self._backlog.per_worker_expression,
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

    def _from_zero_adjustments(self, adjustment: Callable[..., _Adjustment]) -> list[_Adjustment]:
        """The from-zero steps as ``adjustment`` properties."""
        return self._adjustments(adjustment, self._from_zero_steps())

    @staticmethod
    def _adjustments(
        adjustment: Callable[..., _Adjustment], steps: Sequence[tuple[float, float | None, int]]
    ) -> list[_Adjustment]:
        """(lower, upper, capacity) bands as ``adjustment`` properties (EC2 Auto Scaling's and
        Application Auto Scaling's ``StepAdjustmentProperty`` take the same fields)."""
        return [
            adjustment(
                metric_interval_lower_bound=lower,
                metric_interval_upper_bound=upper,
                scaling_adjustment=capacity,
            )
            for lower, upper, capacity in steps
        ]

    def _surplus_steps(self) -> tuple[list[tuple[float, float | None, int]], int]:
        """The surplus bands on the backlog (messages waiting or in flight), and the backlog
        below which they apply.

        A backlog of at most 1 keeps 1 worker; of 2, 2; of 3 or 4, 4; … each band the power
        of two that covers the backlog (every message a worker), up to the largest below
        ``max_capacity``. The alarm fires only while more than twice as many workers as
        messages, plus one, are wanted, so a band's capacity is always below the desired
        count: the policy only ever shrinks the pool, and never below the messages left (the
        workers holding one are protected from scale-in). Zero stays target tracking's
        decision (the surplus policy never acts on a pool of one)."""
        capacities: list[int] = []
        n = 1
        while n < self.max_capacity:
            capacities.append(n)
            n *= 2
        steps: list[tuple[float, float | None, int]] = []
        lower = 0.0
        for capacity in capacities:
            upper = float(capacity + 1)
            steps.append((lower, upper, capacity))
            lower = upper
        return steps, int(lower)

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
        if unresolved(self.target_backlog_per_worker):
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
            metric=self._backlog.while_no_worker_is_wanted(desired),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"{self.node.path}: work arrived while the pool is at zero",
        )
        self.from_zero_alarm.add_alarm_action(_ScalingPolicyAction(policy_arn))

    def _surplus_alarm(self, desired: cloudwatch.Metric, below: int, policy_arn: str) -> None:
        """Alarm when more than twice as many workers as messages are wanted three minutes in
        a row (the metric is -1 otherwise)."""
        self.surplus_alarm = cloudwatch.Alarm(
            self,
            "SurplusAlarm",
            metric=self._backlog.while_workers_outnumber_it(desired, below),
            threshold=0,
            evaluation_periods=SURPLUS_DATAPOINTS,
            datapoints_to_alarm=SURPLUS_DATAPOINTS,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"{self.node.path}: more than twice as many workers as messages "
            "left; shrink the pool to cover them",
        )
        self.surplus_alarm.add_alarm_action(_ScalingPolicyAction(policy_arn))

    # -- wire ----------------------------------------------------------------------------

    def _add_latency_alarms(
        self, acceptable_latency: Duration | None, alarm_topic: sns.ITopic | None
    ) -> None:
        """Alarm when messages wait longer than ``acceptable_latency`` (or 15 minutes): one
        alarm per queue, named by the queue when there are several (``<Queue>LatencyAlarm``),
        since the pool drains the combined backlog within that latency at its target."""
        threshold = (
            DEFAULT_LATENCY_ALARM_THRESHOLD if acceptable_latency is None else acceptable_latency
        )
        waited = "acceptable_latency" if threshold.is_unresolved() else threshold.to_human_string()
        names = _alarm_names(self.queues, self.consumer_queues)
        for queue, name in zip(self.queues, names, strict=True):
            where = "" if len(self.queues) == 1 else f" in {queue.node.path}"
            alarm = monitoring.oldest_message_age_alarm(
                self,
                f"{name}LatencyAlarm",
                metric=metric_of(self, queue, "ApproximateAgeOfOldestMessage", {}),
                threshold=threshold,
                description=f"{self.node.path}: messages{where} wait longer than {waited}; "
                "the pool is at max capacity or stuck",
            )
            monitoring.notify(alarm, alarm_topic)
            self.latency_alarms.append(alarm)
        self.backlog_alarm = self.latency_alarms[0]

    # -- metrics -------------------------------------------------------------------------

    def metric_backlog_per_worker(
        self, **options: Unpack[MetricOptions]
    ) -> cloudwatch.MathExpression:
        """The scaling metric: messages waiting or in flight (``statistic``) per worker in
        service. Default: the Sum of those messages over 1 minute. A math expression has no unit:
        ``unit`` is refused."""
        settings = settled_metric_options(self, options)
        if settings["unit"] is not None:
            problems = Problems()
            problems.add("unit", settings["unit"], "a math expression has no unit; drop it")
            problems.raise_if_any(self)
        return self._backlog.per_worker(
            self.workers_metric,
            period=settings["period"],
            statistic=settings["statistic"] or SUM,
            label=settings["label"] or "Backlog per worker",
            color=settings["color"],
        )

    def metric_approximate_age_of_oldest_message(
        self, **options: Unpack[MetricOptions]
    ) -> cloudwatch.Metric | cloudwatch.MathExpression:
        """Age of the oldest message in the work queue (with several, the oldest of all:
        the highest of their ages). Default: Maximum over 1 minute."""
        if len(self.queues) == 1:
            return metric_of(self, self.queue, "ApproximateAgeOfOldestMessage", options)
        ages = {
            f"age_{n}": metric_of(self, queue, "ApproximateAgeOfOldestMessage", options)
            for n, queue in enumerate(self.queues, start=1)
        }
        first = ages["age_1"]
        settings = settled_metric_options(self, options)
        return cloudwatch.MathExpression(
            expression=f"MAX([{', '.join(ages)}])",
            using_metrics=ages,
            period=first.period,
            label=settings["label"] or "Age of the oldest message (all queues)",
            color=settings["color"],
        )


def _alarm_names(
    queues: Sequence[sqs.IQueue], consumer_queues: Sequence[ConsumerQueue | None]
) -> list[str]:
    """The prefix of each queue's alarm id: none for one queue (``LatencyAlarm``); with
    several, the id of the ConsumerQueue (or of the queue) it was given as, or where two
    share an id, the queue's unique id: never a position, which moves when the list does."""
    if len(queues) == 1:
        return [""]
    ids = [
        (consumer.node.id if consumer is not None else queue.node.id)
        for queue, consumer in zip(queues, consumer_queues, strict=True)
    ]
    return [
        name if ids.count(name) == 1 else Names.unique_id(queue)
        for name, queue in zip(ids, queues, strict=True)
    ]


@dataclass(frozen=True)
class _Query:
    id: str
    metric: cloudwatch.Metric | None = None
    expression: str | None = None
    label: str | None = None
    return_data: bool = False
