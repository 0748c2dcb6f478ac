"""The operator walk-through (docs/cli/index.md), run as written against the emulator.

The app is the page's own Python block after ``<!-- walkthrough:app -->``; it is deployed
to the emulator, the incidents the page describes are made to happen (the billing consumer
fails two orders; the shipping queue is deleted while three orders are published, then
created again), and each ``$ fanout ...`` line of the console block between
``<!-- walkthrough:start -->`` and ``<!-- walkthrough:end -->`` is run. What it prints on
standard output must be what the page shows, once the values that differ from run to run
(message ids, times, the random part of generated names) are masked on both sides.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import docs_pages
import pytest

from constructs_lib.cli.main import main
from constructs_lib.testing import DeployedFanout, DeployedStack, Emulator

README = docs_pages.page_with("<!-- walkthrough:app -->")
FENCE = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)
MASKS = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<id>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"), "<time>"),
    (re.compile(r"(Topic[0-9A-F]{8})-[A-Za-z0-9]{12}"), r"\1-<random>"),
    (re.compile(r"\(task [^)]+\)"), "(task <handle>)"),
    (re.compile(r"\(journal [^)]+\)"), "(journal <file>)"),
    (re.compile(r"receive count: \d+"), "receive count: <n>"),
    (re.compile(r"^seconds( +)[\d.]+$", re.MULTILINE), r"seconds\1<n>"),
]


def mask(text: str) -> str:
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


def _section(start: str, end: str) -> str:
    text = README.read_text()
    assert start in text and end in text, f"README.md lacks {start} ... {end}"
    return text.split(start, 1)[1].split(end, 1)[0]


def app_source() -> str:
    after = README.read_text().split("<!-- walkthrough:app -->", 1)[1]
    match = FENCE.search(after)
    assert match and match.group(1) == "python"
    return match.group(2)


@dataclass
class Step:
    command: str
    expected: str


def steps() -> list[Step]:
    block = FENCE.search(_section("<!-- walkthrough:start -->", "<!-- walkthrough:end -->"))
    assert block and block.group(1) == "console"
    found: list[Step] = []
    for line in block.group(2).splitlines():
        if line.startswith("$ "):
            found.append(Step(line[2:], ""))
        else:
            found[-1].expected += line + "\n"
    return found


STEPS = steps()
WORKDIR: dict[str, Any] = {}
"""Where the README's commands run: the folder holding the app's ``cdk.out``."""


@pytest.fixture(scope="module")
def shop(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> DeployedStack:
    import aws_cdk
    from helpers import project_app

    outdir = WORKDIR["path"] = tmp_path_factory.mktemp("shop")
    outdir = outdir / "cdk.out"
    namespace: dict[str, Any] = {}
    # The README's `App()` as `cdk synth` makes it: with the CLI's context (path metadata).
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aws_cdk, "App", lambda *_, **__: project_app(outdir))
        exec(compile(app_source(), str(README), "exec"), namespace)
    return emulator.deploy(namespace["app"].synth().get_stack_by_name("Shop"))


@pytest.fixture(scope="module")
def incidents(shop: DeployedStack) -> Iterator[None]:
    """What the README says happened, made to happen."""
    orders = DeployedFanout(shop, "Shop/OrderPlaced")
    billing, shipping = orders.consumers["Billing"], orders.consumers["Shipping"]
    orders.publish({"order_id": "o-1001", "total": 1250}, attributes={"tier": "gold"})
    orders.publish({"order_id": "o-1002", "total": 80}, attributes={"tier": "silver"})
    for _ in range(billing.max_receive_count):  # billing fails both, never deletes them
        orders.receive_all(billing.queue_url, visibility_timeout=0, delete=False)
    orders.receive_all(billing.queue_url)
    orders.receive_all(shipping.queue_url)  # shipping processed those two
    ledger = DeployedFanout(shop, "Shop/Ledger")
    for n in range(3):
        ledger.publish({"entry": n, "account": "a-1"}, group_id="a-1", deduplication_id=f"e-{n}")
    ledger.receive_all(ledger.consumers["Balances"].queue_url)
    url = shipping.queue_url
    kept = orders.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    orders.sqs.delete_queue(QueueUrl=url)
    for n, total in ((1003, 42), (1004, 310), (1005, 99)):
        orders.publish({"order_id": f"o-{n}", "total": total}, attributes={"tier": "gold"})
    orders.receive_all(billing.queue_url)  # billing handled these
    writable = ("VisibilityTimeout", "MessageRetentionPeriod", "RedrivePolicy", "KmsMasterKeyId")
    orders.sqs.create_queue(
        QueueName=url.rsplit("/", 1)[-1], Attributes={k: kept[k] for k in writable if k in kept}
    )
    yield


@pytest.mark.parametrize("step", STEPS, ids=[s.command for s in STEPS])
def test_each_walkthrough_command_prints_what_the_readme_shows(
    step: Step,
    incidents: None,
    emulator: Emulator,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
    monkeypatch.setattr("constructs_lib.cli.dlq.POLL_SECONDS", 0.1)
    monkeypatch.chdir(WORKDIR["path"])
    argv = shlex.split(step.command)
    assert argv[0] == "fanout"
    capsys.readouterr()

    code = main(argv[1:])

    out = capsys.readouterr().out
    assert code == 0, out
    assert mask(out) == mask(step.expected), f"actual output:\n{out}"
    if "--output-file" in argv:  # the README shows what the command wrote, drawn
        written = (WORKDIR["path"] / argv[argv.index("--output-file") + 1]).read_text()
        drawn = FENCE.search(README.read_text().split("<!-- walkthrough:diagram -->", 1)[1])
        assert drawn and drawn.group(1) == "mermaid"
        assert drawn.group(2) == written, f"written:\n{written}"


def test_the_walkthrough_redrives_both_kinds_of_dead_letter_queue() -> None:
    commands = [s.command for s in STEPS]
    redrives = [c for c in commands if c.startswith("fanout dlq redrive")]
    assert any(c.endswith("-dlq") for c in redrives)  # a consumer's DLQ (move task)
    assert any(c.endswith("-undelivered") for c in redrives)  # the subscription DLQ
    assert any(c.startswith("fanout dlq list") for c in commands)
    assert any(c.startswith("fanout dlq peek") for c in commands)
    assert any(c.startswith("fanout replay") for c in commands)
    assert any(c.startswith("fanout diagram") for c in commands)
