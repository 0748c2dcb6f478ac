"""The library's cdk-nag acknowledgments match in any environment, another partition too.

cdk-nag names a finding after the resolved value: ``arn:<AWS::Partition>:...`` in an
environment-agnostic stack, ``arn:aws-cn:ecs:cn-north-1:...`` in a stack pinned to a China
region. The reference stacks are checked agnostic and pinned to eu-west-1 (test_app.py), a
user's app pinned to eu-west-1 from the installed wheel (test_user_app.py); this is the other
partition, with the constructs whose policies hold wildcards for ids AWS assigns later.
"""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import Duration, Environment, Stack, Validations
from aws_cdk import aws_secretsmanager as secretsmanager
from cdk_nag import AwsSolutionsChecks
from helpers import new_app

from constructs_lib import (
    Ec2Workers,
    FanoutTopic,
    FargateWorkers,
    MobilePush,
    PushPlatform,
    QueueWorkerPool,
    WorkerJob,
)

CHINA = Environment(account="123456789012", region="cn-north-1")


def test_a_stack_pinned_to_another_partition_passes_cdk_nag(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "work.py").write_text("def handler(body):\n    return None\n")
    app = new_app(outdir=str(tmp_path / "cdk.out"))
    stack = Stack(app, "China", env=CHINA)
    work = FanoutTopic(stack, "Work")
    job = WorkerJob(code_path=str(jobs), handler="work.handler")
    zones = ["cn-north-1a", "cn-north-1b"]
    for name, workers in (("Tasks", FargateWorkers(job=job)), ("Instances", Ec2Workers(job=job))):
        QueueWorkerPool(
            stack,
            name,
            queue=work.add_queue_consumer(name, visibility_timeout=Duration.minutes(2)),
            workers=workers,
            target_backlog_per_worker=10,
            availability_zones=zones,
        )
    MobilePush(
        stack,
        "Push",
        credentials={
            PushPlatform.FCM: secretsmanager.Secret.from_secret_name_v2(stack, "Fcm", "push/fcm")
        },
        delivery_status_logging=True,
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))

    app.synth()  # raises ValidationFailed on any unacknowledged finding

    report = json.loads((tmp_path / "cdk.out" / "validation-report.json").read_text())
    assert [r["conclusion"] for r in report["pluginReports"]] == ["success"] * len(
        report["pluginReports"]
    )
    template = json.loads((tmp_path / "cdk.out" / "China.template.json").read_text())
    assert "arn:aws-cn:" in json.dumps(template)  # the partition really is literal here
