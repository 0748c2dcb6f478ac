"""benchmarks/scaling_sim.py: metric math, template reading and the scaling model (no synth)."""

from __future__ import annotations

import importlib.util
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPT = BENCHMARKS / "scaling_sim.py"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG = "{http://www.w3.org/2000/svg}"


def _load() -> ModuleType:
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))  # the figure is drawn by the sibling _plots.py
    spec = importlib.util.spec_from_file_location("scaling_sim", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


sim = _load()

QUEUE = {"Name": "QueueName", "Value": {"Fn::GetAtt": ["Queue", "QueueName"]}}
VISIBLE = {"Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible"}
SERVICE = [{"Name": "ServiceName", "Value": "svc"}]


def target(min_capacity: int, max_capacity: int) -> dict:
    """The scalable target ``Target``, as a template spells it."""
    return {
        "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
        "Properties": {"MinCapacity": min_capacity, "MaxCapacity": max_capacity},
    }


def policy(policy_type: str, configuration: dict) -> dict:
    """A scaling policy on ``Target``, its configuration under the key its type reads."""
    return {
        "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
        "Properties": {
            "PolicyType": policy_type,
            "ScalingTargetId": {"Ref": "Target"},
            f"{policy_type}PolicyConfiguration": configuration,
        },
    }


def pool_template(*, with_alarm: bool = True) -> dict:
    """The scaling resources of a QueueWorkerPool, as its template spells them."""
    resources: dict = {
        "Target": target(0, 10),
        "Tracking": policy(
            "TargetTrackingScaling",
            {
                "TargetValue": 30,
                "ScaleOutCooldown": 60,
                "ScaleInCooldown": 120,
                "CustomizedMetricSpecification": {
                    "Metrics": [
                        {
                            "Id": "visible",
                            "MetricStat": {"Metric": {**VISIBLE}, "Stat": "Sum"},
                            "ReturnData": False,
                        },
                        {
                            "Id": "workers",
                            "MetricStat": {
                                "Metric": {
                                    "Namespace": "ECS/ContainerInsights",
                                    "MetricName": "RunningTaskCount",
                                    "Dimensions": SERVICE,
                                },
                                "Stat": "Average",
                            },
                            "ReturnData": False,
                        },
                        {
                            "Id": "per_worker",
                            "Expression": "visible / IF(workers > 0, workers, 1)",
                            "ReturnData": True,
                        },
                    ]
                },
            },
        ),
        "FromZero": policy(
            "StepScaling",
            {
                "AdjustmentType": "ExactCapacity",
                "Cooldown": 60,
                "StepAdjustments": [
                    {
                        "MetricIntervalLowerBound": 0,
                        "MetricIntervalUpperBound": 30,
                        "ScalingAdjustment": 1,
                    },
                    {"MetricIntervalLowerBound": 30, "ScalingAdjustment": 10},
                ],
            },
        ),
    }
    if with_alarm:
        resources["FromZeroAlarm"] = {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmActions": [{"Ref": "FromZero"}],
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "EvaluationPeriods": 1,
                "Threshold": 1,
                "Metrics": [
                    {
                        "Id": "expr_1",
                        "Expression": "IF(FILL(desired, 0) == 0, visible, 0)",
                        "ReturnData": True,
                    },
                    {
                        "Id": "visible",
                        "MetricStat": {"Metric": {**VISIBLE}, "Period": 60, "Stat": "Maximum"},
                        "ReturnData": False,
                    },
                    {
                        "Id": "desired",
                        "MetricStat": {
                            "Metric": {
                                "Namespace": "ECS/ContainerInsights",
                                "MetricName": "DesiredTaskCount",
                                "Dimensions": SERVICE,
                            },
                            "Period": 60,
                            "Stat": "Average",
                        },
                        "ReturnData": False,
                    },
                ],
            },
        }
    return {"Resources": resources}


