"""``fanout diagram``: each fanout of a synthesized cloud assembly, drawn from its templates.

Everything comes from the files ``cdk synth`` writes (``manifest.json``, each stack's
template, nested stack templates): topics, subscriptions and their filter policies, queues,
dead-letter queues, consumers (Lambda event source mappings, worker pools, other
subscribers) and the alarms watching them. References (``Ref``, ``Fn::GetAtt``, nested stack
parameters and outputs, imports, and physical names in ARNs or alarm queries) are followed
to the resources they name, so the picture is what deploys. Nothing here imports aws_cdk,
jsii or boto3: the command reads JSON and writes text (Graphviz's ``dot`` makes SVG).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .assembly import Assembly, Res, StackInfo, Template, number
from .core import EXIT_AWS, Context, OperatorError, UsageError
from .main import Commands

FORMATS = ("mermaid", "dot", "svg")
MERMAID_MAX_EDGES = 500
"""Mermaid's default ``maxEdges``: it refuses to draw a flowchart with more edges."""
DEFAULT_ASSEMBLY = "cdk.out"
GRAPHVIZ_MISSING = (
    "--format svg needs Graphviz's `dot`, which is not on PATH: install Graphviz "
    "(apt-get install graphviz, or brew install graphviz), or use --format mermaid"
)


def register(commands: Commands) -> None:
    """Add the ``diagram`` subcommand."""
    parser = commands.add(
        "diagram",
        help="draw each fanout of a synthesized app (topic, filters, queues, DLQs, "
        "consumers, alarms)",
        description="Draw each fanout of a synthesized cloud assembly, read from its "
        "templates: the topic (standard or FIFO, archive), each subscription with its filter "
        "policy in words, the queue, its dead-letter queue, the consumer (Lambda, worker "
        "pool, or another kind of subscriber), the fanout's subscription dead-letter queue "
        "and the alarms watching them. Reads JSON only: no AWS call, no aws_cdk.",
        examples=[
            "fanout diagram                     # after cdk synth: Mermaid, a flowchart per stack",
            "fanout diagram cdk.out --stack OrderFanout --format svg --output-file orders.svg",
            "fanout diagram --format dot | dot -Tpng > fanouts.png",
            "fanout diagram --output json       # the graph: nodes and edges, for scripts",
        ],
        handler=cmd_diagram,
    )
    parser.add_argument(
        "cdk_out",
        nargs="?",
        default=DEFAULT_ASSEMBLY,
        metavar="CDK_OUT",
        help=f"the cloud assembly folder `cdk synth` wrote (default: {DEFAULT_ASSEMBLY})",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="mermaid",
        help="mermaid (default): a flowchart per stack; dot: Graphviz source; svg: that "
        "source drawn by Graphviz's dot",
    )
    parser.add_argument(
        "--stack",
        action="append",
        metavar="NAME",
        help="draw only this stack (repeat for more; default: every stack with a topic)",
    )
    parser.add_argument(
        "--output-file",
        metavar="PATH",
        help="write the diagram (or the JSON) to PATH instead of standard output",
    )


def cmd_diagram(args: argparse.Namespace, ctx: Context) -> int:
    assembly = Assembly.load(Path(args.cdk_out))
    graphs = build_graphs(assembly, args.stack)
    if ctx.json_output:
        text = json.dumps(
            {"assembly": str(args.cdk_out), "stacks": [g.to_json() for g in graphs]},
            indent=2,
            ensure_ascii=False,
        )
        text += "\n"
    elif args.format == "mermaid":
        text = "\n".join(to_mermaid(g) for g in graphs)
        for g in graphs:
            if len(g.edges) > MERMAID_MAX_EDGES:
                ctx.warn(
                    f"stack {g.name}: {len(g.edges)} edges, and Mermaid draws at most "
                    f"{MERMAID_MAX_EDGES} unless its maxEdges setting is raised; use --format "
                    "svg (or dot) for this stack"
                )
    elif args.format == "dot":
        text = to_dot(graphs)
    else:
        text = to_svg(to_dot(graphs))
    if args.output_file:
        target = Path(args.output_file)
        try:
            target.write_text(text, encoding="utf-8")
        except OSError as err:
            raise UsageError(
                f"--output-file {args.output_file}: cannot write it ({err.strerror})"
            ) from None
        fanouts = sum(len(g.fanouts) for g in graphs)
        ctx.err.print(
            f"wrote {target}: {fanouts} fanout(s) in {len(graphs)} stack(s)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    else:
        ctx.stdout.write(text)
        ctx.stdout.flush()
    return 0


# -- filter policies and alarms in words -------------------------------------------------

OPERATORS = {"=": "=", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}
RULE_KEYS = {
    "prefix",
    "suffix",
    "anything-but",
    "numeric",
    "exists",
    "equals-ignore-case",
    "wildcard",
    "cidr",
}


def _value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return number(value)
    if isinstance(value, str):
        return value if value and value.strip() == value else json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False)


