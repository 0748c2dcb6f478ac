"""FanoutTopic at scale: 1,000 consumers on one topic, templates within CloudFormation limits.

The 1,000-consumer app is synthesized once for the module (about a minute here).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Duration, NestedStack, Stack, Validations, cx_api
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks
from helpers import ROOT, Tmpl, alarm_query, cfn_lint, new_app, queues_in_query

from constructs_lib import FanoutTopic
from constructs_lib._private import placement

ORDER_CONSUMERS = ROOT / "lambda_src" / "order_consumers"

CONSUMERS = 1000
MAX_RESOURCES = 500
MAX_TEMPLATE_BYTES = 1_000_000
MAX_PARAMETERS = 200
MAX_OUTPUTS = 200


@dataclass
class Synthesized:
    fanout: FanoutTopic
    assembly: cx_api.CloudAssembly
    templates: dict[str, dict[str, Any]]
    sizes: dict[str, int]


def _templates(directory: Path) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """Every template in the assembly folder (stacks and nested stacks), by file name."""
    templates, sizes = {}, {}
    for path in sorted(directory.glob("*.template.json")):
        body = path.read_text()
        templates[path.name] = json.loads(body)
        sizes[path.name] = len(body.encode())
    return templates, sizes


def _team(n: int) -> str:
    return f"Team{n:04d}"


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = new_app(outdir=str(outdir))
    fanout = FanoutTopic(Stack(app, "Big"), "Orders")
    for n in range(CONSUMERS):
        fanout.add_queue_consumer(_team(n))
    assembly = app.synth()
    templates, sizes = _templates(outdir)
    return Synthesized(fanout, assembly, templates, sizes)


def _resources(big: Synthesized, cfn_type: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, r)
        for name, template in big.templates.items()
        for r in template["Resources"].values()
        if r["Type"] == cfn_type
    ]


def test_consumers_spread_over_nested_stacks(big: Synthesized) -> None:
    nested = [name for name in big.templates if name.endswith(".nested.template.json")]
    assert len(nested) == len(big.fanout.consumer_stacks) >= 2
    assert [s.node.id for s in big.fanout.consumer_stacks] == [
        f"Consumers{n}" for n in range(2, len(nested) + 2)
    ]


@pytest.mark.parametrize(
    ("section", "limit"),
    [("Resources", MAX_RESOURCES), ("Parameters", MAX_PARAMETERS), ("Outputs", MAX_OUTPUTS)],
)
def test_every_template_stays_within_cloudformation_limits(
    big: Synthesized, section: str, limit: int
) -> None:
    counts = {name: len(t.get(section, {})) for name, t in big.templates.items()}
    assert max(counts.values()) <= limit, counts


def test_every_template_body_is_under_one_megabyte(big: Synthesized) -> None:
    assert max(big.sizes.values()) <= MAX_TEMPLATE_BYTES, big.sizes


def test_the_fanouts_own_stack_leaves_room_for_the_rest_of_the_app(big: Synthesized) -> None:
    parent = big.templates["Big.template.json"]["Resources"]
    assert len(parent) <= 210  # 200 for the fanout, plus a nested stack resource per part


def test_every_consumer_is_subscribed_to_the_one_topic(big: Synthesized) -> None:
    parent = big.templates["Big.template.json"]["Resources"]
    (topic_lid,) = [lid for lid, r in parent.items() if r["Type"] == "AWS::SNS::Topic"]
    # Each nested stack receives the topic ARN as a parameter from the parent.
    topic_parameter: dict[str, set[str]] = {"Big.template.json": set()}
    for stack in big.fanout.consumer_stacks:
        stack_resource = stack.nested_stack_resource
        assert stack_resource is not None
        resource = parent[Stack.of(stack_resource).resolve(stack_resource.logical_id)]
        topic_parameter[stack.template_file] = {
            key
            for key, value in resource["Properties"]["Parameters"].items()
            if value == {"Ref": topic_lid}
        }
    subscribed: Counter[str] = Counter()
    for name, template in big.templates.items():
        for r in template["Resources"].values():
            if r["Type"] != "AWS::SNS::Subscription":
                continue
            topic = r["Properties"]["TopicArn"]
            assert topic == {"Ref": topic_lid} or topic["Ref"] in topic_parameter[name]
            subscribed[r["Properties"]["Protocol"]] += 1
    assert subscribed == {"sqs": CONSUMERS}


def test_synth_reports_no_warning_or_error(big: Synthesized) -> None:
    """No dependency cycle or other CloudFormation validation finding across the stacks."""
    messages = [(m.id, str(m.entry.data)) for s in big.assembly.stacks for m in s.messages]
    assert messages == []


def test_a_fanout_of_1000_consumers_uses_two_kms_keys(big: Synthesized) -> None:
    assert len(_resources(big, "AWS::KMS::Key")) == 2


def test_every_consumer_queue_is_covered_by_both_alarms(big: Synthesized) -> None:
    watched: dict[str, set[str]] = {"ApproximateNumberOfMessagesVisible": set()}
    watched["ApproximateAgeOfOldestMessage"] = set()
    for _, alarm in _resources(big, "AWS::CloudWatch::Alarm"):
        props = alarm["Properties"]
        if "Metrics" not in props:
            continue  # the subscription dead-letter queue's own alarm
        query = alarm_query(props)
        assert len(query) <= 2048
        metric = query.removeprefix("SELECT MAX(").split(")", 1)[0]
        names = queues_in_query(query)
        assert watched[metric].isdisjoint(names), "a queue is in two alarms"
        watched[metric] |= names
    queue_names = {r["Properties"]["QueueName"] for _, r in _resources(big, "AWS::SQS::Queue")}
    dead_letter = {n for n in queue_names if n.endswith("-dlq")}
    sources = queue_names - dead_letter - {n for n in queue_names if n.endswith("-undelivered")}
    assert len(sources) == len(dead_letter) == CONSUMERS
    assert watched["ApproximateNumberOfMessagesVisible"] == dead_letter
    assert watched["ApproximateAgeOfOldestMessage"] == sources


def test_alarms_are_a_small_fraction_of_the_resources(big: Synthesized) -> None:
    total = sum(len(t["Resources"]) for t in big.templates.values())
    alarms = len(_resources(big, "AWS::CloudWatch::Alarm"))
    assert alarms <= CONSUMERS // 10
    assert total / CONSUMERS <= 5.1, (total, alarms)


def test_adding_consumers_at_the_end_moves_no_earlier_consumer(big: Synthesized) -> None:
    """The first consumers of the 1,000 are where a fanout of only those would put them."""
    in_own_stack = [c for c in big.fanout.consumers.values() if c.node.scope is big.fanout]
    first = len(in_own_stack) + 3  # across the boundary into Consumers2
    app = new_app()
    small = FanoutTopic(Stack(app, "Big"), "Orders")
    for n in range(first):
        small.add_queue_consumer(_team(n))
    for team, consumer in small.consumers.items():
        earlier = big.fanout.consumers[team]
        assert consumer.node.path == earlier.node.path
        assert _queue_name(consumer.queue) == _queue_name(earlier.queue)
    assert len(small.consumer_stacks) == 1


def _queue_name(queue: sqs.IQueue) -> str | None:
    cfn = queue.node.default_child
    assert isinstance(cfn, sqs.CfnQueue)
    return cfn.queue_name


def test_a_queue_consumer_adds_five_resources() -> None:
    """Measured: the templates of N and N + 1 consumers differ by five resources."""

    def resources(consumers: int) -> Counter[str]:
        stack = Stack(new_app(), "Measure")
        fanout = FanoutTopic(stack, "Orders")
        for n in range(consumers):
            fanout.add_queue_consumer(_team(n))
        return Counter(r["Type"] for r in Tmpl(stack).resources.values())

    added = resources(4) - resources(3)
    assert added == {"AWS::SQS::Queue": 2, "AWS::SQS::QueuePolicy": 2, "AWS::SNS::Subscription": 1}


@pytest.fixture(scope="module")
def nested_checked(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[FanoutTopic, Path]]:
    """A fanout with small stack budgets (so that two nested stacks hold a few consumers,
    queue and Lambda ones) synthesized with cdk-nag; cheap enough to lint every template."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(placement, "OWN_STACK_BUDGET", 40)
        patch.setattr(placement, "NESTED_STACK_BUDGET", 45)
        app = new_app(outdir=str(outdir))
        stack = Stack(app, "Nested")
        ops = sns.Topic(stack, "Ops", enforce_ssl=True)
        fanout = FanoutTopic(stack, "Orders", alarm_topic=ops)
        for n in range(12):
            fanout.add_queue_consumer(_team(n), max_message_age=Duration.minutes(5 + n % 2))
            if n % 4 == 3:
                # One Code per consumer: an asset belongs to the first stack that uses it.
                code = lambda_.Code.from_asset(str(ORDER_CONSUMERS))
                fanout.add_lambda_consumer(f"Handler{n}", code=code, handler="billing.handler")
        assert len(fanout.consumer_stacks) >= 2
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
        try:
            assembly = app.synth()
        except RuntimeError as err:
            report = outdir / "validation-report.json"
            pytest.fail(f"synth failed validation: {err}\n{report.read_text()}")
    assert assembly.stacks
    yield fanout, outdir


