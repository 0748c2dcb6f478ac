"""How fast a burst drains: QueueWorkerPool's scaling policies against an ideal and CDK's default.

Run from the repository root, with no AWS account and no network (Node 22 first on PATH for
the in-process synth):

    PATH=$PWD/.venv/bin:$PWD/node_modules/.bin:$PATH .venv/bin/python benchmarks/scaling_sim.py

1. Synthesizes, in-process, a ``FanoutTopic`` consumer queue drained by a Fargate
   ``QueueWorkerPool`` and, in a second app, an aws-cdk-lib ``QueueProcessingFargateService``
   with its default scaling, and reads every scaling parameter from the two templates: scalable
   target bounds, target tracking (target, metric math, cooldowns), step policies (adjustment
   type, bands, cooldown) and the alarms that run them (metric or metric math, statistic,
   period, threshold, datapoints). It stops if one is missing.
2. Simulates, in 10-second ticks, a burst of messages at minute 0 on top of a steady rate,
   after a warm-up of steady traffic only, for three fleets:
   ``ideal`` (max capacity running from minute 0, then just enough for the steady rate),
   ``constructs_lib`` (the pool's policies as read) and ``aws-cdk-lib default`` (the pattern's
   step policies as read; its CPU target tracking policy only with ``--cdk-busy-cpu``). The
   model of CloudWatch and Application Auto Scaling is in :func:`assumptions`; the alarms'
   metric math is evaluated from the template's expressions.
3. Prints a table every few minutes (backlog, workers running), ASCII plots of backlog and
   workers, and a summary: drain time (first minute the backlog is below one minute of steady
   arrivals), its ratio to the ideal (target: at most 1.5x), peak workers and worker-minutes.
4. Writes the same backlog and workers as a figure, ``scaling-backlog-workers.png`` and
   ``.svg``, into ``--figures-dir`` (default ``docs/images/benchmarks/``; matplotlib, from the
   ``bench`` extra).

``--scenario priority`` compares, for a burst of low-priority jobs beside a steady stream of
high-priority ones, three set-ups of the same total maximum size, each read from its own
synthesized template: one pool with ``queues=[high, low]`` (workers take strict priority with
the starvation guard, ``PRIORITY_STARVATION_LIMIT`` read from its task definition), one pool on
one shared queue (every job in arrival order) and two pools, one per queue, of half the size
each; plus the priority pool without the burst (``idle``). Each queue is kept as cohorts of
jobs by arrival tick, so it reports the high- and low-priority jobs' wait (arrival to being
taken, weighted p50 and p99 at one-tick resolution), the burst's drain time, peak workers and
worker-minutes, checks two targets (high-priority p99 within 2x the idle one, fewer
worker-minutes than two pools) and writes ``scaling-priority.png`` and ``.svg``.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import importlib.metadata
import math
import re
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parent.parent
TICK_SECONDS = 10
TICKS_PER_MINUTE = 60 // TICK_SECONDS
RATIO_TARGET = 1.5
PHASES = 48
"""Burst arrival times tried after the warm-up, one a minute (two of the pool's ~24-minute
steady-state cycles at the default load)."""
IMAGE = "public.ecr.aws/docker/library/python:3.13-slim"

# Application Auto Scaling target tracking alarms (created by the service, not in the template).
TT_HIGH_DATAPOINTS = 3
TT_LOW_DATAPOINTS = 15
TT_LOW_FRACTION = 0.9
# Application Auto Scaling's cooldown for ECS services when a policy does not set one.
ECS_DEFAULT_COOLDOWN_S = 300

QUANTITIES = {
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible"): "visible",
    ("AWS/SQS", "ApproximateNumberOfMessagesNotVisible"): "in_flight",
    ("ECS/ContainerInsights", "RunningTaskCount"): "running",
    ("ECS/ContainerInsights", "DesiredTaskCount"): "desired",
}
"""CloudWatch metrics the simulation can produce, by (namespace, name)."""
PREDEFINED = {"ECSServiceAverageCPUUtilization": "cpu"}

Json = Mapping[str, Any]
Values = Mapping[str, float | None]


class TemplateError(RuntimeError):
    """A scaling parameter the simulation needs is missing from a template, or not modelled."""


# -- CloudWatch metric math (the subset the policies use) ---------------------------------

Expr = Callable[[Values], float | None]
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?)|([A-Za-z_]\w*)|(==|!=|>=|<=|[-+*/(),<>]))")
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}


def compile_expression(text: str) -> Expr:
    """Compile CloudWatch metric math: numbers, metric ids, + - * /, comparisons, IF, FILL.

    A missing datapoint is ``None``; it propagates through arithmetic and comparisons, and
    ``FILL(x, v)`` replaces it with ``v``. ``IF(c, a, b)`` is ``a`` where ``c`` is non-zero.
    Division by zero gives no datapoint.
    """
    tokens: list[str] = []
    position = 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if match is None:
            raise TemplateError(f"cannot parse metric math {text!r} at {text[position:]!r}")
        tokens.append(match.group(match.lastindex or 0))
        position = match.end()
    parser = _Parser(tokens, text)
    expr = parser.comparison()
    if parser.index != len(tokens):
        raise TemplateError(f"unexpected {tokens[parser.index]!r} in metric math {text!r}")
    return expr


class _Parser:
    def __init__(self, tokens: list[str], text: str) -> None:
        self.tokens = tokens
        self.text = text
        self.index = 0

    def peek(self) -> str | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise TemplateError(f"expected {expected or 'a term'} in metric math {self.text!r}")
        self.index += 1
        return token

    def comparison(self) -> Expr:
        left = self.additive()
        operator = self.peek()
        if operator in _COMPARE:
            self.take()
            right = self.additive()
            test = _COMPARE[operator]

            def compare(values: Values) -> float | None:
                a, b = left(values), right(values)
                return None if a is None or b is None else float(test(a, b))

            return compare
        return left

    def additive(self) -> Expr:
        expr = self.term()
        while self.peek() in ("+", "-"):
            expr = _arithmetic(self.take(), expr, self.term())
        return expr

    def term(self) -> Expr:
        expr = self.unary()
        while self.peek() in ("*", "/"):
            expr = _arithmetic(self.take(), expr, self.unary())
        return expr

    def unary(self) -> Expr:
        if self.peek() == "-":
            self.take()
            return _arithmetic("-", lambda _: 0.0, self.unary())
        return self.primary()

    def primary(self) -> Expr:
        token = self.take()
        if token == "(":
            expr = self.comparison()
            self.take(")")
            return expr
        if token[0].isdigit():
            number = float(token)
            return lambda _: number
        if not (token[0].isalpha() or token[0] == "_"):
            raise TemplateError(f"unexpected {token!r} in metric math {self.text!r}")
        if self.peek() != "(":
            return lambda values: values.get(token)
        self.take("(")
        args = [self.comparison()]
        while self.peek() == ",":
            self.take()
            args.append(self.comparison())
        self.take(")")
        return _function(token.upper(), args, self.text)


def _arithmetic(operator: str, left: Expr, right: Expr) -> Expr:
    def apply(values: Values) -> float | None:
        a, b = left(values), right(values)
        if a is None or b is None:
            return None
        if operator == "+":
            return a + b
        if operator == "-":
            return a - b
        if operator == "*":
            return a * b
        return None if b == 0 else a / b

    return apply


def _function(name: str, args: list[Expr], text: str) -> Expr:
    if name == "IF" and len(args) == 3:
        condition, then, otherwise = args

        def if_(values: Values) -> float | None:
            test = condition(values)
            if test is None:
                return None
            return then(values) if test != 0 else otherwise(values)

        return if_
    if name == "FILL" and len(args) == 2:
        series, default = args

        def fill(values: Values) -> float | None:
            value = series(values)
            return default(values) if value is None else value

        return fill
    raise TemplateError(f"metric math function {name} with {len(args)} arguments in {text!r}")


# -- scaling parameters read from a template ----------------------------------------------


@dataclasses.dataclass(frozen=True)
class Input:
    """One metric of an alarm or policy: the simulated quantity and its statistic."""

    quantity: str
    statistic: str


@dataclasses.dataclass(frozen=True)
class Alarm:
    """A CloudWatch alarm on a metric or on metric math, evaluated every minute."""

    logical_id: str
    expression: str
    inputs: Mapping[str, Input]
    period_minutes: int
    threshold: float
    comparison: str
    evaluation_periods: int
    datapoints_to_alarm: int
    compiled: Expr = dataclasses.field(repr=False, compare=False)

    def datapoint(self, end: int, history: History) -> float | None:
        """The datapoint of the period ending with the sample of minute ``end``."""
        values = {
            name: _aggregate(
                put.statistic,
                [history.get(put.quantity, end - k) for k in range(self.period_minutes)],
            )
            for name, put in self.inputs.items()
        }
        return self.compiled(values)

    def breaching(self, value: float | None) -> bool:
        """Missing data is not breaching (as ``TreatMissingData: notBreaching``)."""
        if value is None:
            return False
        return {
            "GreaterThanOrEqualToThreshold": value >= self.threshold,
            "GreaterThanThreshold": value > self.threshold,
            "LessThanOrEqualToThreshold": value <= self.threshold,
            "LessThanThreshold": value < self.threshold,
        }[self.comparison]

    def value_if_alarm(self, newest: int, history: History) -> float | None:
        """The newest datapoint if the alarm is in ALARM with data up to ``newest``."""
        points = [
            self.datapoint(newest - k * self.period_minutes, history)
            for k in range(self.evaluation_periods)
        ]
        if sum(self.breaching(p) for p in points) < self.datapoints_to_alarm:
            return None
        return points[0]

    def describe(self) -> str:
        metrics = ", ".join(
            f"{name} = {put.quantity} ({put.statistic})" for name, put in self.inputs.items()
        )
        symbol = {
            "GreaterThanOrEqualToThreshold": ">=",
            "GreaterThanThreshold": ">",
            "LessThanOrEqualToThreshold": "<=",
            "LessThanThreshold": "<",
        }[self.comparison]
        return (
            f"`{self.expression}` {symbol} {_num(self.threshold)}, "
            f"{self.datapoints_to_alarm} of {self.evaluation_periods} x "
            f"{self.period_minutes * 60} s [{metrics}]"
        )


@dataclasses.dataclass(frozen=True)
class Band:
    """A step adjustment; bounds are relative to the alarm threshold, ``None`` is unbounded."""

    lower: float | None
    upper: float | None
    adjustment: int

    def contains(self, difference: float, *, above: bool) -> bool:
        """For an alarm on breaching above its threshold the lower bound is inclusive; for
        one below it, the upper bound."""
        lower = -math.inf if self.lower is None else self.lower
        upper = math.inf if self.upper is None else self.upper
        if above:
            return lower <= difference < upper
        return lower < difference <= upper


@dataclasses.dataclass(frozen=True)
class StepScaling:
    logical_id: str
    adjustment_type: str
    bands: tuple[Band, ...]
    cooldown_s: int
    cooldown_from_template: bool
    alarm: Alarm

    def band_for(self, value: float) -> Band | None:
        difference = value - self.alarm.threshold
        above = self.alarm.comparison.startswith("Greater")
        return next((b for b in self.bands if b.contains(difference, above=above)), None)

    def describe(self) -> list[str]:
        def bound(value: float | None, default: str) -> str:
            return default if value is None else _num(self.alarm.threshold + value)

        bands = ", ".join(
            (
                f"[{bound(b.lower, '-inf')}, {bound(b.upper, 'inf')})"
                if b.lower is not None and b.lower >= 0
                else f"({bound(b.lower, '-inf')}, {bound(b.upper, 'inf')}]"
            )
            + " -> "
            f"{'' if self.adjustment_type == 'ExactCapacity' or b.adjustment < 0 else '+'}"
            f"{b.adjustment}"
            for b in self.bands
        )
        cooldown = (
            f"{self.cooldown_s} s"
            if self.cooldown_from_template
            else f"not set (Application Auto Scaling default for ECS: {self.cooldown_s} s)"
        )
        return [
            f"step scaling [{self.logical_id}]: {self.adjustment_type}, cooldown {cooldown}",
            f"  bands on the alarm value: {bands}",
            f"  alarm [{self.alarm.logical_id}]: {self.alarm.describe()}",
        ]


@dataclasses.dataclass(frozen=True)
class TargetTracking:
    logical_id: str
    target: float
    expression: str
    inputs: Mapping[str, Input]
    scale_out_cooldown_s: int
    scale_in_cooldown_s: int
    cooldowns_from_template: bool
    compiled: Expr = dataclasses.field(repr=False, compare=False)
    what_if: str | None = None
    """Set when a value was replaced for a what-if run: what the template had."""

    def metric(self, minute: int, history: History) -> float | None:
        values = {name: history.get(put.quantity, minute) for name, put in self.inputs.items()}
        return self.compiled(values)

    def describe(self) -> list[str]:
        metrics = ", ".join(
            f"{name} = {put.quantity} ({put.statistic})" for name, put in self.inputs.items()
        )
        source = "" if self.cooldowns_from_template else " (not set: ECS default)"
        if self.what_if:
            source += f" (WHAT-IF: {self.what_if})"
        return [
            f"target tracking [{self.logical_id}]: TargetValue {_num(self.target)} on "
            f"`{self.expression}` [{metrics}]",
            f"  scale-out cooldown {self.scale_out_cooldown_s} s, scale-in cooldown "
            f"{self.scale_in_cooldown_s} s{source}",
        ]


@dataclasses.dataclass(frozen=True)
class Scaling:
    """Everything that scales one fleet, as read from its template."""

    min_capacity: int
    max_capacity: int
    target_logical_id: str
    target_tracking: tuple[TargetTracking, ...]
    steps: tuple[StepScaling, ...]

    def describe(self) -> list[str]:
        lines = [
            f"scalable target [{self.target_logical_id}]: min {self.min_capacity}, "
            f"max {self.max_capacity}"
        ]
        for policy in self.target_tracking:
            lines += policy.describe()
        for step in self.steps:
            lines += step.describe()
        return lines


def read_scaling(
    template: Json, *, queues: Mapping[str, str] | None = None, target: str | None = None
) -> Scaling:
    """The one scalable target of ``template`` and every policy and alarm attached to it.

    ``queues``: the simulated quantity of each queue's messages visible, by the queue's
    logical id; a queue metric is then mapped by its ``QueueName`` dimension
    (``Fn::GetAtt [<logical id>, QueueName]``), and one of a queue not in ``queues`` is a
    :class:`TemplateError`. Without it every queue metric is ``visible`` (one queue).
    ``target``: the scalable target whose logical id starts with it, when there are several.
    """
    resources: Mapping[str, Json] = template.get("Resources", {})

    def of_type(kind: str) -> list[tuple[str, Json]]:
        return [(k, r.get("Properties", {})) for k, r in resources.items() if r["Type"] == kind]

    targets = [
        (k, p)
        for k, p in of_type("AWS::ApplicationAutoScaling::ScalableTarget")
        if target is None or k.startswith(target)
    ]
    if len(targets) != 1:
        named = "" if target is None else f" named {target}*"
        raise TemplateError(f"expected one ScalableTarget{named}, found {len(targets)}")
    target_id, bounds = targets[0]
    for key in ("MinCapacity", "MaxCapacity"):
        if not isinstance(bounds.get(key), int):
            raise TemplateError(f"ScalableTarget {target_id} has no numeric {key}")
    policies = [
        (k, p)
        for k, p in of_type("AWS::ApplicationAutoScaling::ScalingPolicy")
        if p.get("ScalingTargetId") == {"Ref": target_id}
    ]
    tracking = [
        _read_target_tracking(k, p, queues)
        for k, p in policies
        if p["PolicyType"] == "TargetTrackingScaling"
    ]
    alarms = of_type("AWS::CloudWatch::Alarm")
    steps: list[StepScaling] = []
    for policy_id, policy in policies:
        if policy["PolicyType"] != "StepScaling":
            continue
        runs = [(k, a) for k, a in alarms if {"Ref": policy_id} in a.get("AlarmActions", [])]
        if len(runs) != 1:
            raise TemplateError(f"step policy {policy_id} is run by {len(runs)} alarms, not 1")
        steps.append(_read_step_scaling(policy_id, policy, _read_alarm(*runs[0], queues)))
    if not tracking and not steps:
        raise TemplateError(f"no scaling policy targets {target_id}")
    return Scaling(
        min_capacity=bounds["MinCapacity"],
        max_capacity=bounds["MaxCapacity"],
        target_logical_id=target_id,
        target_tracking=tuple(tracking),
        steps=tuple(steps),
    )


def _read_target_tracking(
    logical_id: str, policy: Json, queues: Mapping[str, str] | None = None
) -> TargetTracking:
    config = policy.get("TargetTrackingScalingPolicyConfiguration")
    if not config or not isinstance(config.get("TargetValue"), int | float):
        raise TemplateError(f"target tracking policy {logical_id} has no TargetValue")
    if "PredefinedMetricSpecification" in config:
        kind = config["PredefinedMetricSpecification"]["PredefinedMetricType"]
        if kind not in PREDEFINED:
            raise TemplateError(f"{logical_id}: predefined metric {kind} is not simulated")
        expression = "cpu"
        inputs = {"cpu": Input(PREDEFINED[kind], "Average")}
    else:
        metrics = config.get("CustomizedMetricSpecification", {}).get("Metrics")
        if not metrics:
            raise TemplateError(f"target tracking policy {logical_id} has no metric")
        returned = [m for m in metrics if m.get("ReturnData", True) and "Expression" in m]
        if len(returned) != 1:
            raise TemplateError(f"{logical_id}: expected one metric math expression returned")
        expression = returned[0]["Expression"]
        inputs = {
            m["Id"]: Input(_quantity(m["MetricStat"]["Metric"], queues), m["MetricStat"]["Stat"])
            for m in metrics
            if "MetricStat" in m
        }
    has_cooldowns = "ScaleOutCooldown" in config and "ScaleInCooldown" in config
    return TargetTracking(
        logical_id=logical_id,
        target=float(config["TargetValue"]),
        expression=expression,
        inputs=inputs,
        scale_out_cooldown_s=int(config.get("ScaleOutCooldown", ECS_DEFAULT_COOLDOWN_S)),
        scale_in_cooldown_s=int(config.get("ScaleInCooldown", ECS_DEFAULT_COOLDOWN_S)),
        cooldowns_from_template=has_cooldowns,
        compiled=compile_expression(expression),
    )


def _read_step_scaling(logical_id: str, policy: Json, alarm: Alarm) -> StepScaling:
    config = policy.get("StepScalingPolicyConfiguration")
    if not config or not config.get("StepAdjustments"):
        raise TemplateError(f"step policy {logical_id} has no StepAdjustments")
    kind = config.get("AdjustmentType")
    if kind not in ("ChangeInCapacity", "ExactCapacity"):
        raise TemplateError(f"step policy {logical_id}: AdjustmentType {kind} is not simulated")
    bands = tuple(
        Band(
            lower=step.get("MetricIntervalLowerBound"),
            upper=step.get("MetricIntervalUpperBound"),
            adjustment=int(step["ScalingAdjustment"]),
        )
        for step in config["StepAdjustments"]
    )
    return StepScaling(
        logical_id=logical_id,
        adjustment_type=kind,
        bands=bands,
        cooldown_s=int(config.get("Cooldown", ECS_DEFAULT_COOLDOWN_S)),
        cooldown_from_template="Cooldown" in config,
        alarm=alarm,
    )


def _read_alarm(logical_id: str, alarm: Json, queues: Mapping[str, str] | None = None) -> Alarm:
    for key in ("Threshold", "ComparisonOperator", "EvaluationPeriods"):
        if key not in alarm:
            raise TemplateError(f"alarm {logical_id} has no {key}")
    if "Metrics" in alarm:
        metrics = alarm["Metrics"]
        returned = [m for m in metrics if m.get("ReturnData", True)]
        if len(returned) != 1 or "Expression" not in returned[0]:
            raise TemplateError(f"alarm {logical_id}: expected one metric math expression")
        expression = returned[0]["Expression"]
        stats = [m for m in metrics if "MetricStat" in m]
        periods = {int(m["MetricStat"]["Period"]) for m in stats}
        inputs = {
            m["Id"]: Input(_quantity(m["MetricStat"]["Metric"], queues), m["MetricStat"]["Stat"])
            for m in stats
        }
    else:
        for key in ("MetricName", "Namespace", "Statistic", "Period"):
            if key not in alarm:
                raise TemplateError(f"alarm {logical_id} has no {key}")
        expression = "m1"
        periods = {int(alarm["Period"])}
        inputs = {"m1": Input(_quantity(alarm, queues), alarm["Statistic"])}
    if len(periods) != 1 or next(iter(periods)) % 60:
        raise TemplateError(f"alarm {logical_id}: periods {periods} are not one whole minute")
    return Alarm(
        logical_id=logical_id,
        expression=expression,
        inputs=inputs,
        period_minutes=next(iter(periods)) // 60,
        threshold=float(alarm["Threshold"]),
        comparison=alarm["ComparisonOperator"],
        evaluation_periods=int(alarm["EvaluationPeriods"]),
        datapoints_to_alarm=int(alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"])),
        compiled=compile_expression(expression),
    )


def _quantity(metric: Json, queues: Mapping[str, str] | None = None) -> str:
    """The simulated quantity of ``metric``; with ``queues`` (quantity by queue logical id), a
    queue's messages visible is that queue's own, found by its ``QueueName`` dimension."""
    key = (metric.get("Namespace", ""), metric.get("MetricName", ""))
    if key not in QUANTITIES:
        raise TemplateError(f"metric {key[0]}/{key[1]} is not simulated")
    quantity = QUANTITIES[key]
    if quantity not in ("visible", "in_flight") or queues is None:
        return quantity
    names = [d.get("Value") for d in metric.get("Dimensions", []) if d.get("Name") == "QueueName"]
    attribute = (
        names[0].get("Fn::GetAtt") if len(names) == 1 and isinstance(names[0], Mapping) else None
    )
    logical_id = (
        attribute[0]
        if isinstance(attribute, list) and len(attribute) == 2 and attribute[1] == "QueueName"
        else None
    )
    if logical_id is None or logical_id not in queues:
        raise TemplateError(
            f"metric {key[0]}/{key[1]} of queue {names[0] if names else None!r} is not "
            f"simulated (simulated queues: {', '.join(sorted(queues)) or 'none'})"
        )
    if quantity == "in_flight":
        return in_flight(queues[logical_id].removeprefix("visible:"))
    return queues[logical_id]


# -- synthesis -------------------------------------------------------------------------------


def synth_pool(max_capacity: int, processing_seconds: float, latency_minutes: float) -> Json:
    """The template of a FanoutTopic consumer queue drained by a Fargate QueueWorkerPool."""
    import aws_cdk as cdk
    from aws_cdk import aws_ecs as ecs
    from aws_cdk.assertions import Template

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from constructs_lib import FanoutTopic, FargateWorkers, QueueWorkerPool

    app = cdk.App()
    stack = cdk.Stack(app, "ScalingSimPool")
    topic = FanoutTopic(stack, "Orders")
    jobs = topic.add_queue_consumer("Jobs", visibility_timeout=cdk.Duration.minutes(2))
    QueueWorkerPool(
        stack,
        "Workers",
        queue=jobs,
        workers=FargateWorkers(image=ecs.ContainerImage.from_registry(IMAGE)),
        acceptable_latency=cdk.Duration.seconds(latency_minutes * 60),
        processing_time_per_message=cdk.Duration.seconds(processing_seconds),
        max_capacity=max_capacity,
    )
    template: Json = Template.from_stack(stack).to_json()
    return template


def synth_cdk_default(max_capacity: int) -> Json:
    """The template of aws-cdk-lib's QueueProcessingFargateService with default scaling."""
    import aws_cdk as cdk
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_ecs as ecs
    from aws_cdk import aws_ecs_patterns as patterns
    from aws_cdk.assertions import Template

    app = cdk.App()
    stack = cdk.Stack(app, "ScalingSimCdkDefault")
    cluster = ecs.Cluster(stack, "Cluster", vpc=ec2.Vpc(stack, "Vpc", max_azs=2))
    patterns.QueueProcessingFargateService(
        stack,
        "Service",
        cluster=cluster,
        image=ecs.ContainerImage.from_registry(IMAGE),
        max_scaling_capacity=max_capacity,
    )
    template: Json = Template.from_stack(stack).to_json()
    return template


