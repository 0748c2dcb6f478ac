"""Every public construct declares its options once, and what documents them agrees.

For each construct: the keyword parameters are its required options plus
``**options: Unpack[<Name>Options]``; the options type and the defaults name the same
options; the docstring has one ``:param:`` line per option, each optional one with
``Default:`` matching the real default (aws-cdk enforces the last with a lint rule); the
README's option table and signature list the same options with the same defaults. Then bad
input: an unknown option names the nearest one, and a value of the wrong type for any option
is a FanoutConfigurationError naming it, never another exception.
"""

from __future__ import annotations

import ast
import enum
import importlib
import inspect
import re
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import docs_pages
import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from helpers import Tmpl, new_app

import constructs_lib
from constructs_lib import FanoutConfigurationError, FanoutTopic
from constructs_lib._private.options import Declared

ROOT = Path(__file__).resolve().parents[2]
README = docs_pages.text()
CODE = lambda_.Code.from_inline("def handler(event, context):\n    return {}\n")

CONSTRUCT_MODULES = (
    "consumer_queue",
    "fanout_topic",
    "lambda_consumer",
    "subscribers",
    "worker_pool",
    "push",
    "dashboard",
)


def _declared() -> dict[str, Declared]:
    found: dict[str, Declared] = {}
    for name in CONSTRUCT_MODULES:
        module = importlib.import_module(f"constructs_lib.{name}")
        for value in vars(module).values():
            if isinstance(value, Declared):
                found[value.construct] = value
    return found


DECLARED = _declared()
CONSTRUCTS = sorted(DECLARED)


def _required_keywords(cls: type) -> list[str]:
    """The keyword parameters the constructor declares itself, outside its options (what it
    works on, such as ``QueueWorkerPool``'s ``queue`` or ``queues``: one or the other)."""
    signature = inspect.signature(cls.__init__)  # type: ignore[misc]
    return [
        p.name for p in signature.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]


def _param_docs(cls: type) -> dict[str, str]:
    """``:param name: text`` of the class docstring, each text on one line."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    params: dict[str, str] = {}
    for match in re.finditer(r"^:param (\w+):(.*?)(?=^:param |^\S|\Z)", doc, re.M | re.S):
        params[match.group(1)] = " ".join(match.group(2).split())
    return params


def _rendered(default: Any) -> str | None:
    """How a docstring writes ``default`` after ``Default:``; None when it is described in
    words (None, a generated value)."""
    if default is None:
        return None
    if isinstance(default, bool | int | float):
        return str(default)
    if isinstance(default, Duration):
        return default.to_human_string()
    if isinstance(default, logs.RetentionDays):
        return default.name.lower().replace("_", " ")
    if isinstance(default, enum.Enum):
        return default.name.lower().replace("_", " ")
    if isinstance(default, lambda_.Runtime | lambda_.Architecture):
        return str(default.name)
    if isinstance(default, Sequence) and not isinstance(default, str) and not default:
        return "none"
    return None


def _squeezed(text: str) -> str:
    return re.sub(r"[\s_]", "", text.lower())


def test_every_public_construct_declares_its_options() -> None:
    constructs = {
        name
        for name in constructs_lib.__all__
        if isinstance(getattr(constructs_lib, name), type)
        and getattr(getattr(constructs_lib, name), "node", None) is not None
    }
    assert constructs == set(CONSTRUCTS)


@pytest.mark.parametrize("name", CONSTRUCTS)
def test_the_constructor_takes_the_declared_options(name: str) -> None:
    declared = DECLARED[name]
    cls = getattr(constructs_lib, name)
    parameters = inspect.signature(cls.__init__).parameters
    (variadic,) = [p for p in parameters.values() if p.kind is inspect.Parameter.VAR_KEYWORD]
    assert str(variadic.annotation) == f"Unpack[{declared.options.__name__}]"
    assert getattr(constructs_lib, declared.options.__name__) is declared.options
    assert set(declared.defaults) == set(declared.options.__annotations__)
    assert not set(_required_keywords(cls)) & set(declared.defaults)


def _option_docs(options: type) -> dict[str, str]:
    """``:param:`` lines of the options types of ``options``' module that it extends: their
    keys are among its own (options several constructs share are documented once, where they
    are declared)."""
    module = importlib.import_module(options.__module__)
    keys = set(options.__annotations__)
    docs: dict[str, str] = {}
    for value in vars(module).values():
        shared = getattr(value, "__annotations__", None)
        if value is not options and hasattr(value, "__total__") and shared and set(shared) <= keys:
            docs.update(_param_docs(value))
    return docs


@pytest.mark.parametrize("name", CONSTRUCTS)
def test_each_option_has_a_param_line_with_its_real_default(name: str) -> None:
    declared = DECLARED[name]
    cls = getattr(constructs_lib, name)
    docs = {**_option_docs(declared.options), **_param_docs(cls)}
    assert set(docs) == {*_required_keywords(cls), *declared.defaults}
    for option, default in declared.defaults.items():
        text = docs[option]
        assert "Default:" in text, f"{name}.{option}: no 'Default:' in {text!r}"
        documented = text.split("Default:", 1)[1].strip()
        rendered = _rendered(default)
        if rendered is not None:
            assert _squeezed(documented).startswith(_squeezed(rendered)), (
                f"{name}.{option}: documented default {documented!r}, real {rendered!r}"
            )


def _readme_table(heading: str) -> set[str]:
    """The option names of the first option table after ``heading``."""
    section = README.split(f"\n{heading}\n", 1)[1]
    table = section.split("| option | default | meaning |", 1)[1].split("\n\n", 1)[0]
    names: set[str] = set()
    for row in table.splitlines()[2:]:
        first = row.split("|")[1]
        names.update(re.findall(r"`(\w+)`", first))
    return names


README_TABLES = {
    "FanoutTopic": "# `FanoutTopic`",
    "ConsumerQueue": "# `ConsumerQueue`",
    "LambdaConsumer": "# `LambdaConsumer`",
    "QueueWorkerPool": "# `QueueWorkerPool`",
    "LambdaSubscriber": "## `LambdaSubscriber`",
    "HttpSubscriber": "## `HttpSubscriber`",
    "EmailSubscriber": "## `EmailSubscriber` and `SmsSubscriber`",
    "FirehoseSubscriber": "## `FirehoseSubscriber`",
    "FanoutDashboard": "# A dashboard per fanout",
}
"""Each construct's option table: the first after this heading of its page in docs/."""


