"""A synthesized cloud assembly read as JSON: its stacks, their templates (nested stacks
included) and the references between resources.

``cdk synth`` writes ``manifest.json`` and one template per stack (and per nested stack;
a Stage's stacks in an assembly of their own). :class:`Assembly` reads them without aws_cdk
and follows references to the resources they name: ``Ref`` and ``Fn::GetAtt``, a nested
stack's parameters and outputs, another stack's outputs (``Fn::ImportValue``,
``Fn::GetStackOutput``), and physical names written in ARNs, URLs or strings (an alarm's
Metrics Insights query names its queues; a stack in another region names a topic by its ARN).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .core import UsageError


def number(value: float) -> str:
    """``1000.0`` as ``1000``, ``0.5`` as ``0.5``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(eq=False)
class Template:
    """One template of the assembly: a stack's, or a nested stack's inside it."""

    stack: str
    """The top-level stack it deploys with."""
    key: str
    """Unique in the assembly: the stack name, then the nested stack resources' logical ids."""
    body: dict[str, Any]
    parent: Template | None = None
    parent_resource: str | None = None
    """Logical id of the ``AWS::CloudFormation::Stack`` in ``parent`` that deploys it."""
    children: dict[str, Template] = field(default_factory=dict)

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.body.get("Resources") or {}
        return resources

    @property
    def parameters(self) -> dict[str, Any]:
        parameters: dict[str, Any] = self.body.get("Parameters") or {}
        return parameters

    def all(self) -> Iterator[Template]:
        """This template and the nested ones inside it, parents first."""
        yield self
        for child in self.children.values():
            yield from child.all()


@dataclass(frozen=True, eq=False)
class Res:
    """A resource, found in ``template`` by its logical id."""

    template: Template
    logical_id: str

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Res)
            and other.template is self.template
            and other.logical_id == self.logical_id
        )

    def __hash__(self) -> int:
        return hash((id(self.template), self.logical_id))

    @property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = self.template.resources[self.logical_id]
        return body

    @property
    def type(self) -> str:
        return str(self.body.get("Type", ""))

    @property
    def props(self) -> dict[str, Any]:
        props = self.body.get("Properties")
        return props if isinstance(props, dict) else {}

    @property
    def path(self) -> str | None:
        """The construct path (``aws:cdk:path``) without a trailing ``Resource``/``Default``."""
        path = (self.body.get("Metadata") or {}).get("aws:cdk:path")
        if not isinstance(path, str):
            return None
        for suffix in ("/Resource", "/Default"):
            if path.endswith(suffix):
                return path[: -len(suffix)]
        return path

    @property
    def key(self) -> str:
        """Unique in the assembly: the template's key and the logical id."""
        return f"{self.template.key}_{self.logical_id}"


@dataclass
class StackInfo:
    name: str
    aliases: set[str]
    region: str | None
    template: Template


PSEUDO_PARAMETER = re.compile(r"^AWS::")
CROSS_STACK = ("Fn::ImportValue", "Fn::GetStackOutput")
"""How a template reads a value of another stack's: an export, or a stack's output."""
NAME_LIKE = re.compile(r"[\w.-]+")
"""What a physical name is made of: a name in a string is a whole word of these."""
ARN_OR_URL_TAIL = re.compile(r"[:/]([^:/]+)$")


