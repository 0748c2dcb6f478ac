"""``fanout local`` as operators run it: a real process that deploys a synthesized assembly to
the package's emulator, prints the endpoint and the environment to export, serves AWS clients
until SIGINT or SIGTERM, then stops with exit code 0 and frees its port.

The assembly is one small stack (a fanout with one consumer), synthesized once for the module
as `cdk synth` writes it; the process is started once and stopped by the module's last test.
"""

from __future__ import annotations

import io
import json
import os
import queue
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import docs_pages
import pytest
from aws_cdk import Stack
from helpers import ROOT, project_app

from constructs_lib import FanoutTopic
from constructs_lib.cli.core import Context
from constructs_lib.cli.main import run

READY = "Ready. Ctrl-C stops the emulator"
START_SECONDS = 120


@dataclass
class Process:
    """A ``fanout local`` process and what it printed."""

    popen: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    _queue: queue.Queue[str | None] = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        def pump() -> None:
            assert self.popen.stdout is not None
            for line in self.popen.stdout:
                self._queue.put(line.rstrip("\n"))
            self._queue.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def wait_until_ready(self) -> str:
        deadline = time.monotonic() + START_SECONDS
        while True:
            line = self._queue.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                raise AssertionError(f"exited {self.popen.wait()}: {self.stderr()}")
            self.lines.append(line)
            if line.startswith(READY):
                return self.output

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def stderr(self) -> str:
        assert self.popen.stderr is not None
        return self.popen.stderr.read()

    @property
    def environment(self) -> dict[str, str]:
        export = next(line for line in self.lines if line.startswith("export AWS_ENDPOINT_URL="))
        return dict(word.split("=", 1) for word in shlex.split(export)[1:])

    def stop(self, signum: int) -> int:
        self.popen.send_signal(signum)
        return self.popen.wait(timeout=60)