def cdk_upper_alarm_policy() -> dict:
    """aws-cdk-lib's default upper step policy and its plain metric alarm (5-minute Maximum)."""
    return {
        "Resources": {
            "Target": target(1, 50),
            "Upper": policy(
                "StepScaling",
                {
                    "AdjustmentType": "ChangeInCapacity",
                    "StepAdjustments": [
                        {
                            "MetricIntervalLowerBound": 0,
                            "MetricIntervalUpperBound": 400,
                            "ScalingAdjustment": 1,
                        },
                        {"MetricIntervalLowerBound": 400, "ScalingAdjustment": 5},
                    ],
                },
            ),
            "UpperAlarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmActions": [{"Ref": "Upper"}],
                    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                    "EvaluationPeriods": 1,
                    "Threshold": 100,
                    "Period": 300,
                    "Statistic": "Maximum",
                    "Dimensions": [QUEUE],
                    **VISIBLE,
                },
            },
        }
    }


def history(samples: dict[str, list[float | None]], first: int = 0):
    """A History whose minute ``first + i`` holds ``samples[q][i]``."""
    result = sim.History({q: values[0] for q, values in samples.items()})
    for index in range(len(next(iter(samples.values())))):
        result.record(first + index, {q: values[index] for q, values in samples.items()})
    return result


# -- metric math ------------------------------------------------------------------------------


def test_from_zero_expression_passes_visible_only_while_desired_is_zero_or_missing():
    expr = sim.compile_expression("IF(FILL(desired, 0) == 0, visible, 0)")
    assert expr({"desired": 0.0, "visible": 120.0}) == 120.0
    assert expr({"desired": None, "visible": 120.0}) == 120.0
    assert expr({"desired": 3.0, "visible": 120.0}) == 0.0


def test_backlog_per_worker_counts_no_worker_as_one():
    expr = sim.compile_expression("visible / IF(workers > 0, workers, 1)")
    assert expr({"visible": 90.0, "workers": 3.0}) == 30.0
    assert expr({"visible": 90.0, "workers": 0.0}) == 90.0
    assert expr({"visible": None, "workers": 3.0}) is None


def test_metric_math_keeps_operator_precedence():
    assert sim.compile_expression("1 + 2 * 3 - -4 / 2")({}) == 9.0


def test_unsupported_metric_math_fails_loudly():
    with pytest.raises(sim.TemplateError, match="RATE with 1 arguments"):
        sim.compile_expression("RATE(visible)")


# -- template reading ---------------------------------------------------------------------------


def test_reads_target_tracking_from_zero_steps_and_their_alarm():
    scaling = sim.read_scaling(pool_template())
    assert (scaling.min_capacity, scaling.max_capacity) == (0, 10)
    (tracking,) = scaling.target_tracking
    assert tracking.target == 30
    assert (tracking.scale_out_cooldown_s, tracking.scale_in_cooldown_s) == (60, 120)
    assert tracking.inputs["workers"] == sim.Input("running", "Average")
    (step,) = scaling.steps
    assert step.adjustment_type == "ExactCapacity"
    assert step.alarm.expression == "IF(FILL(desired, 0) == 0, visible, 0)"
    assert step.alarm.inputs["desired"].quantity == "desired"


def test_fails_when_a_step_policy_has_no_alarm():
    with pytest.raises(sim.TemplateError, match="FromZero is run by 0 alarms"):
        sim.read_scaling(pool_template(with_alarm=False))


def test_missing_step_cooldown_is_the_ecs_default():
    (step,) = sim.read_scaling(cdk_upper_alarm_policy()).steps
    assert step.cooldown_s == 300
    assert not step.cooldown_from_template
    assert step.alarm.period_minutes == 5


def test_step_bands_are_relative_to_the_threshold():
    (step,) = sim.read_scaling(cdk_upper_alarm_policy()).steps
    assert step.band_for(99) is None
    assert step.band_for(100).adjustment == 1
    assert step.band_for(499).adjustment == 1
    assert step.band_for(500).adjustment == 5


