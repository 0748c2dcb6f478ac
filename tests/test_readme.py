"""Every Python example in README.md runs, synthesizes, and prints what the README shows."""

from __future__ import annotations

import contextlib
import io
import re

import pytest
from aws_cdk import App
from helpers import ROOT

FENCE = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)


def _examples() -> list[tuple[str, str | None]]:
    """(python source, expected output or None) for each runnable python block."""
    blocks = [(m.group(1), m.group(2)) for m in FENCE.finditer((ROOT / "README.md").read_text())]
    examples = []
    for i, (lang, body) in enumerate(blocks):
        # Signature summaries (one call, no import) document the API; they are not programs.
        if lang != "python" or "import" not in body:
            continue
        following = blocks[i + 1] if i + 1 < len(blocks) else None
        expected = following[1] if following and following[0] == "text" else None
        examples.append((body, expected))
    return examples


EXAMPLES = _examples()


def test_readme_has_examples() -> None:
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize(
    ("source", "expected"), EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))]
)
def test_readme_example_runs(
    source: str, expected: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # examples use paths relative to the repository, as README readers do
    namespace: dict[str, object] = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "README.md", "exec"), namespace)
    app = namespace.get("app")
    assert isinstance(app, App), "each example builds an App named `app`"
    assembly = app.synth()
    assert assembly.stacks, "the example's app synthesizes at least one stack"
    if expected is not None:
        assert out.getvalue() == expected


def test_readme_lists_every_gap_the_emulator_fills() -> None:
    from constructs_lib.testing import gaps

    text = (ROOT / "README.md").read_text()
    start, end = "<!-- gaps:start -->\n", "<!-- gaps:end -->"
    listed = text[text.index(start) + len(start) : text.index(end)]
    assert listed == gaps.markdown(), "run python -m constructs_lib.testing.gaps"


def test_every_gap_names_the_code_that_fills_it() -> None:
    import importlib

    from constructs_lib.testing import gaps

    for gap in gaps.all_gaps():
        module, _, name = gap.where.rpartition(".")
        owner = importlib.import_module(module)
        assert hasattr(owner, name), gap.where
        assert gap.moto and gap.aws, gap.where
