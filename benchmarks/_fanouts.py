"""The two fanouts the synth and cost benchmarks compare, one measured synth, and a cloud
assembly read back from disk. Shared by ``synth_scale.py`` and ``fixed_cost.py``.

* ``constructs_lib``: ``FanoutTopic(stack, "Fanout")`` and ``add_queue_consumer(f"Consumer{i}")``
  N times, every option at its default (alarms on).
* ``SnsToSqs`` (AWS Solutions Constructs, the ``bench`` extra): one shared ``sns.Topic``
  encrypted with its own rotating KMS key (what ``SnsToSqs`` creates when it makes the topic
  itself), and one ``SnsToSqs(stack, f"Consumer{i}", existing_topic_obj=topic)`` per consumer
  with its defaults (a queue, a dead-letter queue and a KMS key each).

Both apps get the project's ``cdk.json`` context (feature flags) plus
``aws:cdk:version-reporting``, so every stack carries the ``AWS::CDK::Metadata`` resource that
``cdk synth`` and ``cdk deploy`` add; nothing else differs.

Run as a script, this module is one measurement, in a fresh interpreter (a fresh jsii node
process), writing its cloud assembly to OUTDIR and printing one JSON line:

    python benchmarks/_fanouts.py {constructs_lib,SnsToSqs} N OUTDIR [--no-resource-limit]

This module imports no CDK at module level: the parent processes only read JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import resource as rusage
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OURS = "constructs_lib"
THEIRS = "SnsToSqs"
IMPLEMENTATIONS = (OURS, THEIRS)
SNS_TO_SQS_DISTRIBUTION = "aws-solutions-constructs.aws-sns-sqs"
STACK_RESOURCE_LIMIT = 500
"""CloudFormation's resources-per-stack quota, which CDK also enforces at synth."""
STACK_RESOURCE_LIMIT_CONTEXT = "@aws-cdk/core:stackResourceLimit"
TEMPLATE_BODY_LIMIT = 1_000_000
"""CloudFormation's largest template body (bytes), for a template uploaded to S3 as CDK does."""
RESULT_MARKER = "BENCHMARK-RESULT "
CHILD_TIMEOUT_S = 1800
DEFAULT_ASSEMBLIES = ROOT / "cdk.out" / "benchmarks"
VERSIONED = ("aws-cdk-lib", "constructs", "jsii", SNS_TO_SQS_DISTRIBUTION)

Json = Mapping[str, Any]


# -- the two apps (run in the measured subprocess) ---------------------------------------


def context(*, resource_limit: bool) -> dict[str, Any]:
    """cdk.json's context plus version reporting. ``resource_limit=False`` lifts CDK's
    500-resource check, and makes CloudFormation validation findings warnings (cdk.json makes
    them errors, and one is the same 500-resource rule, F0007), so that an oversized stack is
    still written out and can be counted."""
    values: dict[str, Any] = dict(json.loads((ROOT / "cdk.json").read_text())["context"])
    values["aws:cdk:version-reporting"] = True
    if not resource_limit:
        values[STACK_RESOURCE_LIMIT_CONTEXT] = 0
        values["@aws-cdk/core:validateAgainstDefaultRules"] = False
    return values


def _build_ours(stack: Any, n: int) -> None:
    from constructs_lib import FanoutTopic

    fanout = FanoutTopic(stack, "Fanout")
    for i in range(n):
        fanout.add_queue_consumer(f"Consumer{i}")


def _build_theirs(stack: Any, n: int) -> None:
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_sns as sns
    from aws_solutions_constructs.aws_sns_sqs import SnsToSqs

    topic_key = kms.Key(stack, "TopicKey", enable_key_rotation=True)
    topic = sns.Topic(stack, "Topic", master_key=topic_key)
    for i in range(n):
        SnsToSqs(stack, f"Consumer{i}", existing_topic_obj=topic)