def test_nested_consumer_stacks_pass_cdk_nag(
    nested_checked: tuple[FanoutTopic, Path],
) -> None:
    _, outdir = nested_checked
    report = json.loads((outdir / "validation-report.json").read_text())
    assert [r for r in report["pluginReports"] if r.get("conclusion") != "success"] == []


def test_nested_consumer_stacks_pass_cfn_lint(
    nested_checked: tuple[FanoutTopic, Path],
) -> None:
    _, outdir = nested_checked
    templates = sorted(str(p) for p in outdir.glob("*.template.json"))
    assert len(templates) >= 3  # the stack and its nested consumer stacks
    assert cfn_lint(templates) == (0, "", "")


def test_the_nag_harness_sees_inside_nested_stacks(tmp_path: Path) -> None:
    """Negative control: a bad queue in a nested stack fails the same check."""
    app = new_app(outdir=str(tmp_path))
    sqs.Queue(NestedStack(Stack(app, "Bad"), "Part"), "NoDeadLetterQueue")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    assert "AwsSolutions-SQS3" in (tmp_path / "validation-report.json").read_text()


def test_a_consumer_stack_overfilled_after_placement_fails_at_synth() -> None:
    app = new_app()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(placement, "OWN_STACK_BUDGET", 20)
        fanout = FanoutTopic(Stack(app, "Overfilled"), "Orders")
        for n in range(4):
            fanout.add_queue_consumer(_team(n))
    (part,) = fanout.consumer_stacks
    last = fanout.consumers[_team(3)]
    for n in range(500):  # resources users attach to a consumer after adding it
        sqs.CfnQueue(last, f"Extra{n}")
    with pytest.raises(RuntimeError, match=r"Overfilled/Orders/Consumers2 has 5\d\d resources"):
        app.synth()
    assert part.node.path == "Overfilled/Orders/Consumers2"