@pytest.mark.parametrize("name", sorted(README_TABLES))
def test_the_readme_table_lists_the_declared_options(name: str) -> None:
    declared = DECLARED[name]
    cls = getattr(constructs_lib, name)
    assert _readme_table(README_TABLES[name]) == {*_required_keywords(cls), *declared.defaults}


_SIGNATURE_NAMES = {
    "Duration": Duration,
    "ApnsAuth": getattr(constructs_lib, "ApnsAuth"),  # noqa: B009 - imported on first use
    "logs": logs,
    "lambda_": lambda_,
    "sqs": sqs,
}


def _readme_signature(name: str) -> str:
    """The options of the README's ``Name(scope, id, *, ...)`` (a code block or inline)."""
    match = re.search(rf"{name}\(scope, id, \*, (.*?)\)`?(?::|\n)", README, re.S)
    assert match is not None, f"the README shows no signature of {name}"
    return match.group(1)


README_SIGNATURES = ("ConsumerQueue", "FanoutTopic", "PushPlatformApplication")
"""The constructs whose README section shows the whole signature (the others show an
example and the option table)."""


def _same(documented: Any, real: Any) -> bool:
    if isinstance(real, Duration) and isinstance(documented, Duration):
        return bool(documented.to_seconds() == real.to_seconds())
    return bool(documented == real or documented is real)


@pytest.mark.parametrize("name", README_SIGNATURES)
def test_the_readme_signature_has_the_real_defaults(name: str) -> None:
    signature = _readme_signature(name)
    declared = DECLARED[name]
    cls = getattr(constructs_lib, name)
    written: dict[str, Any] = {}
    for part in re.split(r",\s*(?![^()]*\))", " ".join(signature.split())):
        option, _, default = part.strip().partition("=")
        written[option] = (
            eval(default, dict(_SIGNATURE_NAMES)) if default else inspect.Parameter.empty
        )
    assert set(written) == {*_required_keywords(cls), *declared.defaults}
    for option, default in declared.defaults.items():
        assert _same(written[option], default), f"{name}.{option}: README {written[option]!r}"


# -- bad input -----------------------------------------------------------------------------