class Assembly:
    """The stacks of a cloud assembly and indexes to follow references between them."""

    def __init__(self, folder: Path, stacks: list[StackInfo]) -> None:
        self.folder = folder
        self.stacks = stacks
        self.by_name: dict[str, list[Res]] = {}
        self.exports: dict[str, tuple[Template, Any]] = {}
        for stack in stacks:
            for template in stack.template.all():
                self._index(template)

    def _index(self, template: Template) -> None:
        name_properties = {
            "AWS::SQS::Queue": "QueueName",
            "AWS::SNS::Topic": "TopicName",
            "AWS::Lambda::Function": "FunctionName",
            "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName",
            "AWS::AutoScaling::AutoScalingGroup": "AutoScalingGroupName",
        }
        for logical_id, body in template.resources.items():
            prop = name_properties.get(body.get("Type", ""))
            name = (body.get("Properties") or {}).get(prop) if prop else None
            if isinstance(name, str) and name:
                self.by_name.setdefault(name, []).append(Res(template, logical_id))
        for output in (template.body.get("Outputs") or {}).values():
            export = (output.get("Export") or {}).get("Name")
            if isinstance(export, str):
                self.exports[export] = (template, output.get("Value"))

    @staticmethod
    def load(folder: Path) -> Assembly:
        if not folder.is_dir():
            raise UsageError(
                f"CDK_OUT {folder}: no such folder; run `cdk synth` first (it writes cdk.out), "
                "or give the folder it wrote"
            )
        if not (folder / "manifest.json").is_file():
            raise UsageError(
                f"CDK_OUT {folder} is not a cloud assembly (no manifest.json): run `cdk synth` "
                "and give the folder it writes (cdk.out by default)"
            )
        stacks: list[StackInfo] = []
        _read_manifest(folder, stacks)
        return Assembly(folder, stacks)

    def stack(self, template: Template) -> StackInfo:
        return next(s for s in self.stacks if s.name == template.stack)

    # -- following references --------------------------------------------------------------

    def resolve(self, template: Template, expr: Any) -> Res | None:
        """The one resource ``expr`` names (a queue ARN, a topic ARN, a function name...),
        wherever in the assembly it is; None if it names none (a parameter, an ARN of a
        resource outside the assembly)."""
        if isinstance(expr, dict) and len(expr) == 1:
            ((fn, arg),) = expr.items()
            if fn == "Ref" and isinstance(arg, str):
                return self._ref(template, arg)
            if fn == "Fn::GetAtt":
                logical_id, attribute = _getatt(arg)
                return self._getatt(template, logical_id, attribute)
            if fn in CROSS_STACK:
                output = self._output(template, fn, arg)
                return self.resolve(*output) if output else None
        text = self.text(template, expr)
        found = self.named(text, prefer=template)
        if found is None and not isinstance(expr, str):
            mentioned = self.mentions(template, expr, scan_names=False)
            return mentioned[0] if mentioned else None
        return found

    def _output(self, template: Template, fn: str, arg: Any) -> tuple[Template, Any] | None:
        """The output of another stack an ``Fn::ImportValue`` (an export's name) or an
        ``Fn::GetStackOutput`` (a stack and output name) reads, and the template it is in."""
        if fn == "Fn::ImportValue":
            return self.exports.get(self.text(template, arg))
        if not isinstance(arg, dict):
            return None
        stack_name = self.text(template, arg.get("StackName"))
        for stack in self.stacks:
            if stack_name in stack.aliases:
                output = (stack.template.body.get("Outputs") or {}).get(
                    self.text(template, arg.get("OutputName"))
                )
                return (stack.template, output.get("Value")) if output else None
        return None

    def _ref(self, template: Template, name: str) -> Res | None:
        if name in template.resources:
            return Res(template, name)
        if name in template.parameters and template.parent and template.parent_resource:
            given = Res(template.parent, template.parent_resource).props.get("Parameters", {})
            if name in given:
                return self.resolve(template.parent, given[name])
        return None

    def _getatt(self, template: Template, logical_id: str, attribute: str) -> Res | None:
        child = template.children.get(logical_id)
        if child is not None and attribute.startswith("Outputs."):
            output = (child.body.get("Outputs") or {}).get(attribute.removeprefix("Outputs."))
            return self.resolve(child, output.get("Value")) if output else None
        return Res(template, logical_id) if logical_id in template.resources else None

    def named(self, text: str, prefer: Template | None = None) -> Res | None:
        """The resource whose physical name ends ``text`` (an ARN, a URL or the name)."""
        candidates = self.by_name.get(text)
        if not candidates:
            tail = ARN_OR_URL_TAIL.search(text)
            candidates = self.by_name.get(tail.group(1)) if tail else None
        if not candidates:
            return None
        same_stack = [c for c in candidates if prefer and c.template.stack == prefer.stack]
        return (same_stack or candidates)[0]

    def mentions(self, template: Template, expr: Any, *, scan_names: bool = True) -> list[Res]:
        """Every resource ``expr`` refers to, by reference or (``scan_names``) by a physical
        name written in its strings (an alarm's Metrics Insights query names its queues)."""
        found: list[Res] = []

        def add(res: Res | None) -> None:
            if res is not None and res not in found:
                found.append(res)

        def walk(value: Any) -> None:
            if isinstance(value, dict):
                if len(value) == 1:
                    ((fn, arg),) = value.items()
                    if fn == "Ref" and isinstance(arg, str):
                        add(self._ref(template, arg))
                        return
                    if fn == "Fn::GetAtt":
                        add(self._getatt(template, *_getatt(arg)))
                        return
                    if fn in CROSS_STACK:
                        add(self.resolve(template, value))
                        return
                    if fn == "Fn::Sub":
                        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                        for name in re.findall(r"\$\{([^}!][^}]*)\}", text):
                            if name not in variables:
                                logical_id, _, attribute = name.partition(".")
                                add(
                                    self._getatt(template, logical_id, attribute)
                                    if attribute
                                    else self._ref(template, logical_id)
                                )
                        walk(variables)
                        if scan_names:
                            scan(text)
                        return
                for item in value.values():
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)
            elif isinstance(value, str) and scan_names:
                scan(value)

        def scan(text: str) -> None:
            for word in NAME_LIKE.findall(text):
                if word in self.by_name:
                    add(self.named(word, prefer=template))

        walk(expr)
        return found

    def text(self, template: Template, expr: Any) -> str:
        """``expr`` as a string, with what is known only at deploy time as ``${...}``."""
        if isinstance(expr, str):
            return expr
        if isinstance(expr, bool):
            return str(expr).lower()
        if isinstance(expr, int | float):
            return number(expr)
        if isinstance(expr, dict) and len(expr) == 1:
            ((fn, arg),) = expr.items()
            if fn == "Ref" and isinstance(arg, str):
                if arg in template.parameters and template.parent and template.parent_resource:
                    given = Res(template.parent, template.parent_resource).props.get(
                        "Parameters", {}
                    )
                    if arg in given:
                        return self.text(template.parent, given[arg])
                return "${" + arg + "}"
            if fn == "Fn::GetAtt":
                logical_id, attribute = _getatt(arg)
                return "${" + f"{logical_id}.{attribute}" + "}"
            if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
                separator, parts = arg
                if isinstance(parts, list):
                    return str(separator).join(self.text(template, p) for p in parts)
            if fn == "Fn::Sub":
                return arg if isinstance(arg, str) else str(arg[0])
            if fn in CROSS_STACK:
                output = self._output(template, fn, arg)
                if output is not None:
                    return self.text(*output)
            return "${" + str(fn) + "}"
        return json.dumps(expr, sort_keys=True)

    def parameter(self, template: Template, expr: Any) -> str | None:
        """The stack parameter ``expr`` is (``{"Ref": "PartnerWebhookUrl"}``), if it is one."""
        if isinstance(expr, dict) and set(expr) == {"Ref"} and isinstance(expr["Ref"], str):
            name = expr["Ref"]
            if name in template.parameters:
                if template.parent and template.parent_resource:
                    given = Res(template.parent, template.parent_resource).props.get(
                        "Parameters", {}
                    )
                    return self.parameter(template.parent, given.get(name))
                return name
        return None

    def resources(self, template: Template, *types: str) -> Iterator[Res]:
        """Resources of ``types`` in ``template`` and the templates nested in it."""
        for each in template.all():
            for logical_id, body in each.resources.items():
                if body.get("Type") in types:
                    yield Res(each, logical_id)

    def everywhere(self, *types: str) -> Iterator[Res]:
        for stack in self.stacks:
            yield from self.resources(stack.template, *types)