# -- simulation --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Load:
    burst: int
    steady_per_minute: float
    processing_seconds: float

    @property
    def steady_workers(self) -> int:
        """Workers that just keep up with the steady rate."""
        return math.ceil(self.steady_per_minute * self.processing_seconds / 60 - 1e-9)

    @property
    def drained_below(self) -> float:
        """The backlog counts as drained below one minute of steady arrivals (at least 1)."""
        return max(self.steady_per_minute, 1.0)


class History:
    """One sample per minute of each simulated quantity, as CloudWatch would store it."""

    def __init__(self, initial: Mapping[str, float | None]) -> None:
        self._initial = dict(initial)
        self._samples: dict[str, dict[int, float | None]] = {q: {} for q in initial}
        self._first: int | None = None

    def record(self, minute: int, values: Mapping[str, float | None]) -> None:
        if self._first is None:
            self._first = minute
        for quantity, value in values.items():
            self._samples[quantity][minute] = value

    def get(self, quantity: str, minute: int) -> float | None:
        """Before the first sample: the initial state (the fleet existed before the run)."""
        if self._first is None or minute < self._first:
            return self._initial[quantity]
        return self._samples[quantity].get(minute)


class Scaler(Protocol):
    name: str

    def initial_capacity(self, load: Load) -> int: ...

    def decide(self, minute: int, history: History, desired: int, backlog: float) -> int: ...


