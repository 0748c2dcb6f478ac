"""QueueWorkerPool: a fleet of workers that drains a queue and scales on backlog per worker.

AWS recommends scaling queue workers on *backlog per worker* — messages visible divided by
workers in service — tracked against ``acceptable_latency / processing_time_per_message``.
aws-cdk-lib's target tracking rejects the metric math this needs (aws-cdk#20659), so the
policies here are the L1 ``CfnScalingPolicy`` resources with ``CustomizedMetricSpecification``.
Target tracking cannot scale out from zero workers (its new capacity is proportional to the
current one), so a step policy sets the first capacity whenever messages are visible while the
desired capacity is zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jsii
from aws_cdk import (
    Acknowledgment,
    ArnFormat,
    CfnElement,
    CfnResource,
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
from constructs import Construct, IConstruct

from . import monitoring
from ._validation import Problems
from .consumer_queue import ConsumerQueue

DEFAULT_MAX_CAPACITY = 10
FARGATE_STOP_TIMEOUT = Duration.seconds(120)
"""The most Fargate waits between SIGTERM and SIGKILL; the worker drains within it."""
DRAIN_TIMEOUT = Duration.minutes(15)
DRAIN_HOOK_NAME = "drain"
SCALE_OUT_COOLDOWN_SECONDS = 180
"""How long a terminating EC2 instance may finish its message (lifecycle hook heartbeat)."""
MAX_FROM_ZERO_STEPS = 8
BACKLOG_PER_WORKER = "visible / IF(workers > 0, workers, 1)"
"""Metric math of the target tracking policy (ids: visible, workers)."""
FROM_ZERO = "IF(FILL(desired, 0) == 0, visible, 0)"
"""Metric math of the from-zero alarm (ids: visible, desired)."""


@dataclass(frozen=True)
class Ec2Workers:
    """Workers on EC2 instances of an Auto Scaling group.

    :param code_path: folder holding the worker program; shipped as an S3 asset, unpacked to
        ``/opt/queue-worker`` and run by systemd with ``command``.
    :param command: Default: ``python3 worker.py`` (run in ``/opt/queue-worker``).
    :param instance_type: Default: t4g.small (Graviton).
    :param machine_image: Default: the latest Amazon Linux 2023 for the instance's CPU.
    :param packages: dnf packages installed at boot. Default: python3 and boto3.
    """

    code_path: str
    command: str = "python3 worker.py"
    instance_type: ec2.InstanceType = field(
        default_factory=lambda: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.SMALL)
    )
    machine_image: ec2.IMachineImage | None = None
    packages: tuple[str, ...] = ("python3", "python3-boto3", "unzip")


@dataclass(frozen=True)
class FargateWorkers:
    """Workers as ECS Fargate tasks.

    :param image: e.g. ``ecs.ContainerImage.from_asset(folder)`` (built at deploy time; synth
        needs no Docker) or any image.
    :param cpu: Default: 256 (.25 vCPU).
    :param memory_limit_mib: Default: 512.
    :param cluster: Default: a new cluster with Container Insights.
    """

    image: ecs.ContainerImage
    cpu: int = 256
    memory_limit_mib: int = 512
    cluster: ecs.ICluster | None = None


@jsii.implements(cloudwatch.IAlarmAction)
class _ScalingPolicyAction:
    """An alarm action that runs a scaling policy given by its ARN (L1 policies)."""

    def __init__(self, policy_arn: str) -> None:
        self._arn = policy_arn

    def bind(self, _scope: Construct, _alarm: cloudwatch.IAlarm) -> cloudwatch.AlarmActionConfig:
        return cloudwatch.AlarmActionConfig(alarm_action_arn=self._arn)


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
      give the message back rather than die holding it. The worker program is
      ``lambda_src/queue_worker``.
    * Least privilege: consume rights on the queue (and decrypt on its key), scale-in
      protection of its own workers, nothing else; grant more with :attr:`grant_principal`.
    * EC2: private subnets without inbound rules, IMDSv2 required, encrypted volumes,
      detailed monitoring, Systems Manager instead of SSH. Fargate: Container Insights,
      logs in a log group with retention.

    :param queue: the work queue (:class:`ConsumerQueue` or ``sqs.IQueue``).
    :param workers: :class:`Ec2Workers` or :class:`FargateWorkers`.
    :param vpc: Default: a new VPC (2 AZs, one NAT gateway, flow logs).
    :param min_capacity: Default: 0 (scale to zero).
    :param max_capacity: Default: 10.
    :param acceptable_latency: how long a message may wait; with
        ``processing_time_per_message`` gives the target backlog per worker.
    :param processing_time_per_message: average time a worker spends on one message.
    :param target_backlog_per_worker: give the target directly instead of the two above.
    :param environment: extra environment for the worker program.
    :param log_retention: Default: one month.
    :param alarms: alarm when the oldest message waits longer than ``acceptable_latency``
        (or 15 minutes) three minutes in a row. Default: True.
    :param alarm_topic: Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        queue: ConsumerQueue | sqs.IQueue,
        workers: Ec2Workers | FargateWorkers,
        vpc: ec2.IVpc | None = None,
        min_capacity: int = 0,
        max_capacity: int = DEFAULT_MAX_CAPACITY,
        acceptable_latency: Duration | None = None,
        processing_time_per_message: Duration | None = None,
        target_backlog_per_worker: float | None = None,
        environment: Mapping[str, str] | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.consumer_queue = queue if isinstance(queue, ConsumerQueue) else None
        self.queue: sqs.IQueue = queue.queue if isinstance(queue, ConsumerQueue) else queue

        problems = Problems()
        problems.check_int("min_capacity", min_capacity, 0, 10_000)
        problems.check_int("max_capacity", max_capacity, 1, 10_000)
        if (
            not Token.is_unresolved(min_capacity)
            and not Token.is_unresolved(max_capacity)
            and min_capacity > max_capacity
        ):
            problems.add(
                "min_capacity", min_capacity, f"must not exceed max_capacity ({max_capacity})"
            )
        target = self._target_backlog(
            problems, acceptable_latency, processing_time_per_message, target_backlog_per_worker
        )
        problems.raise_if_any(self)
        self.target_backlog_per_worker = target
        self.min_capacity = min_capacity
        self.max_capacity = max_capacity

        self.vpc = vpc or self._new_vpc()
        self.role: iam.IRole
        self.grant_principal: iam.IGrantable
        self.security_group: ec2.ISecurityGroup
        self.log_group: logs.LogGroup
        self.workers_metric: cloudwatch.Metric
        self.scaling_policy: CfnResource
        """The target tracking policy on backlog per worker (L1, with metric math)."""
        self.from_zero_policy: CfnResource
        """The step policy that sets the first capacity when work arrives at zero."""
        visibility = self._visibility_seconds()
        settings = {
            "QUEUE_URL": self.queue.queue_url,
            "VISIBILITY_TIMEOUT": str(visibility),
            **(environment or {}),
        }
        self.auto_scaling_group: autoscaling.AutoScalingGroup | None = None
        self.service: ecs.FargateService | None = None
        if isinstance(workers, Ec2Workers):
            self._ec2_workers(workers, settings, log_retention)
        else:
            self._fargate_workers(workers, settings, log_retention)
        self.queue.grant_consume_messages(self.grant_principal)

        self.backlog_alarm: cloudwatch.Alarm | None = None
        if alarms:
            threshold = acceptable_latency or Duration.minutes(15)
            self.backlog_alarm = monitoring.oldest_message_age_alarm(
                self,
                "LatencyAlarm",
                queue=self.queue,
                threshold=threshold,
                description=f"{self.node.path}: messages wait longer than "
                f"{threshold.to_human_string()}; the pool is at max capacity or stuck",
            )
            monitoring.notify(self.backlog_alarm, alarm_topic)

    # -- options -------------------------------------------------------------------------

    @staticmethod
    def _target_backlog(
        problems: Problems,
        acceptable_latency: Duration | None,
        processing_time: Duration | None,
        target: float | None,
    ) -> float:
        given_pair = acceptable_latency is not None or processing_time is not None
        if target is not None and given_pair:
            problems.add(
                "target_backlog_per_worker",
                target,
                "give either target_backlog_per_worker or acceptable_latency with "
                "processing_time_per_message, not both",
            )
            return 1.0
        if target is not None:
            if target <= 0:
                problems.add("target_backlog_per_worker", target, "must be greater than 0")
            return target
        if acceptable_latency is None or processing_time is None:
            problems.add(
                "acceptable_latency"
                if acceptable_latency is None
                else "processing_time_per_message",
                None,
                "the pool needs acceptable_latency and processing_time_per_message (or "
                "target_backlog_per_worker) to compute its target backlog per worker",
            )
            return 1.0
        latency = acceptable_latency.to_seconds(integral=False)
        per_message = processing_time.to_seconds(integral=False)
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

    def _visibility_seconds(self) -> int:
        if (
            self.consumer_queue is not None
            and not self.consumer_queue.visibility_timeout.is_unresolved()
        ):
            return int(self.consumer_queue.visibility_timeout.to_seconds())
        cfn = self.queue.node.default_child
        if isinstance(cfn, sqs.CfnQueue) and isinstance(cfn.visibility_timeout, int):
            return cfn.visibility_timeout
        return 30

    def _new_vpc(self) -> ec2.Vpc:
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
                logs.LogGroup(self, "FlowLogGroup", retention=logs.RetentionDays.ONE_MONTH)
            ),
        )
        return vpc

    # -- EC2 -----------------------------------------------------------------------------

    def _ec2_workers(
        self, workers: Ec2Workers, settings: Mapping[str, str], log_retention: logs.RetentionDays
    ) -> None:
        role = iam.Role(
            self,
            "InstanceRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore")
            ],
            description=f"Worker instances of {self.node.path}",
        )
        Validations.of(role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                "AmazonSSMManagedInstanceCore]",
                reason="Systems Manager Session Manager replaces SSH (no key pair, no inbound "
                "port); AmazonSSMManagedInstanceCore is the AWS-maintained minimum it needs "
                "and tracks new SSM API actions.",
            )
        )
        self.role = role
        self.grant_principal = role
        self.log_group = logs.LogGroup(self, "LogGroup", retention=log_retention)
        code = s3_assets.Asset(
            self, "WorkerCode", path=workers.code_path, exclude=["__pycache__", "*.pyc"]
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[code.bucket.arn_for_objects(code.s3_object_key)],
            )
        )
        security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=self.vpc,
            description=f"{self.node.path} workers: no inbound traffic",
            allow_all_outbound=True,
        )
        self.security_group = security_group
        user_data = ec2.UserData.for_linux()
        launch_template = ec2.LaunchTemplate(
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
            security_group=security_group,
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
        # Known names, so that the instances' user data and role can name the group and its
        # hook without referencing them (the group depends on the launch template).
        group_name = Names.unique_resource_name(self, max_length=255, separator="-")
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
        self.auto_scaling_group = asg
        asg.add_lifecycle_hook(
            "Drain",
            lifecycle_hook_name=DRAIN_HOOK_NAME,
            lifecycle_transition=autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
            heartbeat_timeout=DRAIN_TIMEOUT,
            default_result=autoscaling.DefaultResult.CONTINUE,
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "autoscaling:SetInstanceProtection",
                    "autoscaling:CompleteLifecycleAction",
                ],
                resources=[
                    Stack.of(self).format_arn(
                        service="autoscaling",
                        resource="autoScalingGroup",
                        resource_name=f"*:autoScalingGroupName/{group_name}",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        Validations.of(role.node.find_child("DefaultPolicy")).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:<AWS::Region>:"
                f"<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/{group_name}]",
                reason="An Auto Scaling group ARN contains a UUID assigned at creation; the "
                "wildcard stands only for it, the group name is fixed. Workers may only protect "
                "themselves and complete their own termination hook in this group.",
            )
        )
        self.log_group.grant_write(role)
        environment = {
            **settings,
            "WORKER_PLATFORM": "ec2",
            "AUTOSCALING_GROUP_NAME": group_name,
            "LIFECYCLE_HOOK_NAME": DRAIN_HOOK_NAME,
        }
        self._write_user_data(user_data, workers, code, environment)
        self._ec2_scaling(asg)

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
        user_data.add_commands(
            f"dnf install -y {' '.join(workers.packages)}",
            "mkdir -p /opt/queue-worker",
            f"unzip -o {zip_path} -d /opt/queue-worker",
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
        group = {"AutoScalingGroupName": asg.auto_scaling_group_name}
        self.workers_metric = _metric("AWS/AutoScaling", "GroupInServiceInstances", group)
        desired = _metric("AWS/AutoScaling", "GroupDesiredCapacity", group)
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
        self._from_zero_alarm(desired, from_zero.attr_arn)

    # -- Fargate -------------------------------------------------------------------------

    def _fargate_workers(
        self,
        workers: FargateWorkers,
        settings: Mapping[str, str],
        log_retention: logs.RetentionDays,
    ) -> None:
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
        task.add_container(
            "Worker",
            image=workers.image,
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
        self.service = service
        self.security_group = service.connections.security_groups[0]
        task_arns = Stack.of(self).format_arn(
            service="ecs", resource="task", resource_name=f"{cluster.cluster_name}/*"
        )
        task.task_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:UpdateTaskProtection", "ecs:GetTaskProtection"],
                resources=[task_arns],
            )
        )
        Validations.of(task.task_role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:"
                f"<AWS::AccountId>:task/{_nag_reference(cluster.cluster_name, cluster)}/*]",
                reason="Task ids are assigned when ECS starts a task; the wildcard stands only "
                "for them, within this pool's cluster. A task may only set its own scale-in "
                "protection.",
            )
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
        self._fargate_scaling(cluster, service)

    def _fargate_scaling(self, cluster: ecs.ICluster, service: ecs.FargateService) -> None:
        dims = {"ClusterName": cluster.cluster_name, "ServiceName": service.service_name}
        self.workers_metric = _metric("ECS/ContainerInsights", "RunningTaskCount", dims)
        desired = _metric("ECS/ContainerInsights", "DesiredTaskCount", dims)
        self.scalable_target = appscaling.CfnScalableTarget(
            self,
            "ScalableTarget",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=f"service/{cluster.cluster_name}/{service.service_name}",
            min_capacity=self.min_capacity,
            max_capacity=self.max_capacity,
        )
        scaling = appscaling.CfnScalingPolicy
        self.scaling_policy = scaling(
            self,
            "BacklogPerWorkerScaling",
            policy_name="backlog-per-worker",
            policy_type="TargetTrackingScaling",
            scaling_target_id=self.scalable_target.ref,
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
        self.from_zero_policy = scaling(
            self,
            "FromZeroScaling",
            policy_name="from-zero",
            policy_type="StepScaling",
            scaling_target_id=self.scalable_target.ref,
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
        self._from_zero_alarm(desired, self.from_zero_policy.ref)  # Ref is the policy ARN

    # -- scaling pieces shared by both compute options ----------------------------------------

    def _backlog_queries(self) -> list[_Query]:
        """``visible / workers`` (a worker count of 0 counts as 1: the backlog itself)."""
        visible = _metric(
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": self.queue.queue_name},
            statistic="Sum",
        )
        return [
            _Query("visible", metric=visible),
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
        expression = cloudwatch.MathExpression(
            expression=FROM_ZERO,
            using_metrics={
                "visible": self.queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
                ),
                "desired": desired,
            },
            label="Messages visible while no worker is wanted",
            period=Duration.minutes(1),
        )
        self.from_zero_alarm = cloudwatch.Alarm(
            self,
            "FromZeroAlarm",
            metric=expression,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"{self.node.path}: work arrived while the pool is at zero",
        )
        self.from_zero_alarm.add_alarm_action(_ScalingPolicyAction(policy_arn))

    # -- metrics -------------------------------------------------------------------------

    def metric_backlog_per_worker(self) -> cloudwatch.MathExpression:
        """The scaling metric: messages visible per worker in service (1 minute)."""
        return cloudwatch.MathExpression(
            expression=BACKLOG_PER_WORKER,
            using_metrics={
                "visible": self.queue.metric_approximate_number_of_messages_visible(
                    statistic=cloudwatch.Stats.SUM
                ),
                "workers": self.workers_metric,
            },
            period=Duration.minutes(1),
            label="Backlog per worker",
        )


def _nag_reference(value: str, construct: IConstruct) -> str:
    """How cdk-nag prints a value in a finding: a resolved string, or ``<LogicalId>``."""
    if not Token.is_unresolved(value):
        return value
    cfn = construct.node.default_child
    if isinstance(cfn, CfnElement):
        return f"<{Stack.of(construct).resolve(cfn.logical_id)}>"
    return value


@dataclass(frozen=True)
class _Query:
    id: str
    metric: cloudwatch.Metric | None = None
    expression: str | None = None
    label: str | None = None
    return_data: bool = False


def _metric(
    namespace: str, metric_name: str, dimensions: Mapping[str, str], statistic: str = "Average"
) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=metric_name,
        dimensions_map=dict(dimensions),
        statistic=statistic,
        period=Duration.minutes(1),
    )