def test_band_at_a_below_threshold_alarm_includes_its_upper_bound():
    scale_in = sim.Band(lower=None, upper=0, adjustment=-1)
    assert scale_in.contains(0, above=False)
    assert not scale_in.contains(0, above=True)


# -- scaling model ------------------------------------------------------------------------------


def test_five_minute_alarm_takes_the_maximum_of_five_samples():
    (step,) = sim.read_scaling(cdk_upper_alarm_policy()).steps
    samples = history({"visible": [0, 150, 0, 0, 0, 0, 0]})
    assert step.alarm.value_if_alarm(5, samples) == 150
    assert step.alarm.value_if_alarm(6, samples) is None


def test_step_scale_out_counts_what_it_added_during_its_cooldown():
    (step,) = sim.read_scaling(cdk_upper_alarm_policy()).steps
    runner = sim._StepRunner(step, low=1, high=50)
    busy = history({"visible": [1000.0] * 10})
    assert runner.propose(0, 9, busy, desired=1) == 6
    runner.applied(0, 1, 6)
    assert runner.propose(240, 9, busy, desired=6) is None  # 1 + 5 is already there
    assert runner.propose(300, 9, busy, desired=6) == 11


def test_target_tracking_scales_out_after_three_datapoints_in_proportion():
    (tracking,) = sim.read_scaling(pool_template()).target_tracking
    runner = sim._TargetTrackingRunner(tracking, low=0, high=10)
    two_high = history({"visible": [0.0] * 13 + [120.0, 120.0], "running": [2.0] * 15})
    assert runner.propose(0, 14, two_high, desired=2) is None
    three_high = history({"visible": [0.0] * 12 + [120.0] * 3, "running": [2.0] * 15})
    assert runner.propose(0, 14, three_high, desired=2) == 4  # ceil(2 * 60 / 30)


def test_target_tracking_scales_in_after_fifteen_low_datapoints():
    (tracking,) = sim.read_scaling(pool_template()).target_tracking
    runner = sim._TargetTrackingRunner(tracking, low=0, high=10)
    low = history({"visible": [300.0] + [20.0] * 15, "running": [4.0] * 16})
    assert runner.propose(0, 14, low, desired=4) is None  # 14 low datapoints
    assert runner.propose(0, 15, low, desired=4) == 1  # 15: ceil(4 * 5 / 30)


def test_from_zero_step_sets_the_band_capacity_once_metrics_show_the_backlog():
    scaling = sim.read_scaling(pool_template())
    load = sim.Load(burst=5_000, steady_per_minute=0.0, processing_seconds=10.0)
    run = sim.simulate(
        sim.AutoScaling("pool", scaling, lag_minutes=2),
        load,
        minutes=10,
        warmup_minutes=0,
        launch_minutes=1.0,
        busy_cpu=0.0,
    )
    # desired set at minute 2 from the sample of minute 0; running a minute later
    assert run.running[:4] == [0, 0, 0, 10]


def test_ideal_drains_at_max_capacity_from_minute_zero():
    load = sim.Load(burst=600, steady_per_minute=0.0, processing_seconds=10.0)
    run = sim.simulate(
        sim.Ideal(10, load),
        load,
        minutes=20,
        warmup_minutes=0,
        launch_minutes=0.0,
        busy_cpu=0.0,
    )
    assert run.drain_minute(load) == 10  # 10 workers x 6 messages/minute
    assert sum(run.billed_worker_minutes[:10]) == pytest.approx(100)


# -- the figure ----------------------------------------------------------------------------------


def _small_runs() -> tuple[list, object]:
    """The three fleets on hand-written templates: 600 messages, at most 10 workers."""
    load = sim.Load(burst=600, steady_per_minute=0.0, processing_seconds=10.0)
    common = {"minutes": 30, "warmup_minutes": 0, "launch_minutes": 1.0, "busy_cpu": 0.0}
    runs = [
        sim.simulate(sim.Ideal(10, load), load, **{**common, "launch_minutes": 0.0}),
        sim.simulate(
            sim.AutoScaling("constructs_lib", sim.read_scaling(pool_template()), 2), load, **common
        ),
        sim.simulate(
            sim.AutoScaling("aws-cdk-lib default", sim.read_scaling(cdk_upper_alarm_policy()), 2),
            load,
            **common,
        ),
    ]
    return runs, load