def start(*argv: str) -> Process:
    """``python -m constructs_lib.cli local ...`` from this checkout, with no AWS settings of
    the test process (an emulator of another module may have set some)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    environment["PYTHONPATH"] = str(ROOT)
    popen = subprocess.Popen(
        [sys.executable, "-m", "constructs_lib.cli", "local", *argv],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return Process(popen)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _readme_blocks() -> list[str]:
    section = (docs_pages.DOCS / "cli" / "local.md").read_text()
    return re.findall(r"```bash\n(.*?)```", section, re.DOTALL)


def _readme_local_line(block_marker: str) -> list[str]:
    """The arguments of the ``fanout local`` line in the README block holding the marker."""
    block = next(b for b in _readme_blocks() if block_marker in b)
    words = next(
        shlex.split(line, comments=True)
        for line in block.splitlines()
        if line.startswith("fanout local")
    )
    return words[2:]


@pytest.fixture(scope="module")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cdk.out")
    app = project_app(folder)
    FanoutTopic(Stack(app, "Shop"), "Orders").add_queue_consumer(
        "Billing", queue_name="shop-billing", raw_message_delivery=True
    )
    app.synth()
    return folder


@pytest.fixture(scope="module")
def local(cdk_out: Path) -> Iterator[Process]:
    """The README's ``fanout local cdk.out``, on this module's assembly."""
    argv = [str(cdk_out) if word == "cdk.out" else word for word in _readme_local_line("cdk.out")]
    process = start(*argv)
    process.wait_until_ready()
    yield process
    if process.popen.poll() is None:
        process.stop(signal.SIGKILL)


def _client(process: Process, service: str) -> Any:
    env = process.environment
    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def test_it_prints_the_environment_to_export(local: Process) -> None:
    env = local.environment
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", env["AWS_ENDPOINT_URL"])
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"]
    assert f"Local emulator on {env['AWS_ENDPOINT_URL']} (region eu-west-1" in local.output


def test_it_lists_the_deployed_stack_topic_and_queues(local: Process) -> None:
    assert re.search(r"Deployed Shop \(\d+ resources\) from .* in \d+\.\d s\.", local.output)
    rows = [line.split() for line in local.lines if line.startswith("Shop ")]
    assert rows[0][1:3] == ["topic", "Shop/Orders/Topic"]
    assert ["queue", "Shop/Orders/Billing/Queue", "shop-billing"] in [r[1:4] for r in rows]


def test_the_stacks_queue_exists(local: Process) -> None:
    assert _client(local, "sqs").get_queue_url(QueueName="shop-billing")["QueueUrl"]


def test_a_publish_to_the_topic_reaches_the_queue(local: Process) -> None:
    sns, sqs = _client(local, "sns"), _client(local, "sqs")
    topics = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    topic = next(t for t in topics if "OrdersTopic" in t)
    sns.publish(TopicArn=topic, Message='{"order_id": "o-7"}')
    url = sqs.get_queue_url(QueueName="shop-billing")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5).get("Messages", [])
    assert [json.loads(m["Body"]) for m in messages] == [{"order_id": "o-7"}]


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed")
def test_the_readme_aws_cli_lines_run_against_it(local: Process) -> None:
    block = next(b for b in _readme_blocks() if b.lstrip().startswith("# in another shell"))
    exported = next(line for line in local.lines if line.startswith("export AWS_ENDPOINT_URL="))
    script = "set -e\n" + "\n".join(
        exported if line.startswith("export AWS_ENDPOINT_URL=") else line
        for line in block.splitlines()
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    done = subprocess.run(
        ["bash", "-c", script], env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(json.loads(done.stdout)["Messages"][0]["Body"]) == {"order_id": "o-1"}


def test_sigint_stops_it_with_exit_0_and_closes_the_port(local: Process) -> None:
    port = int(local.environment["AWS_ENDPOINT_URL"].rsplit(":", 1)[1])
    assert _port_open(port)
    assert local.stop(signal.SIGINT) == 0
    assert not _port_open(port)
    stderr = local.stderr()
    assert "Stopped the local emulator." in stderr
    assert "Traceback" not in stderr


# -- without an assembly -------------------------------------------------------------------


def test_without_an_assembly_it_says_how_to_cdk_deploy_to_it_and_stops_on_sigterm() -> None:
    port = _free_port()
    argv = [str(port) if word == "4566" else word for word in _readme_local_line("--port 4566")]
    process = start(*argv)
    output = process.wait_until_ready()
    assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{port} " in output
    assert "Nothing is deployed yet." in output
    commands = [
        "export AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION=https://s3.eu-west-1.amazonaws.com",
        "cdk bootstrap aws://123456789012/eu-west-1",
        "cdk deploy --all --require-approval never",
    ]
    assert [line for line in process.lines if line in commands] == commands
    assert process.stop(signal.SIGTERM) == 0
    assert not _port_open(port)


# -- refusals ------------------------------------------------------------------------------


def fanout(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), ctx=Context(args=None, stdout=out, stderr=err))  # type: ignore[arg-type]
    return code, out.getvalue(), err.getvalue()


def test_a_folder_that_is_not_an_assembly_is_refused(tmp_path: Path) -> None:
    code, out, err = fanout("local", str(tmp_path))
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"fanout: error: CDK_OUT {tmp_path} is not a cloud assembly (no manifest.json): run "
        "`cdk synth` and give the folder it wrote (cdk.out), or leave CDK_OUT out"
    ]


def test_a_port_in_use_is_refused() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = fanout("local", "--port", str(port))
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"fanout: error: --port {port}: 127.0.0.1:{port} cannot be used (Address already in "
        "use); pick another port, or leave --port out for a free one"
    ]


def test_an_unknown_stack_is_refused(cdk_out: Path) -> None:
    code, _, err = fanout("local", str(cdk_out), "--stack", "Nope")
    assert code == 2
    assert err.splitlines() == [
        "fanout: error: --stack Nope: no such stack in the assembly; its stacks: Shop"
    ]


def test_a_malformed_parameter_is_refused(cdk_out: Path) -> None:
    code, _, err = fanout("local", str(cdk_out), "--parameters", "OnCallEmail=x")
    assert code == 2
    assert err.splitlines() == [
        "fanout: error: --parameters OnCallEmail=x: write STACK:KEY=VALUE "
        "(e.g. OrderFanout:OnCallEmail=oncall@example.com)"
    ]


def test_without_the_testing_extra_it_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "moto" else real(name, *a)
    )
    code, _, err = fanout("local")
    assert code == 2
    assert err.splitlines() == [
        "fanout: error: the local emulator needs the testing extra: pip install "
        '"constructs-lib[testing]"'
    ]


def test_json_output_describes_the_emulator_once_it_is_ready(
    cdk_out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from constructs_lib.cli import local as command

    def ctrl_c() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "_wait_for_a_signal", ctrl_c)  # Ctrl-C as soon as it waits
    monkeypatch.setattr(command, "_quiet_dead_node_at_exit", lambda: None)
    code, out, err = fanout("--output", "json", "local", str(cdk_out))
    assert code == 0, err
    report = json.loads(out)
    assert report["endpoint_url"] == report["environment"]["AWS_ENDPOINT_URL"]
    assert report["region"] == report["environment"]["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert [s["name"] for s in report["stacks"]] == ["Shop"]
    assert {"stack": "Shop", "kind": "queue", "construct": "Shop/Orders/Billing/Queue"}.items() <= (
        next(r for r in report["resources"] if r["name"] == "shop-billing").items()
    )
    assert report["cdk"] == []
    assert "Stopped the local emulator." in err
