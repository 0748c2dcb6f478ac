"""QueueWorkerPool: backlog-per-worker scaling, scale from zero, safe scale-in, hardening."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aws_cdk import CfnParameter, Duration, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match
from helpers import Tmpl, new_app

from constructs_lib import (
    Ec2Workers,
    FanoutConfigurationError,
    FanoutTopic,
    FargateWorkers,
    QueueWorkerPool,
)


def _pool(stack: Stack, workers: Ec2Workers | FargateWorkers) -> SimpleNamespace:
    jobs = FanoutTopic(stack, "Jobs")
    queue = jobs.add_queue_consumer("Thumbnails", visibility_timeout=Duration.minutes(2))
    pool = QueueWorkerPool(
        stack,
        "Pool",
        queue=queue,
        workers=workers,
        acceptable_latency=Duration.minutes(5),
        processing_time_per_message=Duration.seconds(10),
        max_capacity=20,
    )
    return SimpleNamespace(t=Tmpl(stack), queue=queue, pool=pool)


@pytest.fixture(scope="module")
def ec2_pool(code: Path) -> SimpleNamespace:
    return _pool(Stack(new_app(), "Ec2Pool"), Ec2Workers(code_path=str(code)))


@pytest.fixture(scope="module")
def fargate_pool(code: Path) -> SimpleNamespace:
    image = ecs.ContainerImage.from_asset(str(code))
    return _pool(Stack(new_app(), "FargatePool"), FargateWorkers(image=image))


def _queries(policy: dict[str, Any], fargate: bool) -> dict[str, Any]:
    config = (
        policy["TargetTrackingScalingPolicyConfiguration"]
        if fargate
        else policy["TargetTrackingConfiguration"]
    )
    return {q["Id"]: q for q in config["CustomizedMetricSpecification"]["Metrics"]}


def _dims(query: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in query["MetricStat"]["Metric"]["Dimensions"]}


def test_ec2_scaling_divides_this_queue_by_this_groups_workers(ec2_pool: SimpleNamespace) -> None:
    t = ec2_pool.t
    policy = t.props(ec2_pool.pool.scaling_policy)
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["AutoScalingGroupName"] == {"Ref": t.logical_id(ec2_pool.pool.auto_scaling_group)}
    queries = _queries(policy, fargate=False)
    queue_lid = t.logical_id(ec2_pool.queue.queue)
    assert queries["visible"]["MetricStat"]["Metric"]["MetricName"] == (
        "ApproximateNumberOfMessagesVisible"
    )
    assert _dims(queries["visible"]) == {"QueueName": {"Fn::GetAtt": [queue_lid, "QueueName"]}}
    # Messages being worked count too: a busy pool is not scaled to zero under its work.
    assert queries["in_flight"]["MetricStat"]["Metric"]["MetricName"] == (
        "ApproximateNumberOfMessagesNotVisible"
    )
    assert _dims(queries["in_flight"]) == _dims(queries["visible"])
    assert queries["workers"]["MetricStat"]["Metric"]["MetricName"] == "GroupInServiceInstances"
    assert _dims(queries["workers"]) == {
        "AutoScalingGroupName": {"Ref": t.logical_id(ec2_pool.pool.auto_scaling_group)}
    }
    expression = queries["backlog_per_worker"]
    assert expression["Expression"] == "(visible + in_flight) / IF(workers > 0, workers, 1)"
    assert expression["ReturnData"] is True
    # 5 minutes acceptable latency / 10 s per message = 30 messages per worker.
    assert policy["TargetTrackingConfiguration"]["TargetValue"] == 30


def test_fargate_scaling_divides_this_queue_by_this_services_tasks(
    fargate_pool: SimpleNamespace,
) -> None:
    t = fargate_pool.t
    policy = t.props(fargate_pool.pool.scaling_policy)
    target = t.props(policy["ScalingTargetId"]["Ref"])
    service_lid = t.logical_id(fargate_pool.pool.service)
    cluster_lid = t.logical_id(fargate_pool.pool.cluster)
    assert target["ScalableDimension"] == "ecs:service:DesiredCount"
    assert {"Fn::GetAtt": [service_lid, "Name"]} in target["ResourceId"]["Fn::Join"][1]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 20)
    queries = _queries(policy, fargate=True)
    queue_lid = t.logical_id(fargate_pool.queue.queue)
    assert _dims(queries["visible"]) == {"QueueName": {"Fn::GetAtt": [queue_lid, "QueueName"]}}
    assert queries["workers"]["MetricStat"]["Metric"]["MetricName"] == "RunningTaskCount"
    assert _dims(queries["workers"]) == {
        "ClusterName": {"Ref": cluster_lid},
        "ServiceName": {"Fn::GetAtt": [service_lid, "Name"]},
    }
    assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 30


@pytest.mark.parametrize("which", ["ec2_pool", "fargate_pool"])
def test_work_arriving_at_zero_sets_the_first_capacity(
    which: str, request: pytest.FixtureRequest
) -> None:
    built = request.getfixturevalue(which)
    t, pool = built.t, built.pool
    policy = t.props(pool.from_zero_policy)
    steps = (
        policy["StepScalingPolicyConfiguration"]["StepAdjustments"]
        if "StepScalingPolicyConfiguration" in policy
        else policy["StepAdjustments"]
    )
    adjustment = (
        policy.get("AdjustmentType") or policy["StepScalingPolicyConfiguration"]["AdjustmentType"]
    )
    assert adjustment == "ExactCapacity"
    assert steps[0] == {
        "MetricIntervalLowerBound": 0,
        "MetricIntervalUpperBound": 30,
        "ScalingAdjustment": 1,
    }
    assert steps[-1]["ScalingAdjustment"] == 20 and "MetricIntervalUpperBound" not in steps[-1]
    alarm = t.props(pool.from_zero_alarm)
    policy_lid = t.logical_id(pool.from_zero_policy)
    assert alarm["AlarmActions"] in ([{"Ref": policy_lid}], [{"Fn::GetAtt": [policy_lid, "Arn"]}])
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    expression = next(m for m in alarm["Metrics"] if "Expression" in m)
    assert expression["Expression"] == "IF(FILL(desired, 0) == 0, visible, 0)"
    assert _dims(metrics["visible"]) == {
        "QueueName": {"Fn::GetAtt": [t.logical_id(built.queue.queue), "QueueName"]}
    }
    assert alarm["Threshold"] == 1 and alarm["EvaluationPeriods"] == 1


@pytest.mark.parametrize("which", ["ec2_pool", "fargate_pool"])
def test_a_drained_pool_shrinks_to_cover_what_is_left_without_waiting_15_minutes(
    which: str, request: pytest.FixtureRequest
) -> None:
    built = request.getfixturevalue(which)
    t, pool = built.t, built.pool
    policy = t.props(pool.surplus_policy)
    configuration = policy.get("StepScalingPolicyConfiguration", policy)
    assert configuration["AdjustmentType"] == "ExactCapacity"
    assert configuration["MetricAggregationType"] == "Maximum"
    # Each band: the power of two that gives every message left a worker, below max (20).
    assert [
        (s["MetricIntervalLowerBound"], s.get("MetricIntervalUpperBound"), s["ScalingAdjustment"])
        for s in configuration["StepAdjustments"]
    ] == [(0, 2, 1), (2, 3, 2), (3, 5, 4), (5, 9, 8), (9, 17, 16)]
    alarm = t.props(pool.surplus_alarm)
    policy_lid = t.logical_id(pool.surplus_policy)
    assert alarm["AlarmActions"] in ([{"Ref": policy_lid}], [{"Fn::GetAtt": [policy_lid, "Arn"]}])
    backlog = "(visible + in_flight)"
    (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]
    assert expression["Expression"] == (
        f"IF(FILL(desired, 0) > 2 * {backlog} + 1, IF({backlog} < 17, {backlog}, -1), -1)"
    )
    metrics = {m["Id"]: m for m in alarm["Metrics"] if "MetricStat" in m}
    queue = {"QueueName": {"Fn::GetAtt": [t.logical_id(built.queue.queue), "QueueName"]}}
    assert _dims(metrics["visible"]) == _dims(metrics["in_flight"]) == queue
    assert metrics["desired"]["MetricStat"]["Metric"]["MetricName"] in (
        "GroupDesiredCapacity",
        "DesiredTaskCount",
    )
    assert {m["MetricStat"]["Stat"] for k, m in metrics.items() if k != "desired"} == {"Maximum"}
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanOrEqualToThreshold")
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 3


def test_a_pool_of_one_worker_has_nothing_to_shrink(code: Path) -> None:
    stack = Stack(new_app(), "One")
    pool = _ec2_pool(stack, code, max_capacity=1)
    assert pool.surplus_policy is None and pool.surplus_alarm is None
    assert not Tmpl(stack).of_type("AWS::AutoScaling::ScalingPolicy").keys() - {
        Tmpl(stack).logical_id(pool.scaling_policy),
        Tmpl(stack).logical_id(pool.from_zero_policy),
    }


def test_ec2_group_publishes_the_metrics_the_policies_read(ec2_pool: SimpleNamespace) -> None:
    group = ec2_pool.t.props(ec2_pool.pool.auto_scaling_group)
    collected = group["MetricsCollection"][0]["Metrics"]
    assert {"GroupInServiceInstances", "GroupDesiredCapacity"} <= set(collected)
    assert (group["MinSize"], group["MaxSize"]) == ("0", "20")


def test_ec2_instances_drain_before_termination(ec2_pool: SimpleNamespace) -> None:
    t = ec2_pool.t
    (hook,) = t.of_type("AWS::AutoScaling::LifecycleHook").values()
    props = hook["Properties"]
    assert props["AutoScalingGroupName"] == {"Ref": t.logical_id(ec2_pool.pool.auto_scaling_group)}
    assert props["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    assert props["HeartbeatTimeout"] == 900
    assert props["DefaultResult"] == "CONTINUE"
    user_data = json.dumps(t.resources[_launch_template(t)]["Properties"])
    assert f"LIFECYCLE_HOOK_NAME={props['LifecycleHookName']}" in user_data
    assert "AUTOSCALING_GROUP_NAME=" in user_data and "WORKER_PLATFORM=ec2" in user_data


def _launch_template(t: Tmpl) -> str:
    (lid,) = t.of_type("AWS::EC2::LaunchTemplate")
    return lid


def _role_statements(t: Tmpl, role_lid: str) -> list[dict[str, Any]]:
    return [
        s
        for p in t.of_type("AWS::IAM::Policy").values()
        if {"Ref": role_lid} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_ec2_workers_may_protect_only_instances_of_their_group(ec2_pool: SimpleNamespace) -> None:
    t = ec2_pool.t
    statements = _role_statements(t, t.logical_id(ec2_pool.pool.role))
    (scaling,) = [s for s in statements if "autoscaling:" in str(s["Action"])]
    assert sorted(scaling["Action"]) == [
        "autoscaling:CompleteLifecycleAction",
        "autoscaling:SetInstanceProtection",
    ]
    group_name = t.props(ec2_pool.pool.auto_scaling_group)["AutoScalingGroupName"]
    assert scaling["Resource"]["Fn::Join"][1][-1] == (
        f":autoScalingGroup:*:autoScalingGroupName/{group_name}"
    )


@pytest.mark.parametrize("which", ["ec2_pool", "fargate_pool"])
def test_workers_may_consume_only_from_their_queue(
    which: str, request: pytest.FixtureRequest
) -> None:
    built = request.getfixturevalue(which)
    t = built.t
    statements = _role_statements(t, t.logical_id(built.pool.role))
    queue_arn = {"Fn::GetAtt": [t.logical_id(built.queue.queue), "Arn"]}
    sqs_statements = [s for s in statements if "sqs:" in str(s["Action"])]
    assert [s["Resource"] for s in sqs_statements] == [queue_arn]
    assert "sqs:DeleteMessage" in sqs_statements[0]["Action"]
    kms = [s for s in statements if "kms:" in str(s["Action"])]
    key_lid = t.key_of_queue(t.logical_id(built.queue.queue))
    assert kms == [
        {"Action": "kms:Decrypt", "Effect": "Allow", "Resource": {"Fn::GetAtt": [key_lid, "Arn"]}}
    ]


def test_ec2_instances_are_hardened(ec2_pool: SimpleNamespace) -> None:
    t = ec2_pool.t
    data = t.resources[_launch_template(t)]["Properties"]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["Monitoring"] == {"Enabled": True}
    assert "KeyName" not in data
    (volume,) = data["BlockDeviceMappings"]
    assert volume["Ebs"]["Encrypted"] is True
    (group_lid,) = [g["Fn::GetAtt"][0] for g in data["SecurityGroupIds"]]
    assert "SecurityGroupIngress" not in t.props(group_lid)
    role = t.props(ec2_pool.pool.role)
    assert role["ManagedPolicyArns"][0]["Fn::Join"][1][-1] == (
        ":iam::aws:policy/AmazonSSMManagedInstanceCore"
    )
    subnets = t.props(ec2_pool.pool.auto_scaling_group)["VPCZoneIdentifier"]
    for subnet in subnets:
        assert t.props(subnet["Ref"])["MapPublicIpOnLaunch"] is False


def test_fargate_tasks_protect_themselves_and_drain_within_two_minutes(
    fargate_pool: SimpleNamespace,
) -> None:
    t = fargate_pool.t
    statements = _role_statements(t, t.logical_id(fargate_pool.pool.role))
    (protection,) = [s for s in statements if "ecs:" in str(s["Action"])]
    assert sorted(protection["Action"]) == ["ecs:GetTaskProtection", "ecs:UpdateTaskProtection"]
    cluster_ref = {"Ref": t.logical_id(fargate_pool.pool.cluster)}
    assert cluster_ref in protection["Resource"]["Fn::Join"][1]
    (container,) = t.props(fargate_pool.pool.task_definition)["ContainerDefinitions"]
    assert container["StopTimeout"] == 120
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert env["WORKER_PLATFORM"] == "ecs" and env["VISIBILITY_TIMEOUT"] == "120"


def test_fargate_cluster_has_container_insights_and_logs_are_kept(
    fargate_pool: SimpleNamespace,
) -> None:
    t = fargate_pool.t
    cluster = t.props(fargate_pool.pool.cluster)
    assert {"Name": "containerInsights", "Value": "enabled"} in cluster["ClusterSettings"]
    (container,) = t.props(fargate_pool.pool.task_definition)["ContainerDefinitions"]
    options = container["LogConfiguration"]["Options"]
    assert options["awslogs-group"] == {"Ref": t.logical_id(fargate_pool.pool.log_group)}
    assert t.props(fargate_pool.pool.log_group)["RetentionInDays"] == 30


def test_metric_backlog_per_worker_uses_the_scaling_expression(
    fargate_pool: SimpleNamespace,
) -> None:
    metric = fargate_pool.pool.metric_backlog_per_worker()
    assert metric.expression == "(visible + in_flight) / IF(workers > 0, workers, 1)"


# -- validation ---------------------------------------------------------------------------


def _queue(stack: Stack) -> Any:
    return FanoutTopic(stack, "Jobs").add_queue_consumer("Q")


def _ec2_pool(stack: Stack, code: Path, **options: Any) -> QueueWorkerPool:
    """An EC2 pool running ``code`` on a fresh fanout queue, target 5, with ``options`` (the
    queue and workers included) over those."""
    settings: dict[str, Any] = {"target_backlog_per_worker": 5, **options}
    if "queue" not in settings:
        settings["queue"] = _queue(stack)
    if "workers" not in settings:
        settings["workers"] = Ec2Workers(code_path=str(code))
    return QueueWorkerPool(stack, "Pool", **settings)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "acceptable_latency=None: the pool needs acceptable_latency and "),
        (
            {
                "acceptable_latency": Duration.seconds(5),
                "processing_time_per_message": Duration.seconds(10),
            },
            "acceptable_latency=Duration(5 seconds): is shorter than processing_time_per_message",
        ),
        (
            {"target_backlog_per_worker": 10, "acceptable_latency": Duration.minutes(1)},
            "target_backlog_per_worker=10: give either target_backlog_per_worker or",
        ),
        ({"target_backlog_per_worker": 0}, "target_backlog_per_worker=0: must be greater than 0"),
        (
            {"target_backlog_per_worker": 5, "min_capacity": 5, "max_capacity": 2},
            "min_capacity=5: must not exceed max_capacity (2)",
        ),
        (
            {"target_backlog_per_worker": 5, "max_capacity": 0},
            "max_capacity=0: must be an integer from 1 to 10000",
        ),
        (
            {"target_backlog_per_worker": float("nan")},
            "target_backlog_per_worker=nan: must be a finite number",
        ),
        (
            {"target_backlog_per_worker": float("inf")},
            "target_backlog_per_worker=inf: must be a finite number",
        ),
        (
            {"target_backlog_per_worker": 5, "min_capacity": 0.5, "max_capacity": 2.5},
            "min_capacity=0.5: must be an integer from 0 to 10000",
        ),
        (
            {"target_backlog_per_worker": 5, "max_capacity": 2.5},
            "max_capacity=2.5: must be an integer from 1 to 10000",
        ),
        (
            {"acceptable_latency": 300, "processing_time_per_message": Duration.seconds(2)},
            "acceptable_latency=300: expected a Duration, e.g. Duration.seconds(30), got int",
        ),
        (
            {"target_backlog_per_worker": 5, "availability_zones": []},
            "availability_zones=[]: must name at least one zone",
        ),
        (
            {"target_backlog_per_worker": 5, "availability_zones": ["eu-west-1a", "eu-west-1a"]},
            "availability_zones=['eu-west-1a', 'eu-west-1a']: names eu-west-1a more than once",
        ),
        (
            {"target_backlog_per_worker": 5, "availability_zones": "eu-west-1a"},
            "availability_zones='eu-west-1a': expected a list of zone names",
        ),
    ],
)
def test_fails_on_scaling_options_that_cannot_work(
    options: dict[str, Any], message: str, code: Path
) -> None:
    stack = Stack(new_app(), "Some")
    with pytest.raises(FanoutConfigurationError, match=re.escape(message)):
        QueueWorkerPool(
            stack, "Pool", queue=_queue(stack), workers=Ec2Workers(code_path=str(code)), **options
        )


def test_an_unusable_max_capacity_is_one_problem_not_two(code: Path) -> None:
    stack = Stack(new_app(), "Some")
    with pytest.raises(FanoutConfigurationError) as error:
        QueueWorkerPool(
            stack,
            "Pool",
            queue=_queue(stack),
            workers=Ec2Workers(code_path=str(code)),
            target_backlog_per_worker=5,
            max_capacity=-1,
        )
    assert error.value.problems == ["max_capacity=-1: must be an integer from 1 to 10000"]


def test_fargate_scale_out_waits_for_new_tasks_to_show_in_the_metric(
    fargate_pool: SimpleNamespace,
) -> None:
    """A task starts in ~1 min and metrics lag ~2 min; scaling again sooner overshoots."""
    config = fargate_pool.t.props(fargate_pool.pool.scaling_policy)[
        "TargetTrackingScalingPolicyConfiguration"
    ]
    assert config["ScaleOutCooldown"] >= 180


def test_fails_on_availability_zones_with_an_own_vpc(code: Path) -> None:
    stack = Stack(new_app(), "Some")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2)
    with pytest.raises(
        FanoutConfigurationError,
        match=r"availability_zones=\['eu-west-1a'\]: sets the zones of the default VPC only",
    ):
        _ec2_pool(stack, code, vpc=vpc, availability_zones=["eu-west-1a"])


def test_fails_on_a_fifo_alarm_topic(code: Path) -> None:
    stack = Stack(new_app(), "Some")
    alarm_topic = sns.Topic(stack, "Alarms", fifo=True)
    with pytest.raises(
        FanoutConfigurationError,
        match=r"alarm_topic='Some/Alarms': is a FIFO topic; CloudWatch alarm actions can only "
        r"notify standard SNS topics",
    ):
        _ec2_pool(stack, code, alarm_topic=alarm_topic)


@pytest.mark.parametrize("wrong", ["topic", "string"])
def test_queue_that_is_not_a_queue_is_refused_naming_queue(wrong: str, code: Path) -> None:
    stack = Stack(new_app(), "Some")
    queue: Any = FanoutTopic(stack, "Jobs") if wrong == "topic" else "jobs-queue"
    with pytest.raises(
        FanoutConfigurationError,
        match=r"\n  - queue="
        + (".*" if wrong == "topic" else "'jobs-queue'")
        + r": expected the work queue: a ConsumerQueue \(e.g. "
        r"FanoutTopic.add_queue_consumer\(...\)\) or an sqs.IQueue, got "
        + ("FanoutTopic" if wrong == "topic" else "str")
        + "$",
    ):
        _ec2_pool(stack, code, queue=queue)


def test_workers_that_are_not_ec2_or_fargate_workers_are_refused(code: Path) -> None:
    stack = Stack(new_app(), "Some")
    with pytest.raises(
        FanoutConfigurationError,
        match=r"\n  - workers='.*': expected Ec2Workers\(job=WorkerJob\(...\)\) or "
        r"FargateWorkers\(job=WorkerJob\(...\)\), got str$",
    ):
        _ec2_pool(stack, code, workers=str(code))


def test_an_unknown_option_is_refused_naming_the_nearest_option(code: Path) -> None:
    stack = Stack(new_app(), "Some")
    with pytest.raises(
        FanoutConfigurationError,
        match=r"max_capacty=3: is not an option of QueueWorkerPool; did you mean "
        r"'max_capacity'\?",
    ):
        _ec2_pool(stack, code, max_capacty=3)


def test_a_worker_field_of_the_wrong_type_is_refused_naming_it(code: Path) -> None:
    stack = Stack(new_app(), "Some")
    with pytest.raises(
        FanoutConfigurationError,
        match=r"workers.image='python:3.13': expected an ecs.ContainerImage \(or None\), got str",
    ):
        QueueWorkerPool(
            stack,
            "Pool",
            queue=_queue(stack),
            workers=FargateWorkers(image="python:3.13"),  # type: ignore[arg-type]
            target_backlog_per_worker=5,
        )


def _visibility_timeout(pool: QueueWorkerPool) -> Any:
    assert pool.task_definition is not None
    (container,) = Tmpl(Stack.of(pool)).props(pool.task_definition)["ContainerDefinitions"]
    return {e["Name"]: e["Value"] for e in container["Environment"]}["VISIBILITY_TIMEOUT"]


def test_a_queue_whose_visibility_timeout_cannot_be_read_warns_and_gets_sqs_default(
    code: Path,
) -> None:
    # GIVEN a queue imported by its ARN: its visibility timeout is not known at synth
    stack = Stack(new_app(), "Some")
    imported = sqs.Queue.from_queue_arn(stack, "Jobs", "arn:aws:sqs:eu-west-1:123456789012:jobs")
    pool = QueueWorkerPool(
        stack,
        "Pool",
        queue=imported,
        workers=FargateWorkers(image=ecs.ContainerImage.from_asset(str(code))),
        target_backlog_per_worker=5,
    )

    # THEN the workers are told SQS's default, and synth says what the queue must allow
    assert _visibility_timeout(pool) == "30"
    Annotations.from_stack(stack).has_warning(
        "/Some/Pool",
        Match.string_like_regexp(
            r"cannot read the visibility timeout of Some/Jobs: make sure it is at least as "
            r"long as a job takes, or two workers will run the same message at once"
        ),
    )


def _worker_environment(pool: QueueWorkerPool) -> dict[str, Any]:
    assert pool.task_definition is not None
    (container,) = Tmpl(Stack.of(pool)).props(pool.task_definition)["ContainerDefinitions"]
    return {e["Name"]: e["Value"] for e in container["Environment"]}


def test_workers_long_poll_as_long_as_the_queue_says_when_that_is_shorter(code: Path) -> None:
    stack = Stack(new_app(), "Some")
    jobs = FanoutTopic(stack, "Jobs")
    image = ecs.ContainerImage.from_asset(str(code))
    waits = {"Brief": Duration.seconds(5), "Short": Duration.seconds(0)}
    pools = {
        name: QueueWorkerPool(
            stack,
            f"{name}Pool",
            queue=jobs.add_queue_consumer(name, receive_message_wait_time=wait),
            workers=FargateWorkers(image=image),
            target_backlog_per_worker=5,
        )
        for name, wait in waits.items()
    }
    told = {
        name: _worker_environment(pool).get("WAIT_TIME_SECONDS") for name, pool in pools.items()
    }
    # 5 s reaches the workers; 0 s (short polling) does not: idle workers would spin.
    assert told == {"Brief": "5", "Short": None}


def test_workers_of_a_default_queue_keep_their_own_20_second_poll(
    fargate_pool: SimpleNamespace,
) -> None:
    assert "WAIT_TIME_SECONDS" not in _worker_environment(fargate_pool.pool)


def test_a_deploy_time_visibility_timeout_reaches_the_workers(code: Path) -> None:
    stack = Stack(new_app(), "Some")
    timeout = CfnParameter(stack, "Visibility", type="Number").value_as_number
    queue = sqs.Queue(stack, "Jobs", visibility_timeout=Duration.seconds(timeout))
    pool = QueueWorkerPool(
        stack,
        "Pool",
        queue=queue,
        workers=FargateWorkers(image=ecs.ContainerImage.from_asset(str(code))),
        target_backlog_per_worker=5,
    )
    assert _visibility_timeout(pool) == {"Ref": "Visibility"}
    Annotations.from_stack(stack).has_no_warning("/Some/Pool", Match.any_value())


def _parameter_seconds(stack: Stack, name: str) -> Duration:
    return Duration.seconds(
        Token.as_number(CfnParameter(stack, name, type="Number").value_as_number)
    )


def test_deploy_time_durations_are_not_refused_but_need_the_target(code: Path) -> None:
    stack = Stack(new_app(), "Some")
    with pytest.raises(
        FanoutConfigurationError,
        match=r"acceptable_latency=Duration\(.*\): is a deploy-time token, so the target "
        r"backlog per worker .* cannot be computed at synth: also pass target_backlog_per_worker",
    ):
        QueueWorkerPool(
            stack,
            "Pool",
            queue=_queue(stack),
            workers=Ec2Workers(code_path=str(code)),
            acceptable_latency=_parameter_seconds(stack, "Latency"),
            processing_time_per_message=Duration.seconds(2),
        )


def test_deploy_time_durations_with_a_target_synthesize(code: Path) -> None:
    # GIVEN durations known at deploy time only, and the target backlog given as a parameter
    stack = Stack(new_app(), "Some")
    target = CfnParameter(stack, "Target", type="Number").value_as_number
    pool = QueueWorkerPool(
        stack,
        "Pool",
        queue=_queue(stack),
        workers=Ec2Workers(code_path=str(code)),
        acceptable_latency=_parameter_seconds(stack, "Latency"),
        processing_time_per_message=_parameter_seconds(stack, "PerMessage"),
        target_backlog_per_worker=target,
    )

    # THEN the policy tracks the parameter, and the latency alarm waits for the latency one
    t = Tmpl(stack)
    config = t.props(pool.scaling_policy)["TargetTrackingConfiguration"]
    assert config["TargetValue"] == {"Ref": "Target"}
    assert pool.backlog_alarm is not None
    assert t.props(pool.backlog_alarm)["Threshold"] == {"Ref": "Latency"}


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        pytest.param({"QUEUE_URL": "x"}, r"environment='QUEUE_URL': is set by the pool", id="ours"),
        pytest.param(
            {"1ST": "x"}, r"environment='1ST': is not a valid variable name", id="bad name"
        ),
        pytest.param(
            {"GREETING": "a\nENV\nrm -rf /"},
            r"environment\['GREETING'\]=.*holds a line break",
            id="line break",
        ),
        pytest.param(
            {"SIZE": 3},
            r"environment\['SIZE'\]=3: expected a str, got int",
            id="not text",
        ),
        pytest.param(
            {f"K{i}": "x" * 200 for i in range(41)},
            r"environment='41 variables': take \d+ bytes; on EC2 .* user data",
            id="over EC2's user data",
        ),
    ],
)
def test_fails_when_the_environment_cannot_reach_the_worker(
    code: Path, environment: dict[str, Any], message: str
) -> None:
    stack = Stack(new_app(), "Some")
    with pytest.raises(FanoutConfigurationError, match=message):
        _ec2_pool(stack, code, environment=environment)


def test_a_large_environment_is_accepted_on_fargate(code: Path) -> None:
    stack = Stack(new_app(), "Some")
    pool = QueueWorkerPool(
        stack,
        "Pool",
        queue=_queue(stack),
        workers=FargateWorkers(image=ecs.ContainerImage.from_asset(str(code))),
        target_backlog_per_worker=5,
        environment={f"K{i}": "x" * 200 for i in range(41)},
    )
    assert pool.service is not None


@pytest.mark.parametrize(
    ("zones", "message"),
    [
        (["us-east-1a", "us-east-1b"], r"'us-east-1a': is a zone of us-east-1, but the stack is"),
        (["euw1-az1", "euw1-az2"], r"'euw1-az1': is not a zone name"),
    ],
)
def test_fails_when_the_zones_are_not_zones_of_the_stack_region(
    code: Path, zones: list[str], message: str
) -> None:
    stack = Stack(new_app(), "Some", env={"account": "123456789012", "region": "eu-west-1"})
    with pytest.raises(FanoutConfigurationError, match=message):
        _ec2_pool(stack, code, availability_zones=zones)


@pytest.mark.parametrize(
    ("cpu", "memory", "message"),
    [
        (300, 512, r"workers.cpu=300: Fargate offers 256, 512"),
        (256, 4096, r"workers.memory_limit_mib=4096: with cpu=256 Fargate allows 512 to 2048"),
        (1024, 2500, r"workers.memory_limit_mib=2500: with cpu=1024"),
    ],
)
def test_fails_when_the_fargate_size_is_not_one_fargate_offers(
    code: Path, cpu: int, memory: int, message: str
) -> None:
    stack = Stack(new_app(), "Some")
    image = ecs.ContainerImage.from_asset(str(code))
    with pytest.raises(FanoutConfigurationError, match=message):
        QueueWorkerPool(
            stack,
            "Pool",
            queue=_queue(stack),
            workers=FargateWorkers(image=image, cpu=cpu, memory_limit_mib=memory),
            target_backlog_per_worker=5,
        )


def test_fails_when_the_vpc_has_no_private_subnets(code: Path) -> None:
    stack = Stack(new_app(), "Some")
    public_only = ec2.Vpc(
        stack,
        "Public",
        subnet_configuration=[
            ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC)
        ],
    )
    with pytest.raises(FanoutConfigurationError, match=r"vpc='Some/Public': has no private"):
        _ec2_pool(stack, code, vpc=public_only)


def test_fails_when_acceptable_latency_is_not_whole_seconds(code: Path) -> None:
    stack = Stack(new_app(), "Some")
    with pytest.raises(
        FanoutConfigurationError,
        match=r"acceptable_latency=Duration\(1 second 500 millis\): must be a whole number",
    ):
        QueueWorkerPool(
            stack,
            "Pool",
            queue=_queue(stack),
            workers=Ec2Workers(code_path=str(code)),
            acceptable_latency=Duration.millis(1500),
            processing_time_per_message=Duration.millis(100),
        )


def test_a_processing_time_in_milliseconds_is_accepted(code: Path) -> None:
    stack = Stack(new_app(), "Some")
    pool = QueueWorkerPool(
        stack,
        "Pool",
        queue=_queue(stack),
        workers=Ec2Workers(code_path=str(code)),
        acceptable_latency=Duration.seconds(2),
        processing_time_per_message=Duration.millis(100),
    )
    assert pool.target_backlog_per_worker == pytest.approx(20)