class Ideal:
    """Max capacity from minute 0 with no delay, then just enough for the steady rate."""

    name = "ideal"

    def __init__(self, max_capacity: int, load: Load) -> None:
        self.max_capacity = max_capacity
        self.load = load
        self.drained = False

    def initial_capacity(self, load: Load) -> int:
        return load.steady_workers

    def decide(self, minute: int, history: History, desired: int, backlog: float) -> int:
        if minute < 0:
            return self.load.steady_workers
        if minute > 0 and backlog < self.load.drained_below:
            self.drained = True
        return self.load.steady_workers if self.drained else self.max_capacity


class _Policy(Protocol):
    def propose(self, now_s: int, newest: int, history: History, desired: int) -> int | None: ...

    def applied(self, now_s: int, old: int, new: int) -> None: ...


class _StepRunner:
    """A step policy and its alarm; the alarm runs the policy every minute it is in ALARM."""

    def __init__(self, step: StepScaling, low: int, high: int) -> None:
        self.step = step
        self.low, self.high = low, high
        self.cooldown_until = -math.inf
        self.base: int | None = None  # capacity before the scale-out that started the cooldown

    def propose(self, now_s: int, newest: int, history: History, desired: int) -> int | None:
        value = self.step.alarm.value_if_alarm(newest, history)
        band = None if value is None else self.step.band_for(value)
        if band is None:
            return None
        in_cooldown = now_s < self.cooldown_until
        if self.step.adjustment_type == "ExactCapacity":
            new = band.adjustment
        else:  # during a scale-out cooldown the capacity it added counts as already there
            reference = self.base if in_cooldown and self.base is not None else desired
            new = reference + band.adjustment
        new = min(max(new, self.low), self.high)
        if new > desired or (new < desired and not in_cooldown):
            return new
        return None

    def applied(self, now_s: int, old: int, new: int) -> None:
        if new > old and now_s < self.cooldown_until and self.base is not None:
            return  # a larger scale-out inside the cooldown keeps the cooldown running
        self.base = old if new > old else None
        self.cooldown_until = now_s + self.step.cooldown_s


class _TargetTrackingRunner:
    """Target tracking with the two alarms Application Auto Scaling creates for it."""

    def __init__(self, policy: TargetTracking, low: int, high: int) -> None:
        self.policy = policy
        self.low, self.high = low, high
        self.out_until = -math.inf
        self.base = 0  # capacity before the scale-out that started the cooldown
        self.in_until = -math.inf

    def propose(self, now_s: int, newest: int, history: History, desired: int) -> int | None:
        target = self.policy.target
        points = [self.policy.metric(newest - k, history) for k in range(TT_LOW_DATAPOINTS)]
        value = points[0]
        if value is None:
            return None
        high = all(p is not None and p > target for p in points[:TT_HIGH_DATAPOINTS])
        # During the scale-out cooldown the capacity it added counts as already there.
        current = self.base if high and now_s < self.out_until else desired
        new = min(max(math.ceil(current * value / target - 1e-9), self.low), self.high)
        if high and new > desired:
            return new
        low = all(p is not None and p < TT_LOW_FRACTION * target for p in points)
        if low and new < desired and now_s >= self.in_until:
            return new
        return None

    def applied(self, now_s: int, old: int, new: int) -> None:
        if new > old:
            if now_s >= self.out_until:
                self.base = old
                self.out_until = now_s + self.policy.scale_out_cooldown_s
            self.in_until = now_s  # a scale-out ends the scale-in cooldown
        else:
            self.in_until = now_s + self.policy.scale_in_cooldown_s


class AutoScaling:
    """Application Auto Scaling running the policies of one scalable target.

    Every minute each policy proposes a capacity from metrics ``lag`` minutes old; when
    several do, the largest wins (as Application Auto Scaling chooses).
    """

    def __init__(
        self,
        name: str,
        scaling: Scaling,
        lag_minutes: int,
        simulate_target_tracking: Callable[[TargetTracking], bool] = lambda _: True,
    ) -> None:
        self.name = name
        self.scaling = scaling
        self.lag = lag_minutes
        low, high = scaling.min_capacity, scaling.max_capacity
        self.policies: list[_Policy] = [
            _TargetTrackingRunner(p, low, high)
            for p in scaling.target_tracking
            if simulate_target_tracking(p)
        ]
        self.policies += [_StepRunner(s, low, high) for s in scaling.steps]

    def initial_capacity(self, load: Load) -> int:
        return self.scaling.min_capacity

    def decide(self, minute: int, history: History, desired: int, backlog: float) -> int:
        now_s = minute * 60
        proposals = [
            (policy, new)
            for policy in self.policies
            if (new := policy.propose(now_s, minute - self.lag, history, desired)) is not None
        ]
        if not proposals:
            return desired
        policy, new = max(proposals, key=lambda proposal: proposal[1])
        policy.applied(now_s, desired, new)
        return new


@dataclasses.dataclass
class Run:
    """What a fleet did, one entry per minute from minute 0."""

    name: str
    backlog: list[float] = dataclasses.field(default_factory=list)
    running: list[int] = dataclasses.field(default_factory=list)
    billed_worker_minutes: list[float] = dataclasses.field(default_factory=list)
    """Worker-minutes (tasks running or starting) spent during each minute."""
    steady_running: list[int] = dataclasses.field(default_factory=list)
    """Workers running each minute of the second half of the warm-up (steady traffic only)."""

    def drain_minute(self, load: Load) -> int | None:
        """First minute after the burst at which the backlog is back below steady arrivals."""
        return next(
            (m for m in range(1, len(self.backlog)) if self.backlog[m] < load.drained_below),
            None,
        )


