"""``fanout local``: the package's emulator on 127.0.0.1, as a long-running process.

It starts :class:`constructs_lib.testing.Emulator` (moto in server mode with this package's
fixes; the ``[testing]`` extra), deploys a synthesized cloud assembly when one is given (or
says how to ``cdk bootstrap`` and ``cdk deploy`` to it), prints the environment for the AWS
CLI and SDKs, and runs until Ctrl-C (SIGINT) or SIGTERM, then stops the emulator (everything
in it is forgotten) and exits 0.

This is the one subcommand that imports aws_cdk (to read the assembly), and only in its
handler.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import signal
import socket
import sys
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .core import EXIT_AWS, EXIT_INTERRUPTED, EXIT_OK, OperatorError, UsageError
from .main import Commands

if TYPE_CHECKING:
    from constructs_lib.testing.harness import DeployedStack, Emulator

    from .core import Context

DEFAULT_REGION = "eu-west-1"
INSTALL_TESTING = (
    'the local emulator needs the testing extra: pip install "constructs-lib[testing]"'
)
SHOWN_TYPES = {"AWS::SNS::Topic": "topic", "AWS::SQS::Queue": "queue"}

DESCRIPTION = """\
Start the package's local emulator (moto in server mode with this package's fixes, as the
tests use it) on 127.0.0.1 and keep it running until Ctrl-C or SIGTERM. With CDK_OUT (the
folder `cdk synth` writes) it deploys the assembly's stacks, as `cdk deploy` would, and lists
their topics and queues; without it, it prints how to `cdk bootstrap` and `cdk deploy` your
app to it. Either way it prints the environment to export for the AWS CLI and SDKs. Nothing
reaches AWS; everything is forgotten when it stops. Needs the [testing] extra.
"""


def _parameters(given: list[str] | None) -> dict[str, dict[str, str]]:
    """``STACK:KEY=VALUE`` items as {stack: {key: value}}."""
    parameters: dict[str, dict[str, str]] = {}
    for item in given or []:
        stack, colon, assignment = item.partition(":")
        key, equals, value = assignment.partition("=")
        if not (colon and equals and stack and key):
            raise UsageError(
                f"--parameters {item}: write STACK:KEY=VALUE "
                "(e.g. OrderFanout:OnCallEmail=oncall@example.com)"
            )
        parameters.setdefault(stack, {})[key] = value
    return parameters


def _quiet_dead_node_at_exit() -> None:
    """Ctrl-C in a terminal signals the whole process group, so the Node process jsii started
    for aws_cdk is gone by the time jsii's exit handler writes to it; drop that handler's
    BrokenPipeError instead of printing its traceback after a clean stop."""
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, BrokenPipeError) and "jsii" in repr(unraisable.object):
            return
        previous(unraisable)

    sys.unraisablehook = hook


def _port_in_use(port: int) -> str | None:
    """Why ``port`` on 127.0.0.1 cannot be listened on, or None (checked before aws_cdk and
    moto load, so that the answer comes at once; the emulator checks again as it starts)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            return error.strerror or str(error)
    return None


def _port_error(port: int, reason: str) -> UsageError:
    return UsageError(
        f"--port {port}: 127.0.0.1:{port} cannot be used ({reason}); pick another port, or "
        "leave --port out for a free one"
    )


def _assembly(folder: Path) -> Any:
    """The cloud assembly in ``folder``; a :class:`UsageError` when it is not one."""
    if not folder.is_dir():
        raise UsageError(f"CDK_OUT {folder} is not a folder: give the folder `cdk synth` wrote")
    if not (folder / "manifest.json").is_file():
        raise UsageError(
            f"CDK_OUT {folder} is not a cloud assembly (no manifest.json): run `cdk synth` "
            "and give the folder it wrote (cdk.out), or leave CDK_OUT out"
        )
    from aws_cdk import cx_api

    try:
        return cx_api.CloudAssembly(str(folder))
    except Exception as error:  # jsii: a schema this CDK cannot read, a broken manifest
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UsageError(f"CDK_OUT {folder} cannot be read as a cloud assembly: {first}") from None


