"""What one Lambda invocation costs through the emulator's runner, beside calling the handler.

Run from the repository root, after ``make setup`` (no AWS account, no network):

    .venv/bin/python benchmarks/lambda_invoke.py [--invocations 50]

A Python function (boto3 imported, as every handler here does) and a Node.js one are created in
the emulator and invoked with ``Invoke`` (the API path; event source mappings, SNS and custom
resources use the same runner). Printed, in milliseconds: the cold start (a new execution
environment: child process, imports), the median and 95th percentile of warm invocations, and,
side by side, the same handler called in this process (the old in-process poller's way, which
had no timeout, memory limit, isolation or logs). Target: a warm invocation well under 1 s.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]
os.environ["PATH"] = os.pathsep.join([str(ROOT / "node_modules" / ".bin"), os.environ["PATH"]])

from constructs_lib.testing import running_emulator  # noqa: E402

PYTHON_HANDLER = """import boto3
def handler(event, context):
    left = context.get_remaining_time_in_millis()
    return {"records": len(event.get("Records", [])), "left": left}
"""
NODE_HANDLER = "exports.handler = async (event) => ({records: (event.Records || []).length});\n"
EVENT = {"Records": [{"messageId": str(n), "body": "{}"} for n in range(10)]}


def _zip(name: str, text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, text)
    return buffer.getvalue()


def _time(call: Any, times: int) -> list[float]:
    figures = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        figures.append((time.perf_counter() - started) * 1000)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invocations", type=int, default=50)
    count = parser.parse_args(argv).invocations
    header = ("function", "cold start", "warm median", "warm p95", "handler in process")
    rows: list[tuple[str, ...]] = []
    with running_emulator() as emulator:
        lambda_ = emulator.client("lambda")
        role = emulator.client("iam").create_role(RoleName="bench", AssumeRolePolicyDocument="{}")[
            "Role"
        ]["Arn"]
        namespace: dict[str, Any] = {}
        exec(PYTHON_HANDLER, namespace)  # the same handler, in this process
        for name, runtime, file, text in (
            ("python", "python3.14", "app.py", PYTHON_HANDLER),
            ("node", "nodejs22.x", "app.js", NODE_HANDLER),
        ):
            lambda_.create_function(
                FunctionName=name,
                Runtime=runtime,
                Role=role,
                Handler="app.handler",
                Code={"ZipFile": _zip(file, text)},
                Timeout=10,
            )

            def invoke(function: str = name) -> None:
                answer = lambda_.invoke(FunctionName=function, Payload=json.dumps(EVENT))
                assert "FunctionError" not in answer, answer["Payload"].read()

            (cold,) = _time(invoke, 1)
            warm = sorted(_time(invoke, count))
            in_process = "-"
            if name == "python":

                class Context:
                    def get_remaining_time_in_millis(self) -> int:
                        return 10_000

                local = _time(lambda: namespace["handler"](EVENT, Context()), count)
                in_process = f"{statistics.median(local):.3f}"
            rows.append(
                (
                    f"{name} ({runtime})",
                    f"{cold:.0f}",
                    f"{statistics.median(warm):.1f}",
                    f"{warm[int(len(warm) * 0.95) - 1]:.1f}",
                    in_process,
                )
            )
    print(f"Lambda invocation cost through the emulator's runner ({count} warm invocations, ms)")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )


if __name__ == "__main__":
    main()