BUILDERS: dict[str, Callable[[Any, int], None]] = {OURS: _build_ours, THEIRS: _build_theirs}
LIBRARY_MODULES = {
    # constructs_lib imports its construct modules on first use (PEP 562), so importing the
    # package alone would move the loading of fanout_topic and the aws_cdk modules it needs
    # into the build time, while SnsToSqs's module import is timed apart: import the module
    # the builder uses, as for SnsToSqs.
    OURS: "constructs_lib.fanout_topic",
    THEIRS: "aws_solutions_constructs.aws_sns_sqs",
}


def counts_parser(example: str) -> Callable[[str], list[int]]:
    """The type of a ``--counts`` option: positive integers, comma-separated (``example``),
    sorted and without repeats."""

    def parse_counts(text: str) -> list[int]:
        counts = sorted({int(part) for part in text.split(",") if part.strip()})
        if not counts or counts[0] < 1:
            raise argparse.ArgumentTypeError(f"counts are positive integers, e.g. {example}")
        return counts

    return parse_counts


def add_assemblies_option(parser: argparse.ArgumentParser, about: str) -> None:
    """``--assemblies``: the folder of the cloud assemblies synth_scale.py writes."""
    parser.add_argument(
        "--assemblies",
        type=Path,
        default=DEFAULT_ASSEMBLIES,
        help=f"{about}; default %(default)s",
    )


def missing(impl: str) -> str | None:
    """Why ``impl`` cannot be measured here, or None if it can."""
    if impl == THEIRS and importlib.util.find_spec("aws_solutions_constructs") is None:
        return (
            f"{SNS_TO_SQS_DISTRIBUTION} is not installed (the `bench` extra: "
            "pip install -c constraints.txt -e '.[dev,bench]', which make setup does)"
        )
    return None


def _descendants(pid: int) -> list[int]:
    """Live descendant processes of ``pid``, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may contain spaces and parentheses
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _peak_rss_kib(pid: int | str) -> int | None:
    """The kernel's high-water mark of the process's resident set (VmHWM), in KiB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else None


def _error(error: BaseException) -> dict[str, str]:
    message = str(error).strip()
    # jsii surfaces a CDK ValidationError as RuntimeError("TooManyResourcesInStack: ...")
    code = re.match(r"^([A-Z]\w+): ", message)
    return {
        "type": type(error).__name__,
        "code": code.group(1) if code else type(error).__name__,
        "message": message.splitlines()[0][:600] if message else repr(error),
    }


def _child(argv: Sequence[str]) -> int:
    impl, n, outdir = argv[0], int(argv[1]), Path(argv[2])
    resource_limit = "--no-resource-limit" not in argv[3:]
    sys.path.insert(0, str(ROOT))  # this checkout's constructs_lib, not an installed copy
    result: dict[str, Any] = {"impl": impl, "n": n, "resource_limit": resource_limit}
    started = time.perf_counter()
    import aws_cdk
    import constructs  # noqa: F401

    imported_cdk = time.perf_counter()
    library = importlib.import_module(LIBRARY_MODULES[impl])
    imported_library = time.perf_counter()
    result["import_cdk_s"] = imported_cdk - started
    result["import_library_s"] = imported_library - imported_cdk
    result["library_file"] = getattr(library, "__file__", None)
    stage = "build"
    try:
        app = aws_cdk.App(context=context(resource_limit=resource_limit), outdir=str(outdir))
        BUILDERS[impl](aws_cdk.Stack(app, "Fanout"), n)
        built = time.perf_counter()
        result["build_s"] = built - imported_library
        stage = "synth"
        app.synth()
        result["synth_s"] = time.perf_counter() - built
        result["error"] = None
    except Exception as error:
        now = time.perf_counter()
        if stage == "build":
            result["build_s"] = now - imported_library
        else:
            result["synth_s"] = now - built
        result["error"] = {"stage": stage, **_error(error)}
    node = _descendants(os.getpid())
    result["python_peak_kib"] = _peak_rss_kib("self")
    peaks = [p for p in (_peak_rss_kib(pid) for pid in node) if p is not None]
    result["node_peak_kib"] = sum(peaks) if peaks else None
    result["node_processes"] = len(peaks)
    print(RESULT_MARKER + json.dumps(result), flush=True)
    return 0