def _values(values: Any) -> str:
    items = values if isinstance(values, list) else [values]
    return ", ".join(_value(v) for v in items)


def _numeric(conditions: list[Any]) -> str:
    pairs = [
        f"{OPERATORS.get(str(conditions[i]), conditions[i])} {_value(conditions[i + 1])}"
        for i in range(0, len(conditions) - 1, 2)
    ]
    return " and ".join(pairs)


def _rule(rule: dict[str, Any]) -> str:
    """One matching rule of a filter policy (``{"prefix": "eu-"}``) in words."""
    (name, arg), *more = rule.items()
    if more:
        return "matches " + json.dumps(rule, ensure_ascii=False)
    if name == "prefix":
        return f"starts with {_value(arg)}"
    if name == "suffix":
        return f"ends with {_value(arg)}"
    if name == "equals-ignore-case":
        return f"is {_value(arg)} (any case)"
    if name == "wildcard":
        return f"matches {_value(arg)}"
    if name == "cidr":
        return f"is in {_value(arg)}"
    if name == "exists":
        return "exists" if arg else "does not exist"
    if name == "numeric" and isinstance(arg, list):
        return _numeric(arg)
    if name == "anything-but":
        if isinstance(arg, dict):
            inner = _rule(arg)
            negated = {
                "starts with": "does not start with",
                "ends with": "does not end with",
                "is": "is not",
                "matches": "does not match",
            }
            for positive, negative in negated.items():
                if inner.startswith(positive + " "):
                    return negative + inner[len(positive) :]
            return "is anything but " + inner
        return f"is anything but {_values(arg)}"
    return "matches " + json.dumps(rule, ensure_ascii=False)


def _condition(key: str, values: Any) -> str:
    """What one key of a filter policy requires: ``customer_contact is one of email, sms``."""
    values = values if isinstance(values, list) else [values]
    exact = [v for v in values if not isinstance(v, dict)]
    phrases = []
    if exact:
        phrases.append(
            f"is {_value(exact[0])}" if len(exact) == 1 else f"is one of {_values(exact)}"
        )
    phrases += [_rule(v) for v in values if isinstance(v, dict) and v]
    return f"{key} {' or '.join(phrases)}"


def filter_words(policy: Any, prefix: str = "") -> list[str]:
    """A filter policy as conditions in words, all of which must hold (``$or`` as one
    condition): ``["total ≥ 1000"]``, ``["customer_contact is one of email, sms, push"]``."""
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except json.JSONDecodeError:
            return ["a filter policy set at deploy time"]
    if not isinstance(policy, dict) or any(k == "Ref" or k.startswith("Fn::") for k in policy):
        return ["a filter policy set at deploy time"]
    conditions: list[str] = []
    for key, values in policy.items():
        if key == "$or" and isinstance(values, list):
            branches = [" and ".join(filter_words(branch, prefix)) for branch in values]
            conditions.append("either " + " or ".join(f"({b})" for b in branches))
        elif isinstance(values, dict) and not (set(values) & RULE_KEYS):
            conditions += filter_words(values, f"{prefix}{key}.")
        else:
            conditions.append(_condition(f"{prefix}{key}", values))
    return conditions


COMPARISONS = {
    "GreaterThanOrEqualToThreshold": "≥",
    "GreaterThanThreshold": ">",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "≤",
    "LessThanLowerOrGreaterThanUpperThreshold": "outside the band",
    "LessThanLowerThreshold": "below the band",
    "GreaterThanUpperThreshold": "above the band",
}


def alarm_condition(props: Mapping[str, Any]) -> str:
    """What an alarm fires on: ``ApproximateAgeOfOldestMessage > 900``."""
    metric = props.get("MetricName")
    if not isinstance(metric, str):
        returned = [m for m in props.get("Metrics") or [] if m.get("ReturnData", True)]
        metric = next(
            (
                m.get("Label") or (m.get("MetricStat") or {}).get("Metric", {}).get("MetricName")
                for m in returned
                if m.get("Label") or m.get("MetricStat")
            ),
            "a metric expression",
        )
    operator = COMPARISONS.get(str(props.get("ComparisonOperator")), "vs")
    threshold = props.get("Threshold")
    if isinstance(threshold, int | float):
        return f"{metric} {operator} {number(threshold)}"
    return f"{metric} {operator} its threshold"


# -- the graph --------------------------------------------------------------------------------

RESERVED_IDS = {"end", "graph", "subgraph", "flowchart", "click", "style", "class", "direction"}


