"""QueueWorkerPool in a stack pinned to an account and region: no context lookup (which needs
AWS credentials) unless the user's own choices need one, and a clear error where it would."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aws_cdk import Duration, Environment, Stack
from helpers import Tmpl, new_app

from constructs_lib import (
    Ec2Workers,
    FanoutConfigurationError,
    FanoutTopic,
    FargateWorkers,
    QueueWorkerPool,
    WorkerJob,
)

ACCOUNT, REGION = "111111111111", "eu-west-1"
PINNED = Environment(account=ACCOUNT, region=REGION)
CONTEXT_KEY = f"availability-zones:account={ACCOUNT}:region={REGION}"


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> WorkerJob:
    folder = tmp_path_factory.mktemp("job")
    (folder / "jobs.py").write_text("def handler(body):\n    return None\n")
    return WorkerJob(code_path=str(folder), handler="jobs.handler")


def _pool(stack: Stack, workers: Ec2Workers | FargateWorkers, **options: Any) -> QueueWorkerPool:
    queue = FanoutTopic(stack, "Jobs").add_queue_consumer(
        "Thumbnails", visibility_timeout=Duration.minutes(2)
    )
    return QueueWorkerPool(
        stack, "Pool", queue=queue, workers=workers, target_backlog_per_worker=10, **options
    )


def _missing(stack: Stack) -> list[dict[str, Any]]:
    """The context lookups the CLI would have to make (with credentials) for this app."""
    assembly = stack.node.root.synth()  # type: ignore[attr-defined]
    manifest = json.loads((Path(assembly.directory) / "manifest.json").read_text())
    return list(manifest.get("missing", []))


def _zones_of_subnets(t: Tmpl, subnet_refs: list[Any]) -> list[Any]:
    return [t.resources[ref["Ref"]]["Properties"]["AvailabilityZone"] for ref in subnet_refs]


@pytest.fixture(scope="module")
def ec2_zoned(job: WorkerJob) -> SimpleNamespace:
    stack = Stack(new_app(), "Zoned", env=PINNED)
    pool = _pool(stack, Ec2Workers(job=job), availability_zones=["eu-west-1a", "eu-west-1c"])
    return SimpleNamespace(t=Tmpl(stack), pool=pool, missing=_missing(stack))


def test_pinned_stack_with_zones_synthesizes_without_any_lookup(
    ec2_zoned: SimpleNamespace,
) -> None:
    # Neither the VPC nor the default Amazon Linux 2023 image (an SSM parameter resolved at
    # deploy time) asks for context.
    assert ec2_zoned.missing == []


def test_pinned_stack_with_zones_puts_the_workers_in_those_zones(
    ec2_zoned: SimpleNamespace,
) -> None:
    t, pool = ec2_zoned.t, ec2_zoned.pool
    group = t.props(pool.auto_scaling_group)
    assert _zones_of_subnets(t, group["VPCZoneIdentifier"]) == ["eu-west-1a", "eu-west-1c"]
    # Private subnets: their default route goes to the NAT gateway, not the internet gateway.
    for ref in group["VPCZoneIdentifier"]:
        (association,) = [
            r["Properties"]
            for r in t.of_type("AWS::EC2::SubnetRouteTableAssociation").values()
            if r["Properties"]["SubnetId"] == ref
        ]
        (route,) = [
            r["Properties"]
            for r in t.of_type("AWS::EC2::Route").values()
            if r["Properties"]["RouteTableId"] == association["RouteTableId"]
        ]
        assert "NatGatewayId" in route and "GatewayId" not in route
    (flow_log,) = t.of_type("AWS::EC2::FlowLog").values()
    vpc = pool.node.find_child("Vpc").node.find_child("Resource")
    assert flow_log["Properties"]["ResourceId"] == {"Ref": t.logical_id(vpc)}
    assert flow_log["Properties"]["ResourceType"] == "VPC"


def test_pinned_stack_without_zones_fails_naming_the_lookup_and_the_ways_out(
    job: WorkerJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CDK_DEFAULT_ACCOUNT", raising=False)  # no CLI with credentials
    stack = Stack(new_app(), "Pinned", env=PINNED)
    with pytest.raises(FanoutConfigurationError) as raised:
        _pool(stack, FargateWorkers(job=job))
    message = str(raised.value)
    assert message.startswith("Pinned/Pool: 1 configuration problem")
    assert f"availability zones of account {ACCOUNT} region {REGION}" in message
    assert "availability_zones=['eu-west-1a', 'eu-west-1b']" in message
    assert f'cdk.context.json: {{"{CONTEXT_KEY}": [' in message
    assert f"run `cdk synth` once with credentials for account {ACCOUNT}" in message


def test_under_a_cli_with_credentials_for_the_account_the_zones_are_looked_up(
    job: WorkerJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI sets CDK_DEFAULT_ACCOUNT when it holds credentials: it makes the lookup
    itself (then writes cdk.context.json and synthesizes again), as for any CDK VPC."""
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", ACCOUNT)
    stack = Stack(new_app(), "WithCredentials", env=PINNED)
    _pool(stack, FargateWorkers(job=job))
    assert [m["key"] for m in _missing(stack)] == [CONTEXT_KEY]


def test_credentials_for_another_account_do_not_count(
    job: WorkerJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "999999999999")
    stack = Stack(new_app(), "OtherAccount", env=PINNED)
    with pytest.raises(FanoutConfigurationError, match="availability_zones=None"):
        _pool(stack, FargateWorkers(job=job))


def test_pinned_stack_uses_the_zones_in_cdk_context(job: WorkerJob) -> None:
    app = new_app()
    app.node.set_context(CONTEXT_KEY, ["eu-west-1a", "eu-west-1b", "eu-west-1c"])
    stack = Stack(app, "FromContext", env=PINNED)
    pool = _pool(stack, FargateWorkers(job=job))
    t = Tmpl(stack)
    service = t.props(pool.service)
    subnets = service["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"]
    assert _zones_of_subnets(t, subnets) == ["eu-west-1a", "eu-west-1b"]
    assert _missing(stack) == []


def test_environment_agnostic_stack_needs_no_lookup(job: WorkerJob) -> None:
    stack = Stack(new_app(), "Agnostic")
    pool = _pool(stack, FargateWorkers(job=job))
    t = Tmpl(stack)
    subnets = t.props(pool.service)["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"]
    zones = _zones_of_subnets(t, subnets)
    assert all("Fn::GetAZs" in json.dumps(zone) for zone in zones)
    assert _missing(stack) == []