def simulate(
    scaler: Scaler,
    load: Load,
    *,
    minutes: int,
    warmup_minutes: int,
    launch_minutes: float,
    busy_cpu: float,
) -> Run:
    """Tick through ``warmup_minutes`` of steady traffic, then the burst and ``minutes`` more.

    At each minute boundary: tasks due start running, messages arrive, CloudWatch takes its
    samples, and the scaler sets the desired capacity. Each tick, running workers take
    ``TICK_SECONDS / processing_seconds`` messages each off the backlog. Tasks start
    ``launch_minutes`` after the desired capacity rises; they stop at once when it falls
    (tasks still starting first).
    """
    launch_ticks = round(launch_minutes * TICKS_PER_MINUTE)
    per_worker_tick = TICK_SECONDS / load.processing_seconds
    desired = scaler.initial_capacity(load)
    running = desired
    starting: list[int] = []  # ticks at which starting tasks run, ascending
    backlog = 0.0
    busy, capacity = 0.0, 0.0  # messages processed and processable in the last minute
    history = History(
        {"visible": 0.0, "in_flight": 0.0, "running": running, "desired": desired, "cpu": None}
    )
    run = Run(scaler.name)
    billed = 0.0
    for tick in range(-warmup_minutes * TICKS_PER_MINUTE, minutes * TICKS_PER_MINUTE):
        while starting and starting[0] <= tick:
            starting.pop(0)
            running += 1
        backlog += load.steady_per_minute / TICKS_PER_MINUTE + (load.burst if tick == 0 else 0)
        minute, boundary = divmod(tick, TICKS_PER_MINUTE)
        if boundary == 0:
            new = scaler.decide(minute, history, desired, backlog)
            if new > desired:
                starting += [tick + launch_ticks] * (new - desired)
                while starting and starting[0] <= tick:
                    starting.pop(0)
                    running += 1
            elif new < desired:
                stop = desired - new
                cancelled = min(stop, len(starting))
                del starting[len(starting) - cancelled :]
                running -= stop - cancelled
            desired = new
        can = running * per_worker_tick
        done = min(backlog, can)
        backlog -= done
        busy += done
        capacity += can
        billed += (running + len(starting)) / TICKS_PER_MINUTE
        if boundary == 0:
            # SQS samples what workers have not received yet: after this tick's receives.
            cpu = busy_cpu * busy / capacity if capacity else None
            # A worker that took messages this tick holds one when SQS samples.
            working = running * done / can if can else 0.0
            history.record(
                minute,
                {
                    "visible": backlog,
                    "in_flight": working,
                    "running": running,
                    "desired": desired,
                    "cpu": cpu,
                },
            )
            if minute >= 0:
                run.backlog.append(backlog)
                run.running.append(running)
            elif minute >= -(warmup_minutes // 2):
                run.steady_running.append(running)
        if boundary == TICKS_PER_MINUTE - 1:
            if minute >= 0:
                run.billed_worker_minutes.append(billed)
            busy, capacity, billed = 0.0, 0.0, 0.0
    return run


# -- report ------------------------------------------------------------------------------------


def assumptions(args: argparse.Namespace) -> list[str]:
    lag = args.metric_lag_minutes
    return [
        f"time advances in {TICK_SECONDS}-second ticks; policies are evaluated every minute",
        f"messages: {args.burst:,} at minute 0 on top of {_num(args.steady_rate)}/minute "
        f"(evenly over the ticks), after {args.warmup_minutes} minutes of steady traffic only",
        f"a worker takes {_num(args.processing_seconds)} s per message "
        f"({_num(60 / args.processing_seconds)} messages/minute), one message at a time",
        f"CloudWatch: every metric is sampled once a minute (messages visible {TICK_SECONDS} s "
        f"in, after idle workers took what arrived) and a policy at minute t sees the sample "
        f"of minute t-{lag} (SQS and Container Insights lag); a 5-minute statistic is over "
        f"the last five 1-minute samples",
        f"ECS/Fargate: a task runs {_num(args.launch_minutes)} min after the desired count rises "
        f"(no launch-rate throttling); it stops at once when the count falls (starting tasks "
        f"first); billed from desired to stop",
        "alarms that run Auto Scaling actions run them every minute they stay in ALARM",
        f"target tracking: scale-out alarm {TT_HIGH_DATAPOINTS} of {TT_HIGH_DATAPOINTS} "
        f"1-minute datapoints above the target, scale-in alarm {TT_LOW_DATAPOINTS} of "
        f"{TT_LOW_DATAPOINTS} below {TT_LOW_FRACTION:.0%} of it; new capacity = "
        f"ceil(desired x metric / target) clamped to [min, max]; during the scale-out "
        f"cooldown the capacity before it is used instead of desired (what the scale-out "
        f"added counts as there) and only a larger capacity is set; scale-in waits for the "
        f"scale-in cooldown",
        "step scaling: the band is chosen on (alarm value - threshold); during a policy's "
        "cooldown a scale-out counts the capacity it already added (ChangeInCapacity) and a "
        "scale-in is blocked; cooldowns are per policy",
        "several policies acting in the same minute: the largest capacity wins",
        "aws-cdk-lib default: its CPU target tracking policy is "
        + (
            f"simulated with busy workers at {_num(args.cdk_busy_cpu)}% CPU"
            if args.cdk_busy_cpu is not None
            else "not simulated (it depends on the workload's CPU; try --cdk-busy-cpu)"
        ),
        "ideal: max capacity running from minute 0 with no delay until the burst is drained, "
        "then just enough workers for the steady rate",
    ]


def table(runs: Sequence[Run], span: int, every: int) -> list[str]:
    width = 19
    header = " min │" + "│".join(f"{r.name[:width]:^{width}}" for r in runs)
    sub = "     │" + "│".join(f"{'backlog':>10} {'workers':>7} " for _ in runs)
    lines = [header, sub, "─" * len(header)]
    for minute in range(0, span + 1, every):
        cells = [
            f"{round(r.backlog[minute]):>10,} {r.running[minute]:>7} "
            if minute < len(r.backlog)
            else " " * width
            for r in runs
        ]
        lines.append(f"{minute:>4} │" + "│".join(cells))
    return lines


def plot(
    series: Sequence[tuple[str, Sequence[float]]],
    span: int,
    *,
    title: str,
    height: int,
    width: int = 90,
) -> list[str]:
    """Each series drawn with its marker, ``#`` where several share a cell.

    A column covers ``(span + 1) / width`` minutes and is filled from the lowest to the
    highest value in them, so an oscillation shows as a band instead of being aliased.
    """
    minutes = span + 1
    top = max(max(values[:minutes]) for _, values in series) or 1.0
    grid = [[" "] * width for _ in range(height)]
    for marker, values in series:
        for column in range(width):
            first = column * minutes // width
            last = max(first, (column + 1) * minutes // width - 1)
            chunk = values[first : last + 1]
            high = height - 1 - round(max(chunk) / top * (height - 1))
            low = height - 1 - round(min(chunk) / top * (height - 1))
            for line in range(high, low + 1):
                cell = grid[line][column]
                grid[line][column] = marker if cell in (" ", marker) else "#"
    label_width = len(_short(top))
    lines = [title]
    for index, row in enumerate(grid):
        value = top * (height - 1 - index) / (height - 1)
        label = _short(value) if index % 4 == 0 or index == height - 1 else ""
        lines.append(f"{label:>{label_width}} ┤{''.join(row)}")
    axis = [" "] * width
    labels = [" "] * (width + 6)
    step = _nice_step(span / 6)
    for minute in range(0, span + 1, step):
        column = minute * width // minutes
        axis[column] = "┬"
        text = str(minute)
        labels[column : column + len(text)] = text
    lines.append(" " * label_width + " └" + "".join(axis))
    lines.append(" " * (label_width + 2) + "".join(labels).rstrip() + "  (minutes)")
    return lines


FIGURE_STEM = "scaling-backlog-workers"
FIGURE_LABELS = {
    "ideal": "ideal (max capacity at once)",
    "constructs_lib": "constructs_lib QueueWorkerPool",
    "aws-cdk-lib default": "aws-cdk-lib QueueProcessingFargateService defaults",
}
"""Legend labels by run name; each is followed by its drain time."""


def write_figure(
    runs: Sequence[Run],
    load: Load,
    span: int,
    directory: Path,
    *,
    max_capacity: int,
    subtitle: str,
) -> list[Path]:
    """Backlog and workers running against minutes after the burst, for minutes 0-``span``,
    as PNG and SVG in ``directory``; the first run is the ideal the others are compared to."""
    from _plots import COLORS, new_figure, save

    colors = [COLORS["ideal"], COLORS["ours"], COLORS["theirs"], "#2ca02c"]
    styles = [(0, (5, 3)), "-", "-", "-."]
    minutes = list(range(span + 1))
    drains = [r.drain_minute(load) for r in runs]
    ideal = drains[0]
    with new_figure(2) as figure:
        backlog, workers = figure.axes
        for index, (run, drain) in enumerate(zip(runs, drains, strict=True)):
            color, style = colors[index % len(colors)], styles[index % len(styles)]
            if drain is None:
                label = f"not drained in {len(run.backlog)} min"
            elif index == 0 or not ideal:
                label = f"drained in {drain} min"
            else:
                label = f"drained in {drain} min ({drain / ideal:.2f}x ideal)"
            label = f"{FIGURE_LABELS.get(run.name, run.name)}: {label}"
            backlog.plot(minutes, run.backlog[: span + 1], color=color, ls=style, label=label)
            workers.step(minutes, run.running[: span + 1], where="post", color=color, ls=style)
            if drain is not None and drain <= span:
                for axes in (backlog, workers):
                    axes.axvline(drain, color=color, ls=":", lw=1)
                backlog.annotate(  # the ideal's left of its line, the others right of theirs
                    f"{drain} min",
                    (drain, 1.0),
                    xycoords=("data", "axes fraction"),
                    xytext=(-3 if index == 0 else 3, -3 - 13 * (index % 2)),
                    textcoords="offset points",
                    ha="right" if index == 0 else "left",
                    va="top",
                    color=color,
                )
        workers.axhline(max_capacity, color="black", ls=":", lw=1)
        workers.annotate(
            f"max capacity {max_capacity}",
            (span, max_capacity),
            xytext=(-3, 3),
            textcoords="offset points",
            ha="right",
            va="bottom",
        )
        backlog.set_ylabel("backlog (messages visible)")
        backlog.yaxis.set_major_formatter("{x:,.0f}")
        backlog.set_ylim(0, load.burst * 1.12)
        backlog.set_title(subtitle, fontsize=9)
        workers.set_ylabel("workers running (tasks)")
        workers.set_ylim(0, max_capacity * 1.12)
        workers.set_xlabel("minutes after the burst arrives")
        workers.set_xlim(0, span)
        figure.suptitle(
            f"Draining a burst of {load.burst:,} messages: backlog and workers over time",
            fontsize=12,
        )
        figure.legend(loc="outside lower center", frameon=False)
        return save(figure, directory, FIGURE_STEM)


def _nice_step(raw: float) -> int:
    for step in (1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 720):
        if step >= raw:
            return step
    return 1440


def _short(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:.0f}k" if value >= 10_000 else f"{value / 1000:.1f}k"
    return f"{value:.0f}"


def _num(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.2f}".rstrip("0")


def _aggregate(statistic: str, values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    if statistic == "Maximum":
        return max(present)
    if statistic == "Minimum":
        return min(present)
    if statistic == "Sum":
        return sum(present)
    if statistic in ("Average", "SampleCount"):
        return sum(present) / len(present) if statistic == "Average" else len(present)
    raise TemplateError(f"statistic {statistic} is not simulated")


def summary(
    runs: Sequence[Run], load: Load, span: int, settle: int
) -> tuple[list[str], dict[str, int | None]]:
    drains = {r.name: r.drain_minute(load) for r in runs}
    ideal = drains[runs[0].name]
    lines = [
        f"{'':<20}{'drain':>7}{'vs ideal':>10}{'peak':>9}{'worker-min':>12}{'worker-min':>12}"
        f"{'mean workers':>15}{'mean workers':>15}",
        f"{'':<20}{'(min)':>7}{'':>10}{'workers':>9}{'to drain':>12}"
        f"{f'0-{span} min':>12}{f'{settle} min after':>15}{'before burst':>15}",
    ]
    for run in runs:
        drain = drains[run.name]
        until = drain if drain is not None else len(run.billed_worker_minutes)
        ratio = f"{drain / ideal:.2f}x" if drain is not None and ideal else "-"
        steady = f"{statistics.fmean(run.steady_running):.1f}" if run.steady_running else "-"
        after_drain = run.running[until : until + settle] if drain is not None else []
        after = f"{statistics.fmean(after_drain):.1f}" if after_drain else "-"
        lines.append(
            f"{run.name:<20}"
            f"{drain if drain is not None else 'never':>7}{ratio:>10}"
            f"{max(run.running):>9}"
            f"{sum(run.billed_worker_minutes[:until]):>12,.0f}"
            f"{sum(run.billed_worker_minutes[: span + 1]):>12,.0f}"
            f"{after:>15}"
            f"{steady:>15}"
        )
    return lines, drains


# -- priority scenario: one pool over [high, low], one shared queue, two pools ----------------

STARVATION_VARIABLE = "PRIORITY_STARVATION_LIMIT"
HIGH, LOW, BURST = "high", "low", "burst"
"""Kinds of job: the high-priority stream, the steady low-priority stream, the low burst."""
LOW_KINDS = (LOW, BURST)
_EPSILON = 1e-9
PRIORITY_FIGURE_STEM = "scaling-priority"
WAIT_TARGET = 2.0
"""The priority pool's high-priority p99 wait during the burst: at most this x the idle one."""


def synth_priority(
    max_capacity: int, processing_seconds: float, latency_minutes: float
) -> dict[str, tuple[Json, dict[str, str]]]:
    """Templates of the three set-ups, each with the simulated queue of each queue logical id:
    ``priority`` (one QueueWorkerPool, ``queues=[high, low]``), ``shared`` (one pool, one
    queue) and ``two pools`` (a pool per queue, half of ``max_capacity`` each)."""
    import aws_cdk as cdk
    from aws_cdk import aws_ecs as ecs
    from aws_cdk.assertions import Template

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from constructs_lib import ConsumerQueue, FanoutTopic, FargateWorkers, QueueWorkerPool

    app = cdk.App()
    built: dict[str, tuple[cdk.Stack, dict[str, ConsumerQueue]]] = {}

    def consumers(stack: cdk.Stack, names: Sequence[str]) -> list[ConsumerQueue]:
        topic = FanoutTopic(stack, "Jobs")
        return [
            topic.add_queue_consumer(n.title(), visibility_timeout=cdk.Duration.minutes(2))
            for n in names
        ]

    def pool(stack: cdk.Stack, name: str, queues: list[ConsumerQueue], capacity: int) -> None:
        worked: dict[str, Any] = {"queue": queues[0]} if len(queues) == 1 else {"queues": queues}
        QueueWorkerPool(
            stack,
            name,
            **worked,
            workers=FargateWorkers(image=ecs.ContainerImage.from_registry(IMAGE)),
            acceptable_latency=cdk.Duration.seconds(latency_minutes * 60),
            processing_time_per_message=cdk.Duration.seconds(processing_seconds),
            max_capacity=capacity,
        )

    def done(key: str, stack: cdk.Stack, queues: dict[str, ConsumerQueue]) -> None:
        built[key] = (stack, queues)

    stack = cdk.Stack(app, "ScalingSimPriorityPool")
    high, low = consumers(stack, [HIGH, LOW])
    pool(stack, "Workers", [high, low], max_capacity)
    done("priority", stack, {HIGH: high, LOW: low})
    stack = cdk.Stack(app, "ScalingSimSharedQueue")
    (shared,) = consumers(stack, ["shared"])
    pool(stack, "Workers", [shared], max_capacity)
    done("shared", stack, {"shared": shared})
    stack = cdk.Stack(app, "ScalingSimTwoPools")
    high, low = consumers(stack, [HIGH, LOW])
    pool(stack, "HighWorkers", [high], max_capacity // 2)
    pool(stack, "LowWorkers", [low], max_capacity - max_capacity // 2)
    done("two pools", stack, {HIGH: high, LOW: low})
    result: dict[str, tuple[Json, dict[str, str]]] = {}
    for key, (stack, queues) in built.items():  # the app synthesizes once, at the first
        ids = {stack.resolve(q.queue.queue_name)["Fn::GetAtt"][0]: n for n, q in queues.items()}
        result[key] = (Template.from_stack(stack).to_json(), ids)
    return result


def read_starvation_limit(template: Json) -> int:
    """The ``PRIORITY_STARVATION_LIMIT`` the template's one task definition gives its workers."""
    found = {
        variable.get("Value")
        for resource in template.get("Resources", {}).values()
        if resource["Type"] == "AWS::ECS::TaskDefinition"
        for container in resource.get("Properties", {}).get("ContainerDefinitions", [])
        for variable in container.get("Environment", [])
        if variable.get("Name") == STARVATION_VARIABLE
    }
    if len(found) != 1:
        raise TemplateError(f"expected one {STARVATION_VARIABLE} in the task definitions: {found}")
    value = found.pop()
    if not isinstance(value, str) or not value.isdigit():
        raise TemplateError(f"{STARVATION_VARIABLE} is {value!r}, not a number")
    return int(value)


def visible(queue: str) -> str:
    """The simulated quantity of ``queue``'s messages visible."""
    return f"visible:{queue}"


def in_flight(queue: str) -> str:
    """The simulated quantity of ``queue``'s messages in flight (being worked)."""
    return f"in_flight:{queue}"


@dataclasses.dataclass(frozen=True)
class Pool:
    """A fleet scaled on its template, taking from its queues (highest priority first)."""

    name: str
    scaling: Scaling
    queues: tuple[str, ...]
    starvation_limit: int = 0


@dataclasses.dataclass(frozen=True)
class Setup:
    """Pools and the queue each kind of job is sent to."""

    name: str
    pools: tuple[Pool, ...]
    routes: Mapping[str, str]

    @property
    def queues(self) -> list[str]:
        return list(dict.fromkeys(self.routes.values()))


def priority_setups(
    templates: Mapping[str, tuple[Json, Mapping[str, str]]],
) -> list[Setup]:
    """The three set-ups, their scaling read from ``templates`` (as :func:`synth_priority`)."""

    def scaling(key: str, target: str | None = None) -> Scaling:
        template, ids = templates[key]
        return read_scaling(template, queues={i: visible(q) for i, q in ids.items()}, target=target)

    separate = {HIGH: HIGH, LOW: LOW, BURST: LOW}
    priority_template = templates["priority"][0]
    return [
        Setup(
            "priority pool",
            (
                Pool(
                    "pool",
                    scaling("priority"),
                    (HIGH, LOW),
                    read_starvation_limit(priority_template),
                ),
            ),
            separate,
        ),
        Setup(
            "one shared queue",
            (Pool("pool", scaling("shared"), ("shared",)),),
            dict.fromkeys((HIGH, LOW, BURST), "shared"),
        ),
        Setup(
            "two pools",
            (
                Pool("high pool", scaling("two pools", "HighWorkers"), (HIGH,)),
                Pool("low pool", scaling("two pools", "LowWorkers"), (LOW,)),
            ),
            separate,
        ),
    ]


def priority_split(
    capacity: float, high: float, low: float, starvation_limit: int
) -> tuple[float, float]:
    """Messages the workers take from the high and the low queue in one tick.

    Strict priority with the starvation guard, in counts: high gets what it has up to the
    capacity and low the rest; but while low has work, each worker's limit + 1st message is
    low's, so low gets at least ``capacity / (limit + 1)``. A limit of 0 is no guard.
    """
    guard = capacity / (starvation_limit + 1) if starvation_limit > 0 else 0.0
    low_taken = min(low, max(guard, capacity - high))
    return min(high, capacity - low_taken), low_taken


@dataclasses.dataclass
class Cohort:
    tick: int
    kind: str
    count: float


@dataclasses.dataclass(frozen=True)
class Taken:
    """``count`` jobs of ``kind`` that arrived at tick ``arrived`` and waited ``ticks``."""

    kind: str
    arrived: int
    ticks: int
    count: float


class CohortQueue:
    """A queue as cohorts of jobs (arrival tick, kind, count), taken front first: in arrival
    order whatever their kind."""

    def __init__(self) -> None:
        self.cohorts: collections.deque[Cohort] = collections.deque()
        self.total = 0.0

    def add(self, tick: int, kind: str, count: float) -> None:
        if count <= 0:
            return
        last = self.cohorts[-1] if self.cohorts else None
        if last is not None and (last.tick, last.kind) == (tick, kind):
            last.count += count
        else:
            self.cohorts.append(Cohort(tick, kind, count))
        self.total += count

    def take(self, count: float, tick: int, taken: list[Taken]) -> float:
        """Take up to ``count`` jobs from the front at ``tick``, each one appended to
        ``taken``; how many were taken."""
        left = count
        while left > _EPSILON and self.cohorts:
            front = self.cohorts[0]
            part = min(front.count, left)
            taken.append(Taken(front.kind, front.tick, tick - front.tick, part))
            front.count -= part
            left -= part
            if front.count <= _EPSILON:
                self.cohorts.popleft()
        self.total = sum(c.count for c in self.cohorts)
        return count - max(left, 0.0)


def weighted_percentile(samples: Iterable[tuple[float, float]], fraction: float) -> float | None:
    """The smallest value whose samples, with those below it, weigh at least ``fraction`` of
    the total; ``samples`` are (value, weight). None when there is no weight."""
    ordered = sorted((v, w) for v, w in samples if w > 0)
    total = sum(w for _, w in ordered)
    if not ordered:
        return None
    cumulative = 0.0
    for value, weight in ordered:
        cumulative += weight
        if cumulative >= fraction * total * (1 - 1e-12):
            return value
    return ordered[-1][0]


@dataclasses.dataclass(frozen=True)
class PriorityLoad:
    high_per_minute: float
    low_per_minute: float
    burst: int
    processing_seconds: float


class _Tasks:
    """The tasks of one pool: desired, running, and starting (the tick each will run)."""

    def __init__(self, desired: int) -> None:
        self.desired = desired
        self.running = desired
        self.starting: list[int] = []

    def start_due(self, tick: int) -> None:
        while self.starting and self.starting[0] <= tick:
            self.starting.pop(0)
            self.running += 1

    def set(self, new: int, tick: int, launch_ticks: int) -> None:
        if new > self.desired:
            self.starting += [tick + launch_ticks] * (new - self.desired)
            self.start_due(tick)
        elif new < self.desired:
            stop = self.desired - new
            cancelled = min(stop, len(self.starting))
            del self.starting[len(self.starting) - cancelled :]
            self.running -= stop - cancelled
        self.desired = new


@dataclasses.dataclass
class PriorityRun:
    """What a set-up did: jobs taken, and per minute from the burst on, the backlog, workers
    running and worker-minutes."""

    name: str
    taken: list[Taken] = dataclasses.field(default_factory=list)
    backlog: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    running: list[int] = dataclasses.field(default_factory=list)
    billed_worker_minutes: list[float] = dataclasses.field(default_factory=list)
    left: list[Cohort] = dataclasses.field(default_factory=list)
    """Jobs that arrived from the burst on and were still waiting at the end."""

    def left_in(self, kinds: Sequence[str], window_ticks: int) -> float:
        """Jobs of ``kinds`` arriving in ticks 0 to ``window_ticks`` - 1 still waiting."""
        return sum(c.count for c in self.left if c.kind in kinds and 0 <= c.tick < window_ticks)

    def waits(self, kinds: Sequence[str], window_ticks: int) -> list[tuple[float, float]]:
        """(seconds waited, jobs) of ``kinds`` arriving in ticks 0 to ``window_ticks`` - 1."""
        return [
            (t.ticks * TICK_SECONDS, t.count)
            for t in self.taken
            if t.kind in kinds and 0 <= t.arrived < window_ticks
        ]

    def percentile(self, kinds: Sequence[str], fraction: float, window_ticks: int) -> float | None:
        return weighted_percentile(self.waits(kinds, window_ticks), fraction)

    def burst_drained_s(self) -> float | None:
        """Seconds from the burst's arrival until its last job is taken (its tick counted)."""
        ticks = [t.arrived + t.ticks for t in self.taken if t.kind == BURST]
        if not ticks or any(c.kind == BURST for c in self.left):
            return None
        return (max(ticks) + 1) * TICK_SECONDS

    def worst_wait_by_minute(self, kind: str, minutes: int) -> list[float]:
        """The longest wait (s) of the ``kind`` jobs arriving in each minute from 0."""
        worst = [0.0] * minutes
        for t in self.taken:
            minute = t.arrived // TICKS_PER_MINUTE
            if t.kind == kind and 0 <= minute < minutes:
                worst[minute] = max(worst[minute], t.ticks * TICK_SECONDS)
        return worst


def simulate_priority(
    setup: Setup,
    load: PriorityLoad,
    *,
    minutes: int,
    warmup_minutes: int,
    launch_minutes: float,
    lag_minutes: int,
    name: str | None = None,
) -> PriorityRun:
    """Like :func:`simulate`, with several queues of jobs kept as cohorts and several pools.

    Each tick: tasks due start, jobs arrive (high and low evenly over the ticks, the burst of
    low jobs at tick 0) into the queue their kind is routed to, each pool at a minute
    boundary sets its desired capacity from its own policies and metrics, then each pool's
    running workers take ``TICK_SECONDS / processing_seconds`` jobs each: from its one queue
    front first, or from [high, low] by :func:`priority_split`. CloudWatch samples every
    queue's messages visible after the tick's receives.
    """
    if not setup.pools:
        raise ValueError(f"{setup.name}: no pool")
    launch_ticks = round(launch_minutes * TICKS_PER_MINUTE)
    per_worker_tick = TICK_SECONDS / load.processing_seconds
    queues = {q: CohortQueue() for q in setup.queues}
    for pool in setup.pools:
        unknown = set(pool.queues) - set(queues)
        if unknown or not 1 <= len(pool.queues) <= 2:
            raise ValueError(f"{setup.name}/{pool.name}: queues {pool.queues} not simulated")
    tasks = [_Tasks(p.scaling.min_capacity) for p in setup.pools]
    scalers = [AutoScaling(p.name, p.scaling, lag_minutes) for p in setup.pools]
    empty = {**{visible(q): 0.0 for q in queues}, **{in_flight(q): 0.0 for q in queues}}
    histories = [
        History({**empty, "running": t.running, "desired": t.desired, "cpu": None}) for t in tasks
    ]
    run = PriorityRun(name or setup.name, backlog={q: [] for q in queues})
    arrivals = {HIGH: load.high_per_minute, LOW: load.low_per_minute}
    billed = 0.0
    for tick in range(-warmup_minutes * TICKS_PER_MINUTE, minutes * TICKS_PER_MINUTE):
        for pool_tasks in tasks:
            pool_tasks.start_due(tick)
        for kind, per_minute in arrivals.items():
            queues[setup.routes[kind]].add(tick, kind, per_minute / TICKS_PER_MINUTE)
        if tick == 0:
            queues[setup.routes[BURST]].add(tick, BURST, float(load.burst))
        minute, boundary = divmod(tick, TICKS_PER_MINUTE)
        if boundary == 0:
            for scaler, history, pool_tasks in zip(scalers, histories, tasks, strict=True):
                new = scaler.decide(minute, history, pool_tasks.desired, 0.0)
                pool_tasks.set(new, tick, launch_ticks)
        taken: list[Taken] = []
        working = dict.fromkeys(queues, 0.0)
        # Workers busy with each queue's jobs this tick: what SQS counts in flight.
        for pool, pool_tasks in zip(setup.pools, tasks, strict=True):
            capacity = pool_tasks.running * per_worker_tick
            if len(pool.queues) == 1:
                q = pool.queues[0]
                working[q] += queues[q].take(capacity, tick, taken) / per_worker_tick
            else:
                high, low = (queues[q] for q in pool.queues)
                from_high, from_low = priority_split(
                    capacity, high.total, low.total, pool.starvation_limit
                )
                working[pool.queues[0]] += high.take(from_high, tick, taken) / per_worker_tick
                working[pool.queues[1]] += low.take(from_low, tick, taken) / per_worker_tick
            billed += (pool_tasks.running + len(pool_tasks.starting)) / TICKS_PER_MINUTE
        run.taken += (t for t in taken if t.arrived >= 0)
        if boundary == 0:
            sample = {
                **{visible(q): queue.total for q, queue in queues.items()},
                **{in_flight(q): working[q] for q in queues},
            }
            for history, pool_tasks in zip(histories, tasks, strict=True):
                history.record(
                    minute,
                    {
                        **sample,
                        "running": pool_tasks.running,
                        "desired": pool_tasks.desired,
                        "cpu": None,
                    },
                )
            if minute >= 0:
                for q, queue in queues.items():
                    run.backlog[q].append(queue.total)
                run.running.append(sum(t.running for t in tasks))
        if boundary == TICKS_PER_MINUTE - 1:
            if minute >= 0:
                run.billed_worker_minutes.append(billed)
            billed = 0.0
    run.left = [c for queue in queues.values() for c in queue.cohorts if c.tick >= 0]
    return run


@dataclasses.dataclass(frozen=True)
class PriorityRow:
    """One line of the priority scenario's table; waits in seconds."""

    name: str
    high_p50: float | None
    high_p99: float | None
    low_p50: float | None
    low_p99: float | None
    drained_s: float | None
    peak_workers: int
    worker_minutes: float


def priority_row(run: PriorityRun, window_minutes: int) -> PriorityRow:
    window = window_minutes * TICKS_PER_MINUTE
    return PriorityRow(
        name=run.name,
        high_p50=run.percentile([HIGH], 0.5, window),
        high_p99=run.percentile([HIGH], 0.99, window),
        low_p50=run.percentile(LOW_KINDS, 0.5, window),
        low_p99=run.percentile(LOW_KINDS, 0.99, window),
        drained_s=run.burst_drained_s(),
        peak_workers=max(run.running, default=0),
        worker_minutes=sum(run.billed_worker_minutes),
    )


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def priority_table(rows: Sequence[PriorityRow], minutes: int) -> list[str]:
    columns = [
        ("high p50", "(m:ss)"),
        ("high p99", "(m:ss)"),
        ("low p50", "(m:ss)"),
        ("low p99", "(m:ss)"),
        ("burst drained", "(m:ss)"),
        ("peak", "workers"),
        ("worker-min", f"0-{minutes} min"),
    ]
    lines = [
        f"{'':<18}" + "".join(f"{top:>14}" for top, _ in columns),
        f"{'':<18}" + "".join(f"{bottom:>14}" for _, bottom in columns),
    ]
    for row in rows:
        cells = [
            _duration(row.high_p50),
            _duration(row.high_p99),
            _duration(row.low_p50),
            _duration(row.low_p99),
            _duration(row.drained_s),
            str(row.peak_workers),
            f"{row.worker_minutes:,.0f}",
        ]
        lines.append(f"{row.name:<18}" + "".join(f"{c:>14}" for c in cells))
    return lines


def priority_targets(rows: Mapping[str, PriorityRow], idle: PriorityRow) -> list[tuple[bool, str]]:
    """(met, what) of each target: the priority pool's high-priority p99 within
    ``WAIT_TARGET`` x the idle one (floored at one tick), and fewer worker-minutes than two
    pools."""
    ours, two = rows["priority pool"], rows["two pools"]
    floor = float(TICK_SECONDS)
    baseline = max(idle.high_p99 or 0.0, floor)
    limit = WAIT_TARGET * baseline
    wait_met = ours.high_p99 is not None and ours.high_p99 <= limit
    floored = " (floored at one tick)" if (idle.high_p99 or 0.0) < floor else ""
    return [
        (
            wait_met,
            f"priority pool high-priority p99 wait {_duration(ours.high_p99)} <= "
            f"{_num(WAIT_TARGET)} x idle p99 {_duration(baseline)}{floored} = "
            f"{_duration(limit)}",
        ),
        (
            ours.worker_minutes < two.worker_minutes,
            f"priority pool worker-minutes {ours.worker_minutes:,.0f} < two pools "
            f"{two.worker_minutes:,.0f}",
        ),
    ]


def priority_assumptions(args: argparse.Namespace, limit: int) -> list[str]:
    half = args.max_capacity // 2
    return [
        f"time advances in {TICK_SECONDS}-second ticks; waits are measured in whole ticks (a "
        f"job taken in the tick it arrives waited 0 s; resolution {TICK_SECONDS} s)",
        f"jobs: high priority {_num(args.high_rate)}/minute and low priority "
        f"{_num(args.low_rate)}/minute, evenly over the ticks, for {args.warmup_minutes} "
        f"minutes of warm-up and {args.minutes} minutes after a burst of {args.burst:,} low "
        f"jobs at minute 0; {_num(args.processing_seconds)} s per job "
        f"({_num(60 / args.processing_seconds)} jobs/minute per worker)",
        f"waits and percentiles: jobs arriving in minutes 0-{args.window_minutes - 1} after "
        "the burst, weighted by count; a job's wait is from its arrival to the tick a worker "
        "takes it (not its processing)",
        f"every pool: QueueWorkerPool(acceptable_latency={_num(args.acceptable_latency_minutes)}"
        f" min, processing_time_per_message={_num(args.processing_seconds)} s), Fargate, "
        "scaling read from its template and simulated as in the burst scenario (same "
        f"CloudWatch lag {args.metric_lag_minutes} min, {_num(args.launch_minutes)}-min task "
        "launch, target tracking alarms, cooldowns)",
        f"priority pool: queues=[high, low], max {args.max_capacity}; each queue's metric in "
        "its policies is that queue's own count (by its QueueName dimension); workers take "
        f"strict priority with the starvation guard ({STARVATION_VARIABLE}={limit}, read "
        "from the task definition): high gets what it has up to the capacity, low the rest, "
        f"but low (when it has work) at least capacity / {limit + 1}",
        f"one shared queue: one pool, max {args.max_capacity}, one queue with every job in "
        "arrival order (high jobs wait behind the burst)",
        f"two pools: a pool per queue, max {half} and {args.max_capacity - half}, each "
        "scaled on its own queue",
        "idle: the priority pool without the burst; its high-priority p99 (at least one "
        "tick) is the baseline of the wait target",
        "worker-minutes: tasks running or starting, from the burst to the end of the run",
    ]


PRIORITY_STYLES: list[dict[str, Any]] = [
    {"color": "#1f77b4", "ls": "-", "lw": 2.5},
    {"color": "#d62728", "ls": (0, (4, 2)), "lw": 1.5},
    {"color": "#2ca02c", "ls": "-.", "lw": 1.5},
]
"""The set-ups' lines: the priority pool's wide, so that the shared queue's dashes (the same
scaling, on the same combined backlog) show on it where the two coincide."""


def write_priority_figure(
    runs: Sequence[PriorityRun],
    idle: PriorityRun,
    span: int,
    directory: Path,
    *,
    max_capacity: int,
    subtitle: str,
) -> list[Path]:
    """The high-priority jobs' longest wait by arrival minute, the backlog of low-priority
    jobs and the workers running, for minutes 0-``span`` after the burst."""
    from _plots import COLORS, new_figure, save

    minutes = list(range(span + 1))
    with new_figure(3) as figure:
        waits, backlog, workers = figure.axes
        waits.plot(
            minutes,
            [w / 60 for w in idle.worst_wait_by_minute(HIGH, span + 1)],
            color=COLORS["ideal"],
            ls=(0, (5, 3)),
            label=f"{idle.name}",
        )
        top = 0.0
        for run, style in zip(runs, PRIORITY_STYLES, strict=False):
            worst = [w / 60 for w in run.worst_wait_by_minute(HIGH, span + 1)]
            top = max(top, *worst)
            drained = run.burst_drained_s()
            label = f"{run.name}: burst " + (
                f"drained in {_duration(drained)}" if drained is not None else "not drained"
            )
            waits.plot(minutes, worst, label=label, **style)
            low = [sum(run.backlog[q][m] for q in run.backlog if q != HIGH) for m in minutes]
            backlog.plot(minutes, low, **style)
            workers.step(minutes, run.running[: span + 1], where="post", **style)
        workers.axhline(max_capacity, color="black", ls=":", lw=1)
        workers.annotate(
            f"max capacity {max_capacity} (in all)",
            (span, max_capacity),
            xytext=(-3, 3),
            textcoords="offset points",
            ha="right",
            va="bottom",
        )
        waits.set_ylabel("high-priority wait (min),\nlongest by arrival minute")
        waits.set_ylim(0, max(top, 1.0) * 1.12)
        waits.set_title(subtitle, fontsize=9)
        backlog.set_ylabel("messages visible\n(low queue; shared: all)")
        backlog.yaxis.set_major_formatter("{x:,.0f}")
        workers.set_ylabel("workers running\n(all pools)")
        workers.set_ylim(0, max_capacity * 1.12)
        workers.set_xlabel("minutes after the burst arrives")
        workers.set_xlim(0, span)
        figure.suptitle(
            "A burst of low-priority jobs beside a steady high-priority stream", fontsize=12
        )
        figure.legend(loc="outside lower center", frameon=False, ncols=2)
        return save(figure, directory, PRIORITY_FIGURE_STEM)


def main_priority(args: argparse.Namespace) -> int:
    """The priority scenario: the three set-ups and the idle reference."""
    started = time.perf_counter()
    templates = synth_priority(
        args.max_capacity, args.processing_seconds, args.acceptable_latency_minutes
    )
    synth_seconds = time.perf_counter() - started
    setups = priority_setups(templates)
    limit = setups[0].pools[0].starvation_limit
    load = PriorityLoad(args.high_rate, args.low_rate, args.burst, args.processing_seconds)
    options = {
        "minutes": args.minutes,
        "warmup_minutes": args.warmup_minutes,
        "launch_minutes": args.launch_minutes,
        "lag_minutes": args.metric_lag_minutes,
    }
    runs = [simulate_priority(setup, load, **options) for setup in setups]
    idle = simulate_priority(
        setups[0], dataclasses.replace(load, burst=0), name="idle (no burst)", **options
    )
    rows = [priority_row(run, args.window_minutes) for run in [*runs, idle]]
    targets = priority_targets({r.name: r for r in rows}, rows[-1])

    print("Scaling simulation: a low-priority burst beside a high-priority stream")
    print(f"command: {shlex.join(sys.orig_argv)}")
    print(
        f"aws-cdk-lib {importlib.metadata.version('aws-cdk-lib')}, Python "
        f"{sys.version.split()[0]}; the in-process synth of three stacks took "
        f"{synth_seconds:.1f} s"
    )
    for setup in setups:
        print()
        print(f"{setup.name} (read from its template):")
        for pool in setup.pools:
            if len(setup.pools) > 1:
                print(f"  {pool.name} (queue {', '.join(pool.queues)}):")
            indent = "    " if len(setup.pools) > 1 else "  "
            print("\n".join(f"{indent}{line}" for line in pool.scaling.describe()))
    print()
    print("Assumptions:")
    print("\n".join(f"  - {line}" for line in priority_assumptions(args, limit)))
    print()
    span = min(args.minutes - 1, args.window_minutes)
    print(f"Figure: {priority_figure(runs, idle, span, args)}")
    print()
    print(
        f"Waits of the jobs arriving in minutes 0-{args.window_minutes - 1} (weighted "
        f"percentiles, {TICK_SECONDS} s resolution); burst drained: until its last job is taken:"
    )
    print("\n".join(f"  {line}" for line in priority_table(rows, args.minutes)))
    for run in [*runs, idle]:
        left = run.left_in((HIGH, *LOW_KINDS), args.window_minutes * TICKS_PER_MINUTE)
        if left > _EPSILON:
            print(
                f"  {run.name}: {left:,.0f} jobs of the window still waiting at minute "
                f"{args.minutes}; the percentiles leave them out (lower bounds)"
            )
    print()
    print("Targets:")
    for met, what in targets:
        print(f"  [{'PASS' if met else 'MISS'}] {what}")
    print(f"  total run time {time.perf_counter() - started:.1f} s")
    return 0


def priority_figure(
    runs: Sequence[PriorityRun], idle: PriorityRun, span: int, args: argparse.Namespace
) -> str:
    from _plots import missing, written

    reason = missing()
    if reason:
        return f"SKIPPED, {reason}"
    half = args.max_capacity // 2
    subtitle = (
        f"scaling read from the synthesized templates, {TICK_SECONDS}-second ticks; "
        f"high {_num(args.high_rate)}/min, low {_num(args.low_rate)}/min + {args.burst:,} at "
        f"minute 0, {_num(args.processing_seconds)} s per job\nmax {args.max_capacity} workers "
        f"(two pools: {half} + {args.max_capacity - half}), {args.metric_lag_minutes}-min "
        f"metric lag, {_num(args.launch_minutes)}-min task launch"
    )
    paths = write_priority_figure(
        runs, idle, span, args.figures_dir, max_capacity=args.max_capacity, subtitle=subtitle
    )
    return written(paths)


SCENARIO_DEFAULTS: dict[str, dict[str, Any]] = {
    "burst": {"max_capacity": 200, "burst": 100_000, "processing_seconds": 10.0, "minutes": 1440},
    "priority": {"max_capacity": 20, "burst": 5_000, "processing_seconds": 2.0, "minutes": 120},
}
"""Defaults of the options that differ by ``--scenario``."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--scenario",
        choices=sorted(SCENARIO_DEFAULTS),
        default="burst",
        help="burst: one queue, three fleets (the default); priority: a low-priority burst "
        "beside a high-priority stream, one pool over [high, low] against one shared queue and "
        "two pools",
    )
    parser.add_argument("--max-capacity", type=int, help="default: burst 200, priority 20")
    parser.add_argument(
        "--burst",
        type=int,
        help="messages at minute 0 (priority: low); burst 100,000, priority 5,000",
    )
    parser.add_argument("--steady-rate", type=float, default=20.0, help="messages per minute")
    parser.add_argument("--processing-seconds", type=float, help="default: burst 10, priority 2")
    parser.add_argument(
        "--high-rate", type=float, default=30.0, help="priority: high-priority jobs per minute"
    )
    parser.add_argument(
        "--low-rate", type=float, default=0.0, help="priority: steady low-priority jobs per minute"
    )
    parser.add_argument(
        "--window-minutes",
        type=int,
        default=60,
        help="priority: the waits of jobs arriving in this many minutes from the burst",
    )
    parser.add_argument(
        "--acceptable-latency-minutes",
        type=float,
        default=5.0,
        help="QueueWorkerPool acceptable_latency (its target is this / processing time)",
    )
    parser.add_argument("--metric-lag-minutes", type=int, default=2)
    parser.add_argument("--launch-minutes", type=float, default=1.0)
    parser.add_argument("--warmup-minutes", type=int, default=120)
    parser.add_argument(
        "--cdk-busy-cpu",
        type=float,
        default=None,
        help="CPU %% of a busy worker, to simulate the aws-cdk-lib default's CPU policy too",
    )
    parser.add_argument(
        "--what-if-scale-out-cooldown",
        type=int,
        default=None,
        metavar="SECONDS",
        help="replace the pool's target tracking scale-out cooldown read from the template",
    )
    parser.add_argument(
        "--minutes", type=int, help="simulated after the burst; burst 1440, priority 120"
    )
    parser.add_argument("--settle-minutes", type=int, default=45, help="shown after the drain")
    from _plots import add_figures_option

    add_figures_option(parser, "the figure of backlog and workers over time")
    args = parser.parse_args(argv)
    for key, value in SCENARIO_DEFAULTS[args.scenario].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.metric_lag_minutes < 1 or args.processing_seconds <= 0:
        parser.error("--metric-lag-minutes must be at least 1 and --processing-seconds positive")
    if args.scenario == "priority":
        if args.max_capacity < 2 or not 0 < args.window_minutes <= args.minutes:
            parser.error("--max-capacity must be at least 2 and --window-minutes in 1-minutes")
        return main_priority(args)

    started = time.perf_counter()
    pool = read_scaling(
        synth_pool(args.max_capacity, args.processing_seconds, args.acceptable_latency_minutes)
    )
    default = read_scaling(synth_cdk_default(args.max_capacity))
    synth_seconds = time.perf_counter() - started
    if args.what_if_scale_out_cooldown is not None:
        pool = dataclasses.replace(
            pool,
            target_tracking=tuple(
                dataclasses.replace(
                    p,
                    scale_out_cooldown_s=args.what_if_scale_out_cooldown,
                    what_if=f"scale-out cooldown {p.scale_out_cooldown_s} s in the template",
                )
                for p in pool.target_tracking
            ),
        )
    if not pool.target_tracking or not any(
        s.adjustment_type == "ExactCapacity" for s in pool.steps
    ):
        raise TemplateError("QueueWorkerPool: expected target tracking and an ExactCapacity step")
    if not default.steps:
        raise TemplateError("QueueProcessingFargateService: expected step scaling policies")

    load = Load(args.burst, args.steady_rate, args.processing_seconds)
    options = {
        "minutes": args.minutes,
        "warmup_minutes": args.warmup_minutes,
        "launch_minutes": args.launch_minutes,
        "busy_cpu": args.cdk_busy_cpu or 0.0,
    }
    fleets: list[Callable[[], Scaler]] = [
        lambda: AutoScaling("constructs_lib", pool, args.metric_lag_minutes),
        lambda: AutoScaling(
            "aws-cdk-lib default",
            default,
            args.metric_lag_minutes,
            lambda _: args.cdk_busy_cpu is not None,
        ),
    ]
    runs = [
        simulate(Ideal(args.max_capacity, load), load, **{**options, "launch_minutes": 0.0}),
        *(simulate(fleet(), load, **options) for fleet in fleets),
    ]
    drains = [r.drain_minute(load) for r in runs]
    # The policies cycle under steady traffic; the burst may arrive anywhere in a cycle.
    warmups = (
        range(args.warmup_minutes, args.warmup_minutes + PHASES) if args.warmup_minutes else []
    )
    span = min(args.minutes - 1, max(d or args.minutes for d in drains) + args.settle_minutes)
    sweep_minutes = min(args.minutes, 2 * span)
    phases = [
        [
            simulate(
                fleet(), load, **{**options, "warmup_minutes": w, "minutes": sweep_minutes}
            ).drain_minute(load)
            for w in warmups
        ]
        for fleet in fleets
    ]
    every = max(5, math.ceil(span / 60 / 5) * 5)

    print("Scaling simulation: how fast a burst drains")
    print(f"command: {shlex.join(sys.orig_argv)}")
    print(
        f"aws-cdk-lib {importlib.metadata.version('aws-cdk-lib')}, Python "
        f"{sys.version.split()[0]}; two in-process synths took {synth_seconds:.1f} s"
    )
    print()
    print("constructs_lib QueueWorkerPool (Fargate; read from its template):")
    print(
        f"  props: max_capacity={args.max_capacity}, acceptable_latency="
        f"{_num(args.acceptable_latency_minutes)} min, processing_time_per_message="
        f"{_num(args.processing_seconds)} s"
    )
    print("\n".join(f"  {line}" for line in pool.describe()))
    print()
    print("aws-cdk-lib QueueProcessingFargateService defaults (read from its template):")
    print(f"  props: max_scaling_capacity={args.max_capacity}, everything else default")
    print("\n".join(f"  {line}" for line in default.describe()))
    print()
    print("Assumptions:")
    print("\n".join(f"  - {line}" for line in assumptions(args)))
    print()
    print(f"Backlog (messages visible) and workers running, every {every} minutes:")
    print("\n".join(table(runs, span, every)))
    print()
    markers = list(zip("icd", runs, strict=True))
    legend = "i = ideal, c = constructs_lib, d = aws-cdk-lib default, # = several"
    print(
        "\n".join(
            plot(
                [(m, r.backlog) for m, r in markers],
                span,
                title=f"Backlog over time ({legend})",
                height=21,
            )
        )
    )
    print()
    print(
        "\n".join(
            plot(
                [(m, [float(w) for w in r.running]) for m, r in markers],
                span,
                title=f"Workers running ({legend})",
                height=11,
            )
        )
    )
    print()
    print(f"Figure of the same: {figure(runs, load, span, args)}")
    print()
    lines, _ = summary(runs, load, span, args.settle_minutes)
    print(
        f"Summary (drained: the first minute the backlog is below "
        f"{_num(load.drained_below)} messages, one minute of steady arrivals):"
    )
    print("\n".join(f"  {line}" for line in lines))
    print(
        f"  worker-min: tasks running or starting; mean workers before burst: second half of "
        f"the {args.warmup_minutes}-minute warm-up at {_num(args.steady_rate)} messages/minute "
        f"(needs {_num(args.steady_rate * args.processing_seconds / 60)})"
    )
    ideal, ours, cdk_default = drains
    print()
    if ideal is None or ours is None:
        print(f"  constructs_lib did not drain within {args.minutes} minutes: target missed")
        return 1
    ratio = ours / ideal
    verdict = "met" if ratio <= RATIO_TARGET else "MISSED"
    print(
        f"  constructs_lib / ideal drain time: {ratio:.2f}x (target <= {RATIO_TARGET}x: {verdict})"
    )
    if cdk_default is None:
        print(f"  aws-cdk-lib default did not drain within {args.minutes} minutes: beaten")
    else:
        beats = "beats" if ours < cdk_default else "does NOT beat"
        print(
            f"  constructs_lib {beats} the aws-cdk-lib default: {ours} vs {cdk_default} minutes "
            f"({cdk_default / ours:.2f}x)"
        )
    if args.warmup_minutes:
        print(
            f"  burst arriving after {warmups[0]}-{warmups[-1]} minutes of steady traffic "
            f"({PHASES} runs, any point of the steady-state cycles):"
        )
        for run, drained in zip(runs[1:], phases, strict=True):
            if None in drained:
                print(f"    {run.name}: does not always drain within {args.minutes} minutes")
                continue
            low, high = min(d for d in drained if d), max(d for d in drained if d)
            print(
                f"    {run.name}: drains in {low}-{high} minutes "
                f"({low / ideal:.2f}-{high / ideal:.2f}x ideal)"
            )
    print(f"  total run time {time.perf_counter() - started:.1f} s")
    return 0


def figure(runs: Sequence[Run], load: Load, span: int, args: argparse.Namespace) -> str:
    """Write the figure into ``--figures-dir``; what was written, or why not."""
    from _plots import missing, written

    reason = missing()
    if reason:
        return f"SKIPPED, {reason}"
    subtitle = (
        "scaling policies read from the two synthesized templates, simulated in "
        f"{TICK_SECONDS}-second ticks\nmax {args.max_capacity} workers, "
        f"{_num(args.steady_rate)} messages/min steady, {_num(args.processing_seconds)} s per "
        f"message, {args.metric_lag_minutes}-min metric lag, {_num(args.launch_minutes)}-min "
        "task launch"
    )
    paths = write_figure(
        runs, load, span, args.figures_dir, max_capacity=args.max_capacity, subtitle=subtitle
    )
    return written(paths)


if __name__ == "__main__":
    sys.exit(main())
