"""Shared test helpers: apps built with the project's feature flags, template navigation."""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from aws_cdk import App, Stack, assertions
from botocore.exceptions import ClientError
from moto import mock_aws

from constructs_lib.testing import DeployedStack, cli_app, running_emulator
from constructs_lib.testing.lambda_service import CurrentStdout

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_STACKS = [
    "ImageProcessing",
    "LedgerFanout",
    "OrderFanout",
    "OrdersPrimary",
    "OrdersRecovery",
    "PushNotifications",
]
"""The stacks app.py synthesizes, sorted by name."""
CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]


def new_app(*, context: Mapping[str, Any] | None = None, **kwargs: Any) -> App:
    """An App with the feature flags from cdk.json (plus ``context``), as `cdk synth` would
    run it."""
    return App(context={**CONTEXT, **(context or {})}, **kwargs)


def project_app(outdir: str | Path) -> App:
    """An App as `cdk synth` runs this project's app.py: the context of its cdk.json, written
    to ``outdir``."""
    return cli_app(outdir, cdk_json=ROOT / "cdk.json")


@contextlib.contextmanager
def deployed_on_emulator(
    outdir: str | Path, stack: Callable[[App, str], object], name: str
) -> Iterator[DeployedStack]:
    """The stack ``stack(app, name)`` makes, synthesized as `cdk synth` does and deployed to
    an emulator of its own, which runs until the block ends."""
    app = project_app(outdir)
    stack(app, name)
    assembly = app.synth()
    with running_emulator() as emulator:
        yield emulator.deploy(assembly.get_stack_by_name(name))


class Tmpl:
    """A synthesized template plus helpers that follow references between resources."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.template = assertions.Template.from_stack(stack)
        self.json: dict[str, Any] = self.template.to_json()
        self.resources: dict[str, Any] = self.json["Resources"]

    def logical_id(self, construct: Any) -> str:
        """Logical id of an L2 construct's CloudFormation resource (or of an L1)."""
        child = getattr(construct.node, "default_child", None) or construct
        return self.stack.resolve(child.logical_id) if hasattr(child, "logical_id") else ""

    def props(self, construct_or_id: Any) -> dict[str, Any]:
        lid = (
            construct_or_id
            if isinstance(construct_or_id, str)
            else self.logical_id(construct_or_id)
        )
        return self.resources[lid].get("Properties", {})

    def of_type(self, cfn_type: str) -> dict[str, Any]:
        return {k: v for k, v in self.resources.items() if v["Type"] == cfn_type}

    def policies_of_queue(self, queue_lid: str) -> list[dict[str, Any]]:
        """Statements of every AWS::SQS::QueuePolicy attached to the queue."""
        statements = []
        for policy in self.of_type("AWS::SQS::QueuePolicy").values():
            if {"Ref": queue_lid} in policy["Properties"]["Queues"]:
                statements += policy["Properties"]["PolicyDocument"]["Statement"]
        return statements

    def arn_of(self, construct: Any) -> dict[str, Any]:
        """``Fn::GetAtt [<logical id>, Arn]`` of ``construct``, as the template references it."""
        return {"Fn::GetAtt": [self.logical_id(construct), "Arn"]}

    def role_statements(self, role: Any) -> list[dict[str, Any]]:
        """Statements of every AWS::IAM::Policy attached to ``role`` (a construct or a
        logical id)."""
        role_lid = role if isinstance(role, str) else self.logical_id(role)
        return self._statements("AWS::IAM::Policy", "Roles", role_lid)

    def actions_on(self, role: Any, resource: Any) -> list[str]:
        """The actions ``role``'s policies allow on ``resource`` (a construct whose ARN they
        name)."""
        arn = self.arn_of(resource)
        actions: list[str] = []
        for statement in self.role_statements(role):
            if statement["Resource"] == arn:
                action = statement["Action"]
                actions += [action] if isinstance(action, str) else action
        return actions

    def topic_policy_statements(self, topic_lid: str) -> list[dict[str, Any]]:
        """Statements of every AWS::SNS::TopicPolicy attached to the topic."""
        return self._statements("AWS::SNS::TopicPolicy", "Topics", topic_lid)

    def _statements(self, cfn_type: str, attached_to: str, lid: str) -> list[dict[str, Any]]:
        return [
            statement
            for policy in self.of_type(cfn_type).values()
            if {"Ref": lid} in policy["Properties"][attached_to]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]

    def key_of_queue(self, queue_lid: str) -> str:
        """Logical id of the KMS key that encrypts the queue."""
        key_ref = self.resources[queue_lid]["Properties"]["KmsMasterKeyId"]
        return key_ref["Fn::GetAtt"][0]


def alarm_query(alarm_props: dict[str, Any]) -> str:
    """The Metrics Insights query of an alarm on one (``ReturnData``) query, as a string."""
    (query,) = [m for m in alarm_props["Metrics"] if m.get("ReturnData", True)]
    expression = query["Expression"]
    assert isinstance(expression, str), f"expected a literal query, got {expression}"
    return expression


def queues_in_query(query: str) -> set[str]:
    """The queue names a ``WHERE QueueName = '...' OR ...`` query selects."""
    where = query.split(" WHERE ", 1)[1].split(" GROUP BY ", 1)[0]
    names = set()
    for term in where.split(" OR "):
        key, value = term.split(" = ")
        assert key == "QueueName", term
        names.add(value.strip("'"))
    return names