def _required(name: str, stack: Stack) -> dict[str, Any]:
    """Valid required options of ``name`` in ``stack``."""
    if name == "FanoutDashboard":
        return {"fanout": FanoutTopic(stack, "RequiredFanout")}
    topic = sns.Topic(stack, "RequiredTopic")
    queue = sqs.Queue(stack, "RequiredQueue", visibility_timeout=Duration.minutes(5))
    secret = secretsmanager.Secret.from_secret_name_v2(stack, "RequiredSecret", "push/apns")
    job = constructs_lib.WorkerJob(
        code_path=str(ROOT / "lambda_src" / "image_thumbnails"), handler="jobs.handler"
    )
    return {
        "ConsumerQueue": {"topic": topic},
        "FanoutTopic": {},
        "LambdaConsumer": {"queue": queue, "code": CODE, "handler": "index.handler"},
        "QueueWorkerPool": {"queue": queue, "workers": constructs_lib.FargateWorkers(job=job)},
        "PushPlatformApplication": {
            "platform": constructs_lib.PushPlatform.APNS,
            "credentials_secret": secret,
        },
        "MobilePush": {"credentials": {constructs_lib.PushPlatform.FCM: secret}},
        "LambdaSubscriber": {
            "topic": topic,
            "function": lambda_.Function.from_function_arn(
                stack, "Function", "arn:aws:lambda:eu-west-1:111111111111:function:audit"
            ),
        },
        "HttpSubscriber": {"topic": topic, "url": "https://hooks.example.com/orders"},
        "EmailSubscriber": {"topic": topic, "address": "oncall@example.com"},
        "SmsSubscriber": {"topic": topic, "phone_number": "+14155550100"},
        "FirehoseSubscriber": {
            "topic": topic,
            "delivery_stream": firehose.DeliveryStream.from_delivery_stream_arn(
                stack, "Stream", "arn:aws:firehose:eu-west-1:111111111111:deliverystream/lake"
            ),
        },
    }[name]


def _build(name: str) -> Callable[..., Any]:
    cls = getattr(constructs_lib, name)

    def build(**options: Any) -> Any:
        stack = Stack(new_app(), "Some")
        return cls(stack, "Subject", **{**_required(name, stack), **options})

    return build


@pytest.mark.parametrize("name", CONSTRUCTS)
def test_an_unknown_option_names_the_nearest_one(name: str) -> None:
    option = sorted(DECLARED[name].defaults)[0]
    typo = option[:-1] + ("x" if option[-1] != "x" else "y")
    with pytest.raises(FanoutConfigurationError, match=rf"{typo}=.*did you mean '{option}'"):
        _build(name)(**{typo: 1})


WRONG_VALUES = [object(), "not-this", 7, ["a", 1]]


@pytest.mark.parametrize(
    ("name", "option"),
    [(name, option) for name in CONSTRUCTS for option in sorted(DECLARED[name].defaults)],
)
def test_a_wrong_type_for_any_option_is_a_configuration_error(name: str, option: str) -> None:
    hint = DECLARED[name].hints[option]
    from constructs_lib._private.options import conforms

    for value in WRONG_VALUES:
        if conforms(value, hint):
            continue
        with pytest.raises(FanoutConfigurationError, match=rf"\b{option}\b"):
            _build(name)(**{option: value})


# -- attributes ----------------------------------------------------------------------------


def _classes() -> dict[str, ast.ClassDef]:
    package = ROOT / "constructs_lib"
    return {
        node.name: node
        for module in CONSTRUCT_MODULES
        for node in ast.parse((package / f"{module}.py").read_text()).body
        if isinstance(node, ast.ClassDef)
    }


def _assigned_attributes(function: ast.FunctionDef, *, declared_only: bool) -> set[str]:
    """Public ``self.<name>`` targets in ``function`` (only annotated ones: ``declared_only``)."""
    names: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.AnnAssign):
            targets: list[ast.expr] = [node.target]
        elif isinstance(node, ast.Assign) and not declared_only:
            targets = [
                e for t in node.targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])
            ]
        else:
            continue
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
                and not target.attr.startswith("_")
            ):
                names.add(target.attr)
    return names


@pytest.mark.parametrize("name", sorted(_classes()))
def test_every_public_attribute_is_declared_with_its_type_in_init(name: str) -> None:
    classes = _classes()
    declared: set[str] = set()
    lineage = [classes[name]]
    while lineage[-1].bases and getattr(lineage[-1].bases[0], "id", None) in classes:
        lineage.append(classes[lineage[-1].bases[0].id])  # type: ignore[attr-defined]
    for cls in lineage:
        for item in cls.body:
            if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                declared |= _assigned_attributes(item, declared_only=True)
    methods = [i for i in classes[name].body if isinstance(i, ast.FunctionDef)]
    elsewhere = {
        attribute: method.name
        for method in methods
        if method.name != "__init__"
        for attribute in _assigned_attributes(method, declared_only=False)
    }
    undeclared = {a: m for a, m in elsewhere.items() if a not in declared}
    assert not undeclared, f"{name}: set outside __init__ without a declaration: {undeclared}"


