"""How long the local emulator takes to stand up OrderFanout, by each of its two deploy paths.

Run from the repository root, after ``make setup`` (no AWS account, no network):

    .venv/bin/python benchmarks/emulator_deploy.py [--repetitions 3]

1. In process (the test suite's path): emulator start (moto server on 127.0.0.1, the
   CloudFormation gaps and the CLI fixes applied, ``cdk bootstrap``'s leftovers seeded), then
   ``Emulator.deploy`` of the synthesized template (assets published, ``CreateStack``, every
   resource checked against the template). The synth is timed apart. Target: start plus deploy
   at most 2 s.
2. Through the real CLI (``make demo``'s path): emulator start, ``cdk bootstrap`` with the
   stock template, ``cdk deploy OrderFanout`` (which synthesizes), and the same check. Target:
   bootstrap excluded, at most 20 s including the synth.

Each figure is the median of the repetitions; one line per phase, then the targets.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]
os.environ["PATH"] = os.pathsep.join(
    [str(ROOT / "node_modules" / ".bin"), str(Path(sys.executable).parent), os.environ["PATH"]]
)

from aws_cdk import cx_api  # noqa: E402

from constructs_lib.testing import Emulator, cli_app, demo  # noqa: E402
from stacks import OrderFanoutStack  # noqa: E402

STACK = "OrderFanout"


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def in_process(assembly: cx_api.CloudAssembly) -> dict[str, float]:
    emulator = Emulator()
    start = timed(emulator.__enter__)
    try:
        bootstrap = timed(emulator.bootstrap)
        deploy = timed(
            lambda: emulator.deploy(
                assembly.get_stack_by_name(STACK), parameters=demo.ORDER_PARAMETERS
            )
        )
    finally:
        emulator.__exit__(None, None, None)
    return {"start": start, "seed bootstrap": bootstrap, "deploy": deploy}


def with_cli() -> dict[str, float]:
    emulator = Emulator()
    start = timed(emulator.__enter__)
    try:
        bootstrap = timed(
            lambda: emulator.cdk(
                "bootstrap", f"aws://{emulator.account}/{emulator.region}", cwd=ROOT
            )
        )
        with tempfile.TemporaryDirectory() as outdir:

            def deploy() -> None:
                emulator.cdk(
                    *("deploy", STACK, "--require-approval", "never", "--output", outdir),
                    *(f"--parameters={STACK}:{k}={v}" for k, v in demo.ORDER_PARAMETERS.items()),
                    cwd=ROOT,
                )
                emulator.deployed(cx_api.CloudAssembly(outdir).get_stack_by_name(STACK))

            deploy_time = timed(deploy)
    finally:
        emulator.__exit__(None, None, None)
    return {"start": start, "cdk bootstrap": bootstrap, "cdk deploy (with synth)": deploy_time}


def median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {name: statistics.median(r[name] for r in runs) for name in runs[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    print(
        f"emulator deploy of {STACK}, {args.repetitions} repetitions, "
        f"{dt.datetime.now():%Y-%m-%d %H:%M}"
    )
    with tempfile.TemporaryDirectory() as outdir:
        app = cli_app(outdir, cdk_json=ROOT / "cdk.json")
        OrderFanoutStack(app, STACK)
        synth = timed(app.synth)
        assembly = cx_api.CloudAssembly(outdir)
        fast = median([in_process(assembly) for _ in range(args.repetitions)])
    cli = median([with_cli() for _ in range(args.repetitions)])
    print(f"in process: synth {synth:.2f} s (apart)")
    for name, seconds in fast.items():
        print(f"  {name:<28} {seconds:6.2f} s")
    print("through the CDK CLI:")
    for name, seconds in cli.items():
        print(f"  {name:<28} {seconds:6.2f} s")
    fast_total = fast["start"] + fast["seed bootstrap"] + fast["deploy"]
    cli_total = cli["start"] + cli["cdk deploy (with synth)"]
    print(
        f"target in process, start + deploy <= 2 s: {fast_total:.2f} s "
        f"({'met' if fast_total <= 2 else 'NOT MET'})"
    )
    print(
        f"target CLI, start + deploy incl. synth <= 20 s (bootstrap apart): {cli_total:.2f} s "
        f"({'met' if cli_total <= 20 else 'NOT MET'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