def node_id(text: str) -> str:
    """An identifier Mermaid and Graphviz both take: letters, digits and underscores."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", text)
    if not ident[:1].isalpha():
        ident = "n_" + ident
    return ident + "_" if ident.lower() in RESERVED_IDS else ident


def outside_id(stack: str, kind: str, reference: str) -> str:
    """The id of a node for a resource outside the assembly, known by its ``reference``."""
    digest = hashlib.sha256(reference.encode()).hexdigest()[:8]
    return node_id(f"{stack}_{kind}_{digest}")


@dataclass
class Node:
    id: str
    kind: str
    """topic, queue, dead-letter-queue, subscription-dead-letter-queue, lambda-function,
    worker-pool, endpoint or alarm."""
    name: str
    details: list[str]
    stack: str
    fanout: str
    path: str | None = None
    logical_id: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def lines(self) -> list[str]:
        return [self.name, *self.details]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "label": self.lines,
            "stack": self.stack,
            "fanout": self.fanout,
            "path": self.path,
            "logical_id": self.logical_id,
            **self.facts,
        }


@dataclass
class Edge:
    source: str
    target: str
    kind: str
    """subscription, dead-letter, undeliverable, event-source-mapping, workers or alarm."""
    label: list[str]
    facts: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.source,
            "to": self.target,
            "kind": self.kind,
            "label": self.label,
            **self.facts,
        }


@dataclass
class Fanout:
    id: str
    title: str
    topic: str


@dataclass
class StackGraph:
    name: str
    region: str | None
    fanouts: list[Fanout] = field(default_factory=list)
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "region": self.region,
            "fanouts": [{"id": f.id, "name": f.title, "topic": f.topic} for f in self.fanouts],
            "nodes": [n.to_json() for n in self.nodes.values()],
            "edges": [e.to_json() for e in self.edges],
        }


def build_graphs(assembly: Assembly, wanted: Sequence[str] | None) -> list[StackGraph]:
    """One graph per stack that has a fanout (``wanted`` restricts the stacks)."""
    stacks = assembly.stacks
    if wanted:
        unknown = [n for n in wanted if not any(n in s.aliases for s in stacks)]
        if unknown:
            there = ", ".join(s.name for s in stacks) or "none"
            raise UsageError(
                f"--stack {unknown[0]}: no such stack in {assembly.folder}; stacks there: {there}"
            )
        stacks = [s for s in stacks if any(n in s.aliases for n in wanted)]
    graphs = [g for g in (Builder(assembly, s).build() for s in stacks) if g.fanouts]
    if not graphs:
        names = ", ".join(s.name for s in stacks) or "none"
        which = "the stacks asked for" if wanted else assembly.folder
        raise UsageError(
            f"no fanout to draw: {which} ({names}) define no SNS topic and no subscription; "
            "give the assembly of an app with a FanoutTopic (or another SNS topic)"
        )
    return graphs


ALARM_METRIC_KEYS = ("Dimensions", "Metrics", "MetricName", "Namespace")
ENDPOINT_KINDS = {
    "http": "HTTP endpoint",
    "https": "HTTPS endpoint",
    "email": "email",
    "email-json": "email (JSON)",
    "sms": "SMS",
    "firehose": "Firehose delivery stream",
    "application": "mobile endpoint",
    "sqs": "queue",
    "lambda": "Lambda function",
}


def scaled_by(a: Assembly, policy: Res) -> list[Res]:
    """The ECS services and Auto Scaling groups a scaling policy scales."""
    if policy.type == "AWS::AutoScaling::ScalingPolicy":
        group = a.resolve(policy.template, policy.props.get("AutoScalingGroupName"))
        return [group] if group is not None else []
    target = a.resolve(policy.template, policy.props.get("ScalingTargetId"))
    if target is None:
        return []
    found = [
        r
        for r in a.mentions(target.template, target.props.get("ResourceId"))
        if r.type == "AWS::ECS::Service"
    ]
    return found or [target]


class Consumers:
    """Who reads which queue in a stack, and what each alarm watches, found once."""

    def __init__(self, a: Assembly, template: Template) -> None:
        self.mappings: dict[Res, list[Res]] = {}
        """Lambda event source mappings, by the queue they read."""
        self.pools: dict[Res, dict[Res, bool]] = {}
        """ECS services and Auto Scaling groups by the queue they read, with whether they
        scale on it: a pool names its queue in its task definition or launch template, or
        scales on it (a scaling policy's metrics, or an alarm that triggers a policy)."""
        self.alarms: dict[Res, list[Res]] = {}
        """What each CloudWatch alarm watches: the resources its metrics name."""
        self.priorities: dict[tuple[Res, Res], tuple[int, int]] = {}
        """(queue, pool) -> (rank, of how many) for a pool told several queues in priority
        order (``QUEUE_URLS``, highest first)."""
        for mapping in a.resources(template, "AWS::Lambda::EventSourceMapping"):
            source = a.resolve(mapping.template, mapping.props.get("EventSourceArn"))
            if source is not None:
                self.mappings.setdefault(source, []).append(mapping)
        for alarm in a.resources(template, "AWS::CloudWatch::Alarm"):
            metrics = {k: v for k, v in alarm.props.items() if k in ALARM_METRIC_KEYS}
            self.alarms[alarm] = a.mentions(alarm.template, metrics)
            for action in alarm.props.get("AlarmActions") or []:
                trigger = a.resolve(alarm.template, action)
                if trigger is not None and trigger.type.endswith("::ScalingPolicy"):
                    self._scaled(a, trigger, self.alarms[alarm])
        for policy in a.resources(
            template,
            "AWS::ApplicationAutoScaling::ScalingPolicy",
            "AWS::AutoScaling::ScalingPolicy",
        ):
            self._scaled(a, policy, a.mentions(policy.template, policy.props))
        for service in a.resources(template, "AWS::ECS::Service"):
            task = a.resolve(service.template, service.props.get("TaskDefinition"))
            if task is not None:
                containers = task.props.get("ContainerDefinitions")
                for queue in a.mentions(task.template, containers):
                    self._reads(queue, service, scaled=False)
                self._ranked(a, task.template, service, _after_marker(containers))
        for group in a.resources(template, "AWS::AutoScaling::AutoScalingGroup"):
            launch = group.props.get("LaunchTemplate") or {}
            spec = a.resolve(group.template, launch.get("LaunchTemplateId"))
            if spec is not None:
                data = spec.props.get("LaunchTemplateData")
                for queue in a.mentions(spec.template, data):
                    self._reads(queue, group, scaled=False)
                self._ranked(a, spec.template, group, _after_marker(data))

    def _ranked(self, a: Assembly, template: Template, pool: Res, listed: list[Any]) -> None:
        queues = [q for q in a.mentions(template, listed) if q.type == "AWS::SQS::Queue"]
        if len(queues) > 1:
            for rank, queue in enumerate(queues, start=1):
                self.priorities[(queue, pool)] = (rank, len(queues))

    def _scaled(self, a: Assembly, policy: Res, metrics: list[Res]) -> None:
        for queue in metrics:
            for pool in scaled_by(a, policy):
                self._reads(queue, pool, scaled=True)

    def _reads(self, queue: Res, pool: Res, *, scaled: bool) -> None:
        if queue.type != "AWS::SQS::Queue":
            return
        pools = self.pools.setdefault(queue, {})
        pools[pool] = pools.get(pool, False) or scaled


PRIORITY_SETTING = "QUEUE_URLS"
"""The worker program's setting of several queues in priority order."""


def _after_marker(expr: Any) -> list[Any]:
    """The parts of ``expr`` that are the value of ``QUEUE_URLS``: an ECS container's
    environment entry of that name, or in an EC2 user data ``Fn::Join``, what follows
    ``QUEUE_URLS=`` up to the end of its line. Empty when the pool is told one queue."""
    found: list[Any] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("Name") == PRIORITY_SETTING and "Value" in value:
                found.append(value["Value"])
                return
            join = value.get("Fn::Join") if len(value) == 1 else None
            if isinstance(join, list) and len(join) == 2 and isinstance(join[1], list):
                taking = False
                for part in join[1]:
                    if isinstance(part, str):
                        if taking and "\n" in part:
                            taking = False
                        marker = f"{PRIORITY_SETTING}="
                        if marker in part:
                            taking = "\n" not in part.split(marker, 1)[1]
                    elif taking:
                        found.append(part)
                    else:
                        walk(part)
                return
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(expr)
    return found


class Builder:
    """Reads one stack's fanouts into a :class:`StackGraph`."""

    def __init__(self, assembly: Assembly, stack: StackInfo) -> None:
        self.a = assembly
        self.stack = stack
        self.graph = StackGraph(stack.name, stack.region)
        self.scope: dict[str, str] = {}
        """Each fanout's construct path, to name its nodes relative to it."""
        self.queue_nodes: dict[Res, str] = {}
        self.consumers = Consumers(assembly, stack.template)

    # -- nodes ------------------------------------------------------------------------------

    def display_name(self, res: Res, fanout: str) -> str:
        """The construct path relative to the fanout (``Billing/Queue``) for this stack's
        resources under it, else without the stack's name."""
        scope = self.scope.get(fanout)
        path = res.path
        if (
            scope
            and path
            and path.startswith(scope + "/")
            and res.template.stack == self.stack.name
        ):
            return path[len(scope) + 1 :]
        return self.display_name_in_stack(res)

    def elsewhere(self, res: Res) -> list[str]:
        """Where a resource of another stack is, as a label line."""
        if res.template.stack == self.stack.name:
            return []
        region = self.a.stack(res.template).region
        where = f"in stack {res.template.stack}"
        return [f"{where} ({region})" if region and region != self.stack.region else where]

    def add_node(self, node: Node) -> str:
        if node.id not in self.graph.nodes:
            self.graph.nodes[node.id] = node
        return node.id

    def res_node(self, res: Res, kind: str, details: list[str], fanout: str, **facts: Any) -> str:
        if node_id(res.key) in self.graph.nodes:
            return node_id(res.key)
        return self.add_node(
            Node(
                id=node_id(res.key),
                kind=kind,
                name=self.display_name(res, fanout),
                details=details + self.elsewhere(res),
                stack=res.template.stack,
                fanout=fanout,
                path=res.path,
                logical_id=res.logical_id,
                facts=facts,
            )
        )

    def edge(self, source: str, target: str, kind: str, label: list[str], **facts: Any) -> None:
        for existing in self.graph.edges:
            if (existing.source, existing.target, existing.kind) == (source, target, kind):
                return
        self.graph.edges.append(Edge(source, target, kind, label, facts))

    # -- the stack ----------------------------------------------------------------------------

    def build(self) -> StackGraph:
        template = self.stack.template
        subscriptions = list(self.a.resources(template, "AWS::SNS::Subscription"))
        topics: list[Res | str] = list(self.a.resources(template, "AWS::SNS::Topic"))
        by_topic: dict[Res | str, list[Res]] = {t: [] for t in topics}
        for sub in subscriptions:
            topic = self.topic_of(sub)
            if topic not in by_topic:
                topics.append(topic)
                by_topic[topic] = []
            by_topic[topic].append(sub)
        # Subscriptions in other stacks to this stack's topics (a queue in another region).
        for sub in self.a.everywhere("AWS::SNS::Subscription"):
            if sub.template.stack != self.stack.name:
                topic = self.topic_of(sub)
                if isinstance(topic, Res) and topic.template.stack == self.stack.name:
                    by_topic[topic].append(sub)
        for topic in topics:
            fanout = self.add_fanout(topic, len(by_topic[topic]))
            for sub in by_topic[topic]:
                self.add_subscription(fanout, sub)
        self.add_alarms()
        return self.graph

    def topic_of(self, sub: Res) -> Res | str:
        arn = sub.props.get("TopicArn")
        found = self.a.resolve(sub.template, arn)
        if found is not None and found.type == "AWS::SNS::Topic":
            return found
        return self.a.text(sub.template, arn)

    def add_fanout(self, topic: Res | str, subscriptions: int) -> str:
        none = [] if subscriptions else ["no subscription in the templates"]
        if isinstance(topic, str):
            fanout = outside_id(self.stack.name, "topic", topic)
            self.graph.fanouts.append(
                Fanout(fanout + "_fanout", "topic " + topic.rpartition(":")[2], fanout)
            )
            self.add_node(
                Node(
                    fanout, "topic", topic, ["topic outside the assembly"], self.stack.name, fanout
                )
            )
            return fanout
        fanout = node_id(topic.key)
        # The fanout is the topic's parent construct; its other nodes are named relative
        # to it (``Billing/Queue``), the topic keeps its whole path (``OrderPlaced/Topic``).
        name = self.display_name_in_stack(topic)
        title = name.rsplit("/", 1)[0] if "/" in name else name
        if topic.path and "/" in name:
            self.scope[fanout] = topic.path.rsplit("/", 1)[0]
        if topic.template.stack != self.stack.name:
            title += f" (stack {topic.template.stack})"
        self.graph.fanouts.append(Fanout(fanout + "_fanout", title, fanout))
        props = topic.props
        fifo = props.get("FifoTopic") in (True, "true")
        details = ["FIFO topic" if fifo else "standard topic"]
        if props.get("ContentBasedDeduplication") in (True, "true"):
            details.append("content-based deduplication")
        archive = (props.get("ArchivePolicy") or {}).get("MessageRetentionPeriod")
        if archive is not None:
            details.append(f"archive {self.a.text(topic.template, archive)} days")
        self.res_node(
            topic,
            "topic",
            details + none,
            fanout,
            fifo=fifo,
            archive_days=archive,
            topic_name=props.get("TopicName"),
        )
        self.graph.nodes[fanout].name = name
        return fanout

    @staticmethod
    def display_name_in_stack(res: Res) -> str:
        """The construct path without the stack's: ``OrderPlaced/Topic``."""
        path = res.path or res.logical_id
        return path.removeprefix(res.template.stack + "/")

    # -- subscriptions ------------------------------------------------------------------------

    def add_subscription(self, fanout: str, sub: Res) -> None:
        props = sub.props
        protocol = str(props.get("Protocol", "")).lower()
        raw = props.get("RawMessageDelivery") in (True, "true")
        scope = props.get("FilterPolicyScope") or "MessageAttributes"
        policy = props.get("FilterPolicy")
        conditions = filter_words(policy) if policy is not None else []
        label: list[str] = []
        if conditions:
            for i, condition in enumerate(conditions):
                label.append(condition if i == 0 else "and " + condition)
            if scope == "MessageBody":
                label[0] = "message body: " + label[0]
        else:
            label.append("every message")
        if raw:
            label.append("raw delivery")
        label += self.delivery_policy(props.get("DeliveryPolicy"))
        if props.get("Region"):
            label.append(f"subscribed in {self.a.text(sub.template, props['Region'])}")
        dlq_expr = (props.get("RedrivePolicy") or {}).get("deadLetterTargetArn")
        if dlq_expr is None:
            label.append("no subscription DLQ")
        target = self.subscriber(fanout, sub, protocol)
        self.edge(
            fanout,
            target,
            "subscription",
            label,
            protocol=protocol,
            raw_message_delivery=raw,
            filter_scope=scope if policy is not None else None,
            filter=conditions,
            path=sub.path,
            logical_id=sub.logical_id,
            stack=sub.template.stack,
        )
        if dlq_expr is not None:
            dlq = self.a.resolve(sub.template, dlq_expr)
            if dlq is not None:
                dlq_node = self.res_node(
                    dlq,
                    "subscription-dead-letter-queue",
                    [("FIFO " if self.fifo_queue(dlq) else "") + "subscription dead-letter queue"],
                    fanout,
                    queue_name=dlq.props.get("QueueName"),
                )
            else:
                text = self.a.text(sub.template, dlq_expr)
                dlq_node = self.add_node(
                    Node(
                        outside_id(self.stack.name, "queue", text),
                        "subscription-dead-letter-queue",
                        text.rpartition(":")[2],
                        ["subscription dead-letter queue", "outside the assembly"],
                        self.stack.name,
                        fanout,
                    )
                )
            self.edge(fanout, dlq_node, "undeliverable", ["undeliverable"])

    def delivery_policy(self, policy: Any) -> list[str]:
        if isinstance(policy, str):
            try:
                policy = json.loads(policy)
            except json.JSONDecodeError:
                return []
        if not isinstance(policy, dict):
            return []
        http = policy.get("healthyRetryPolicy") or (policy.get("http") or {}).get(
            "defaultHealthyRetryPolicy"
        )
        throttle = policy.get("throttlePolicy") or (policy.get("http") or {}).get(
            "defaultThrottlePolicy"
        )
        lines = []
        if isinstance(http, dict) and "numRetries" in http:
            lines.append(f"{_value(http['numRetries'])} retries")
        if isinstance(throttle, dict) and "maxReceivesPerSecond" in throttle:
            lines.append(f"at most {_value(throttle['maxReceivesPerSecond'])} per second")
        return lines

    @staticmethod
    def fifo_queue(queue: Res) -> bool:
        return queue.props.get("FifoQueue") in (True, "true")

    def subscriber(self, fanout: str, sub: Res, protocol: str) -> str:
        endpoint = sub.props.get("Endpoint")
        found = self.a.resolve(sub.template, endpoint)
        if protocol == "sqs" and found is not None and found.type == "AWS::SQS::Queue":
            return self.add_queue(fanout, found)
        if protocol == "lambda" and found is not None and found.type == "AWS::Lambda::Function":
            return self.res_node(found, "lambda-function", ["Lambda function"], fanout)
        # Another kind of subscriber, or one outside the assembly: named after the
        # subscriber construct (the subscription's parent), described by its endpoint.
        parameter = self.a.parameter(sub.template, endpoint)
        where = f"parameter {parameter}" if parameter else self.a.text(sub.template, endpoint)
        if found is not None and found.path:
            where = self.display_name_in_stack(found) + "".join(
                f" ({line})" for line in self.elsewhere(found)
            )
        owner = Res(sub.template, sub.logical_id)
        name = self.display_name(owner, fanout).removesuffix("/Subscription")
        return self.add_node(
            Node(
                id=node_id(f"{sub.template.key}_{sub.logical_id}_endpoint"),
                kind="endpoint",
                name=name,
                details=[ENDPOINT_KINDS.get(protocol, protocol), where, *self.elsewhere(sub)],
                stack=sub.template.stack,
                fanout=fanout,
                path=sub.path.removesuffix("/Subscription") if sub.path else None,
                facts={"protocol": protocol, "endpoint": where},
            )
        )

    # -- queues and their consumers -----------------------------------------------------------

    def add_queue(self, fanout: str, queue: Res) -> str:
        if queue in self.queue_nodes:
            return self.queue_nodes[queue]
        fifo = self.fifo_queue(queue)
        redrive = queue.props.get("RedrivePolicy") or {}
        node = self.res_node(
            queue,
            "queue",
            ["FIFO queue" if fifo else "queue"],
            fanout,
            fifo=fifo,
            queue_name=queue.props.get("QueueName"),
        )
        self.queue_nodes[queue] = node
        if queue.template.stack != self.stack.name:
            return node  # drawn in its own stack's diagram, with its DLQ and consumer
        dlq = self.a.resolve(queue.template, redrive.get("deadLetterTargetArn"))
        if dlq is not None:
            count = redrive.get("maxReceiveCount")
            dlq_node = self.res_node(
                dlq,
                "dead-letter-queue",
                [("FIFO " if self.fifo_queue(dlq) else "") + "dead-letter queue"],
                fanout,
                queue_name=dlq.props.get("QueueName"),
            )
            self.queue_nodes[dlq] = dlq_node
            self.edge(
                node,
                dlq_node,
                "dead-letter",
                [f"maxReceiveCount {self.a.text(queue.template, count)}"],
                max_receive_count=count,
            )
        self.add_consumers(fanout, queue, node)
        return node

    def add_consumers(self, fanout: str, queue: Res, node: str) -> None:
        for mapping in self.consumers.mappings.get(queue, []):
            function = self.a.resolve(mapping.template, mapping.props.get("FunctionName"))
            if function is None:
                continue
            batch = mapping.props.get("BatchSize")
            target = self.res_node(function, "lambda-function", ["Lambda function"], fanout)
            label = ["event source mapping"]
            if batch is not None:
                label[0] += f", batch {self.a.text(mapping.template, batch)}"
            self.edge(node, target, "event-source-mapping", label, batch_size=batch)
        for pool, scaled in self.consumers.pools.get(queue, {}).items():
            target = self.res_node(pool, "worker-pool", [self.capacity(pool)], fanout)
            ranked = self.consumers.priorities.get((queue, pool))
            if ranked is None:
                label = ["workers, scaled on its backlog" if scaled else "workers"]
                self.edge(node, target, "workers", label, scaled_on_backlog=scaled)
                continue
            rank, of = ranked
            label = [
                f"workers, priority {rank} of {of}",
                *(["scaled on the combined backlog"] if scaled else []),
            ]
            self.edge(node, target, "workers", label, scaled_on_backlog=scaled, priority=rank)

    def capacity(self, pool: Res) -> str:
        if pool.type == "AWS::AutoScaling::AutoScalingGroup":
            low, high = pool.props.get("MinSize"), pool.props.get("MaxSize")
            return f"Auto Scaling group, {_value(low)} to {_value(high)} instances"
        targets = [
            t
            for t in self.a.resources(
                self.stack.template, "AWS::ApplicationAutoScaling::ScalableTarget"
            )
            if pool in self.a.mentions(t.template, t.props.get("ResourceId"))
        ]
        launch = pool.props.get("LaunchType")
        kind = f"ECS service ({str(launch).title()})" if launch else "ECS service"
        if pool.type != "AWS::ECS::Service":
            kind = pool.type
        if targets:
            low, high = targets[0].props.get("MinCapacity"), targets[0].props.get("MaxCapacity")
            return f"{kind}, {_value(low)} to {_value(high)} tasks"
        return kind

    # -- alarms -----------------------------------------------------------------------------

    def add_alarms(self) -> None:
        for alarm, resources in self.consumers.alarms.items():
            watched = [
                node_id(res.key) for res in resources if node_id(res.key) in self.graph.nodes
            ]
            if not watched:
                continue
            first = self.graph.nodes[watched[0]]
            details = [f"alarm: {alarm_condition(alarm.props)}"]
            actions = []
            for action in alarm.props.get("AlarmActions") or []:
                target = self.a.resolve(alarm.template, action)
                if target is None:
                    actions.append(self.a.text(alarm.template, action))
                elif target.type == "AWS::SNS::Topic":
                    actions.append("notifies " + self.display_name_in_stack(target))
                elif target.type.endswith("::ScalingPolicy"):
                    pools = scaled_by(self.a, target)
                    names = [self.display_name_in_stack(p) for p in pools]
                    actions.append("scales " + ", ".join(names))
            details += actions
            node = self.res_node(
                alarm, "alarm", details, first.fanout, condition=details[0].removeprefix("alarm: ")
            )
            for watched_id in watched:
                self.edge(watched_id, node, "alarm", [])


# -- rendering --------------------------------------------------------------------------------

MERMAID_SHAPES = {
    "topic": ('{{"', '"}}'),
    "queue": ('[("', '")]'),
    "dead-letter-queue": ('[("', '")]'),
    "subscription-dead-letter-queue": ('[("', '")]'),
    "lambda-function": ('("', '")'),
    "worker-pool": ('[["', '"]]'),
    "endpoint": ('[/"', '"/]'),
    "alarm": ('>"', '"]'),
}
MERMAID_STYLES = {
    "topic": "fill:#fde8c8,stroke:#d97706",
    "queue": "fill:#dbeafe,stroke:#2563eb",
    "dead-letter-queue": "fill:#fee2e2,stroke:#dc2626",
    "subscription-dead-letter-queue": "fill:#fee2e2,stroke:#dc2626",
    "lambda-function": "fill:#dcfce7,stroke:#16a34a",
    "worker-pool": "fill:#dcfce7,stroke:#16a34a",
    "endpoint": "fill:#f3e8ff,stroke:#9333ea",
    "alarm": "fill:#fef9c3,stroke:#ca8a04",
}
MERMAID_CLASSES = {"endpoint": "subscriber"}
"""Class names that differ from the kind: Mermaid reads words starting with ``end`` badly."""
MERMAID_ENTITIES = {
    "&": "#amp;",
    '"': "#quot;",
    "<": "#lt;",
    ">": "#gt;",
    "#": "#35;",
    "|": "#124;",
    "`": "#96;",
    "%": "#37;",
    "[": "#91;",
    "]": "#93;",
    "{": "#123;",
    "}": "#125;",
}
MERMAID_ESCAPE = re.compile("|".join(re.escape(c) for c in MERMAID_ENTITIES))


def mermaid_text(lines: Sequence[str]) -> str:
    """Label lines for a quoted Mermaid label: characters Mermaid reads as syntax become
    entity codes (``#quot;``), lines are joined with ``<br/>``."""
    return "<br/>".join(
        MERMAID_ESCAPE.sub(lambda m: MERMAID_ENTITIES[m.group()], line) for line in lines
    )


def to_mermaid(graph: StackGraph) -> str:
    """One ``flowchart LR`` for the stack, one subgraph per fanout."""
    out = ["---", f"title: {json.dumps(f'Stack {graph.name}', ensure_ascii=False)}", "---"]
    out.append("flowchart LR")
    for fanout in graph.fanouts:
        out.append(f'  subgraph {fanout.id}["{mermaid_text([fanout.title])}"]')
        out.append("    direction LR")
        for node in graph.nodes.values():
            if node.fanout == fanout.topic:
                start, end = MERMAID_SHAPES[node.kind]
                out.append(f"    {node.id}{start}{mermaid_text(node.lines)}{end}")
        out.append("  end")
    for edge in graph.edges:
        label = f'|"{mermaid_text(edge.label)}"|' if edge.label else ""
        if edge.kind == "alarm":
            out.append(f"  {edge.source} -.- {edge.target}")
        elif edge.kind in ("dead-letter", "undeliverable"):
            out.append(f"  {edge.source} -.->{label} {edge.target}")
        else:
            out.append(f"  {edge.source} -->{label} {edge.target}")
    used = {n.kind for n in graph.nodes.values()}
    for kind, style in MERMAID_STYLES.items():
        if kind in used:
            members = ",".join(n.id for n in graph.nodes.values() if n.kind == kind)
            css = MERMAID_CLASSES.get(kind, node_id(kind))
            out.append(f"  classDef {css} {style}")
            out.append(f"  class {members} {css}")
    return "\n".join(out) + "\n"


DOT_SHAPES = {
    "topic": 'shape=hexagon, style=filled, fillcolor="#fde8c8"',
    "queue": 'shape=cylinder, style=filled, fillcolor="#dbeafe"',
    "dead-letter-queue": 'shape=cylinder, style=filled, fillcolor="#fee2e2"',
    "subscription-dead-letter-queue": 'shape=cylinder, style=filled, fillcolor="#fee2e2"',
    "lambda-function": 'shape=box, style="rounded,filled", fillcolor="#dcfce7"',
    "worker-pool": 'shape=box3d, style=filled, fillcolor="#dcfce7"',
    "endpoint": 'shape=box, style=filled, fillcolor="#f3e8ff"',
    "alarm": 'shape=note, style=filled, fillcolor="#fef9c3"',
}


def dot_text(lines: Sequence[str]) -> str:
    escaped = [line.replace("\\", "\\\\").replace('"', '\\"') for line in lines]
    return '"' + "\\n".join(escaped) + '"'


def to_dot(graphs: Sequence[StackGraph]) -> str:
    """Graphviz source: one digraph, a cluster per stack, a cluster per fanout in it."""
    out = [
        "digraph fanouts {",
        "  rankdir=LR;",
        '  graph [fontname="Helvetica", fontsize=12];',
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for graph in graphs:
        out.append(f"  subgraph cluster_{node_id(graph.name)} {{")
        out.append(f"    label={dot_text([f'Stack {graph.name}'])};")
        for fanout in graph.fanouts:
            out.append(f"    subgraph cluster_{fanout.id} {{")
            out.append(f'      label={dot_text([fanout.title])}; style="rounded,dashed";')
            for node in graph.nodes.values():
                if node.fanout == fanout.topic:
                    out.append(
                        f"      {node.id} [label={dot_text(node.lines)}, {DOT_SHAPES[node.kind]}];"
                    )
            out.append("    }")
        out.append("  }")
    for graph in graphs:
        for edge in graph.edges:
            attributes = [f"label={dot_text(edge.label)}"] if edge.label else []
            if edge.kind == "alarm":
                attributes += ["style=dotted", "arrowhead=none"]
            elif edge.kind in ("dead-letter", "undeliverable"):
                attributes.append("style=dashed")
            suffix = f" [{', '.join(attributes)}]" if attributes else ""
            out.append(f"  {edge.source} -> {edge.target}{suffix};")
    out.append("}")
    return "\n".join(out) + "\n"


def to_svg(source: str) -> str:
    dot = shutil.which("dot")
    if dot is None:
        raise UsageError(GRAPHVIZ_MISSING)
    try:
        result = subprocess.run(
            [dot, "-Tsvg"], input=source, capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise OperatorError(f"Graphviz's dot ({dot}) failed to run: {err}", EXIT_AWS) from None
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no message"])[0]
        raise OperatorError(
            f"Graphviz's dot ({dot}) failed (exit {result.returncode}): {reason}; "
            "try --format dot to see its input",
            EXIT_AWS,
        )
    return result.stdout
