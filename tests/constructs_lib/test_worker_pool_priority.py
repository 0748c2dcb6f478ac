"""QueueWorkerPool(queues=[high, low]): the workers' queues in priority order, scaling on the
combined backlog per worker, grants and alarms per queue, and the rules on the list."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aws_cdk import CfnParameter, Duration, Stack, Token
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_kms as kms
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

SUM_OF_BOTH = (
    "FILL(visible_1, 0) + FILL(in_flight_1, 0) + FILL(visible_2, 0) + FILL(in_flight_2, 0)"
)
WAITING_IN_BOTH = "FILL(visible_1, 0) + FILL(visible_2, 0)"


def _priority_pool(stack: Stack, workers: Ec2Workers | FargateWorkers) -> SimpleNamespace:
    """Paid (own key) above free, both fed by one topic; a pool over both."""
    jobs = FanoutTopic(stack, "Jobs")
    paid = jobs.add_queue_consumer(
        "Paid",
        visibility_timeout=Duration.minutes(2),
        encryption_key=kms.Key(stack, "PaidKey", enable_key_rotation=True),
    )
    free = jobs.add_queue_consumer("Free", visibility_timeout=Duration.minutes(2))
    pool = QueueWorkerPool(
        stack,
        "Pool",
        queues=[paid, free],
        workers=workers,
        acceptable_latency=Duration.minutes(5),
        processing_time_per_message=Duration.seconds(10),
        max_capacity=20,
        priority_starvation_limit=5,
    )
    return SimpleNamespace(t=Tmpl(stack), paid=paid, free=free, pool=pool)


@pytest.fixture(scope="module")
def fargate(code: Path) -> SimpleNamespace:
    image = ecs.ContainerImage.from_asset(str(code))
    return _priority_pool(Stack(new_app(), "PriorityFargate"), FargateWorkers(image=image))


@pytest.fixture(scope="module")
def ec2(code: Path) -> SimpleNamespace:
    return _priority_pool(Stack(new_app(), "PriorityEc2"), Ec2Workers(code_path=str(code)))


def _environment(built: SimpleNamespace) -> dict[str, Any]:
    (container,) = built.t.props(built.pool.task_definition)["ContainerDefinitions"]
    return {e["Name"]: e["Value"] for e in container["Environment"]}


def _queue_name(t: Tmpl, queue: Any) -> dict[str, Any]:
    return {"Fn::GetAtt": [t.logical_id(queue), "QueueName"]}


def _queries(metrics: list[dict[str, Any]]) -> dict[str, Any]:
    return {q["Id"]: q for q in metrics}


def _listed(resource: Any) -> list[Any]:
    return resource if isinstance(resource, list) else [resource]


def _dims(query: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in query["MetricStat"]["Metric"]["Dimensions"]}


def test_workers_are_told_the_queues_highest_first_and_the_starvation_limit(
    fargate: SimpleNamespace,
) -> None:
    environment = _environment(fargate)
    t = fargate.t
    assert environment["QUEUE_URLS"] == {
        "Fn::Join": [
            "",
            [
                {"Ref": t.logical_id(fargate.paid.queue)},
                ",",
                {"Ref": t.logical_id(fargate.free.queue)},
            ],
        ]
    }
    assert "QUEUE_URL" not in environment
    assert environment["PRIORITY_STARVATION_LIMIT"] == "5"
    assert environment["VISIBILITY_TIMEOUT"] == "120"


def test_fargate_scales_on_the_combined_backlog_per_task(fargate: SimpleNamespace) -> None:
    t = fargate.t
    config = t.props(fargate.pool.scaling_policy)["TargetTrackingScalingPolicyConfiguration"]
    queries = _queries(config["CustomizedMetricSpecification"]["Metrics"])
    assert _dims(queries["visible_1"]) == {"QueueName": _queue_name(t, fargate.paid.queue)}
    assert _dims(queries["visible_2"]) == {"QueueName": _queue_name(t, fargate.free.queue)}
    assert _dims(queries["in_flight_1"]) == {"QueueName": _queue_name(t, fargate.paid.queue)}
    assert _dims(queries["in_flight_2"]) == {"QueueName": _queue_name(t, fargate.free.queue)}
    for query_id, name in (
        ("visible_1", "ApproximateNumberOfMessagesVisible"),
        ("in_flight_1", "ApproximateNumberOfMessagesNotVisible"),
        ("visible_2", "ApproximateNumberOfMessagesVisible"),
        ("in_flight_2", "ApproximateNumberOfMessagesNotVisible"),
    ):
        metric = queries[query_id]["MetricStat"]
        assert metric["Metric"]["MetricName"] == name
        assert metric["Stat"] == "Sum"
        assert queries[query_id]["ReturnData"] is False
    assert _dims(queries["workers"])["ServiceName"] == {
        "Fn::GetAtt": [t.logical_id(fargate.pool.service), "Name"]
    }
    returned = [q for q in queries.values() if q.get("ReturnData", True)]
    assert returned == [queries["backlog_per_worker"]]
    assert returned[0]["Expression"] == f"({SUM_OF_BOTH}) / IF(workers > 0, workers, 1)"
    assert config["TargetValue"] == 30


def test_ec2_scales_on_the_combined_backlog_per_instance(ec2: SimpleNamespace) -> None:
    t = ec2.t
    config = t.props(ec2.pool.scaling_policy)["TargetTrackingConfiguration"]
    queries = _queries(config["CustomizedMetricSpecification"]["Metrics"])
    assert _dims(queries["visible_1"]) == {"QueueName": _queue_name(t, ec2.paid.queue)}
    assert _dims(queries["visible_2"]) == {"QueueName": _queue_name(t, ec2.free.queue)}
    assert queries["backlog_per_worker"]["Expression"] == (
        f"({SUM_OF_BOTH}) / IF(workers > 0, workers, 1)"
    )


@pytest.mark.parametrize("which", ["ec2", "fargate"])
def test_work_in_any_queue_starts_a_pool_at_zero(
    which: str, request: pytest.FixtureRequest
) -> None:
    built = request.getfixturevalue(which)
    t = built.t
    alarm = t.props(built.pool.from_zero_alarm)
    queries = _queries(alarm["Metrics"])
    (returned,) = [q for q in alarm["Metrics"] if q.get("ReturnData", True)]
    assert returned["Expression"] == f"IF(FILL(desired, 0) == 0, {WAITING_IN_BOTH}, 0)"
    assert _dims(queries["visible_1"]) == {"QueueName": _queue_name(t, built.paid.queue)}
    assert _dims(queries["visible_2"]) == {"QueueName": _queue_name(t, built.free.queue)}
    assert alarm["AlarmActions"][0] in (
        {"Ref": t.logical_id(built.pool.from_zero_policy)},
        {"Fn::GetAtt": [t.logical_id(built.pool.from_zero_policy), "Arn"]},
    )


@pytest.mark.parametrize("which", ["ec2", "fargate"])
def test_workers_may_consume_exactly_these_queues_and_use_their_keys(
    which: str, request: pytest.FixtureRequest
) -> None:
    built = request.getfixturevalue(which)
    t = built.t
    statements = t.role_statements(built.pool.role)
    consume = [s for s in statements if "sqs:" in str(s["Action"])]
    assert all("sqs:DeleteMessage" in s["Action"] for s in consume)
    resources = [r for s in consume for r in _listed(s["Resource"])]
    assert sorted(map(str, resources)) == sorted(
        str({"Fn::GetAtt": [t.logical_id(q.queue), "Arn"]}) for q in (built.paid, built.free)
    )
    keys = {t.key_of_queue(t.logical_id(q.queue)) for q in (built.paid, built.free)}
    assert len(keys) == 2  # the paid queue's own key and the fanout's
    decrypts = [r for s in statements if "kms:" in str(s["Action"]) for r in _listed(s["Resource"])]
    assert sorted(str(r) for r in decrypts) == sorted(
        str({"Fn::GetAtt": [key, "Arn"]}) for key in keys
    )


def test_ec2_instances_are_told_the_queues_in_priority_order(ec2: SimpleNamespace) -> None:
    user_data = str(ec2.t.props(ec2.pool.launch_template)["LaunchTemplateData"]["UserData"])
    assert "QUEUE_URLS=" in user_data
    assert "PRIORITY_STARVATION_LIMIT=5" in user_data
    assert re.search(r"\bQUEUE_URL=", user_data) is None
    paid, free = (ec2.t.logical_id(q.queue) for q in (ec2.paid, ec2.free))
    assert user_data.index(paid) < user_data.index(free)


def test_each_queue_gets_its_own_latency_alarm_named_by_the_queue(
    fargate: SimpleNamespace,
) -> None:
    t = fargate.t
    pool = fargate.pool
    assert [a.node.id for a in pool.latency_alarms] == ["PaidLatencyAlarm", "FreeLatencyAlarm"]
    assert pool.backlog_alarm is pool.latency_alarms[0]
    for alarm, queue in zip(pool.latency_alarms, (fargate.paid, fargate.free), strict=True):
        props = t.props(alarm)
        assert props["MetricName"] == "ApproximateAgeOfOldestMessage"
        assert props["Dimensions"] == [{"Name": "QueueName", "Value": _queue_name(t, queue.queue)}]
        assert props["Threshold"] == 300
        assert queue.queue.node.path in props["AlarmDescription"]


def test_each_queue_keeps_its_own_dead_letter_queue(fargate: SimpleNamespace) -> None:
    t = fargate.t
    targets = [
        t.props(q.queue)["RedrivePolicy"]["deadLetterTargetArn"]
        for q in (fargate.paid, fargate.free)
    ]
    assert targets == [
        {"Fn::GetAtt": [t.logical_id(q.dead_letter_queue), "Arn"]}
        for q in (fargate.paid, fargate.free)
    ]


def test_the_pool_exposes_its_queues_highest_first(fargate: SimpleNamespace) -> None:
    pool = fargate.pool
    assert pool.queues == [fargate.paid.queue, fargate.free.queue]
    assert pool.consumer_queues == [fargate.paid, fargate.free]
    assert pool.queue is fargate.paid.queue
    assert pool.consumer_queue is fargate.paid


def test_metrics_cover_every_queue(fargate: SimpleNamespace) -> None:
    pool = fargate.pool
    backlog = pool.metric_backlog_per_worker()
    assert backlog.expression == f"({SUM_OF_BOTH}) / IF(workers > 0, workers, 1)"
    assert set(backlog.using_metrics) == {
        "visible_1",
        "in_flight_1",
        "visible_2",
        "in_flight_2",
        "workers",
    }
    age = pool.metric_approximate_age_of_oldest_message()
    assert age.expression == "MAX([age_1, age_2])"  # type: ignore[union-attr]


def test_one_queue_keeps_its_single_queue_template(code: Path) -> None:
    stack = Stack(new_app(), "One")
    queue = FanoutTopic(stack, "Jobs").add_queue_consumer("Q")
    pool = QueueWorkerPool(
        stack,
        "Pool",
        queues=[queue],
        workers=FargateWorkers(image=ecs.ContainerImage.from_asset(str(code))),
        target_backlog_per_worker=5,
    )
    environment = _environment(SimpleNamespace(t=Tmpl(stack), pool=pool))
    assert "QUEUE_URLS" not in environment and "PRIORITY_STARVATION_LIMIT" not in environment
    assert [a.node.id for a in pool.latency_alarms] == ["LatencyAlarm"]
    assert (
        pool.metric_backlog_per_worker().expression
        == "(visible + in_flight) / IF(workers > 0, workers, 1)"
    )


def test_fifo_queues_of_one_kind_make_a_priority_pool(code: Path) -> None:
    stack = Stack(new_app(), "Fifo")
    topic = FanoutTopic(stack, "Jobs", fifo=True)
    high = topic.add_queue_consumer("High", visibility_timeout=Duration.minutes(1))
    low = topic.add_queue_consumer("Low", visibility_timeout=Duration.minutes(1))
    pool = QueueWorkerPool(
        stack,
        "Pool",
        queues=[high, low],
        workers=Ec2Workers(code_path=str(code)),
        target_backlog_per_worker=5,
    )
    assert [q.fifo for q in pool.queues] == [True, True]


# -- the rules on the list -------------------------------------------------------------------


def _queues(stack: Stack, **visibility: Duration) -> dict[str, Any]:
    topic = FanoutTopic(stack, "Jobs")
    return {
        name: topic.add_queue_consumer(name, visibility_timeout=timeout)
        for name, timeout in visibility.items()
    }


def _fails(code: Path, stack: Stack, message: str, **options: Any) -> str:
    options.setdefault("target_backlog_per_worker", 5)
    with pytest.raises(FanoutConfigurationError, match=re.escape(message)) as raised:
        QueueWorkerPool(stack, "Pool", workers=Ec2Workers(code_path=str(code)), **options)
    return str(raised.value)


def test_fails_without_a_queue(code: Path) -> None:
    _fails(code, Stack(new_app(), "S"), "queue=None: give the work queue (queue=a ConsumerQueue")


def test_fails_with_both_queue_and_queues(code: Path) -> None:
    stack = Stack(new_app(), "S")
    q = _queues(stack, A=Duration.seconds(30), B=Duration.seconds(30))
    _fails(
        code, stack, "give queue=S/Jobs/A or queues=[...], not both", queue=q["A"], queues=[q["B"]]
    )


def test_fails_on_an_empty_list(code: Path) -> None:
    _fails(code, Stack(new_app(), "S"), "queues=[]: is empty; give at least one queue", queues=[])


def test_fails_on_the_same_queue_twice_also_as_its_consumer_queue(code: Path) -> None:
    stack = Stack(new_app(), "S")
    q = _queues(stack, A=Duration.seconds(30))
    _fails(
        code,
        stack,
        "queues='S/Jobs/A/Queue': is listed twice (positions 1 and 2)",
        queues=[q["A"], q["A"].queue],
    )


def test_fails_on_one_queue_imported_twice(code: Path) -> None:
    stack = Stack(new_app(), "S")
    arn = "arn:aws:sqs:us-east-1:123456789012:jobs"
    first = sqs.Queue.from_queue_arn(stack, "First", arn)
    again = sqs.Queue.from_queue_arn(stack, "Again", arn)
    _fails(
        code, stack, "queues='S/Again': is listed twice (positions 1 and 2)", queues=[first, again]
    )


def test_fails_on_fifo_and_standard_queues_mixed(code: Path) -> None:
    stack = Stack(new_app(), "S")
    fifo = FanoutTopic(stack, "Ordered", fifo=True).add_queue_consumer("F")
    standard = FanoutTopic(stack, "Plain").add_queue_consumer("P")
    _fails(
        code,
        stack,
        "{'FIFO': ['S/Ordered/F/Queue'], 'standard': ['S/Plain/P/Queue']}: mixes FIFO and "
        "standard queues",
        queues=[fifo, standard],
    )


def test_fails_on_different_visibility_timeouts(code: Path) -> None:
    stack = Stack(new_app(), "S")
    q = _queues(stack, A=Duration.minutes(2), B=Duration.seconds(30))
    _fails(
        code,
        stack,
        "queues={'S/Jobs/A/Queue': '120 s', 'S/Jobs/B/Queue': '30 s'}: have different "
        "visibility timeouts",
        queues=[q["A"], q["B"]],
    )


def test_a_deploy_time_visibility_timeout_is_not_compared(code: Path) -> None:
    stack = Stack(new_app(), "S")
    seconds = CfnParameter(stack, "Visibility", type="Number", default=120)
    topic = FanoutTopic(stack, "Jobs")
    a = topic.add_queue_consumer("A", visibility_timeout=Duration.minutes(2))
    b = topic.add_queue_consumer(
        "B", visibility_timeout=Duration.seconds(Token.as_number(seconds.value_as_number))
    )
    pool = QueueWorkerPool(
        stack,
        "Pool",
        queues=[a, b],
        workers=Ec2Workers(code_path=str(code)),
        target_backlog_per_worker=5,
    )
    assert len(pool.queues) == 2


def test_fails_on_a_queue_in_another_region(code: Path) -> None:
    from aws_cdk import Environment

    stack = Stack(new_app(), "S", env=Environment(account="123456789012", region="eu-west-1"))
    here = _queues(stack, A=Duration.seconds(30))["A"]
    there = sqs.Queue.from_queue_arn(stack, "There", "arn:aws:sqs:us-east-1:123456789012:jobs")
    _fails(
        code,
        stack,
        "queues='S/There': is in region us-east-1, the pool in eu-west-1",
        queues=[here, there],
        availability_zones=["eu-west-1a", "eu-west-1b"],
    )


def test_fails_on_more_queues_than_an_alarm_can_read(code: Path) -> None:
    stack = Stack(new_app(), "S")
    many = _queues(stack, **{f"Q{n}": Duration.seconds(30) for n in range(5)})
    _fails(code, stack, "lists 5 queues; a pool works at most 4", queues=list(many.values()))


@pytest.mark.parametrize(
    ("count", "limit", "message"),
    [
        (1, 5, "priority_starvation_limit=5: applies only to a pool of several queues"),
        (2, -1, "priority_starvation_limit=-1: must be an integer from 0 to 10000"),
        (2, 2.5, "priority_starvation_limit=2.5: must be an integer from 0 to 10000"),
    ],
)
def test_fails_on_a_starvation_limit_the_worker_cannot_use(
    code: Path, count: int, limit: float, message: str
) -> None:
    stack = Stack(new_app(), "S")
    q = list(_queues(stack, A=Duration.seconds(30), B=Duration.seconds(30)).values())[:count]
    _fails(code, stack, message, queues=q, priority_starvation_limit=limit)


def test_every_problem_of_the_list_is_reported_at_once(code: Path) -> None:
    stack = Stack(new_app(), "S")
    q = _queues(stack, A=Duration.minutes(2), B=Duration.seconds(30))
    text = _fails(
        code,
        stack,
        "is listed twice",
        queues=[q["A"], q["B"], q["A"]],
        priority_starvation_limit=-1,
        max_capacity=0,
    )
    assert "have different visibility timeouts" in text
    assert "priority_starvation_limit=-1" in text
    assert "max_capacity=0" in text


def test_an_imported_queue_of_the_list_warns_that_its_timeout_must_match(code: Path) -> None:
    stack = Stack(new_app(), "S")
    here = _queues(stack, A=Duration.minutes(2))["A"]
    imported = sqs.Queue.from_queue_arn(stack, "Bulk", "arn:aws:sqs:eu-west-1:123456789012:bulk")
    pool = QueueWorkerPool(
        stack,
        "Pool",
        queues=[here, imported],
        workers=FargateWorkers(image=ecs.ContainerImage.from_asset(str(code))),
        target_backlog_per_worker=5,
    )
    assert _environment(SimpleNamespace(t=Tmpl(stack), pool=pool))["VISIBILITY_TIMEOUT"] == "120"
    Annotations.from_stack(stack).has_warning(
        "/S/Pool",
        Match.string_like_regexp(
            r"cannot read the visibility timeout of S/Bulk: .* and the same for every queue of "
            r"the pool: the workers are told as long as the other queues'"
        ),
    )


def test_queue_urls_set_by_hand_are_refused(code: Path) -> None:
    stack = Stack(new_app(), "S")
    q = _queues(stack, A=Duration.seconds(30))
    _fails(
        code,
        stack,
        "environment='QUEUE_URLS': is set by the pool",
        queue=q["A"],
        environment={"QUEUE_URLS": "x"},
    )


def test_a_drained_priority_pool_shrinks_on_what_is_left_in_every_queue(
    fargate: SimpleNamespace,
) -> None:
    t = fargate.t
    alarm = t.props(fargate.pool.surplus_alarm)
    (expression,) = [m["Expression"] for m in alarm["Metrics"] if "Expression" in m]
    assert expression == (
        f"IF(FILL(desired, 0) > 2 * ({SUM_OF_BOTH}) + 1, "
        f"IF(({SUM_OF_BOTH}) < 17, ({SUM_OF_BOTH}), -1), -1)"
    )
    metrics = {m["Id"]: m for m in alarm["Metrics"] if "MetricStat" in m}
    assert set(metrics) == {"visible_1", "in_flight_1", "visible_2", "in_flight_2", "desired"}
    assert _dims(metrics["in_flight_2"]) == {"QueueName": _queue_name(t, fargate.free.queue)}