# -- one measurement, from the parent ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Measurement:
    """One subprocess: build + synth of one fanout, its timings and peak memory."""

    impl: str
    n: int
    outdir: Path
    resource_limit: bool
    process_wall_s: float
    process_cpu_s: float | None = None
    """User plus system CPU of the measured process and every descendant it waited for (the
    jsii node processes), from the parent's ``RUSAGE_CHILDREN``."""
    import_cdk_s: float | None = None
    import_library_s: float | None = None
    build_s: float | None = None
    synth_s: float | None = None
    python_peak_kib: int | None = None
    node_peak_kib: int | None = None
    node_processes: int = 0
    error: Mapping[str, str] | None = None
    crash: str | None = None
    library_file: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.crash is None

    @property
    def wall_s(self) -> float | None:
        """Build + app.synth(): the synth wall time compared between implementations."""
        if self.build_s is None:
            return None
        return self.build_s + (self.synth_s or 0.0)

    @property
    def peak_mib(self) -> float | None:
        """Python's peak RSS plus the jsii node process's peak RSS."""
        if self.python_peak_kib is None:
            return None
        return (self.python_peak_kib + (self.node_peak_kib or 0)) / 1024

    def failure(self) -> str | None:
        """How it failed, in one line, or None."""
        if self.crash is not None:
            return self.crash
        if self.error is None:
            return None
        code, message = self.error["code"], self.error["message"]
        if code == "TooManyResourcesInStack":
            counted = re.search(r"': (\d+) is greater than allowed maximum of (\d+)", message)
            if counted:
                return (
                    f"fails at {self.error['stage']}: TooManyResourcesInStack "
                    f"({int(counted.group(1)):,} resources > {counted.group(2)}-resource limit)"
                )
        return f"fails at {self.error['stage']}: {code}: {message[:160]}"


def child_environment() -> dict[str, str]:
    """The environment of a measured subprocess: this checkout's venv and Node 22 first."""
    env = dict(os.environ)
    first = [ROOT / ".venv" / "bin", ROOT / "node_modules" / ".bin"]
    env["PATH"] = os.pathsep.join([str(p) for p in first if p.is_dir()] + [env.get("PATH", "")])
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    return env


def _children_cpu() -> float:
    usage = rusage.getrusage(rusage.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(impl: str, n: int, outdir: Path, *, resource_limit: bool = True) -> Measurement:
    """Build and synthesize ``impl`` with ``n`` consumers in a fresh subprocess."""
    if outdir.exists():
        shutil.rmtree(outdir)
    outdir.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(Path(__file__).resolve()), impl, str(n), str(outdir)]
    if not resource_limit:
        command.append("--no-resource-limit")
    started = time.perf_counter()
    cpu_before = _children_cpu()

    def measured(**figures: Any) -> Measurement:
        return Measurement(
            impl=impl,
            n=n,
            outdir=outdir,
            resource_limit=resource_limit,
            process_cpu_s=_children_cpu() - cpu_before,
            **figures,
        )

    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=child_environment(),
            timeout=CHILD_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return measured(
            process_wall_s=time.perf_counter() - started,
            crash=f"timed out after {CHILD_TIMEOUT_S} s",
        )
    wall = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_MARKER)]
    if not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return measured(process_wall_s=wall, crash=f"crashed (exit code {done.returncode}): {tail}")
    data = json.loads(lines[-1][len(RESULT_MARKER) :])
    return measured(
        process_wall_s=wall,
        import_cdk_s=data.get("import_cdk_s"),
        import_library_s=data.get("import_library_s"),
        build_s=data.get("build_s"),
        synth_s=data.get("synth_s"),
        python_peak_kib=data.get("python_peak_kib"),
        node_peak_kib=data.get("node_peak_kib"),
        node_processes=data.get("node_processes", 0),
        error=data.get("error"),
        library_file=data.get("library_file"),
    )