def _wrong_values(hint: Any) -> list[Any]:
    from constructs_lib._private.options import conforms

    return [value for value in WRONG_VALUES if not conforms(value, hint)]


@pytest.mark.parametrize("name", CONSTRUCTS)
def test_a_wrong_type_for_a_required_option_is_a_configuration_error(name: str) -> None:
    cls = getattr(constructs_lib, name)
    hints = typing.get_type_hints(cls.__init__)
    for option in _required_keywords(cls):
        for value in _wrong_values(hints[option]):
            with pytest.raises(FanoutConfigurationError, match=rf"\b{option}\b"):
                _build(name)(**{option: value})


FANOUT_OPTIONS: dict[str, dict[str, Any]] = {
    "add_queue_consumer": DECLARED["ConsumerQueue"].hints,
    "add_lambda_consumer": {
        **DECLARED["LambdaConsumer"].hints,
        "queue_options": dict[str, Any] | None,
    },
}


@pytest.mark.parametrize(
    ("method", "option"),
    [(method, option) for method, hints in FANOUT_OPTIONS.items() for option in sorted(hints)],
)
def test_a_fanout_passes_wrong_types_on_as_configuration_errors(method: str, option: str) -> None:
    hint = FANOUT_OPTIONS[method][option]
    extra = {"code": CODE, "handler": "index.handler"} if method == "add_lambda_consumer" else {}
    for value in _wrong_values(hint) + ([None] if not _accepts_none(hint) else []):
        fanout = FanoutTopic(Stack(new_app(), "Some"), "Fanout")
        with pytest.raises(FanoutConfigurationError, match=rf"\b{option}\b"):
            getattr(fanout, method)("Consumer", **extra, **{option: value})


def _accepts_none(hint: Any) -> bool:
    from constructs_lib._private.options import conforms

    return conforms(None, hint)


def test_no_construct_code_raises_anything_but_the_configuration_error() -> None:
    """No ``assert`` and no ``raise`` of another exception in the constructs and their
    machinery (the operator command, runtime code and testing harness are not synth code)."""
    package = ROOT / "constructs_lib"
    modules = [
        *(
            package / f"{name}.py"
            for name in (*CONSTRUCT_MODULES, "workers", "errors", "data_protection")
        ),
        *(package / "_private").glob("*.py"),
    ]
    found = []
    for module in modules:
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Assert):
                found.append(f"{module.name}:{node.lineno}: assert")
            elif isinstance(node, ast.Raise) and node.exc is not None:
                raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                name = getattr(raised, "id", getattr(raised, "attr", ""))
                if name not in {"FanoutConfigurationError", "AttributeError"}:
                    found.append(f"{module.name}:{node.lineno}: raise {name}")
    assert found == []


def test_a_users_subclass_with_its_own_parameters_is_checked_like_the_construct() -> None:
    from constructs_lib import ConsumerQueue

    class AuditQueue(ConsumerQueue):
        def __init__(self, scope: Any, id: str, *, source: Any) -> None:
            super().__init__(scope, id, topic=source, max_receive_count=3)

    stack = Stack(new_app(), "Some")
    assert AuditQueue(stack, "Audit", source=sns.Topic(stack, "T")).max_receive_count == 3
    with pytest.raises(FanoutConfigurationError, match=r"topic='arn:.*': expected an sns.ITopic"):
        AuditQueue(stack, "Broken", source="arn:aws:sns:eu-west-1:111111111111:t")


# -- inputs found by review: each class of problem, not one instance -----------------------


def _queue(stack: Stack) -> sqs.Queue:
    return sqs.Queue(stack, "Worked", visibility_timeout=Duration.hours(1))


def _number_token(stack: Stack, name: str = "Number") -> float:
    from aws_cdk import CfnParameter, Token

    return Token.as_number(CfnParameter(stack, name, type="Number").value_as_number)


@pytest.mark.parametrize(
    "build",
    [
        lambda s: constructs_lib.LambdaConsumer(
            s, "L", queue=_queue(s), code=CODE, handler="h.h", batch_size=float("nan")
        ),
        lambda s: constructs_lib.PushPlatformApplication(
            s,
            "P",
            platform=constructs_lib.PushPlatform.APNS,
            credentials_secret=secretsmanager.Secret.from_secret_name_v2(s, "X", "x"),
            success_sample_rate=float("inf"),
        ),
    ],
    ids=["batch_size", "success_sample_rate"],
)
def test_nan_and_infinity_are_refused_without_breaking_the_jsii_runtime(build: Any) -> None:
    with pytest.raises(FanoutConfigurationError, match="must be a finite number"):
        build(Stack(new_app(), "Some"))
    stack = Stack(new_app(), "Later")  # the runtime still answers
    assert constructs_lib.ConsumerQueue(stack, "C", topic=sns.Topic(stack, "T")).queue