def _draw(directory: Path) -> list[Path]:
    runs, load = _small_runs()
    return sim.write_figure(runs, load, 29, directory, max_capacity=10, subtitle="small run")


@pytest.fixture(scope="module")
def figure(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return _draw(tmp_path_factory.mktemp("figure"))


def _svg_texts(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return [text.text or "" for text in root.iter(f"{SVG}text")]


def test_figure_is_written_as_png_and_svg(figure) -> None:
    png, svg = figure
    assert (png.name, svg.name) == ("scaling-backlog-workers.png", "scaling-backlog-workers.svg")
    assert png.read_bytes().startswith(PNG_SIGNATURE)
    assert ET.parse(svg).getroot().tag == f"{SVG}svg"


def test_figure_legend_names_each_fleet_with_its_drain_time(figure) -> None:
    runs, load = _small_runs()
    ideal, ours, cdk = (run.drain_minute(load) for run in runs)
    assert ideal == 10 and ours is not None
    texts = _svg_texts(figure[1])
    assert f"ideal (max capacity at once): drained in {ideal} min" in texts
    assert (
        f"constructs_lib QueueWorkerPool: drained in {ours} min ({ours / ideal:.2f}x ideal)"
        in texts
    )
    cdk_label = "aws-cdk-lib QueueProcessingFargateService defaults: "
    assert (
        cdk_label
        + (
            f"drained in {cdk} min ({cdk / ideal:.2f}x ideal)"
            if cdk is not None
            else "not drained in 30 min"
        )
        in texts
    )


def test_figure_labels_both_panels_and_the_time_axis(figure) -> None:
    texts = _svg_texts(figure[1])
    for label in (
        "backlog (messages visible)",
        "workers running (tasks)",
        "minutes after the burst arrives",
        "max capacity 10",
        "Draining a burst of 600 messages: backlog and workers over time",
    ):
        assert label in texts


def test_figure_is_identical_when_drawn_again(figure, tmp_path: Path) -> None:
    again = _draw(tmp_path)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in figure]


# -- the priority scenario -------------------------------------------------------------------


def queue_metric(logical_id: str, **stat: object) -> dict:
    """A queue's messages visible, named by its QueueName attribute as a pool's template does."""
    dimensions = [{"Name": "QueueName", "Value": {"Fn::GetAtt": [logical_id, "QueueName"]}}]
    return {"Metric": {**VISIBLE, "Dimensions": dimensions}, **stat}


def pool_resources(
    prefix: str, queues: list[str], max_capacity: int, starvation_limit: int | None = None
) -> dict:
    """A QueueWorkerPool's scaling resources, ids prefixed, over ``queues`` (logical ids):
    ``visible`` for one queue, ``visible_1``, ``visible_2``, … for several."""
    ids = ["visible"] if len(queues) == 1 else [f"visible_{n + 1}" for n in range(len(queues))]
    backlog = ids[0] if len(queues) == 1 else " + ".join(f"FILL({i}, 0)" for i in ids)
    per_worker = f"({backlog}) / IF(workers > 0, workers, 1)"
    count = {"Namespace": "ECS/ContainerInsights", "Dimensions": SERVICE}
    tracking = policy(
        "TargetTrackingScaling",
        {
            "TargetValue": 150,
            "ScaleOutCooldown": 180,
            "ScaleInCooldown": 120,
            "CustomizedMetricSpecification": {
                "Metrics": [
                    *(
                        {"Id": i, "MetricStat": queue_metric(q, Stat="Sum"), "ReturnData": False}
                        for i, q in zip(ids, queues, strict=True)
                    ),
                    {
                        "Id": "workers",
                        "MetricStat": {
                            "Metric": {**count, "MetricName": "RunningTaskCount"},
                            "Stat": "Average",
                        },
                        "ReturnData": False,
                    },
                    {"Id": "per_worker", "Expression": per_worker, "ReturnData": True},
                ]
            },
        },
    )
    from_zero = policy(
        "StepScaling",
        {
            "AdjustmentType": "ExactCapacity",
            "Cooldown": 60,
            "StepAdjustments": [
                {
                    "MetricIntervalLowerBound": 0,
                    "MetricIntervalUpperBound": 150,
                    "ScalingAdjustment": 1,
                },
                {"MetricIntervalLowerBound": 150, "ScalingAdjustment": max_capacity},
            ],
        },
    )
    for resource in (tracking, from_zero):
        resource["Properties"]["ScalingTargetId"] = {"Ref": f"{prefix}Target"}
    alarm = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmActions": [{"Ref": f"{prefix}FromZero"}],
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "Metrics": [
                {
                    "Id": "expr_1",
                    "Expression": f"IF(FILL(desired, 0) == 0, {backlog}, 0)",
                    "ReturnData": True,
                },
                *(
                    {
                        "Id": i,
                        "MetricStat": queue_metric(q, Period=60, Stat="Maximum"),
                        "ReturnData": False,
                    }
                    for i, q in zip(ids, queues, strict=True)
                ),
                {
                    "Id": "desired",
                    "MetricStat": {
                        "Metric": {**count, "MetricName": "DesiredTaskCount"},
                        "Period": 60,
                        "Stat": "Average",
                    },
                    "ReturnData": False,
                },
            ],
        },
    }
    resources = {
        f"{prefix}Target": target(0, max_capacity),
        f"{prefix}Tracking": tracking,
        f"{prefix}FromZero": from_zero,
        f"{prefix}FromZeroAlarm": alarm,
    }
    if starvation_limit is not None:
        variables = [{"Name": "PRIORITY_STARVATION_LIMIT", "Value": str(starvation_limit)}]
        resources[f"{prefix}TaskDefinition"] = {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {"ContainerDefinitions": [{"Environment": variables}]},
        }
    return resources


