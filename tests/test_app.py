"""Every stack in app.py passes cdk-nag (AwsSolutions), CDK's own validation and cfn-lint."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from aws_cdk import Stack, Validations, cx_api
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks
from helpers import REFERENCE_STACKS, ROOT, cfn_lint, new_app

from stacks import add_reference_stacks

ONE_RULE = re.compile(r"(Annotation::)?AwsSolutions-[A-Z]+\d+(\[[^\]]+\])?")


PINNED_ACCOUNT = "123456789012"
PINNED_REGION = "eu-west-1"


@pytest.fixture(scope="module", params=["agnostic", "pinned"])
def assembly(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> cx_api.CloudAssembly:
    """The reference app synthesized once environment-agnostic and once pinned to an account
    and region (with the availability zones a user's cdk.context.json holds), each with the
    AwsSolutions pack registered."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    if request.param == "agnostic":
        app = new_app(outdir=str(outdir))
        add_reference_stacks(app)
    else:
        app = new_app(
            outdir=str(outdir),
            context={
                f"availability-zones:account={PINNED_ACCOUNT}:region={PINNED_REGION}": [
                    f"{PINNED_REGION}{zone}" for zone in "abc"
                ]
            },
        )
        add_reference_stacks(app, account=PINNED_ACCOUNT, region=PINNED_REGION)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    try:
        return app.synth()
    except RuntimeError as err:
        report = outdir / "validation-report.json"
        details = report.read_text() if report.exists() else ""
        pytest.fail(f"synth failed validation: {err}\n{details}")


def test_app_defines_the_reference_stacks(assembly: cx_api.CloudAssembly) -> None:
    assert sorted(s.stack_name for s in assembly.stacks) == REFERENCE_STACKS


def test_cdk_nag_and_cdk_validation_report_no_violation(assembly: cx_api.CloudAssembly) -> None:
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    failures = [r for r in report["pluginReports"] if r.get("conclusion") != "success"]
    assert failures == []


def test_synth_emits_no_warnings_or_errors(assembly: cx_api.CloudAssembly) -> None:
    messages = [(m.id, str(m.entry.data)) for s in assembly.stacks for m in s.messages]
    assert messages == []


def _acknowledgments(assembly: cx_api.CloudAssembly) -> list[tuple[str, str, str]]:
    """(construct path, rule, reason) for every acknowledgment in the assembly's metadata."""
    found = []
    for metadata_file in Path(assembly.directory).glob("*.metadata.json"):
        for path, entries in json.loads(metadata_file.read_text()).items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    data: dict[str, str] = entry["data"]
                    found += [(path, rule, reason) for rule, reason in data.items()]
    return found


def test_every_acknowledgment_names_one_rule_on_one_resource_with_a_reason(
    assembly: cx_api.CloudAssembly,
) -> None:
    # aws-cdk-lib records a few CloudFormation-Validate acknowledgments of its own (e.g. for
    # the VPC flow log); the cdk-nag ones are ours and must each be narrow and explained.
    acks = [a for a in _acknowledgments(assembly) if "AwsSolutions" in a[1]]
    assert acks, "expected the subscription dead-letter queues' SQS3 acknowledgment"
    for path, rule, reason in acks:
        assert path.count("/") >= 3, f"{path}: acknowledge on the resource, not a stack"
        assert ONE_RULE.fullmatch(rule), f"{rule}: acknowledge one rule (and finding), not a pack"
        assert len(reason) >= 80, f"{path} {rule}: a reviewer needs a real reason"


def test_cfn_lint_reports_nothing_on_any_template(assembly: cx_api.CloudAssembly) -> None:
    templates = [str(Path(assembly.directory) / s.template_file) for s in assembly.stacks]
    assert cfn_lint(templates) == (0, "", "")


def test_the_nag_harness_catches_a_violation(tmp_path: Path) -> None:
    """Negative control: a queue without a DLQ or TLS policy must fail the same check."""
    app = new_app(outdir=str(tmp_path))
    sqs.Queue(Stack(app, "Bad"), "NoDeadLetterQueue")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = (tmp_path / "validation-report.json").read_text()
    assert "AwsSolutions-SQS3" in report and "AwsSolutions-SQS4" in report


SECURITY_PAGE = ROOT / "docs" / "guides" / "security.md"


def _acknowledgments_table(assembly: cx_api.CloudAssembly) -> str:
    """Markdown: each acknowledged AwsSolutions rule with its reason, and where it applies."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for path, rule, reason in _acknowledgments(assembly):
        if "AwsSolutions" not in rule:
            continue
        base = rule.split("[", 1)[0].rsplit("::", 1)[-1]
        grouped.setdefault((base, reason), []).append(path.lstrip("/"))
    rows = ["| rule | where (construct paths) | reason |", "| --- | --- | --- |"]
    for (base, reason), paths in sorted(grouped.items()):
        where = ", ".join(f"`{p}`" for p in sorted(set(paths)))
        rows.append(f"| {base} | {where} | {reason} |")
    return "\n".join(rows) + "\n"


def test_the_security_page_lists_every_acknowledgment_with_its_reason(
    assembly: cx_api.CloudAssembly,
) -> None:
    """The same table holds for the account-agnostic and the pinned app: the library renders
    its acknowledgments for whatever environment it is in."""
    start, end = "<!-- acknowledgments:start -->\n", "<!-- acknowledgments:end -->"
    text = SECURITY_PAGE.read_text()
    table = _acknowledgments_table(assembly)
    if os.environ.get("FANOUT_UPDATE_DOCS"):
        text = text[: text.index(start) + len(start)] + table + text[text.index(end) :]
        SECURITY_PAGE.write_text(text)
    assert text[text.index(start) + len(start) : text.index(end)] == table