# -- reading a cloud assembly --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Template:
    """One CloudFormation template of the assembly (a stack or a nested stack)."""

    name: str
    stack_name: str | None
    nested: bool
    body: Json
    size_bytes: int

    @property
    def resources(self) -> Mapping[str, Json]:
        resources: Mapping[str, Json] = self.body.get("Resources", {})
        return resources

    def count(self) -> int:
        return len(self.resources)

    def types(self) -> Counter[str]:
        return Counter(str(r.get("Type")) for r in self.resources.values())


@dataclasses.dataclass(frozen=True)
class Alarm:
    """A CloudWatch alarm and what CloudWatch bills it by.

    ``kind`` is ``standard`` or ``high-resolution`` (one metric or metric math, billed per
    alarm metric), ``insights`` (a Metrics Insights query, billed per metric the query
    analyzes) or ``composite``. ``metrics`` is the number of billed metrics: the metrics
    listed (three for an anomaly detection band), or for a query the matching time series;
    ``exact`` is False when some series could not be decided from the templates and were
    counted as matching (an upper bound).
    """

    template: str
    logical_id: str
    kind: str
    metrics: int
    exact: bool = True
    query: str | None = None


@dataclasses.dataclass(frozen=True)
class Assembly:
    """Every template of a cloud assembly, nested stack templates included."""

    templates: tuple[Template, ...]

    def total_resources(self) -> int:
        return sum(t.count() for t in self.templates)

    def types(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for template in self.templates:
            total.update(template.types())
        return total

    def largest(self) -> Template:
        return max(self.templates, key=Template.count)

    def over_limit(self, limit: int = STACK_RESOURCE_LIMIT) -> list[Template]:
        return [t for t in self.templates if t.count() > limit]

    def over_size(self, limit: int = TEMPLATE_BODY_LIMIT) -> list[Template]:
        return [t for t in self.templates if t.size_bytes > limit]

    def deploy_problems(self) -> list[str]:
        """Why CloudFormation would refuse a template of this assembly, or nothing."""
        problems = []
        if over := self.over_limit():
            worst = max(over, key=Template.count)
            problems.append(
                f"{len(over)} template(s) over {STACK_RESOURCE_LIMIT} resources "
                f"({worst.name}: {worst.count():,})"
            )
        if big := self.over_size():
            worst = max(big, key=lambda t: t.size_bytes)
            problems.append(
                f"{len(big)} template(s) over {TEMPLATE_BODY_LIMIT:,} bytes "
                f"({worst.name}: {worst.size_bytes:,})"
            )
        return problems

    def kms_keys(self) -> int:
        return self.types()["AWS::KMS::Key"]

    def rotating_kms_keys(self) -> int:
        return sum(
            1
            for t in self.templates
            for r in t.resources.values()
            if r.get("Type") == "AWS::KMS::Key"
            and r.get("Properties", {}).get("EnableKeyRotation") is True
        )

    def dashboards(self) -> int:
        return self.types()["AWS::CloudWatch::Dashboard"]

    def consumers_per_template(self) -> int:
        """The most SNS subscriptions in one template (one per consumer, in both fanouts)."""
        return max(t.types()["AWS::SNS::Subscription"] for t in self.templates)

    def alarms(self) -> list[Alarm]:
        found: list[Alarm] = []
        for template in self.templates:
            for logical_id, resource in template.resources.items():
                kind = resource.get("Type")
                props = resource.get("Properties", {})
                if kind == "AWS::CloudWatch::CompositeAlarm":
                    found.append(Alarm(template.name, logical_id, "composite", 0))
                elif kind == "AWS::CloudWatch::Alarm":
                    found.append(self._metric_alarm(template, logical_id, props))
        return found

    def _metric_alarm(self, template: Template, logical_id: str, props: Json) -> Alarm:
        queries: Sequence[Json] = props.get("Metrics") or []
        if not queries:
            period = props.get("Period", 60)
            kind = "high-resolution" if _int(period, 60) < 60 else "standard"
            return Alarm(template.name, logical_id, kind, 1)
        expressions = [
            resolve(q["Expression"], template) if "Expression" in q else None for q in queries
        ]
        for q, text in zip(queries, expressions, strict=True):
            if "Expression" in q and (text is None or text.lstrip().upper().startswith("SELECT")):
                if text is None:  # a query built from tokens we cannot resolve
                    return Alarm(template.name, logical_id, "insights", 1, False, None)
                series, exact = self.insights_series(text)
                return Alarm(template.name, logical_id, "insights", series, exact, text)
        stats = [q["MetricStat"] for q in queries if "MetricStat" in q]
        anomaly = any(t and "ANOMALY_DETECTION_BAND" in t.upper() for t in expressions)
        periods = [_int(s.get("Period", 60), 60) for s in stats] + [
            _int(q["Period"], 60) for q in queries if "Period" in q
        ]
        kind = "high-resolution" if any(p < 60 for p in periods) else "standard"
        return Alarm(template.name, logical_id, kind, len(stats) * (3 if anomaly else 1))

    def insights_series(self, query: str) -> tuple[int, bool]:
        """How many metrics a Metrics Insights query analyzes, read from the templates.

        One time series per resource of the query's namespace (a queue for AWS/SQS, a topic
        for AWS/SNS) whose dimensions pass the WHERE clause. A condition on something the
        templates do not settle (a tag, a name built at deploy time) counts the series as
        matching, and the count becomes an upper bound (``exact`` False).
        """
        parsed = parse_insights_query(query)
        if parsed is None or parsed.namespace not in SERIES_BY_NAMESPACE:
            return 1, False
        resource_type, dimension = SERIES_BY_NAMESPACE[parsed.namespace]
        matching = 0
        exact = True
        for template in self.templates:
            for resource in template.resources.values():
                if resource.get("Type") != resource_type:
                    continue
                props = resource.get("Properties", {})
                value = resolve(props.get(dimension), template) if dimension in props else None
                verdict = parsed.where({dimension: value}) if parsed.where else True
                if verdict is None:
                    exact = False
                if verdict is not False:
                    matching += 1
        return matching, exact


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def read_assembly(outdir: Path) -> Assembly:
    """Every ``*.template.json`` under ``outdir`` (stacks, nested stacks, stage assemblies)."""
    stack_names: dict[str, str] = {}
    for manifest in outdir.rglob("manifest.json"):
        artifacts = json.loads(manifest.read_text()).get("artifacts", {})
        for artifact_id, artifact in artifacts.items():
            props = artifact.get("properties", {})
            if artifact.get("type") == "aws:cloudformation:stack" and "templateFile" in props:
                path = (manifest.parent / props["templateFile"]).resolve()
                stack_names[str(path)] = props.get("stackName", artifact_id)
    templates = []
    for path in sorted(outdir.rglob("*.template.json")):
        text = path.read_text()
        templates.append(
            Template(
                name=str(path.relative_to(outdir)),
                stack_name=stack_names.get(str(path.resolve())),
                nested=path.name.endswith(".nested.template.json"),
                body=json.loads(text),
                size_bytes=len(text.encode()),
            )
        )
    if not templates:
        raise FileNotFoundError(f"no *.template.json under {outdir}")
    return Assembly(tuple(templates))


def resolve(value: Any, template: Template) -> str | None:
    """A template value as a string, where the template alone decides it: literals,
    ``Fn::Join``, ``Fn::Sub`` and ``Ref AWS::StackName`` (top-level stacks), and
    ``Fn::GetAtt`` of a queue's ``QueueName`` or a topic's ``TopicName`` given as literals."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, Mapping) or len(value) != 1:
        return None
    ((function, argument),) = value.items()
    if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
        parts = [resolve(part, template) for part in argument[1]]
        return None if None in parts else str(argument[0]).join(p or "" for p in parts)
    if function == "Ref":
        return template.stack_name if argument == "AWS::StackName" else None
    if function == "Fn::GetAtt" and isinstance(argument, list) and len(argument) == 2:
        target = template.resources.get(str(argument[0]), {})
        if argument[1] in ("QueueName", "TopicName"):
            return resolve(target.get("Properties", {}).get(argument[1]), template)
        return None
    if function == "Fn::Sub" and isinstance(argument, str):
        names = re.findall(r"\$\{([^}!]+)\}", argument)
        values: dict[str, str | None] = {}
        for name in names:
            if name == "AWS::StackName":
                values[name] = template.stack_name
            elif "." in name:
                values[name] = resolve({"Fn::GetAtt": name.split(".", 1)}, template)
            else:
                values[name] = None
        if any(v is None for v in values.values()):
            return None
        return re.sub(r"\$\{([^}!]+)\}", lambda m: values[m.group(1)] or "", argument)
    return None


# -- Metrics Insights queries (the subset a fanout's alarms would use) ---------------------

SERIES_BY_NAMESPACE = {
    "AWS/SQS": ("AWS::SQS::Queue", "QueueName"),
    "AWS/SNS": ("AWS::SNS::Topic", "TopicName"),
}
"""Namespace -> (resource type that emits one series per resource, its dimension)."""

Verdict = bool | None
Where = Callable[[Mapping[str, str | None]], Verdict]


@dataclasses.dataclass(frozen=True)
class InsightsQuery:
    namespace: str
    where: Where | None


_QUERY = re.compile(
    r"^\s*SELECT\s+.+?\s+FROM\s+(?:SCHEMA\s*\(\s*(?P<schema>\"[^\"]+\"|[\w/.:-]+)[^)]*\)"
    r"|(?P<plain>\"[^\"]+\"|[\w/.:-]+))"
    r"(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+GROUP\s+BY\s+.+?)?(?:\s+ORDER\s+BY\s+.+?)?(?:\s+LIMIT\s+\d+)?\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_CONDITION_TOKEN = re.compile(
    r"\s*(?:'((?:[^']|'')*)'|\"([^\"]*)\"|(<>|!=|=|\(|\)|,)|([A-Za-z_][\w.]*))"
)


def parse_insights_query(query: str) -> InsightsQuery | None:
    """Namespace and WHERE clause of ``SELECT f(m) FROM SCHEMA("ns", ...) WHERE ...``."""
    match = _QUERY.match(query)
    if match is None:
        return None
    namespace = (match.group("schema") or match.group("plain")).strip('"')
    text = match.group("where")
    if text is None:
        return InsightsQuery(namespace, None)
    try:
        return InsightsQuery(namespace, _ConditionParser(text).parse())
    except ValueError:
        return InsightsQuery(namespace, lambda _: None)


class _ConditionParser:
    """``a = 'x'``, ``!=``/``<>``, ``[NOT] LIKE``, ``[NOT] IN (...)``, AND, OR, NOT, ( )."""

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(text.rstrip()):
            match = _CONDITION_TOKEN.match(text, position)
            if match is None:
                raise ValueError(text)
            string, quoted, symbol, word = match.groups()
            if string is not None:
                self.tokens.append(("str", string.replace("''", "'")))
            elif quoted is not None:
                self.tokens.append(("name", quoted))
            elif symbol is not None:
                self.tokens.append(("sym", symbol))
            else:
                upper = word.upper()
                keyword = upper in ("AND", "OR", "NOT", "LIKE", "IN")
                self.tokens.append(("kw", upper) if keyword else ("name", word))
            position = match.end()
        self.index = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ValueError("unexpected end")
        self.index += 1
        return token

    def parse(self) -> Where:
        where = self.disjunction()
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()}")
        return where

    def disjunction(self) -> Where:
        return self._joined("OR", self.conjunction, _any)

    def conjunction(self) -> Where:
        return self._joined("AND", self.negation, _all)

    def _joined(
        self,
        keyword: str,
        term: Callable[[], Where],
        combine: Callable[[Iterable[Verdict]], Verdict],
    ) -> Where:
        """``term (keyword term)*``: a lone term as it is, several combined."""
        terms = [term()]
        while self.peek() == ("kw", keyword):
            self.take()
            terms.append(term())
        return terms[0] if len(terms) == 1 else lambda d: combine(t(d) for t in terms)

    def negation(self) -> Where:
        if self.peek() == ("kw", "NOT"):
            self.take()
            inner = self.negation()
            return lambda d: _not(inner(d))
        if self.peek() == ("sym", "("):
            self.take()
            inner = self.disjunction()
            if self.take() != ("sym", ")"):
                raise ValueError("expected )")
            return inner
        return self.comparison()

    def comparison(self) -> Where:
        kind, name = self.take()
        if kind != "name":
            raise ValueError(f"expected a dimension, got {name}")
        negate = False
        if self.peek() == ("kw", "NOT"):
            self.take()
            negate = True
        kind, operator = self.take()
        if operator == "IN":
            if self.take() != ("sym", "("):
                raise ValueError("expected (")
            values = [self._string()]
            while self.peek() == ("sym", ","):
                self.take()
                values.append(self._string())
            if self.take() != ("sym", ")"):
                raise ValueError("expected )")
            test: Callable[[str], bool] = lambda v: v in values  # noqa: E731
        elif operator == "LIKE":
            pattern = re.compile(
                "".join(
                    ".*" if c == "%" else "." if c == "_" else re.escape(c) for c in self._string()
                ),
                re.DOTALL,
            )
            test = lambda v: pattern.fullmatch(v) is not None  # noqa: E731
        elif operator in ("=", "!=", "<>"):
            expected = self._string()
            negate = negate != (operator != "=")
            test = lambda v: v == expected  # noqa: E731
        else:
            raise ValueError(f"operator {operator}")

        def compare(dimensions: Mapping[str, str | None]) -> Verdict:
            value = dimensions.get(name)
            if value is None:  # not a dimension we know, or not decided by the templates
                return None
            return test(value) != negate

        return compare

    def _string(self) -> str:
        kind, value = self.take()
        if kind != "str":
            raise ValueError(f"expected a string, got {value}")
        return value


def _any(verdicts: Iterable[Verdict]) -> Verdict:
    values = list(verdicts)
    return True if True in values else (None if None in values else False)


def _all(verdicts: Iterable[Verdict]) -> Verdict:
    values = list(verdicts)
    return False if False in values else (None if None in values else True)


def _not(verdict: Verdict) -> Verdict:
    return None if verdict is None else not verdict


# -- what was measured, and whether it is still current ------------------------------------


def versions() -> dict[str, str]:
    found = {}
    for name in VERSIONED:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def fingerprint() -> str:
    """Changes when anything that shapes the templates does: the library's source, this
    module, cdk.json, the installed CDK and Solutions Constructs versions."""
    digest = hashlib.sha256(json.dumps(versions(), sort_keys=True).encode())
    sources = [*sorted((ROOT / "constructs_lib").rglob("*.py")), Path(__file__), ROOT / "cdk.json"]
    for path in sources:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def assembly_dir(base: Path, impl: str, n: int) -> Path:
    return base / f"{impl}-{n}"


def record(measurement: Measurement, *, default_synth: str | None = None) -> None:
    """Write what produced an assembly beside it, for :func:`cached`."""
    info = {
        "fingerprint": fingerprint(),
        "impl": measurement.impl,
        "n": measurement.n,
        "resource_limit": measurement.resource_limit,
        "written_ok": measurement.ok,
        "default_synth": default_synth or measurement.failure() or "ok",
        "wall_s": measurement.wall_s,
        "peak_mib": measurement.peak_mib,
        "process_wall_s": measurement.process_wall_s,
    }
    (measurement.outdir / "benchmark.json").write_text(json.dumps(info, indent=2))


@dataclasses.dataclass(frozen=True)
class Complete:
    """An assembly with every template written, and how it was obtained."""

    assembly: Assembly
    default_synth: str
    """How a synth with CDK's defaults goes: ``ok`` or how it fails."""
    wall_s: float | None
    """Build + synth time of the run that wrote it."""
    peak_mib: float | None
    """Python + node peak memory of the run that wrote it."""
    reused: bool
    process_wall_s: float | None = None
    """Whole-process wall time (start to exit) of the run that wrote it."""


def cached(base: Path, impl: str, n: int) -> Complete | None:
    """A complete assembly for ``impl`` x ``n`` written by a run of the current code."""
    outdir = assembly_dir(base, impl, n)
    try:
        info = json.loads((outdir / "benchmark.json").read_text())
    except (OSError, ValueError):
        return None
    if info.get("fingerprint") != fingerprint() or not info.get("written_ok"):
        return None
    return Complete(
        read_assembly(outdir),
        str(info["default_synth"]),
        info.get("wall_s"),
        info.get("peak_mib"),
        reused=True,
        process_wall_s=info.get("process_wall_s"),
    )


def complete_assembly(base: Path, impl: str, n: int) -> Complete:
    """The assembly of ``impl`` x ``n`` with every template written: from the cache, or
    synthesized with CDK's 500-resource check lifted (and then checked against 500 here)."""
    hit = cached(base, impl, n)
    if hit is not None:
        return hit
    run = measure(impl, n, assembly_dir(base, impl, n), resource_limit=False)
    if not run.ok:
        raise RuntimeError(f"{impl} x {n} does not synthesize: {run.failure()}")
    assembly = read_assembly(run.outdir)
    over = assembly.over_limit()  # CDK checks nested stacks too
    default = (
        f"fails at synth: TooManyResourcesInStack ({over[0].count():,} resources > "
        f"{STACK_RESOURCE_LIMIT}-resource limit)"
        if over
        else "ok"
    )
    record(run, default_synth=default)
    return Complete(
        assembly, default, run.wall_s, run.peak_mib, reused=False, process_wall_s=run.process_wall_s
    )


# -- output --------------------------------------------------------------------------------


def machine_load() -> str:
    """``uptime``'s load averages and the CPU count."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return f"{os.cpu_count()} CPUs, load average unknown"
    return f"{os.cpu_count()} CPUs, load average {one:.2f} {five:.2f} {fifteen:.2f} (uptime)"


def node_version() -> str:
    node = shutil.which("node", path=child_environment()["PATH"])
    if node is None:
        return "node not found"
    done = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    return f"node {done.stdout.strip()}"


def table(rows: Sequence[Sequence[str]], *, indent: str = "  ") -> list[str]:
    """Rows as aligned text columns; the first row is the header, numbers align right."""
    widths = [max(len(row[c]) for row in rows if c < len(row)) for c in range(len(rows[0]))]
    lines = []
    for i, row in enumerate(rows):
        cells = []
        for c, cell in enumerate(row):
            numeric = i > 0 and bool(re.fullmatch(r"[\d.,$x%+-]+", cell.strip() or "x"))
            cells.append(cell.rjust(widths[c]) if numeric else cell.ljust(widths[c]))
        lines.append((indent + "  ".join(cells)).rstrip())
        if i == 0:
            lines.append((indent + "  ".join("-" * w for w in widths)).rstrip())
    return lines


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