def priority_templates(total: int = 20) -> dict:
    """What synth_priority returns, hand-written: the three set-ups' templates and queues."""
    half = total // 2
    return {
        "priority": (
            {"Resources": pool_resources("Workers", ["HighQ", "LowQ"], total, 20)},
            {"HighQ": "high", "LowQ": "low"},
        ),
        "shared": (
            {"Resources": pool_resources("Workers", ["SharedQ"], total)},
            {"SharedQ": "shared"},
        ),
        "two pools": (
            {
                "Resources": {
                    **pool_resources("HighWorkers", ["HighQ"], half),
                    **pool_resources("LowWorkers", ["LowQ"], total - half),
                }
            },
            {"HighQ": "high", "LowQ": "low"},
        ),
    }


PRIORITY_QUEUES = {"HighQ": "visible:high", "LowQ": "visible:low"}


def test_each_per_queue_metric_is_its_own_queues_count():
    template = {"Resources": pool_resources("Workers", ["HighQ", "LowQ"], 20)}
    scaling = sim.read_scaling(template, queues=PRIORITY_QUEUES)
    (tracking,) = scaling.target_tracking
    assert tracking.inputs["visible_1"] == sim.Input("visible:high", "Sum")
    assert tracking.inputs["visible_2"] == sim.Input("visible:low", "Sum")
    samples = history({"visible:high": [300.0], "visible:low": [0.0], "running": [2.0]})
    assert tracking.metric(0, samples) == 150.0  # (300 + 0) / 2: each queue counted once
    (step,) = scaling.steps
    assert step.alarm.inputs["visible_2"].quantity == "visible:low"
    at_zero = history({"visible:high": [0.0], "visible:low": [40.0], "desired": [0.0]})
    assert step.alarm.datapoint(0, at_zero) == 40.0  # low work alone starts the pool