def _getatt(arg: Any) -> tuple[str, str]:
    if isinstance(arg, str):
        logical_id, _, attribute = arg.partition(".")
        return logical_id, attribute
    if isinstance(arg, list) and len(arg) == 2:
        return str(arg[0]), str(arg[1])
    return "", ""


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"{what} {path} is missing: the assembly is incomplete; run `cdk synth` again"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UsageError(f"{what} {path} cannot be read ({err}); run `cdk synth` again") from None
    if not isinstance(value, dict):
        raise UsageError(f"{what} {path} is not a JSON object; run `cdk synth` again")
    return value


def _read_manifest(folder: Path, stacks: list[StackInfo]) -> None:
    manifest = _read_json(folder / "manifest.json", "manifest")
    for artifact_id, artifact in (manifest.get("artifacts") or {}).items():
        props = artifact.get("properties") or {}
        if artifact.get("type") == "cdk:cloud-assembly" and props.get("directoryName"):
            _read_manifest(folder / props["directoryName"], stacks)  # a Stage's stacks
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        name = artifact.get("displayName") or artifact_id
        region = str(artifact.get("environment", "")).rpartition("/")[2] or None
        body = _read_json(folder / props.get("templateFile", ""), f"stack {name}: template")
        top = Template(stack=name, key=name, body=body)
        _read_nested(folder, top)
        stacks.append(
            StackInfo(
                name=name,
                aliases={name, artifact_id, props.get("stackName") or artifact_id},
                region=None if region in (None, "unknown-region") else region,
                template=top,
            )
        )


def _read_nested(folder: Path, template: Template) -> None:
    for logical_id, body in template.resources.items():
        asset = (body.get("Metadata") or {}).get("aws:asset:path")
        if body.get("Type") != "AWS::CloudFormation::Stack" or not isinstance(asset, str):
            continue
        child = Template(
            stack=template.stack,
            key=f"{template.key}_{logical_id}",
            body=_read_json(folder / asset, f"stack {template.stack}: nested template"),
            parent=template,
            parent_resource=logical_id,
        )
        template.children[logical_id] = child
        _read_nested(folder, child)