def ref_or_arn(lid: str) -> list[dict[str, Any]]:
    """The forms a template uses to reference a resource's ARN."""
    return [{"Ref": lid}, {"Fn::GetAtt": [lid, "Arn"]}]


UNSET_FOR_EMULATION = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "LOG_LEVEL", "POWERTOOLS_LOG_LEVEL")


@contextlib.contextmanager
def emulated_aws(
    region: str, *, environment: Mapping[str, str] | None = None, unset: Sequence[str] = ()
) -> Iterator[None]:
    """moto in process with fake credentials: nothing reaches AWS.

    Clears the variables that would point clients elsewhere or change handler logging, sets
    ``region`` and then ``environment`` (what the CDK stack would set for the function).
    """
    with pytest.MonkeyPatch.context() as env:
        for name in (*UNSET_FOR_EMULATION, *unset):
            env.delenv(name, raising=False)
        env.setenv("AWS_DEFAULT_REGION", region)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        for name, value in (environment or {}).items():
            env.setenv(name, value)
        with mock_aws():
            yield


def import_from(folder: Path, name: str) -> ModuleType:
    """Module ``name`` of an asset folder, imported as Lambda (or the worker) imports it: with
    the folder first on ``sys.path``, and not a copy imported before."""
    sys.modules.pop(name, None)
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(folder))


@contextlib.contextmanager
def powertools_handler(
    folder: Path, service: str, environment: Mapping[str, str]
) -> Iterator[ModuleType]:
    """The ``handler`` module of a function folder whose Powertools logger and settings are
    made at import, as in Lambda: imported with ``environment`` and the service name set, then
    removed from ``sys.modules``. Its log handler keeps the stream that was stdout at import,
    so it is pointed at whatever stdout is when a line is written (capsys sees the logs)."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in {**environment, "POWERTOOLS_SERVICE_NAME": service}.items():
            env.setenv(name, value)
        try:
            module = import_from(folder, "handler")
        finally:
            sys.modules.pop("handler", None)
    module.logger.registered_handler.setStream(CurrentStdout())
    yield module
    # Powertools configures the logger named after the service once per process.
    logging.Logger.manager.loggerDict.pop(service, None)


@dataclass
class PushTopics:
    """An emulated account's SNS client, and a MobilePush's broadcast and segment topics."""

    sns: Any
    broadcast_topic_arn: str
    segment_topics: dict[str, str]

    @staticmethod
    def create(sns: Any, segments: Sequence[str] = ("news", "offers")) -> dict[str, Any]:
        """The topics, made in the account: ``Push(**PushTopics.create(sns), ...)``."""
        return {
            "sns": sns,
            "broadcast_topic_arn": sns.create_topic(Name="broadcast")["TopicArn"],
            "segment_topics": {
                name: sns.create_topic(Name=f"segment-{name}")["TopicArn"] for name in segments
            },
        }

    def subscriptions(self, endpoint_arn: str) -> list[str]:
        """Topic ARNs of every subscription delivering to the endpoint, one per subscription."""
        topics = []
        for topic_arn in [self.broadcast_topic_arn, *self.segment_topics.values()]:
            paginator = self.sns.get_paginator("list_subscriptions_by_topic")
            for page in paginator.paginate(TopicArn=topic_arn):
                topics += [
                    topic_arn
                    for subscription in page["Subscriptions"]
                    if subscription["Endpoint"] == endpoint_arn
                ]
        return topics


def refusing_client(method: str, code: str, message: str) -> Callable[[], Any]:
    """A stand-in for a function that makes a boto3 client: the client's ``method`` fails
    with the ``ClientError`` AWS answers (``code``, ``message``)."""
    operation = "".join(part.title() for part in method.split("_"))

    def refuse(**_: object) -> None:
        raise ClientError({"Error": {"Code": code, "Message": message}}, operation)

    return lambda: SimpleNamespace(**{method: refuse})


def cfn_lint(templates: Sequence[str | Path]) -> tuple[int, str, str]:
    """cfn-lint (from this virtualenv) over ``templates``: exit code, stdout, stderr."""
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("cfn-lint")),
            "--format",
            "parseable",
            *map(str, templates),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, result.stdout, result.stderr


def nag_checked_app(outdir: Path) -> App:
    """An app like :func:`new_app` writing to ``outdir``, whose synth runs cdk-nag's
    AwsSolutions checks and raises on any unacknowledged finding."""
    from aws_cdk import Validations
    from cdk_nag import AwsSolutionsChecks

    app = new_app(outdir=str(outdir))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def linted_and_nagged(outdir: Path) -> list[str]:
    """What cfn-lint finds in the templates of ``outdir`` and the cdk-nag plugin reports that
    did not succeed there (after :func:`nag_checked_app`'s synth): empty when both are clean."""
    code, out, err = cfn_lint(sorted(outdir.glob("*.template.json")))
    report = json.loads((outdir / "validation-report.json").read_text())
    failed = [r for r in report["pluginReports"] if r["conclusion"] != "success"]
    problems = [f"cfn-lint exit {code}: {out}{err}"] if code else []
    if failed:
        problems.append(f"cdk-nag: {json.dumps(failed)}")
    return problems


def wait_for(condition: Callable[[], Any], timeout: float = 20) -> Any:
    """``condition()``'s first truthy value, polled every 50 ms; fails after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")