def test_a_queue_metric_of_a_queue_not_simulated_fails():
    template = {"Resources": pool_resources("Workers", ["HighQ", "OtherQ"], 20)}
    with pytest.raises(sim.TemplateError, match=r"OtherQ.*is not simulated"):
        sim.read_scaling(template, queues=PRIORITY_QUEUES)


def test_a_queue_metric_without_a_queue_name_fails_when_queues_are_named():
    (step,) = sim.read_scaling(cdk_upper_alarm_policy()).steps  # read without queues: fine
    assert step.alarm.inputs["m1"].quantity == "visible"
    with pytest.raises(sim.TemplateError, match="not simulated"):
        sim.read_scaling(cdk_upper_alarm_policy(), queues=PRIORITY_QUEUES)


def test_reads_the_scalable_target_named_among_several():
    template, _ = priority_templates()["two pools"]
    with pytest.raises(sim.TemplateError, match="expected one ScalableTarget, found 2"):
        sim.read_scaling(template, queues=PRIORITY_QUEUES)
    low = sim.read_scaling(template, queues=PRIORITY_QUEUES, target="LowWorkers")
    assert low.target_logical_id == "LowWorkersTarget"
    assert low.target_tracking[0].inputs["visible"].quantity == "visible:low"


def test_reads_the_starvation_limit_from_the_task_definition():
    template, _ = priority_templates()["priority"]
    assert sim.read_starvation_limit(template) == 20
    with pytest.raises(sim.TemplateError, match="expected one PRIORITY_STARVATION_LIMIT"):
        sim.read_starvation_limit(priority_templates()["shared"][0])


@pytest.mark.parametrize(
    ("capacity", "high", "low", "limit", "expected"),
    [
        (21.0, 100.0, 1000.0, 20, (20.0, 1.0)),  # high has more than capacity: 20 then 1
        (21.0, 100.0, 0.5, 20, (20.5, 0.5)),  # low has less than its share: high gets the rest
        (21.0, 5.0, 1000.0, 20, (5.0, 16.0)),  # high gets all it needs, low the rest
        (21.0, 20.5, 1000.0, 20, (20.0, 1.0)),  # still 1 in 21 to low while it has work
        (21.0, 100.0, 0.0, 20, (21.0, 0.0)),  # low empty: all to high
        (21.0, 100.0, 1000.0, 0, (21.0, 0.0)),  # no guard: strict priority
        (21.0, 3.0, 4.0, 20, (3.0, 4.0)),  # both fit
    ],
)
def test_strict_priority_with_the_starvation_guard(capacity, high, low, limit, expected):
    assert sim.priority_split(capacity, high, low, limit) == pytest.approx(expected)


def test_a_queue_is_taken_front_first_in_arrival_order_across_kinds():
    queue = sim.CohortQueue()
    queue.add(0, "burst", 10.0)
    queue.add(0, "high", 2.0)
    queue.add(1, "high", 2.0)
    taken: list = []
    assert queue.take(11.0, 3, taken) == 11.0
    assert queue.take(100.0, 5, taken) == 3.0
    assert [(t.kind, t.arrived, t.ticks, t.count) for t in taken] == [
        ("burst", 0, 3, 10.0),
        ("high", 0, 3, 1.0),
        ("high", 0, 5, 1.0),
        ("high", 1, 4, 2.0),
    ]
    assert queue.total == 0.0


def test_weighted_percentiles_of_waits():
    waits = [(0.0, 90.0), (10.0, 9.0), (600.0, 1.0)]
    assert sim.weighted_percentile(waits, 0.5) == 0.0
    assert sim.weighted_percentile(waits, 0.9) == 0.0
    assert sim.weighted_percentile(waits, 0.99) == 10.0
    assert sim.weighted_percentile(waits, 0.995) == 600.0
    assert sim.weighted_percentile([], 0.5) is None


