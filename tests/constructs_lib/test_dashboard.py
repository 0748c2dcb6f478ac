"""FanoutDashboard: one dashboard whose graphs reference this fanout's resources, the same
layout at 3 and at 300 consumers, and the rules CloudWatch has for its options."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aws_cdk import Duration, Stack, Validations
from aws_cdk import aws_lambda as lambda_
from cdk_nag import AwsSolutionsChecks
from helpers import ROOT, Tmpl, cfn_lint, new_app

from constructs_lib import (
    FanoutConfigurationError,
    FanoutDashboard,
    FanoutTopic,
    FargateWorkers,
    QueueWorkerPool,
    WorkerJob,
)

CODE = lambda_.Code.from_inline("def handler(event, context):\n    return {}\n")


class Body:
    """A dashboard's ``DashboardBody`` (an ``Fn::Join``) parsed, each reference kept."""

    def __init__(self, t: Tmpl, dashboard: FanoutDashboard, nested: Sequence[Tmpl] = ()) -> None:
        self.nested = list(nested)
        """The templates of the fanout's nested consumer stacks."""
        body = t.props(dashboard.dashboard)["DashboardBody"]
        parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
        self.references: list[Any] = []
        text = ""
        for part in parts:
            if isinstance(part, str):
                text += part
            else:
                text += f"@ref{len(self.references)}@"
                self.references.append(part)
        self.size = len(json.dumps(body))
        self.widgets: list[dict[str, Any]] = json.loads(text)["widgets"]

    def ref(self, marker: str) -> Any:
        return self.references[int(marker.removeprefix("@ref").removesuffix("@"))]

    def graph(self, title_start: str) -> dict[str, Any]:
        (found,) = [
            w["properties"]
            for w in self.widgets
            if w["type"] == "metric" and w["properties"]["title"].startswith(title_start)
        ]
        return found

    def texts(self) -> list[str]:
        return [w["properties"]["markdown"] for w in self.widgets if w["type"] == "text"]

    def layout(self) -> list[tuple[str, int, int, int, int]]:
        return [(w["type"], w["x"], w["y"], w["width"], w["height"]) for w in self.widgets]


def _fanout(stack: Stack, consumers: int, functions: int) -> FanoutTopic:
    fanout = FanoutTopic(stack, "Orders")
    for i in range(functions):
        fanout.add_lambda_consumer(f"Fn{i}", code=CODE, handler="index.handler")
    for i in range(consumers - functions):
        fanout.add_queue_consumer(f"Queue{i}")
    return fanout


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = new_app(outdir=str(outdir))
    stack = Stack(app, "Shop")
    fanout = FanoutTopic(stack, "Orders")
    board = fanout.add_dashboard(dashboard_name="orders-fanout", top=5)
    billing = fanout.add_queue_consumer("Billing")
    audit = fanout.add_lambda_consumer(
        "Audit", code=CODE, handler="index.handler", event_source_metrics=False
    )
    counted = fanout.add_lambda_consumer("Counted", code=CODE, handler="index.handler")
    job = WorkerJob(code_path=str(ROOT / "lambda_src" / "image_thumbnails"), handler="jobs.handler")
    pool = QueueWorkerPool(
        stack,
        "Thumbnails",
        queue=billing,
        workers=FargateWorkers(job=job),
        availability_zones=["eu-west-1a", "eu-west-1b"],
        target_backlog_per_worker=20,
    )
    board.add_worker_pool(pool)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
    t = Tmpl(stack)
    return SimpleNamespace(
        t=t,
        body=Body(t, board),
        board=board,
        fanout=fanout,
        billing=billing,
        audit=audit,
        counted=counted,
        pool=pool,
        outdir=Path(outdir),
    )


def test_the_dashboard_is_one_resource_with_its_name(small: SimpleNamespace) -> None:
    dashboards = small.t.of_type("AWS::CloudWatch::Dashboard")
    assert len(dashboards) == 1
    (props,) = [d["Properties"] for d in dashboards.values()]
    assert props["DashboardName"] == "orders-fanout"
    assert small.board.node.path == "Shop/Orders/Dashboard"


def test_every_reference_in_the_body_is_a_resource_of_the_template(
    small: SimpleNamespace,
) -> None:
    for reference in small.body.references:
        if "Ref" in reference:
            target = reference["Ref"]
            assert target in small.t.resources or target == "AWS::Region", reference
        else:
            (target, _attribute) = reference["Fn::GetAtt"]
            assert target in small.t.resources, reference


