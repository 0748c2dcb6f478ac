"""``make demo``: the reference stacks deployed to a local emulator, and what they did.

Act one deploys the OrderFanout stack's synthesized template (from a cloud assembly, ``cdk.out``
after ``cdk synth``) to moto in server mode on 127.0.0.1, publishes a handful of sample orders
(one of them twice, one malformed), lets the billing, shipping and inventory functions run in
the emulator as deployed (their event source mappings feed them; ``LambdaService`` waits until
each queue is worked off), plays the consumers of the two plain queues, and prints per consumer
what was delivered, filtered out, processed and dead-lettered; then the operator command
``fanout dlq list`` shows the dead-letter queues. Act two, when the PushNotifications stack is
deployed too (made-up credentials stored as secrets first): three devices register through the
registration function URL, a broadcast and a segment message go out, and a device whose
endpoint was disabled is retired by the feedback function. The emulator stops when it is done;
nothing reaches AWS, APNs or FCM.

Run: ``make demo``, which deploys with the real CDK CLI (``cdk bootstrap`` and ``cdk
deploy`` against the emulator: asset publishing, role assumption, change sets, as users
deploy), or ``python -m constructs_lib.testing.demo --assembly cdk.out`` to deploy an
assembly ``cdk synth`` wrote, in process (the test suite's fast path).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import cx_api

from constructs_lib.cli import main as fanout_command

from .fanout import DeployedFanout, published_body
from .harness import DeployedStack, Emulator, cli_app, running_emulator
from .lambda_service import LambdaService
from .push_fixes import delivered, endpoint_arns

STACK = "OrderFanout"
FANOUT = "OrderFanout/OrderPlaced"
LAMBDA_CONSUMERS = ("Billing", "Shipping", "Inventory")
PUSH_STACK = "PushNotifications"
PUSH = f"{PUSH_STACK}/Push"
APP_BACKEND = "arn:aws:iam::{account}:role/app-backend"
"""The IAM principal that calls the registration URL in the second act."""
ORDER_PARAMETERS = {
    "PartnerWebhookUrl": "https://partner.example.com/orders",
    "OnCallEmail": "oncall@example.com",
}
"""The OrderFanout stack's parameters in the first act: the partner's webhook (no one answers
it here, so its subscription stays pending, as in AWS) and the on-call address."""
DEMO_SECRETS = {
    "ApnsCredentialsArn": (
        "demo/apns",
        {
            "signing_key": "-----BEGIN PRIVATE KEY-----\ndemo\n-----END PRIVATE KEY-----",
            "key_id": "DEMOKEY001",
            "team_id": "DEMOTEAM01",
            "bundle_id": "com.example.shop",
        },
    ),
    "FcmServiceAccountArn": (
        "demo/fcm",
        {
            "type": "service_account",
            "project_id": "demo-shop",
            "private_key_id": "demo",
            "private_key": "-----BEGIN PRIVATE KEY-----\ndemo\n-----END PRIVATE KEY-----",
            "client_email": "sns@demo-shop.iam.gserviceaccount.com",
        },
    ),
}
"""Made-up credentials the second act stores as secrets: nothing is sent to APNs or FCM."""


@dataclass(frozen=True)
class Device:
    name: str
    platform: str
    segments: tuple[str, ...] = ()


DEVICES = [
    Device("phone", "apns", ("beta",)),
    Device("tablet", "fcm"),
    Device("watch", "fcm", ("beta",)),
]


@dataclass
class DeviceReport:
    device: str
    platform: str
    segments: str
    received: list[str] = field(default_factory=list)
    endpoint: str = "kept"


@dataclass(frozen=True)
class Sample:
    label: str
    message: str | Mapping[str, Any]
    attributes: Mapping[str, str] = field(default_factory=dict)


def _order(order_id: str, total: int, contact: str | None = None, **extra: Any) -> Sample:
    body = {
        "order_id": order_id,
        "customer_id": "c-42",
        "currency": "EUR",
        "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price": total}],
        "total": total,
        **extra,
    }
    return Sample(
        label=f"{order_id}  total {total:>5}  contact {contact or '-'}",
        message=body,
        attributes={"customer_contact": contact} if contact else {},
    )


SAMPLES = [
    _order("o-1001", 40, "email"),
    _order("o-1002", 1250, "sms"),
    _order("o-1003", 300),
    _order("o-1004", 4800, "push"),
    Sample("o-1001  published again (a publisher retry)", _order("o-1001", 40).message),
    Sample("o-1005  malformed: no customer, no lines", {"order_id": "o-1005", "total": 10}),
]


@dataclass
class ConsumerReport:
    consumer: str
    delivery: str
    delivered: int = 0
    filtered_out: int = 0
    processed: int = 0
    dead_lettered: int = 0
    orders: list[str] = field(default_factory=list)


def run(
    assembly: cx_api.CloudAssembly | None,
    out: Any = sys.stdout,
    *,
    cdk_app: Path | None = None,
) -> list[ConsumerReport]:
    """Deploy, publish the samples, consume, print the tables; returns the rows printed.

    With ``cdk_app`` (the app's folder), ``cdk bootstrap`` and ``cdk deploy`` deploy it;
    otherwise ``assembly`` is deployed in process.
    """

    def say(line: str = "") -> None:
        print(line, file=out)

    with Emulator() if cdk_app is not None else running_emulator() as emulator:
        started = time.perf_counter()
        parameters = {STACK: dict(ORDER_PARAMETERS), PUSH_STACK: _store_demo_secrets(emulator)}
        if cdk_app is not None:
            stacks = _deploy_with_cdk(emulator, cdk_app, parameters)
            how = "with cdk bootstrap and cdk deploy"
        else:
            assert assembly is not None
            names = {s.stack_name for s in assembly.stacks}
            stacks = {
                name: emulator.deploy(
                    assembly.get_stack_by_name(name),
                    parameters=parameters[name],
                )
                for name in (STACK, PUSH_STACK)
                if name in names
            }
            how = "in process"
        deployed = stacks[STACK]
        counts = " and ".join(f"{n} ({len(d.physical_ids)} resources)" for n, d in stacks.items())
        say(
            f"Deployed {counts} to the local emulator ({emulator.endpoint_url}) {how}, "
            f"each resource checked against its template, in {time.perf_counter() - started:.1f} s."
        )
        fanout = DeployedFanout(deployed, FANOUT)
        service = LambdaService(deployed)  # watches the functions from before the first publish
        say()
        say(f"Published to {fanout.topic_arn.rsplit(':', 1)[-1]}:")
        for sample in SAMPLES:
            fanout.publish(sample.message, attributes=sample.attributes)
            say(f"  {sample.label}")
        reports = _consume(service, fanout)
        say()
        _print_table(reports, say)
        say()
        command = ["list", "--prefix", f"{STACK}-", "--endpoint-url", emulator.endpoint_url]
        say(f"$ fanout dlq {' '.join(command)}")
        with contextlib.redirect_stdout(out):
            fanout_command.main(["dlq", *command])
        if PUSH_STACK in stacks:
            say()
            _push_act(stacks[PUSH_STACK], say)
    return reports


def _consume(service: LambdaService, fanout: DeployedFanout) -> list[ConsumerReport]:
    reports = []
    published = len(SAMPLES)
    with service:
        for consumer_id, consumer in fanout.consumers.items():
            if consumer_id in LAMBDA_CONSUMERS:
                report = ConsumerReport(consumer_id, "Lambda, SNS envelope")
                invocations = service.drain(consumer.queue)
                delivered = {m for i in invocations for m in i.message_ids}
                succeeded = {m for i in invocations for m in i.succeeded}
                report.delivered = len(delivered)
                report.processed = len(succeeded)
            else:
                raw = "raw body" if consumer.raw else "SNS envelope"
                report = ConsumerReport(consumer_id, f"queue, {raw}")
                messages = fanout.receive_all(consumer.queue_url)
                report.delivered = report.processed = len(messages)
                report.orders = sorted(
                    {str(published_body(m, raw=consumer.raw)["order_id"]) for m in messages}
                )
            report.filtered_out = published - report.delivered
            report.dead_lettered = fanout.depth(consumer.dead_letter_queue_url)
            reports.append(report)
    return reports


def _print_table(reports: Sequence[ConsumerReport], say: Any) -> None:
    header = ("consumer", "consumed by", "delivered", "filtered out", "processed", "dead-lettered")
    rows = [
        (
            r.consumer,
            r.delivery,
            str(r.delivered),
            str(r.filtered_out),
            str(r.processed),
            str(r.dead_lettered),
        )
        for r in reports
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        say(
            "  ".join(
                cell.ljust(w) if i < 2 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
    say()
    for r in reports:
        if r.orders:
            say(f"{r.consumer} received: {', '.join(r.orders)}")
    say(
        "Billing, shipping and inventory each processed o-1001 once although it was published "
        "twice (idempotency);"
    )
    say(
        "o-1005 failed validation in each of them, was retried up to maxReceiveCount (5) and "
        "is now in their dead-letter queues."
    )


def _deploy_with_cdk(
    emulator: Emulator, app: Path, parameters: Mapping[str, Mapping[str, str]]
) -> dict[str, DeployedStack]:
    """``cdk bootstrap``, then one ``cdk deploy`` of both stacks from the app's folder, with
    each stack's ``parameters``."""
    emulator.cdk("bootstrap", f"aws://{emulator.account}/{emulator.region}", cwd=app)
    given = [
        f"--parameters={stack}:{k}={v}"
        for stack, values in parameters.items()
        for k, v in values.items()
    ]
    with tempfile.TemporaryDirectory(prefix="demo-cdk.out-") as outdir:
        emulator.cdk(
            *("deploy", STACK, PUSH_STACK, "--require-approval", "never", "--output", outdir),
            *given,
            cwd=app,
        )
        assembly = cx_api.CloudAssembly(outdir)
        return {
            name: emulator.deployed(assembly.get_stack_by_name(name))
            for name in (STACK, PUSH_STACK)
        }


def _store_demo_secrets(emulator: Emulator) -> dict[str, str]:
    """The push credentials as secrets in the emulator; the stack parameters naming them."""
    secrets = emulator.client("secretsmanager")
    return {
        parameter: secrets.create_secret(Name=name, SecretString=json.dumps(value))["ARN"]
        for parameter, (name, value) in DEMO_SECRETS.items()
    }


def _push_act(deployed: DeployedStack, say: Any) -> list[DeviceReport]:
    """Second act: devices register, a broadcast and a segment message go out, a device the
    platform disabled is retired by the feedback function."""
    emulator = deployed.emulator
    sns = deployed.client("sns")

    def physical(path: str) -> str:
        return deployed.physical_id(deployed.logical_id_at(f"{PUSH}/{path}"))

    say(f"{PUSH_STACK}: the custom resource created the platform applications:")
    for application in sns.list_platform_applications()["PlatformApplications"]:
        say(f"  {application['PlatformApplicationArn'].split(':')[-1]}")
    registration = physical("Registration/Function/Resource")
    endpoints: dict[str, str] = {}
    reports = []
    for number, device in enumerate(DEVICES):
        answer = emulator.invoke_function_url(
            registration,
            body=json.dumps(
                {
                    "platform": device.platform,
                    "token": f"{number + 1:064x}",
                    "segments": list(device.segments),
                }
            ),
            headers={"content-type": "application/json"},
            caller_arn=APP_BACKEND.format(account=emulator.account),
        )
        endpoints[device.name] = json.loads(answer["body"])["endpoint_arn"]
        reports.append(DeviceReport(device.name, device.platform, ",".join(device.segments) or "-"))
    say(f"Registered {len(DEVICES)} devices through the registration function URL.")
    service = LambdaService(deployed)
    broadcast = physical("Broadcast/Topic/Resource")
    sns.publish(TopicArn=broadcast, Message="Sale starts now")
    sns.publish(TopicArn=physical("SegmentBeta/Topic/Resource"), Message="Try the new checkout")
    sns.set_endpoint_attributes(EndpointArn=endpoints["tablet"], Attributes={"Enabled": "false"})
    sns.publish(TopicArn=broadcast, Message="Last day of the sale")
    for report in reports:  # read before the feedback function deletes an endpoint
        report.received = delivered(endpoints[report.device])
    service.drain(deployed.logical_id_at(f"{PUSH}/Events/Feedback/Queue/Resource"))
    remaining = endpoint_arns(sns)
    for report in reports:
        if endpoints[report.device] not in remaining:
            report.endpoint = "deleted by feedback"
    say()
    header = ("device", "platform", "segments", "received", "endpoint")
    rows = [(r.device, r.platform, r.segments, "; ".join(r.received), r.endpoint) for r in reports]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        say("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    say()
    say(
        "The tablet's endpoint was disabled (the app was uninstalled): the last broadcast "
        "failed for it,"
    )
    say("SNS sent the failure to the events topic, and the feedback function deleted it.")
    return reports


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--assembly",
        type=Path,
        help="a cloud assembly written by `cdk synth` (default: synthesize the stack here)",
    )
    parser.add_argument(
        "--cdk",
        type=Path,
        metavar="APP_FOLDER",
        help="deploy with the real CDK CLI from this app folder (its cdk.json)",
    )
    args = parser.parse_args(argv)
    if args.cdk is not None:
        run(None, cdk_app=args.cdk)
        return 0
    if args.assembly is not None:
        assembly = cx_api.CloudAssembly(str(args.assembly))
        run(assembly)
        return 0
    from stacks import OrderFanoutStack, PushNotificationsStack

    with tempfile.TemporaryDirectory(prefix="demo-cdk.out-") as outdir:
        app = cli_app(outdir)
        OrderFanoutStack(app, STACK)
        PushNotificationsStack(app, PUSH_STACK)
        run(app.synth())
    return 0


if __name__ == "__main__":
    sys.exit(main())