def _check_selection(
    assembly: Any, stacks: list[str] | None, parameters: Mapping[str, Mapping[str, str]]
) -> list[str]:
    available = [s.stack_name for s in assembly.stacks]
    if not available:
        raise UsageError("the cloud assembly has no stacks: check the app `cdk synth` ran")
    wanted = stacks or available
    for name in [*wanted, *parameters]:
        if name not in available:
            option = "--stack" if name in wanted else "--parameters"
            raise UsageError(
                f"{option} {name}: no such stack in the assembly; its stacks: "
                + ", ".join(available)
            )
    return wanted


def _environment(emulator: Emulator) -> dict[str, str]:
    """What the AWS CLI and SDKs need to talk to the emulator (boto3 and the AWS CLI read
    AWS_DEFAULT_REGION, the JavaScript SDK and the CDK CLI AWS_REGION)."""
    cli = emulator.cli_environment()
    return {
        "AWS_ENDPOINT_URL": emulator.endpoint_url,
        "AWS_ACCESS_KEY_ID": cli["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": cli["AWS_SECRET_ACCESS_KEY"],
        "AWS_REGION": emulator.region,
        "AWS_DEFAULT_REGION": emulator.region,
    }


def _cdk_commands(emulator: Emulator) -> list[str]:
    s3 = emulator.cli_environment()["AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION"]
    return [
        # The CLI hands CloudFormation a template URL on this S3 endpoint, which the emulator
        # reads from its own S3 (the loopback URL would name a bucket "127").
        f"export AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION={s3}",
        f"cdk bootstrap aws://{emulator.account}/{emulator.region}",
        "cdk deploy --all --require-approval never",
    ]


def _resources(stack: DeployedStack) -> Iterator[dict[str, str]]:
    """The topics and queues of a deployed stack and its nested stacks."""
    for logical_id, resource in stack.resources.items():
        kind = SHOWN_TYPES.get(resource.get("Type", ""))
        physical = stack.physical_ids.get(logical_id)
        if kind is None or physical is None:
            continue
        path = str(resource.get("Metadata", {}).get("aws:cdk:path", logical_id))
        yield {
            "stack": stack.name,
            "kind": kind,
            "construct": path.removesuffix("/Resource"),
            "name": physical.replace("/", ":").rsplit(":", 1)[-1],
            "arn" if kind == "topic" else "url": physical,
        }
    for nested in stack.nested.values():
        yield from _resources(nested)


def _announce(
    ctx: Context,
    emulator: Emulator,
    deployed: Mapping[str, DeployedStack],
    folder: Path | None,
    seconds: float,
) -> None:
    environment = _environment(emulator)
    export = "export " + " ".join(f"{k}={v}" for k, v in environment.items())
    resources = [r for stack in deployed.values() for r in _resources(stack)]
    if ctx.json_output:
        ctx.print_json(
            {
                "endpoint_url": emulator.endpoint_url,
                "region": emulator.region,
                "account": emulator.account,
                "environment": environment,
                "stacks": [
                    {"name": name, "region": stack.region, "resources": len(stack.physical_ids)}
                    for name, stack in deployed.items()
                ],
                "resources": resources,
                "cdk": [] if folder is not None else _cdk_commands(emulator),
            }
        )
        return

    def line(text: str = "") -> None:
        # Plain writes: a command must stay on one line to be pasted (rich would wrap it).
        ctx.stdout.write(text + "\n")

    line(
        f"Local emulator on {emulator.endpoint_url} (region {emulator.region}, account "
        f"{emulator.account})."
    )
    if folder is not None:
        stacks = ", ".join(f"{n} ({len(s.physical_ids)} resources)" for n, s in deployed.items())
        line(f"Deployed {stacks} from {folder} in {seconds:.1f} s.")
        line()
        from rich.table import Table

        table = Table(box=None, pad_edge=False, header_style="bold")
        for column in ("STACK", "KIND", "CONSTRUCT", "NAME", "ARN / URL"):
            table.add_column(column)
        for r in resources:
            where = r.get("arn") or r["url"]
            table.add_row(r["stack"], r["kind"], r["construct"], r["name"], where)
        ctx.stdout.flush()
        ctx.out.print(table)
    line()
    line("For the AWS CLI and SDKs, export (paste, or eval) this line in your shell:")
    line(export)
    if folder is None:
        line()
        line("Nothing is deployed yet. Deploy your app with the CDK CLI, from its folder, in that")
        line("shell (cdk bootstrap takes some 20 s against it, then each deploy some 10 s):")
        for command in _cdk_commands(emulator):
            line(command)
        line("Or restart with the folder `cdk synth` wrote: fanout local cdk.out")
    line()
    line("Ready. Ctrl-C stops the emulator; everything in it is forgotten.")
    ctx.stdout.flush()


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt (SIGINT too when the shell started the
    command with it ignored, as `fanout local &` in a script does)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    saved = {s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)


def _wait_for_a_signal() -> None:
    """Sleep until SIGINT or SIGTERM raises KeyboardInterrupt (``_stop_on_signals``)."""
    while True:
        # Short naps: a signal caught by one of the server's threads runs its Python handler
        # only when the main thread next wakes up.
        time.sleep(0.25)


def cmd_local(args: argparse.Namespace, ctx: Context) -> int:
    if getattr(args, "endpoint_url", None):
        raise UsageError(
            "--endpoint-url does not apply to `fanout local`: it starts its own endpoint "
            "(choose its port with --port)"
        )
    if args.port is not None and not 1 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: give a port from 1 to 65535")
    parameters = _parameters(args.parameters)
    folder = Path(args.cdk_out) if args.cdk_out is not None else None
    if folder is None and (args.stacks or parameters):
        option = "--stack" if args.stacks else "--parameters"
        raise UsageError(f"{option} needs CDK_OUT, the cloud assembly to deploy")
    if importlib.util.find_spec("moto") is None:
        raise UsageError(INSTALL_TESTING)
    if args.port is not None and (reason := _port_in_use(args.port)):
        raise _port_error(args.port, reason)
    assembly = _assembly(folder) if folder is not None else None
    stacks = _check_selection(assembly, args.stacks, parameters) if assembly is not None else None
    from constructs_lib.testing.harness import Emulator, EmulatorGap

    # moto notes each template type it skips; the emulator judges those itself.
    warnings.filterwarnings("ignore", "Tried to parse", UserWarning)

    region = getattr(args, "region", None) or DEFAULT_REGION
    ready = False
    with _stop_on_signals():
        try:
            with contextlib.ExitStack() as running:
                try:
                    emulator = running.enter_context(Emulator(region=region, port=args.port))
                except OSError as error:
                    if args.port is None:
                        raise
                    raise _port_error(args.port, error.strerror or str(error)) from None
                emulator.seed_public_parameters()
                started = time.perf_counter()
                deployed: dict[str, DeployedStack] = {}
                if assembly is not None:
                    try:
                        deployed = emulator.deploy_app(
                            assembly, stacks=stacks, parameters=parameters
                        )
                    except EmulatorGap as gap:
                        raise OperatorError(
                            f"the emulator could not deploy {folder}: {' '.join(str(gap).split())}",
                            EXIT_AWS,
                        ) from None
                ready = True  # a signal from here on is the expected way to stop
                _announce(ctx, emulator, deployed, folder, time.perf_counter() - started)
                _wait_for_a_signal()
        except KeyboardInterrupt:
            pass
    _quiet_dead_node_at_exit()
    if not ready:
        ctx.error("interrupted before the emulator was ready; it is stopped")
        return EXIT_INTERRUPTED
    ctx.err.print("Stopped the local emulator.", markup=False, highlight=False)
    return EXIT_OK


def register(commands: Commands) -> None:
    """Add the ``local`` subcommand."""
    parser = commands.add(
        "local",
        help="run the local emulator on 127.0.0.1, with a synthesized app deployed to it",
        description=DESCRIPTION,
        examples=[
            "fanout local cdk.out",
            "fanout local cdk.out --port 4566 --stack OrderFanout "
            "--parameters OrderFanout:OnCallEmail=oncall@example.com",
            "fanout local        # then cdk bootstrap and cdk deploy to it",
            "fanout --output json local cdk.out",
        ],
        handler=cmd_local,
    )
    parser.add_argument(
        "cdk_out",
        nargs="?",
        metavar="CDK_OUT",
        help="a synthesized cloud assembly (the folder `cdk synth` writes) to deploy",
    )
    parser.add_argument("--port", type=int, help="the port on 127.0.0.1 (default: a free one)")
    parser.add_argument(
        "--stack",
        dest="stacks",
        action="extend",
        nargs="+",
        metavar="NAME",
        help="deploy only these stacks (default: every stack of the assembly)",
    )
    parser.add_argument(
        "--parameters",
        action="extend",
        nargs="+",
        metavar="STACK:KEY=VALUE",
        help="template parameters of the stacks, as `cdk deploy --parameters` takes them",
    )