def test_the_topic_row_draws_this_topics_counts(small: SimpleNamespace) -> None:
    topic_name = {"Fn::GetAtt": [small.t.logical_id(small.fanout.topic), "TopicName"]}
    for title, names in (
        ("Messages published", {"NumberOfMessagesPublished", "NumberOfNotificationsDelivered"}),
        ("Deliveries failed", {"NumberOfNotificationsFailed", "NumberOfNotificationsFilteredOut"}),
    ):
        metrics = small.body.graph(title)["metrics"]
        assert {m[1] for m in metrics} == names
        assert all(m[0] == "AWS/SNS" and small.body.ref(m[3]) == topic_name for m in metrics)
    (undelivered,) = small.body.graph("Undelivered")["metrics"]
    dlq = small.t.logical_id(small.fanout.subscription_dead_letter_queue)
    assert small.body.ref(undelivered[3]) == {"Fn::GetAtt": [dlq, "QueueName"]}


def test_queue_graphs_query_every_consumer_even_those_added_after_the_dashboard(
    small: SimpleNamespace,
) -> None:
    names = {small.t.props(c.queue)["QueueName"] for c in small.fanout.consumers.values()}
    dead = {
        small.t.props(c.dead_letter_queue)["QueueName"] for c in small.fanout.consumers.values()
    }
    for title, metric, queues in (
        ("Backlog", "ApproximateNumberOfMessagesVisible", names),
        ("Age of the oldest", "ApproximateAgeOfOldestMessage", names),
        ("Dead-letter queue depth", "ApproximateNumberOfMessagesVisible", dead),
    ):
        (query,) = small.body.graph(title)["metrics"]
        expression = query[0]["expression"]
        assert expression.startswith(f'SELECT MAX({metric}) FROM SCHEMA("AWS/SQS", QueueName) ')
        assert expression.endswith("GROUP BY QueueName ORDER BY MAX() DESC LIMIT 5")
        assert set(re.findall(r"QueueName = '([^']*)'", expression)) == queues


def test_lambda_graphs_sort_the_functions_own_metrics(small: SimpleNamespace) -> None:
    functions = {
        json.dumps({"Ref": small.t.logical_id(f.function)}) for f in (small.audit, small.counted)
    }
    for title, metric in (("Lambda errors", "Errors"), ("Lambda throttles", "Throttles")):
        expression, *sources = small.body.graph(title)["metrics"]
        assert expression[0]["expression"] == "SORT(METRICS(), SUM, DESC, 5)"
        assert {m[1] for m in sources} == {metric}
        assert {json.dumps(small.body.ref(m[3])) for m in sources} == functions
        assert all(m[4]["visible"] is False for m in sources)


def test_records_polled_are_drawn_for_the_mappings_that_publish_them(
    small: SimpleNamespace,
) -> None:
    expression, *sources = small.body.graph("Records polled")["metrics"]
    assert expression[0]["expression"] == "SORT(METRICS(), SUM, DESC, 5)"
    (polled,) = sources
    assert polled[:3] == ["AWS/Lambda", "PolledEventCount", "EventSourceMappingUUID"]
    mapping = small.t.logical_id(small.counted.event_source_mapping)
    assert small.body.ref(polled[3]) == {"Ref": mapping}


def test_a_pool_is_drawn_against_its_backlog_per_worker_and_target(
    small: SimpleNamespace,
) -> None:
    graph = small.body.graph("Shop/Thumbnails")
    assert graph["annotations"]["horizontal"] == [
        {"value": 20, "label": "Target backlog per worker", "yAxis": "right"}
    ]
    expressions = [m[0]["expression"] for m in graph["metrics"] if "expression" in m[0]]
    assert expressions == ["(visible + in_flight) / IF(workers > 0, workers, 1)"]
    assert any(m[1] == "RunningTaskCount" for m in graph["metrics"] if isinstance(m[0], str))


def test_the_template_passes_cfn_lint(small: SimpleNamespace) -> None:
    templates = sorted(str(p) for p in small.outdir.glob("*.template.json"))
    code, out, err = cfn_lint(templates)
    assert code == 0, out + err


def test_the_cdk_nag_report_is_clean(small: SimpleNamespace) -> None:
    report = json.loads((small.outdir / "validation-report.json").read_text())
    assert [r for r in report["pluginReports"] if r["conclusion"] != "success"] == []


# -- 3 and 300 consumers ---------------------------------------------------------------------


def _board(consumers: int, functions: int) -> Body:
    stack = Stack(new_app(), "Scale")
    fanout = _fanout(stack, consumers, functions)
    board = fanout.add_dashboard()
    return Body(Tmpl(stack), board, [Tmpl(nested) for nested in fanout.consumer_stacks])


@pytest.fixture(scope="module")
def sizes() -> dict[int, Body]:
    return {3: _board(3, 1), 300: _board(300, 30)}


