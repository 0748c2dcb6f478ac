"""``fanout diagram`` on the reference app, synthesized once for the module as `cdk synth`
writes it (into a folder named ``cdk.out``), plus two stacks of this module's own: one with
the subscribers and the worker pool the reference stacks do not have (Lambda, SMS and
Firehose subscribers, richer filters, an EC2 pool, a consumer in a nested stack) and one
with no topic at all.

Each test reads what the command prints (the JSON graph, Mermaid, Graphviz) and checks it
against the templates it was drawn from, following their references.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docs_pages
import pytest
from helpers import REFERENCE_STACKS, ROOT, project_app

from constructs_lib.cli import diagram
from constructs_lib.cli.core import EXIT_OK, EXIT_USAGE, Context
from constructs_lib.cli.diagram import filter_words, mermaid_text
from constructs_lib.cli.main import main, run

EXTRAS = "DiagramExtras"
TEAM = "DiagramTeam"
STAGED = "Prod/Shop"
NO_FANOUT = "NoFanout"
THUMBNAILS_JOB = ROOT / "lambda_src" / "image_thumbnails"


@pytest.fixture(scope="module")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference app and this module's two stacks, synthesized into ``<tmp>/cdk.out``."""
    from aws_cdk import Acknowledgment, Duration, NestedStack, Stack, Stage, Validations
    from aws_cdk import aws_kinesisfirehose as firehose
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_sns as sns
    from aws_cdk import aws_sqs as sqs

    from constructs_lib import ConsumerQueue, Ec2Workers, FanoutTopic, QueueWorkerPool, WorkerJob
    from stacks import add_reference_stacks

    outdir = tmp_path_factory.mktemp("app") / "cdk.out"
    app = project_app(outdir)
    add_reference_stacks(app)

    extras = Stack(app, EXTRAS)
    events = FanoutTopic(extras, "Events")
    audit = lambda_.Function(
        extras,
        "AuditFunction",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
        handler="index.handler",
        runtime=lambda_.Runtime.PYTHON_3_14,
    )
    events.add_lambda_subscriber(
        "Audit",
        function=audit,
        filter_policy={"kind": sns.SubscriptionFilter.string_filter(denylist=["test"])},
    )
    events.add_sms_subscriber("Pager", phone_number="+15555550100")
    lake = firehose.DeliveryStream.from_delivery_stream_arn(
        extras, "Lake", "arn:aws:firehose:eu-west-1:111111111111:deliverystream/lake"
    )
    events.add_firehose_subscriber("Lake", delivery_stream=lake)
    # The imported stream's unused CIDR mapping (CDK's, not the library's).
    Validations.of(extras).acknowledge(
        Acknowledgment(id="CloudFormation-Validate::W7001", reason="CDK's imported stream")
    )
    events.add_queue_consumer(
        "Regional",
        filter_policy={
            "region": sns.SubscriptionFilter.string_filter(match_prefixes=["eu-"]),
            "priority": sns.SubscriptionFilter.numeric_filter(
                between=sns.BetweenCondition(start=1, stop=5)
            ),
            "trace": sns.SubscriptionFilter.exists_filter(),
        },
    )
    jobs = events.add_queue_consumer("Jobs", visibility_timeout=Duration.minutes(2))
    backlog = events.add_queue_consumer("Backlog", visibility_timeout=Duration.minutes(2))
    QueueWorkerPool(
        extras,
        "Pool",
        queues=[jobs, backlog],
        workers=Ec2Workers(job=WorkerJob(code_path=str(THUMBNAILS_JOB), handler="jobs.handler")),
        acceptable_latency=Duration.minutes(5),
        processing_time_per_message=Duration.seconds(10),
        max_capacity=4,
    )
    team = NestedStack(extras, "Team")
    ConsumerQueue(
        team,
        "Replica",
        topic=events.topic,
        subscription_dead_letter_queue=events.subscription_dead_letter_queue,
    )

    # A consumer in another stack of the same environment: CDK passes it the topic and the
    # subscription dead-letter queue as the fanout stack's outputs.
    ConsumerQueue(
        Stack(app, TEAM),
        "Mine",
        topic=events.topic,
        subscription_dead_letter_queue=events.subscription_dead_letter_queue,
    )
    FanoutTopic(Stack(Stage(app, "Prod"), "Shop"), "Events").add_queue_consumer("Billing")
    sqs.Queue(Stack(app, NO_FANOUT), "Jobs", enforce_ssl=True)
    app.synth()
    return outdir