def test_run_percentiles_count_the_window_in_ticks():
    run = sim.PriorityRun(
        "r",
        taken=[
            sim.Taken("high", 0, 2, 1.0),
            sim.Taken("high", 5, 0, 1.0),
            sim.Taken("high", 6, 30, 5.0),  # arrived after a one-minute window
        ],
    )
    assert run.percentile(["high"], 0.99, sim.TICKS_PER_MINUTE) == 2 * sim.TICK_SECONDS
    assert run.percentile(["low", "burst"], 0.5, sim.TICKS_PER_MINUTE) is None


@pytest.fixture(scope="module")
def priority_runs() -> tuple[list, object]:
    """The three set-ups and the idle reference on hand-written templates (no synth)."""
    setups = sim.priority_setups(priority_templates())
    load = sim.PriorityLoad(30.0, 0.0, 5_000, 2.0)
    options = {"minutes": 60, "warmup_minutes": 30, "launch_minutes": 1.0, "lag_minutes": 2}
    runs = [sim.simulate_priority(s, load, **options) for s in setups]
    idle = sim.simulate_priority(
        setups[0], sim.PriorityLoad(30.0, 0.0, 0, 2.0), name="idle", **options
    )
    return runs, idle


def test_priority_scenario_end_to_end(priority_runs) -> None:
    runs, idle = priority_runs
    rows = {r.name: r for r in (sim.priority_row(run, 30) for run in runs)}
    ours, shared, two = rows["priority pool"], rows["one shared queue"], rows["two pools"]
    # high jobs wait behind the burst in one shared queue, not in the priority pool
    assert shared.high_p99 > 2 * ours.high_p99
    # two pools have half the workers for the burst (20 for 5,000 jobs): it drains later
    assert None not in (ours.drained_s, two.drained_s)
    assert two.drained_s > ours.drained_s
    assert (ours.peak_workers, two.peak_workers) == (20, 11)
    # every job is taken once: arrivals from minute 0 = taken + still waiting
    for run in runs:
        arrived = 30.0 * 60 + 5_000
        assert sum(t.count for t in run.taken) + run.left_in(("high", "low", "burst"), 360) == (
            pytest.approx(arrived)
        )
    idle_row = sim.priority_row(idle, 30)
    assert idle_row.drained_s is None and idle_row.low_p99 is None
    met = sim.priority_targets(rows, idle_row)
    assert len(met) == 2 and all(isinstance(m, bool) for m, _ in met)


def test_priority_main_prints_the_table_and_the_targets(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setattr(sim, "synth_priority", lambda *_: priority_templates())
    code = sim.main(
        [
            "--scenario=priority",
            "--minutes=40",
            "--warmup-minutes=20",
            "--window-minutes=30",
            "--burst=1000",
            f"--figures-dir={tmp_path}",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    for name in ("priority pool", "one shared queue", "two pools", "idle (no burst)"):
        assert any(line.strip().startswith(name) and ":" in line for line in out.splitlines())
    assert out.count("[PASS]") + out.count("[MISS]") == 2
    assert "PRIORITY_STARVATION_LIMIT=20" in out
    assert (tmp_path / "scaling-priority.svg").exists()
    assert (tmp_path / "scaling-priority.png").read_bytes().startswith(PNG_SIGNATURE)


def _draw_priority(priority_runs, directory: Path) -> list[Path]:
    runs, idle = priority_runs
    return sim.write_priority_figure(
        runs, idle, 30, directory, max_capacity=20, subtitle="small priority run"
    )


def test_priority_figure_names_each_setup_and_is_deterministic(priority_runs, tmp_path) -> None:
    first = _draw_priority(priority_runs, tmp_path / "a")
    again = _draw_priority(priority_runs, tmp_path / "b")
    assert [p.name for p in first] == ["scaling-priority.png", "scaling-priority.svg"]
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in first]
    texts = _svg_texts(first[1])
    runs, _ = priority_runs
    for run in runs:
        drained = sim._duration(run.burst_drained_s())
        assert f"{run.name}: burst drained in {drained}" in texts
    assert "idle" in texts
    assert "minutes after the burst arrives" in texts