def test_queues_in_nested_stacks_are_named_literally_without_outputs(
    sizes: dict[int, Body],
) -> None:
    assert len(sizes[300].nested) >= 3
    for t in sizes[300].nested:
        # Only what CloudFormation generates leaves its stack for the dashboard: the Lambda
        # consumers' function names and their event source mappings' UUIDs.
        for output in t.json.get("Outputs", {}).values():
            assert t.resources[output["Value"]["Ref"]]["Type"] in {
                "AWS::Lambda::Function",
                "AWS::Lambda::EventSourceMapping",
            }


def test_the_layout_is_the_same_at_3_and_300_consumers(sizes: dict[int, Body]) -> None:
    assert sizes[3].layout() == sizes[300].layout()
    assert len(sizes[300].widgets) == 13


def test_300_consumers_sort_the_queues_own_metrics_within_cloudwatchs_limits(
    sizes: dict[int, Body],
) -> None:
    expression, *sources = sizes[300].graph("Backlog")["metrics"]
    assert expression[0]["expression"] == "SORT(METRICS(), MAX, DESC, 10)"
    assert len(sources) == 300
    assert sizes[3].graph("Backlog")["metrics"][0][0]["expression"].startswith("SELECT MAX(")
    metrics = sum(len(w["properties"].get("metrics", [])) for w in sizes[300].widgets)
    assert metrics <= 2500  # CloudWatch's metrics per dashboard
    print(f"dashboard body: {sizes[3].size} characters at 3 consumers, {sizes[300].size} at 300")
    assert sizes[300].size < 512 * 1024


def test_without_consumers_the_rows_say_so() -> None:
    stack = Stack(new_app(), "Empty")
    board = FanoutTopic(stack, "Orders").add_dashboard()
    body = Body(Tmpl(stack), board)
    assert "No consumer queue yet." in body.texts()
    assert "No Lambda consumer." in body.texts()
    assert len(body.widgets) == 13


# -- rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"top": 0}, r"top=0: must be an integer from 1 to 500"),
        ({"period": Duration.seconds(90)}, r"period=.*must be a whole number of minutes"),
        ({"period": Duration.seconds(30)}, r"period=.*must be from 1 minute to 1 day"),
        ({"time_range": Duration.days(15)}, r"time_range=.*must be from 1 minute to 14 days"),
        ({"dashboard_name": "orders board"}, r"dashboard_name=.*letters, digits, hyphens"),
        ({"dashboard_name": "x" * 256}, r"dashboard_name=.*at most 255"),
        ({"worker_pools": ["pool"]}, r"worker_pools=.*QueueWorkerPool"),
    ],
)
def test_fails_on_options_cloudwatch_refuses(options: dict[str, Any], message: str) -> None:
    fanout = FanoutTopic(Stack(new_app(), "Some"), "Orders")
    with pytest.raises(FanoutConfigurationError, match=message):
        fanout.add_dashboard(**options)


def test_fails_on_an_id_the_fanout_already_uses() -> None:
    fanout = FanoutTopic(Stack(new_app(), "Some"), "Orders")
    fanout.add_queue_consumer("Dashboard")
    with pytest.raises(FanoutConfigurationError, match=r"id='Dashboard': .* already has a child"):
        fanout.add_dashboard()


def test_add_worker_pool_refuses_anything_else() -> None:
    fanout = FanoutTopic(Stack(new_app(), "Some"), "Orders")
    with pytest.raises(FanoutConfigurationError, match=r"pool='x': expected a QueueWorkerPool"):
        fanout.add_dashboard().add_worker_pool("x")  # type: ignore[arg-type]


def test_graphs_beyond_cloudwatchs_metrics_limits_are_a_synth_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aws_cdk.assertions import Annotations, Match

    import constructs_lib.dashboard as module

    # The limits scaled down: 4 queues already exceed one query, a graph and the dashboard.
    monkeypatch.setattr(module, "MAX_QUERY_LENGTH", 100)
    monkeypatch.setattr(module, "MAX_METRICS_PER_WIDGET", 3)
    monkeypatch.setattr(module, "MAX_METRICS_PER_DASHBOARD", 5)
    stack = Stack(new_app(), "Limits")
    board = _fanout(stack, 4, 0).add_dashboard()
    body = Body(Tmpl(stack), board)
    expression, *sources = body.graph("Backlog")["metrics"]
    assert expression[0]["expression"].startswith("SORT(METRICS(), MAX")
    assert len(sources) == 2
    warnings = Annotations.from_stack(stack).find_warning(
        "/Limits/Orders/Dashboard", Match.string_like_regexp("constructs-lib:dashboardMetricsLimit")
    )
    texts = [w.entry.data for w in warnings]
    assert any("first 2 of 4 consumers" in t for t in texts), texts
    assert any("sort 6 metrics" in t for t in texts), texts
