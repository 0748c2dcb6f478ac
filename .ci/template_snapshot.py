"""Write every template the library produces for a fixed set of apps into one folder.

For refactors that must not move users' stacks: snapshot before, snapshot after, and
``diff -r`` the two folders (no output means byte-identical templates).

    python .ci/template_snapshot.py /tmp/before
    # ... change the code ...
    python .ci/template_snapshot.py /tmp/after && diff -r /tmp/before /tmp/after

The apps: every reference stack, account-agnostic and pinned to an account and region, and a
"variety" app that uses every public construct with options away from their defaults
(FIFO fanout with an archive, a fanout large enough to open nested consumer stacks, own
dead-letter queues, EC2 and Fargate worker pools, push with delivery status logging).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ACCOUNT = "123456789012"
REGION = "eu-west-1"


def _context() -> dict[str, object]:
    context: dict[str, object] = dict(json.loads((ROOT / "cdk.json").read_text())["context"])
    return context


def _reference(outdir: Path, *, pinned: bool) -> None:
    from aws_cdk import App

    from stacks import add_reference_stacks

    context = _context()
    if pinned:  # the zones a lookup would have saved in cdk.context.json
        context[f"availability-zones:account={ACCOUNT}:region={REGION}"] = [
            f"{REGION}{zone}" for zone in "abc"
        ]
    app = App(outdir=str(outdir), context=context)
    if pinned:
        add_reference_stacks(app, account=ACCOUNT, region=REGION)
    else:
        add_reference_stacks(app)
    app.synth()


def _variety(outdir: Path, work: Path) -> None:
    from aws_cdk import App, Duration, Environment, Stack
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_secretsmanager as secretsmanager
    from aws_cdk import aws_sns as sns
    from aws_cdk import aws_sqs as sqs

    import constructs_lib as lib

    handlers = work / "handlers"
    handlers.mkdir()
    (handlers / "handler.py").write_text("def handler(event, context):\n    return {}\n")
    jobs = work / "jobs"
    jobs.mkdir()
    (jobs / "resize.py").write_text("def handler(body):\n    return None\n")

    def code() -> lambda_.Code:  # one Code per stack, as CDK requires
        return lambda_.Code.from_asset(str(handlers))

    job = lib.WorkerJob(code_path=str(jobs), handler="resize.handler")

    env = Environment(account=ACCOUNT, region=REGION)
    zones = [f"{REGION}a", f"{REGION}b"]
    app = App(outdir=str(outdir), context=_context())

    shop = Stack(app, "Shop", env=env)
    ops = lib.FanoutTopic(shop, "Ops", display_name="Operations alarms")
    orders = lib.FanoutTopic(shop, "Orders", topic_name="orders", alarm_topic=ops.topic)
    orders.add_queue_consumer(
        "Billing",
        filter_policy={"kind": sns.SubscriptionFilter.string_filter(allowlist=["order"])},
        max_receive_count=3,
        retention_period=Duration.days(2),
        max_message_age=Duration.minutes(30),
    )
    orders.add_queue_consumer("Analytics", raw_message_delivery=True, alarms=False)
    orders.add_lambda_consumer(
        "Invoices",
        code=code(),
        handler="handler.handler",
        timeout=Duration.seconds(20),
        batch_size=100,
        max_batching_window=Duration.seconds(5),
        max_concurrency=5,
        reserved_concurrent_executions=10,
        environment={"TABLE": "invoices"},
    )
    ledger = lib.FanoutTopic(
        shop,
        "Ledger",
        fifo=True,
        content_based_deduplication=True,
        archive_retention_days=7,
        alarm_topic=ops.topic,
    )
    ledger.add_queue_consumer("Balances", queue_name="balances")
    ledger.add_queue_consumer("Audit", fifo=False)
    ledger.add_lambda_consumer("Posting", code=code(), handler="handler.handler", batch_size=5)
    work_topic = lib.FanoutTopic(shop, "Work", alarm_topic=ops.topic)
    resize = work_topic.add_queue_consumer("Resize", visibility_timeout=Duration.minutes(2))
    reports = work_topic.add_queue_consumer("Reports", visibility_timeout=Duration.minutes(2))
    pools = (
        (
            "Resizers",
            resize,
            lib.FargateWorkers(job=job),
            {
                "acceptable_latency": Duration.minutes(2),
                "processing_time_per_message": Duration.seconds(1),
            },
        ),
        (
            "Reporters",
            reports,
            lib.Ec2Workers(job=job),
            {"target_backlog_per_worker": 50, "min_capacity": 1, "max_capacity": 4},
        ),
    )
    for pool_id, queue, workers, sizing in pools:
        lib.QueueWorkerPool(
            shop,
            pool_id,
            queue=queue,
            workers=workers,
            availability_zones=zones,
            alarm_topic=ops.topic,
            **sizing,
        )
    secret = secretsmanager.Secret.from_secret_complete_arn(
        shop, "Apns", f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:push/apns-AbCdEf"
    )
    lib.MobilePush(
        shop,
        "Push",
        credentials={
            lib.PushPlatform.APNS: secret,
            lib.PushPlatform.FCM: secretsmanager.Secret.from_secret_complete_arn(
                shop, "Fcm", f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:push/fcm-AbCdEf"
            ),
        },
        segments=["beta", "news"],
        delivery_status_logging=True,
        success_sample_rate=10,
        alarm_topic=ops.topic,
    )
    lib.PushPlatformApplication(
        shop,
        "Sandbox",
        platform=lib.PushPlatform.APNS_SANDBOX,
        credentials_secret=secret,
        application_name="sandbox-app",
        credentials_version="v2",
    )

    big = Stack(app, "Big", env=env)
    many = lib.FanoutTopic(big, "Many")
    for number in range(70):
        many.add_queue_consumer(f"Consumer{number}")
    for number in range(3):
        many.add_lambda_consumer(f"Function{number}", code=code(), handler="handler.handler")

    team = Stack(app, "Team", env=env)
    imported = sns.Topic.from_topic_arn(team, "Orders", f"arn:aws:sns:{REGION}:{ACCOUNT}:orders")
    own_dlq = sqs.Queue(team, "OwnDlq", retention_period=Duration.days(14))
    lib.ConsumerQueue(team, "Fraud", topic=imported, dead_letter_queue=own_dlq)
    lib.LambdaConsumer(
        team,
        "Scorer",
        queue=lib.ConsumerQueue(
            team, "Scores", topic=imported, visibility_timeout=Duration.minutes(3)
        ),
        code=code(),
        handler="handler.handler",
        powertools_layer=False,
    )
    lib.LambdaConsumer(
        team,
        "Raw",
        queue=sqs.Queue(team, "RawQueue", visibility_timeout=Duration.minutes(5)),
        code=code(),
        handler="handler.handler",
    )
    app.synth()


def _collect(assembly: Path, into: Path) -> int:
    """Copy each template (nested ones included) of ``assembly`` into ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    count = 0
    for template in sorted(assembly.glob("*.template.json")):
        shutil.copyfile(template, into / template.name)
        count += 1
    return count


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    target = Path(argv[0])
    if target.exists():
        shutil.rmtree(target)
    total = 0
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        for name, build in (
            ("reference", lambda out: _reference(out, pinned=False)),
            ("reference-pinned", lambda out: _reference(out, pinned=True)),
            ("variety", lambda out: _variety(out, base)),
        ):
            outdir = base / f"{name}.out"
            build(outdir)
            total += _collect(outdir, target / name)
    print(f"{total} templates written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