def test_a_token_stands_only_for_a_value_of_its_own_kind() -> None:
    from aws_cdk import CfnParameter

    stack = Stack(new_app(), "Some")
    topic = sns.Topic(stack, "T")
    assert constructs_lib.ConsumerQueue(
        stack, "Ok", topic=topic, max_receive_count=_number_token(stack)
    ).queue
    string = CfnParameter(stack, "TextParameter").value_as_string
    with pytest.raises(FanoutConfigurationError, match=r"max_receive_count=.*expected an int"):
        constructs_lib.ConsumerQueue(stack, "Text", topic=topic, max_receive_count=string)
    with pytest.raises(FanoutConfigurationError, match=r"topic_name=.*expected a str"):
        FanoutTopic(stack, "F", topic_name=_number_token(stack, "Name"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"period": Duration.seconds(7)}, r"period=Duration\(7 seconds\): CloudWatch takes"),
        (
            {"period": Duration.seconds(90)},
            r"period=Duration\(1 minute 30 seconds\): CloudWatch takes",
        ),
        ({"period": 60}, r"period=60: expected a Duration"),
        ({"statistic": ""}, r"statistic='': name a statistic"),
        ({"perod": Duration.minutes(5)}, r"perod=.*did you mean 'period'"),
    ],
)
def test_metric_options_cloudwatch_refuses_are_configuration_errors(
    options: dict[str, Any], message: str
) -> None:
    fanout = FanoutTopic(Stack(new_app(), "Some"), "F")
    with pytest.raises(FanoutConfigurationError, match=message):
        fanout.metric_number_of_messages_published(**options)
    assert fanout.metric_number_of_messages_published(period=Duration.seconds(10)).period


@pytest.mark.parametrize(
    ("add", "message"),
    [
        (lambda f, s: f.add_queue_consumer(""), r"id='': a consumer's construct id must not"),
        (lambda f, s: f.add_queue_consumer(None), r"id=None: expected a str"),
        (
            lambda f, s: f.add_queue_consumer("Q", topic=sns.Topic(s, "T")),
            r"topic=.*the fanout subscribes its consumers to its own topic",
        ),
        (
            lambda f, s: f.add_lambda_consumer("Q", code=CODE, handler="h.h", queue=_queue(s)),
            r"queue=.*the fanout creates the consumer's queue",
        ),
        (
            lambda f, s: f.add_lambda_consumer("Q", code=CODE, handler="h.h", queue_options="x"),
            r"queue_options='x': expected a dict of ConsumerQueue options",
        ),
    ],
)
def test_what_only_the_fanout_sets_is_checked_by_its_methods(add: Any, message: str) -> None:
    stack = Stack(new_app(), "Some")
    with pytest.raises(FanoutConfigurationError, match=message):
        add(FanoutTopic(stack, "F"), stack)


def test_a_read_only_mapping_reaches_aws_cdk_as_a_dict() -> None:
    from types import MappingProxyType

    stack = Stack(new_app(), "Some")
    policy = MappingProxyType({"kind": sns.SubscriptionFilter.string_filter(allowlist=["a"])})
    consumer = constructs_lib.ConsumerQueue(
        stack, "C", topic=sns.Topic(stack, "T"), filter_policy=policy
    )
    assert Tmpl(stack).props(consumer.subscription)["FilterPolicy"] == {"kind": ["a"]}


def test_a_removed_option_says_what_to_do_instead() -> None:
    stack = Stack(new_app(), "Some")
    with pytest.raises(FanoutConfigurationError, match=r"per_queue_alarms=False: is no longer"):
        constructs_lib.ConsumerQueue(
            stack, "C", topic=sns.Topic(stack, "T"), per_queue_alarms=False
        )  # type: ignore[call-arg]


def test_a_deploy_time_timeout_warns_that_the_visibility_timeout_cannot_be_checked() -> None:
    from aws_cdk import assertions

    stack = Stack(new_app(), "Some")
    FanoutTopic(stack, "F").add_lambda_consumer(
        "Q", code=CODE, handler="h.h", timeout=Duration.seconds(_number_token(stack))
    )
    assertions.Annotations.from_stack(stack).has_warning(
        "/Some/F/Q/Handler",
        assertions.Match.string_like_regexp("known only at deploy time.*queue_options"),
    )