@dataclass
class Result:
    code: int
    out: str
    err: str


def fanout(*argv: str) -> Result:
    """``fanout ARGV...`` in process, as a user runs it."""
    stdout, stderr = io.StringIO(), io.StringIO()
    ctx = Context(args=None, stdout=stdout, stderr=stderr)  # type: ignore[arg-type]
    code = run(list(argv), ctx=ctx)
    return Result(code, stdout.getvalue(), stderr.getvalue())


@pytest.fixture(scope="module")
def graph(cdk_out: Path) -> dict[str, Any]:
    """``fanout diagram CDK_OUT --output json``, by stack name."""
    result = fanout("diagram", str(cdk_out), "--output", "json")
    assert result.code == EXIT_OK, result.err
    return {stack["name"]: stack for stack in json.loads(result.out)["stacks"]}


def template(cdk_out: Path, stack: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((cdk_out / f"{stack}.template.json").read_text())
    return body


def node(stack: dict[str, Any], path: str) -> dict[str, Any]:
    """The node drawn for the resource at construct ``path``."""
    (found,) = [n for n in stack["nodes"] if n["path"] == path]
    return found


def edges(stack: dict[str, Any], source: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in stack["edges"] if e["from"] == source["id"] and e["kind"] == kind]


def targets(stack: dict[str, Any], source: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    by_id = {n["id"]: n for n in stack["nodes"]}
    return [by_id[e["to"]] for e in edges(stack, source, kind)]


def subscription(stack: dict[str, Any], to_path: str) -> dict[str, Any]:
    """The subscription edge that delivers to the node at ``to_path``."""
    target = node(stack, to_path)
    (found,) = [
        e for e in stack["edges"] if e["to"] == target["id"] and e["kind"] == "subscription"
    ]
    return found


def watchers(stack: dict[str, Any], watched: dict[str, Any]) -> set[str]:
    """Paths of the alarms watching a node, relative to the stack."""
    return {n["name"] for n in targets(stack, watched, "alarm")}


# -- what is drawn ------------------------------------------------------------------------


def test_draws_every_stack_with_a_topic_and_skips_the_one_without(
    graph: dict[str, Any],
) -> None:
    assert sorted(graph) == sorted([*REFERENCE_STACKS, EXTRAS, TEAM, STAGED])


def test_analytics_subscription_shows_its_body_filter_in_words_and_raw_delivery(
    graph: dict[str, Any],
) -> None:
    analytics = subscription(graph["OrderFanout"], "OrderFanout/OrderPlaced/Analytics/Queue")
    assert analytics["label"] == ["message body: total ≥ 1000", "raw delivery"]
    assert analytics["filter_scope"] == "MessageBody"
    assert analytics["raw_message_delivery"] is True


def test_attribute_filter_reads_as_the_values_it_lets_through(graph: dict[str, Any]) -> None:
    notifications = subscription(
        graph["OrderFanout"], "OrderFanout/OrderPlaced/CustomerNotifications/Queue"
    )
    assert notifications["label"] == ["customer_contact is one of email, sms, push"]
    assert notifications["filter_scope"] == "MessageAttributes"


def test_unfiltered_envelope_subscription_says_every_message(graph: dict[str, Any]) -> None:
    billing = subscription(graph["OrderFanout"], "OrderFanout/OrderPlaced/Billing/Queue")
    assert billing["label"] == ["every message"]
    assert billing["raw_message_delivery"] is False


def test_each_consumer_queue_leads_to_the_dlq_its_redrive_policy_names(
    graph: dict[str, Any], cdk_out: Path
) -> None:
    order = graph["OrderFanout"]
    resources = template(cdk_out, "OrderFanout")["Resources"]
    queues = [n for n in order["nodes"] if n["kind"] == "queue"]
    assert {q["name"] for q in queues} == {
        f"{c}/Queue"
        for c in ("Billing", "Shipping", "Inventory", "Analytics", "CustomerNotifications")
    }
    for queue in queues:
        redrive = resources[queue["logical_id"]]["Properties"]["RedrivePolicy"]
        (dlq,) = targets(order, queue, "dead-letter")
        assert dlq["kind"] == "dead-letter-queue"
        assert dlq["logical_id"] == redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        (edge,) = edges(order, queue, "dead-letter")
        assert edge["label"] == [f"maxReceiveCount {redrive['maxReceiveCount']}"]


def test_lambda_consumers_are_linked_to_the_queues_their_event_source_mappings_read(
    graph: dict[str, Any], cdk_out: Path
) -> None:
    order = graph["OrderFanout"]
    mappings = [
        r["Properties"]
        for r in template(cdk_out, "OrderFanout")["Resources"].values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
    ]
    drawn = {}
    for consumer in ("Billing", "Shipping", "Inventory"):
        queue = node(order, f"OrderFanout/OrderPlaced/{consumer}/Queue")
        (function,) = targets(order, queue, "event-source-mapping")
        assert function["kind"] == "lambda-function"
        assert function["name"] == f"{consumer}/Handler/Function"
        drawn[queue["logical_id"]] = function["logical_id"]
    assert drawn == {
        m["EventSourceArn"]["Fn::GetAtt"][0]: m["FunctionName"]["Ref"] for m in mappings
    }


def test_queue_consumed_outside_the_stack_has_no_consumer(graph: dict[str, Any]) -> None:
    order = graph["OrderFanout"]
    analytics = node(order, "OrderFanout/OrderPlaced/Analytics/Queue")
    assert targets(order, analytics, "event-source-mapping") == []
    assert targets(order, analytics, "workers") == []


def test_partner_webhook_is_an_https_subscriber_at_the_stack_parameter(
    graph: dict[str, Any],
) -> None:
    order = graph["OrderFanout"]
    webhook = node(order, "OrderFanout/OrderPlaced/PartnerWebhook")
    assert webhook["kind"] == "endpoint"
    assert webhook["label"] == [
        "PartnerWebhook",
        "HTTPS endpoint",
        "parameter PartnerWebhookUrl",
    ]
    assert subscription(order, "OrderFanout/OrderPlaced/PartnerWebhook")["label"] == [
        "every message",
        "raw delivery",
        "20 retries",
        "at most 50 per second",
    ]


def test_alerts_fanout_emails_the_on_call_address(graph: dict[str, Any]) -> None:
    order = graph["OrderFanout"]
    on_call = node(order, "OrderFanout/Alerts/OnCall")
    assert on_call["label"] == ["OnCall", "email", "parameter OnCallEmail"]
    assert on_call["fanout"] == node(order, "OrderFanout/Alerts/Topic")["id"]


def test_every_subscription_of_a_fanout_shares_its_subscription_dlq(
    graph: dict[str, Any],
) -> None:
    order = graph["OrderFanout"]
    topic = node(order, "OrderFanout/OrderPlaced/Topic")
    (dlq,) = targets(order, topic, "undeliverable")
    assert dlq["name"] == "SubscriptionDeadLetterQueue"
    assert dlq["kind"] == "subscription-dead-letter-queue"
    assert all("no subscription DLQ" not in e["label"] for e in edges(order, topic, "subscription"))
    assert watchers(order, dlq) == {"UndeliveredAlarm"}


def test_alarms_watch_the_queues_their_queries_name(graph: dict[str, Any]) -> None:
    order = graph["OrderFanout"]
    for consumer in ("Billing", "Shipping", "Inventory", "CustomerNotifications"):
        queue = node(order, f"OrderFanout/OrderPlaced/{consumer}/Queue")
        assert watchers(order, queue) == {"MessageAgeAlarm"}
        (dlq,) = targets(order, queue, "dead-letter")
        assert watchers(order, dlq) == {"DeadLetterAlarm"}
    # Analytics has its own max_message_age, so an alarm of its own.
    analytics = node(order, "OrderFanout/OrderPlaced/Analytics/Queue")
    assert watchers(order, analytics) == {"MessageAgeAlarm2"}
    (alarm,) = targets(order, analytics, "alarm")
    assert alarm["label"] == [
        "MessageAgeAlarm2",
        "alarm: Age of oldest message (s) > 3600",
        "notifies Alerts/Topic",
    ]


def test_function_alarms_watch_their_function(graph: dict[str, Any]) -> None:
    order = graph["OrderFanout"]
    function = node(order, "OrderFanout/OrderPlaced/Billing/Handler/Function")
    assert watchers(order, function) == {
        "Billing/Handler/ErrorsAlarm",
        "Billing/Handler/ThrottlesAlarm",
    }


def test_ledger_fanout_is_fifo_with_its_archive(graph: dict[str, Any]) -> None:
    ledger = graph["LedgerFanout"]
    topic = node(ledger, "LedgerFanout/LedgerEntries/Topic")
    assert topic["label"] == ["LedgerEntries/Topic", "FIFO topic", "archive 7 days"]
    assert (topic["fifo"], topic["archive_days"]) == (True, 7)
    assert node(ledger, "LedgerFanout/LedgerEntries/Balances/Queue")["label"][1] == "FIFO queue"
    # The audit queue is a standard queue fed by the FIFO topic, with raw delivery.
    assert node(ledger, "LedgerFanout/LedgerEntries/Audit/Queue")["label"][1] == "queue"
    audit = subscription(ledger, "LedgerFanout/LedgerEntries/Audit/Queue")
    assert audit["label"] == ["every message", "raw delivery"]


def test_image_processing_worker_pool_consumes_its_queue_and_scales_on_it(
    graph: dict[str, Any],
) -> None:
    images = graph["ImageProcessing"]
    queue = node(images, "ImageProcessing/ImageJobs/Thumbnails/Queue")
    (pool,) = targets(images, queue, "workers")
    assert pool["label"] == ["Workers/Service/Service", "ECS service (Fargate), 0 to 20 tasks"]
    (edge,) = edges(images, queue, "workers")
    assert edge["label"] == ["workers, priority 1 of 2", "scaled on the combined backlog"]
    assert "Workers/ThumbnailsLatencyAlarm" in watchers(images, queue)
    reencodes = node(images, "ImageProcessing/ReencodeJobs/Reencodes/Queue")
    assert targets(images, reencodes, "workers") == [pool]
    (edge,) = edges(images, reencodes, "workers")
    assert edge["label"] == ["workers, priority 2 of 2", "scaled on the combined backlog"]


def test_ec2_worker_pool_is_found_through_its_scaling_policy(graph: dict[str, Any]) -> None:
    extras = graph[EXTRAS]
    queue = node(extras, f"{EXTRAS}/Events/Jobs/Queue")
    (pool,) = targets(extras, queue, "workers")
    assert pool["label"] == ["Pool/Group/ASG", "Auto Scaling group, 0 to 4 instances"]
    # Its instances are told both queues in their user data, highest first.
    backlog = node(extras, f"{EXTRAS}/Events/Backlog/Queue")
    assert [e["label"][0] for q in (queue, backlog) for e in edges(extras, q, "workers")] == [
        "workers, priority 1 of 2",
        "workers, priority 2 of 2",
    ]


def test_lambda_sms_and_firehose_subscribers_are_drawn_with_their_endpoints(
    graph: dict[str, Any],
) -> None:
    extras = graph[EXTRAS]
    audit = subscription(extras, f"{EXTRAS}/AuditFunction")
    assert (audit["protocol"], audit["label"]) == ("lambda", ["kind is anything but test"])
    assert node(extras, f"{EXTRAS}/AuditFunction")["kind"] == "lambda-function"
    assert node(extras, f"{EXTRAS}/Events/Pager")["label"] == ["Pager", "SMS", "+15555550100"]
    assert node(extras, f"{EXTRAS}/Events/Lake")["label"] == [
        "Lake",
        "Firehose delivery stream",
        "arn:aws:firehose:eu-west-1:111111111111:deliverystream/lake",
    ]


def test_several_conditions_read_as_one_line_each(graph: dict[str, Any]) -> None:
    regional = subscription(graph[EXTRAS], f"{EXTRAS}/Events/Regional/Queue")
    assert regional["label"] == [
        "region starts with eu-",
        "and priority ≥ 1 and ≤ 5",
        "and trace exists",
    ]


def test_consumer_in_a_nested_stack_is_drawn_in_its_fanout(graph: dict[str, Any]) -> None:
    extras = graph[EXTRAS]
    topic = node(extras, f"{EXTRAS}/Events/Topic")
    replica = node(extras, f"{EXTRAS}/Team/Replica/Queue")
    assert replica["fanout"] == topic["id"]
    assert subscription(extras, f"{EXTRAS}/Team/Replica/Queue")["from"] == topic["id"]
    (dlq,) = targets(extras, replica, "dead-letter")
    assert dlq["name"] == "Team/Replica/DeadLetterQueue"
    assert watchers(extras, dlq) == {"Team/Replica/DeadLetterAlarm"}
    # Its subscription dead-letter queue is the fanout's, passed in as a parameter.
    (shared,) = targets(extras, topic, "undeliverable")
    assert shared["path"] == f"{EXTRAS}/Events/SubscriptionDeadLetterQueue"


def test_consumer_in_another_stack_is_found_through_the_stack_outputs(
    graph: dict[str, Any],
) -> None:
    team, extras = graph[TEAM], graph[EXTRAS]
    mine = f"{TEAM}/Mine/Queue"
    topic = node(team, f"{EXTRAS}/Events/Topic")
    assert topic["label"][-1] == f"in stack {EXTRAS}"
    assert subscription(team, mine)["from"] == topic["id"]
    (dlq,) = targets(team, topic, "undeliverable")
    assert dlq["path"] == f"{EXTRAS}/Events/SubscriptionDeadLetterQueue"
    assert node(extras, mine)["label"] == ["Mine/Queue", "queue", f"in stack {TEAM}"]


def test_stacks_of_a_stage_are_read_from_its_assembly(graph: dict[str, Any]) -> None:
    shop = graph[STAGED]
    assert [f["name"] for f in shop["fanouts"]] == ["Events"]
    assert node(shop, "Prod/Shop/Events/Billing/Queue")["name"] == "Billing/Queue"


def test_cross_region_subscriber_is_drawn_on_both_stacks(graph: dict[str, Any]) -> None:
    primary, recovery = graph["OrdersPrimary"], graph["OrdersRecovery"]
    replica = node(primary, "OrdersRecovery/OrdersReplica/Queue")
    assert replica["label"] == [
        "OrdersReplica/Queue",
        "queue",
        "in stack OrdersRecovery (us-west-2)",
    ]
    assert subscription(primary, "OrdersRecovery/OrdersReplica/Queue")["label"] == [
        "every message",
        "subscribed in us-east-1",
    ]
    # In its own stack the topic it subscribes to, by ARN, is the primary region's.
    topic = node(recovery, "OrdersPrimary/OrderPlaced/Topic")
    assert topic["label"][-1] == "in stack OrdersPrimary (us-east-1)"
    (dlq,) = targets(recovery, topic, "undeliverable")
    assert dlq["path"] == "OrdersPrimary/OrderPlaced/SubscriptionDeadLetterQueue"
    assert [f["name"] for f in recovery["fanouts"]] == ["OrderPlaced (stack OrdersPrimary)"]


def test_topic_without_subscriptions_says_so(graph: dict[str, Any]) -> None:
    broadcast = node(graph["PushNotifications"], "PushNotifications/Push/Broadcast/Topic")
    assert broadcast["label"][-1] == "no subscription in the templates"


def test_every_edge_joins_two_drawn_nodes(graph: dict[str, Any]) -> None:
    for stack in graph.values():
        ids = {n["id"] for n in stack["nodes"]}
        assert {e["from"] for e in stack["edges"]} | {e["to"] for e in stack["edges"]} <= ids


@pytest.mark.parametrize(
    ("policy", "words"),
    [
        ({"color": ["red"]}, ["color is red"]),
        ({"size": [{"anything-but": ["S", "M"]}]}, ["size is anything but S, M"]),
        ({"key": [{"anything-but": {"prefix": "tmp/"}}]}, ["key does not start with tmp/"]),
        (
            {"key": [{"suffix": ".jpg"}, {"suffix": ".png"}]},
            ["key ends with .jpg or ends with .png"],
        ),
        ({"trace": [{"exists": False}]}, ["trace does not exist"]),
        ({"price": [{"numeric": [">", 0, "<", 10.5]}]}, ["price > 0 and < 10.5"]),
        ({"name": [{"equals-ignore-case": "Bob"}]}, ["name is Bob (any case)"]),
        ({"ip": [{"cidr": "10.0.0.0/24"}]}, ["ip is in 10.0.0.0/24"]),
        ({"order": {"total": [{"numeric": [">=", 1000]}]}}, ["order.total ≥ 1000"]),
        ({"note": [None, ""]}, ['note is one of null, ""']),
        (
            {"$or": [{"a": ["1"]}, {"b": ["2"], "c": ["3"]}]},
            ["either (a is 1) or (b is 2 and c is 3)"],
        ),
        ('{"color": ["blue"]}', ["color is blue"]),
        ({"Fn::If": ["Prod", {"a": ["1"]}, {}]}, ["a filter policy set at deploy time"]),
    ],
)
def test_filter_policy_reads_in_words(policy: Any, words: list[str]) -> None:
    assert filter_words(policy) == words


# -- formats ------------------------------------------------------------------------------

MERMAID_NODE = re.compile(
    r'^    (\w+)(\{\{|\[\(|\(|\[\[|\[/|>)"([^"]*)"(\}\}|\)\]|\)|\]\]|/\]|\])$'
)
MERMAID_EDGE = re.compile(r'^  (\w+) (-->|-\.->|-\.-)(\|"([^"]*)"\|)? (\w+)$')


def test_mermaid_has_a_flowchart_per_stack_whose_edges_join_declared_nodes(
    cdk_out: Path, graph: dict[str, Any]
) -> None:
    result = fanout("diagram", str(cdk_out))
    assert result.code == EXIT_OK, result.err
    charts = result.out.split("---\ntitle: ")[1:]
    assert [c.split("\n", 1)[0] for c in charts] == [json.dumps(f"Stack {n}") for n in graph]
    for chart in charts:
        lines = chart.split("\n---\n", 1)[1].rstrip("\n").splitlines()
        assert lines[0] == "flowchart LR"
        declared: set[str] = set()
        ends: set[str] = set()
        depth = 0
        for line in lines[1:]:
            if line.startswith("  subgraph "):
                depth += 1
            elif line == "  end":
                depth -= 1
            elif (found := MERMAID_NODE.match(line)) is not None:
                assert depth == 1, line
                declared.add(found.group(1))
            elif (found := MERMAID_EDGE.match(line)) is not None:
                ends |= {found.group(1), found.group(5)}
            else:
                assert line.strip().startswith(("direction LR", "classDef ", "class ")), line
        assert depth == 0
        assert ends <= declared


def test_mermaid_of_a_stack_with_more_edges_than_mermaid_draws_warns(
    cdk_out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(diagram, "MERMAID_MAX_EDGES", 9)
    result = fanout("diagram", str(cdk_out), "--stack", "LedgerFanout")
    assert result.code == EXIT_OK
    assert result.err.splitlines() == [
        "fanout: warning: stack LedgerFanout: 10 edges, and Mermaid draws at most 9 unless "
        "its maxEdges setting is raised; use --format svg (or dot) for this stack"
    ]


def test_mermaid_labels_escape_what_mermaid_reads_as_syntax() -> None:
    text = mermaid_text(['say "hi" <b> #1 | [x] {y} `z` & 5%', "next"])
    assert not set('"<>|[]{}`%') & set(text.replace("<br/>", ""))
    assert text == (
        "say #quot;hi#quot; #lt;b#gt; #35;1 #124; #91;x#93; #123;y#125; #96;z#96; #amp; 5#37;"
        "<br/>next"
    )


def test_dot_source_is_one_digraph_with_a_cluster_per_stack_and_fanout(cdk_out: Path) -> None:
    result = fanout("diagram", str(cdk_out), "--format", "dot", "--stack", "OrderFanout")
    assert result.code == EXIT_OK, result.err
    assert result.out.startswith("digraph fanouts {\n  rankdir=LR;")
    clusters = re.findall(r"subgraph (cluster_\w+) \{\n\s+label=\"([^\"]*)\"", result.out)
    assert [label for _, label in clusters] == ["Stack OrderFanout", "Alerts", "OrderPlaced"]
    assert (
        '[label="every message\\nraw delivery\\n20 retries\\nat most 50 per second"]' in result.out
    )


@pytest.fixture
def graphviz() -> str:
    dot = shutil.which("dot")
    if dot is None:
        if os.environ.get("CI"):
            pytest.fail("Graphviz's dot is missing: .ci/run installs it (apt-get install graphviz)")
        pytest.skip("Graphviz's dot is not installed (apt-get install graphviz)")
    return dot


def test_svg_output_is_an_svg_document(cdk_out: Path, graphviz: str, tmp_path: Path) -> None:
    target = tmp_path / "ledger.svg"
    result = fanout(
        "diagram",
        str(cdk_out),
        "--format",
        "svg",
        "--stack",
        "LedgerFanout",
        "--output-file",
        str(target),
    )
    assert result.code == EXIT_OK, result.err
    assert result.out == ""
    assert result.err.strip() == f"wrote {target}: 1 fanout(s) in 1 stack(s)"
    root = ET.fromstring(target.read_text())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"LedgerEntries/Topic", "FIFO topic", "archive 7 days"} <= texts


def test_svg_without_graphviz_exits_2_saying_how_to_install_it(
    cdk_out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot there
    result = fanout("diagram", str(cdk_out), "--format", "svg")
    assert result.code == EXIT_USAGE
    assert result.out == ""
    assert result.err.splitlines() == [
        "fanout: error: --format svg needs Graphviz's `dot`, which is not on PATH: install "
        "Graphviz (apt-get install graphviz, or brew install graphviz), or use --format mermaid"
    ]


def test_output_file_holds_what_standard_output_would(cdk_out: Path, tmp_path: Path) -> None:
    printed = fanout("diagram", str(cdk_out), "--stack", "LedgerFanout")
    target = tmp_path / "ledger.mmd"
    written = fanout(
        "diagram", str(cdk_out), "--stack", "LedgerFanout", "--output-file", str(target)
    )
    assert written.code == EXIT_OK
    assert target.read_text() == printed.out


# -- bad input ------------------------------------------------------------------------------


def _one_line_error(result: Result) -> str:
    assert result.code == EXIT_USAGE
    assert result.out == ""
    (line,) = result.err.splitlines()
    return line


def test_folder_without_a_manifest_says_to_run_cdk_synth(tmp_path: Path) -> None:
    assert _one_line_error(fanout("diagram", str(tmp_path))) == (
        f"fanout: error: CDK_OUT {tmp_path} is not a cloud assembly (no manifest.json): run "
        "`cdk synth` and give the folder it writes (cdk.out by default)"
    )


def test_missing_default_folder_says_to_run_cdk_synth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _one_line_error(fanout("diagram")) == (
        "fanout: error: CDK_OUT cdk.out: no such folder; run `cdk synth` first (it writes "
        "cdk.out), or give the folder it wrote"
    )


def test_unknown_stack_lists_the_stacks_there(cdk_out: Path, graph: dict[str, Any]) -> None:
    line = _one_line_error(fanout("diagram", str(cdk_out), "--stack", "Orders"))
    prefix = f"fanout: error: --stack Orders: no such stack in {cdk_out}; stacks there: "
    assert line.startswith(prefix)
    assert sorted(line.removeprefix(prefix).split(", ")) == sorted([*graph, NO_FANOUT])


def test_assembly_without_a_topic_says_there_is_nothing_to_draw(cdk_out: Path) -> None:
    line = _one_line_error(fanout("diagram", str(cdk_out), "--stack", NO_FANOUT))
    assert line == (
        f"fanout: error: no fanout to draw: the stacks asked for ({NO_FANOUT}) define no SNS "
        "topic and no subscription; give the assembly of an app with a FanoutTopic (or "
        "another SNS topic)"
    )


def test_missing_template_says_to_synthesize_again(cdk_out: Path, tmp_path: Path) -> None:
    broken = tmp_path / "cdk.out"
    shutil.copytree(cdk_out / "assembly-Prod", broken / "assembly-Prod")
    for json_file in cdk_out.glob("*.json"):
        if json_file.name != "LedgerFanout.template.json":
            shutil.copy(json_file, broken / json_file.name)
    assert _one_line_error(fanout("diagram", str(broken))) == (
        f"fanout: error: stack LedgerFanout: template {broken}/LedgerFanout.template.json is "
        "missing: the assembly is incomplete; run `cdk synth` again"
    )


# -- as users run it -------------------------------------------------------------------------

IMPORT_CHECK = """
import runpy, sys
sys.argv = ["fanout", *sys.argv[1:]]
try:
    runpy.run_module("constructs_lib.cli", run_name="__main__")
except SystemExit as done:
    code = done.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"aws_cdk", "jsii", "boto3", "botocore"})
print(code, heavy, file=sys.stderr)
"""


def test_command_runs_without_importing_aws_cdk(cdk_out: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_CHECK, "diagram", str(cdk_out), "--stack", "LedgerFanout"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    assert result.stderr.splitlines()[-1] == "0 []"
    assert result.stdout.startswith('---\ntitle: "Stack LedgerFanout"\n---\nflowchart LR\n')


def _readme_section() -> str:
    return (docs_pages.DOCS / "cli" / "diagram.md").read_text()


def _readme_blocks() -> Iterator[tuple[str, str]]:
    for found in re.finditer(r"```(\w+)\n(.*?)```", _readme_section(), re.DOTALL):
        yield found.group(1), found.group(2)


def test_readme_example_prints_what_the_readme_shows(
    cdk_out: Path, monkeypatch: pytest.MonkeyPatch, graphviz: str
) -> None:
    """The section's bash block runs as written, in the folder `cdk synth` wrote cdk.out
    in; its first command prints the Mermaid block shown after it."""
    blocks = list(_readme_blocks())
    (commands,) = [body for lang, body in blocks if lang == "bash"]
    (shown,) = [body for lang, body in blocks if lang == "mermaid"]
    monkeypatch.chdir(cdk_out.parent)
    outputs = []
    for line in commands.splitlines():
        argv = shlex.split(line, comments=True)
        assert argv[:2] == ["fanout", "diagram"], line
        result = fanout(*argv[1:])
        assert result.code == EXIT_OK, (line, result.err)
        outputs.append(result.out)
    assert outputs[0] == shown


DIAGRAMS = docs_pages.DOCS / "diagrams"


def test_the_docs_draw_every_reference_stack() -> None:
    drawn = {p.stem for p in DIAGRAMS.glob("*.mmd") if not p.stem.startswith("construct-")}
    assert drawn == set(REFERENCE_STACKS)
    stacks_page = (docs_pages.DOCS / "stacks.md").read_text()
    for stack in REFERENCE_STACKS:
        assert f'--8<-- "diagrams/{stack}.mmd"' in stacks_page


@pytest.mark.parametrize("stack", REFERENCE_STACKS)
def test_the_committed_diagram_matches_the_app(
    stack: str, cdk_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make diagrams` wrote it; it must still be what the app synthesizes."""
    drawn = tmp_path / f"{stack}.mmd"
    assert main(["diagram", str(cdk_out), "--stack", stack, "--output-file", str(drawn)]) == 0
    assert drawn.read_text() == (DIAGRAMS / f"{stack}.mmd").read_text(), "run `make diagrams`"


@pytest.mark.parametrize("stack", REFERENCE_STACKS)
def test_the_committed_svg_is_the_diagram_drawn_by_graphviz(
    stack: str, cdk_out: Path, tmp_path: Path, graphviz: str
) -> None:
    drawn = tmp_path / f"{stack}.svg"
    argv = ["diagram", str(cdk_out), "--stack", stack, "--format", "svg"]
    assert main([*argv, "--output-file", str(drawn)]) == 0
    assert drawn.read_text() == (DIAGRAMS / f"{stack}.svg").read_text(), "run `make diagrams`"
