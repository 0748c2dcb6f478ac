"""The real CDK CLI against the emulator: `cdk bootstrap`, then the loop a user goes through
(deploy, change the app, `cdk diff`, deploy the update, `cdk destroy`, deploy again), each
deploy checked against its template and exercised by publishing through the fanout.

The app is a user's: its own folder with ``app.py`` and ``cdk.json``, its stack pinned to an
account and region, its consumers counted by a context value (``-c consumers=N``: the change).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import cx_api
from helpers import CONTEXT, ROOT

from constructs_lib.testing import DeployedFanout, DeployedStack, Emulator, EmulatorGap

ACCOUNT = "210987654321"
REGION = "eu-west-1"
APP = f"""
from aws_cdk import App, Environment, Stack
from constructs_lib import FanoutTopic

app = App()
stack = Stack(app, "Loop", env=Environment(account="{ACCOUNT}", region="{REGION}"))
orders = FanoutTopic(stack, "Orders")
for number in range(int(app.node.try_get_context("consumers") or 1)):
    orders.add_queue_consumer(f"Consumer{{number}}")
app.synth()
"""
NODE_BIN = ROOT / "node_modules" / ".bin"


@dataclass
class Loop:
    """What each step of the loop left behind."""

    delivered: dict[str, dict[str, int]] = field(default_factory=dict)
    """Step -> consumer -> messages received after one publish."""
    diff: str = ""
    stacks_after_destroy: list[str] = field(default_factory=list)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Deploy path ("cli", "in process") -> the deployed state of the first step's app."""
    problems: dict[str, str] = field(default_factory=dict)


def _state(deployed: DeployedStack) -> dict[str, Any]:
    """What the scenarios rely on, as the emulator holds it, with names for ARNs and URLs
    (a topic's generated name differs from one deploy to the next; queue names do not)."""
    sqs, sns = deployed.client("sqs"), deployed.client("sns")

    def name(arn_or_url: str) -> str:
        return arn_or_url.rstrip("/").replace("/", ":").rsplit(":", 1)[-1]

    state: dict[str, Any] = {}
    for lid in deployed.of_type("AWS::SQS::Queue"):
        attributes = sqs.get_queue_attributes(
            QueueUrl=deployed.queue_url(lid), AttributeNames=["All"]
        )["Attributes"]
        redrive = json.loads(attributes.get("RedrivePolicy", "{}"))
        state[lid] = {
            "name": name(deployed.queue_url(lid)),
            "visibility": attributes["VisibilityTimeout"],
            "retention": attributes["MessageRetentionPeriod"],
            "dlq": name(redrive.get("deadLetterTargetArn", "")),
            "receives": redrive.get("maxReceiveCount"),
            "encrypted": "KmsMasterKeyId" in attributes,
        }
    for lid in deployed.of_type("AWS::SNS::Subscription"):
        attributes = sns.get_subscription_attributes(SubscriptionArn=deployed.physical_id(lid))[
            "Attributes"
        ]
        state[lid] = {
            "endpoint": name(attributes["Endpoint"]),
            "raw": attributes.get("RawMessageDelivery"),
            "dlq": name(
                json.loads(attributes.get("RedrivePolicy", "{}")).get("deadLetterTargetArn", "")
            ),
        }
    return state


def _publish_once(emulator: Emulator, outdir: Path) -> dict[str, int]:
    stack = cx_api.CloudAssembly(str(outdir)).get_stack_by_name("Loop")
    fanout = DeployedFanout(emulator.deployed(stack), "Loop/Orders")
    fanout.publish({"order": "o-1"})
    return {name: len(fanout.receive_all(c.queue_url)) for name, c in fanout.consumers.items()}


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: Any) -> Loop:
    if not (NODE_BIN / "cdk").exists():
        pytest.fail("node_modules is missing: run through `make test`, which installs it")
    monkeypatch_module.setenv(
        "PATH", f"{NODE_BIN}:{Path(sys.executable).parent}:" + __import__("os").environ["PATH"]
    )
    app_dir = tmp_path_factory.mktemp("loop-app")
    (app_dir / "app.py").write_text(APP)
    (app_dir / "cdk.json").write_text(
        json.dumps({"app": f"{sys.executable} app.py", "context": CONTEXT})
    )
    result = Loop()
    with Emulator(region=REGION, account=ACCOUNT) as emulator:
        emulator.cdk("bootstrap", f"aws://{ACCOUNT}/{REGION}", cwd=app_dir)

        def deploy(step: str, *app: str) -> None:
            """``cdk deploy`` of the app (synthesized by the CLI), or of an assembly synthesized
            before (``--app <cdk.out>``, as a pipeline deploys what it built once)."""
            outdir = app_dir / f"cdk.out.{step}"
            emulator.cdk(
                "deploy",
                "Loop",
                "--require-approval",
                "never",
                *(app or ("-c", "consumers=1", "--output", str(outdir))),
                cwd=app_dir,
            )
            try:
                result.delivered[step] = _publish_once(emulator, Path(app[1]) if app else outdir)
            except EmulatorGap as gap:
                result.problems[step] = str(gap)

        deploy("first")
        first = cx_api.CloudAssembly(str(app_dir / "cdk.out.first")).get_stack_by_name("Loop")
        result.states["cli"] = _state(emulator.deployed(first))
        update = app_dir / "cdk.out.update"
        emulator.cdk("synth", "-c", "consumers=2", "--output", str(update), "--quiet", cwd=app_dir)
        diff = emulator.cdk("diff", "Loop", "--app", str(update), cwd=app_dir)
        result.diff = diff.stdout + diff.stderr
        deploy("update", "--app", str(update))
        emulator.cdk(
            "destroy", "Loop", "--force", "--app", str(app_dir / "cdk.out.first"), cwd=app_dir
        )
        result.stacks_after_destroy = [
            s["StackName"] for s in emulator.client("cloudformation").describe_stacks()["Stacks"]
        ]
        deploy("again", "--app", str(app_dir / "cdk.out.first"))
    with Emulator(region=REGION, account=ACCOUNT) as emulator:
        emulator.bootstrap()
        result.states["in process"] = _state(emulator.deploy(first))
    return result


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_first_cdk_deploy_delivers_to_its_consumer(loop: Loop) -> None:
    assert loop.problems.get("first") is None
    assert loop.delivered["first"] == {"Consumer0": 1}


def test_cdk_diff_shows_the_change_through_a_change_set(loop: Loop) -> None:
    assert "Consumer1" in loop.diff
    assert "Number of stacks with differences: 1" in loop.diff


def test_the_update_deploys_the_new_consumer_and_keeps_the_old_one(loop: Loop) -> None:
    assert loop.problems.get("update") is None
    assert loop.delivered["update"] == {"Consumer0": 1, "Consumer1": 1}


def test_cdk_destroy_removes_the_stack_and_a_new_deploy_works(loop: Loop) -> None:
    assert "Loop" not in loop.stacks_after_destroy
    assert loop.problems.get("again") is None
    assert loop.delivered["again"] == {"Consumer0": 1}


def test_the_cli_and_the_in_process_deploy_end_in_the_same_state(loop: Loop) -> None:
    assert loop.states["cli"]
    assert loop.states["cli"] == loop.states["in process"]