def test_alarms_in_nested_stacks_notify_the_parents_alarm_topic(
    nested_checked: tuple[FanoutTopic, Path],
) -> None:
    fanout, outdir = nested_checked
    templates, _ = _templates(outdir)
    parent = templates.pop("Nested.template.json")["Resources"]
    ops = fanout.alarm_topic
    assert isinstance(ops, sns.Topic)
    ops_lid = Stack.of(ops).resolve(ops.node.default_child.logical_id)
    thresholds = set()
    for stack in fanout.consumer_stacks:
        stack_resource = stack.nested_stack_resource
        assert stack_resource is not None
        passed = parent[Stack.of(stack_resource).resolve(stack_resource.logical_id)]["Properties"][
            "Parameters"
        ]
        for alarm in templates[stack.template_file]["Resources"].values():
            if alarm["Type"] != "AWS::CloudWatch::Alarm" or "Metrics" not in alarm["Properties"]:
                continue
            (action,) = alarm["Properties"]["AlarmActions"]
            assert passed[action["Ref"]] == {"Ref": ops_lid}
            if "ApproximateAgeOfOldestMessage" in alarm_query(alarm["Properties"]):
                thresholds.add(alarm["Properties"]["Threshold"])
    # Queue consumers alternate 5 and 6 minutes; the Lambda consumers keep the 15-minute default.
    assert thresholds == {300, 360, 900}
