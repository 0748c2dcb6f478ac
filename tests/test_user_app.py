"""A new user's app, as the trial of the library did it: the wheel installed into a fresh
virtualenv outside the repository, stacks pinned to an account and region, every public
construct, cdk-nag (AwsSolutions) and cfn-lint, and the same asset hashes from two installs.

The app writes no cdk-nag acknowledgment of its own: whatever the library needs to pass the
pack, it must do itself, in any environment.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import cfn_lint
from installed_wheel import install, installed_package, outside_repository, run_app

ACCOUNT = "123456789012"
REGION = "eu-west-1"

APP = f'''
import json
import os

from aws_cdk import App, Duration, Environment, Stack, Validations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from cdk_nag import AwsSolutionsChecks

from constructs_lib import (
    ConsumerQueue,
    Ec2Workers,
    FanoutTopic,
    FargateWorkers,
    HttpSubscriber,
    LambdaConsumer,
    MobilePush,
    PushPlatform,
    QueueWorkerPool,
    WorkerJob,
)

ENV = Environment(account="{ACCOUNT}", region="{REGION}")
ZONES = ["{REGION}a", "{REGION}b"]

app = App(outdir="cdk.out")

shop = Stack(app, "Shop", env=ENV)
ops = FanoutTopic(shop, "Ops", display_name="Operations alarms")
orders = FanoutTopic(shop, "Orders", topic_name="orders", alarm_topic=ops.topic)
orders.add_queue_consumer(
    "Billing",
    filter_policy={{"kind": sns.SubscriptionFilter.string_filter(allowlist=["order"])}},
)
orders.add_queue_consumer("Analytics", raw_message_delivery=True)
orders.add_lambda_consumer(
    "Invoices",
    code=lambda_.Code.from_asset("handlers/invoices"),
    handler="handler.handler",
    timeout=Duration.seconds(20),
)
orders.add_http_subscriber("Partner", url="https://partner.example.com/orders")
orders.add_lambda_subscriber(
    "Audit",
    function=lambda_.Function.from_function_arn(
        shop, "AuditFunction", "arn:aws:lambda:{REGION}:{ACCOUNT}:function:audit"
    ),
)
ops.add_email_subscriber("OnCall", address="oncall@example.com")
refunds = FanoutTopic(shop, "Refunds", fifo=True, alarm_topic=ops.topic)
refunds.add_queue_consumer("Ledger")
work = FanoutTopic(shop, "Work", alarm_topic=ops.topic)
resize = work.add_queue_consumer("Resize", visibility_timeout=Duration.minutes(2))
reports = work.add_queue_consumer("Reports", visibility_timeout=Duration.minutes(2))
bulk_reports = work.add_queue_consumer("BulkReports", visibility_timeout=Duration.minutes(2))
QueueWorkerPool(
    shop,
    "Resizers",
    queue=resize,
    workers=FargateWorkers(job=WorkerJob(code_path="jobs", handler="resize.handler")),
    acceptable_latency=Duration.minutes(2),
    processing_time_per_message=Duration.seconds(1),
    availability_zones=ZONES,
    alarm_topic=ops.topic,
)
QueueWorkerPool(
    shop,
    "Reporters",
    queues=[reports, bulk_reports],  # highest priority first
    workers=Ec2Workers(job=WorkerJob(code_path="jobs", handler="resize.handler")),
    target_backlog_per_worker=50,
    availability_zones=ZONES,
    alarm_topic=ops.topic,
)
MobilePush(
    shop,
    "Push",
    credentials={{
        PushPlatform.APNS: secretsmanager.Secret.from_secret_complete_arn(
            shop, "Apns", "arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:push/apns-AbCdEf"
        ),
        PushPlatform.FCM: secretsmanager.Secret.from_secret_complete_arn(
            shop, "Fcm", "arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:push/fcm-AbCdEf"
        ),
    }},
    segments=["beta"],
    delivery_status_logging=True,
    success_sample_rate=10,
    alarm_topic=ops.topic,
)

# Another team's stack: a consumer of the orders topic, imported by its ARN.
team = Stack(app, "Fraud", env=ENV)
imported = sns.Topic.from_topic_arn(team, "Orders", "arn:aws:sns:{REGION}:{ACCOUNT}:orders")
fraud = ConsumerQueue(team, "Fraud", topic=imported)
HttpSubscriber(team, "Webhook", topic=imported, url="https://hooks.example.com/orders")
LambdaConsumer(
    team,
    "Scorer",
    queue=ConsumerQueue(team, "Scores", topic=imported, visibility_timeout=Duration.minutes(3)),
    code=lambda_.Code.from_asset("handlers/invoices"),
    handler="handler.handler",
)

Validations.of(app).add_plugins(AwsSolutionsChecks(app))
try:
    assembly = app.synth()
    failed = None
except Exception as error:  # cdk-nag: ValidationFailed, with the report in cdk.out
    assembly = None
    failed = str(error)
def read(name):
    path = os.path.join("cdk.out", name)
    return json.load(open(path)) if os.path.exists(path) else None


print(json.dumps({{
    "failed": failed,
    "report": read("validation-report.json"),
    "missing_context": [m["key"] for m in (read("manifest.json") or {{}}).get("missing", [])],
}}))
'''

INVOICES_HANDLER = """
def handler(event, context):
    return {"batchItemFailures": []}
"""

RESIZE_JOB = """
import json


def handler(body):
    job = json.loads(body)
    return {"job_id": job["id"]}
"""


@pytest.fixture(scope="module")
def synthesized(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The app synthesized from each of two installs of the same wheel (what it printed,
    the install's runtime folder and the assembly folder)."""
    runs = []
    for name in ("laptop", "ci"):
        python = install(wheel, tmp_path_factory.mktemp(f"{name}-venv"))
        app_dir = outside_repository(tmp_path_factory.mktemp(f"{name}-app"))
        (app_dir / "handlers" / "invoices").mkdir(parents=True)
        (app_dir / "handlers" / "invoices" / "handler.py").write_text(INVOICES_HANDLER)
        (app_dir / "jobs").mkdir()
        (app_dir / "jobs" / "resize.py").write_text(RESIZE_JOB)
        (app_dir / "app.py").write_text(APP)
        printed = run_app(python, app_dir)
        printed["runtime"] = installed_package(python) / "runtime"
        printed["outdir"] = app_dir / "cdk.out"
        runs.append(printed)
        time.sleep(1.1)  # the second install's byte-code carries another timestamp
    return runs


def _findings(report: dict[str, Any] | None) -> list[str]:
    if report is None:
        return []
    return [
        f"{violation['ruleName']} on {resource['resource']}"
        for plugin in report["pluginReports"]
        for violation in plugin.get("violations", [])
        for resource in violation.get("violatingResources", [])
    ]


def test_pinned_app_passes_cdk_nag_without_acknowledgments_of_its_own(
    synthesized: list[dict[str, Any]],
) -> None:
    first = synthesized[0]
    assert _findings(first["report"]) == []
    assert first["failed"] is None
    assert all(p["conclusion"] == "success" for p in first["report"]["pluginReports"])
    assert "acknowledge" not in APP.lower()


def test_pinned_app_needs_no_context_lookup(synthesized: list[dict[str, Any]]) -> None:
    """What would need AWS credentials at `cdk synth` (availability zones, say) is absent."""
    assert synthesized[0]["missing_context"] == []


def _templates(outdir: Path) -> list[Path]:
    return sorted(outdir.glob("*.template.json"))


def test_pinned_app_passes_cfn_lint(synthesized: list[dict[str, Any]]) -> None:
    templates = _templates(synthesized[0]["outdir"])
    assert {t.name.split(".")[0] for t in templates} >= {"Shop", "Fraud"}
    assert cfn_lint(templates) == (0, "", "")


def test_pinned_app_subscribes_every_kind_of_subscriber(
    synthesized: list[dict[str, Any]],
) -> None:
    protocols = {
        (template.name.split(".")[0], resource["Properties"]["Protocol"])
        for template in _templates(synthesized[0]["outdir"])
        for resource in json.loads(template.read_text())["Resources"].values()
        if resource["Type"] == "AWS::SNS::Subscription"
    }
    assert {("Shop", p) for p in ("sqs", "https", "lambda", "email")} <= protocols
    assert ("Fraud", "https") in protocols


def _asset_hashes(outdir: Path) -> dict[str, str]:
    """Asset id -> its source hash, over every stack's asset manifest."""
    hashes = {}
    for manifest in outdir.glob("*.assets.json"):
        document = json.loads(manifest.read_text())
        for kind in ("files", "dockerImages"):
            for asset_id, asset in document.get(kind, {}).items():
                hashes[f"{kind}:{asset_id}"] = asset["source"].get("path", asset_id)
    return hashes


def test_both_installs_byte_compiled_the_runtime_differently(
    synthesized: list[dict[str, Any]],
) -> None:
    """The premise of the next test: pip wrote each install's .pyc files with its own time."""
    compiled = [
        {p.relative_to(run["runtime"]): p.read_bytes() for p in run["runtime"].rglob("*.pyc")}
        for run in synthesized
    ]
    assert compiled[0], "pip byte-compiles the installed runtime folders"
    assert compiled[0].keys() == compiled[1].keys()
    assert any(compiled[0][name] != compiled[1][name] for name in compiled[0])


def test_two_installs_of_the_wheel_give_identical_asset_hashes(
    synthesized: list[dict[str, Any]],
) -> None:
    laptop, ci = (_asset_hashes(run["outdir"]) for run in synthesized)
    assert len(laptop) >= 6  # push handlers, feedback, the worker image and bundle, the app's own
    assert laptop == ci
    for run in synthesized:
        staged = [p for p in run["outdir"].glob("asset.*/**/*") if "__pycache__" in p.parts]
        assert staged == [], "no byte-compiled file goes into an asset"
