"""The documentation: README.md and the site in docs/. Every Python example runs, synthesizes
and prints what the page shows; the site builds with ``mkdocs build --strict`` (no broken link,
anchor, reference or docstring); every public construct and every command has its page."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import docs_pages
import pytest
from aws_cdk import App
from helpers import ROOT

FENCE = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)
README_MOST_LINES = 200


def _examples() -> list[tuple[str, str, str | None]]:
    """(page, python source, expected output or None) for each runnable python block."""
    examples = []
    for page in docs_pages.pages():
        blocks = [(m.group(1), m.group(2)) for m in FENCE.finditer(page.read_text())]
        for i, (lang, body) in enumerate(blocks):
            # Signature summaries (one call, no import) document the API; not programs.
            if lang != "python" or "import" not in body:
                continue
            following = blocks[i + 1] if i + 1 < len(blocks) else None
            expected = following[1] if following and following[0] == "text" else None
            examples.append((page.relative_to(ROOT).as_posix(), body, expected))
    return examples


EXAMPLES = _examples()


def test_the_docs_have_examples() -> None:
    assert len(EXAMPLES) >= 10
    assert any(page == "README.md" for page, _, _ in EXAMPLES)


@pytest.mark.parametrize(
    ("page", "source", "expected"),
    EXAMPLES,
    ids=[f"{page}-{i}" for i, (page, _, _) in enumerate(EXAMPLES)],
)
def test_each_example_runs(
    page: str, source: str, expected: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # examples use paths relative to the repository, as readers do
    namespace: dict[str, object] = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, page, "exec"), namespace)
    app = namespace.get("app")
    assert isinstance(app, App), "each example builds an App named `app`"
    assembly = app.synth()
    assert assembly.stacks, "the example's app synthesizes at least one stack"
    if expected is not None:
        assert out.getvalue() == expected


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """What `make docs` runs: a broken link, anchor, API reference or nav entry fails it."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    reference = (tmp_path / "reference" / "constructs" / "index.html").read_text()
    assert 'id="constructs_lib.FanoutTopic"' in reference  # rendered from the docstrings
    # Each option of a construct is a parameter of its own, with its type (docs/_griffe/).
    signature = re.sub(r"<[^>]+>", "", reference.split('id="constructs_lib.FanoutTopic"', 1)[1])
    assert "archive_retention_days: int | None = ..." in signature.split("Bases:", 1)[0]


def test_the_readme_stays_a_readme() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) < README_MOST_LINES
    assert "make demo" in "\n".join(lines) and "make test" in "\n".join(lines)


def test_every_public_name_is_in_the_api_reference() -> None:
    import constructs_lib

    reference = (docs_pages.DOCS / "reference" / "constructs.md").read_text()
    listed = set(re.findall(r"^::: constructs_lib\.(\w+)$", reference, re.MULTILINE))
    public = {n for n in constructs_lib.__all__ if not n.endswith("Options")}
    assert public - listed == set()
    assert listed - set(constructs_lib.__all__) == set()


def test_every_construct_and_command_has_a_page() -> None:
    from constructs_lib.cli.main import SUBCOMMAND_MODULES

    pages = {p.relative_to(docs_pages.DOCS).as_posix() for p in docs_pages.DOCS.rglob("*.md")}
    for construct in (
        "fanout-topic",
        "consumer-queue",
        "subscribers",
        "lambda-consumer",
        "worker-pool",
        "mobile-push",
        "dashboard",
    ):
        assert f"constructs/{construct}.md" in pages
    for command in SUBCOMMAND_MODULES:
        assert f"cli/{command}.md" in pages


def test_the_docs_list_every_gap_the_emulator_fills() -> None:
    from constructs_lib.testing import gaps

    start, end = "<!-- gaps:start -->\n", "<!-- gaps:end -->"
    text = docs_pages.page_with(start).read_text()
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


CONSTRUCT_PAGES = sorted((docs_pages.DOCS / "constructs").glob("*.md"))
UPDATE_DIAGRAMS = "FANOUT_UPDATE_DOCS"
"""Set (``make diagrams`` does) to redraw the committed diagrams instead of comparing them."""


def _first_example(page: Path) -> str:
    return next(
        body
        for lang, body in FENCE.findall(page.read_text())
        if lang == "python" and "import" in body
    )


@pytest.mark.parametrize("page", CONSTRUCT_PAGES, ids=[p.stem for p in CONSTRUCT_PAGES])
def test_each_construct_page_shows_the_diagram_of_its_example(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's first example, synthesized as `cdk synth` would, drawn by `fanout diagram`:
    the picture on the page is what that example deploys."""
    import aws_cdk
    from helpers import project_app

    from constructs_lib.cli.main import main

    name = f"construct-{page.stem}"
    assert f'--8<-- "diagrams/{name}.mmd"' in page.read_text()
    outdir = tmp_path / "cdk.out"
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(aws_cdk, "App", lambda *_, **__: project_app(outdir))
    namespace: dict[str, object] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(_first_example(page), str(page), "exec"), namespace)
    namespace["app"].synth()  # type: ignore[attr-defined]
    drawn = tmp_path / f"{name}.mmd"
    with contextlib.redirect_stderr(io.StringIO()):
        assert main(["diagram", str(outdir), "--output-file", str(drawn)]) == 0
    committed = docs_pages.DOCS / "diagrams" / f"{name}.mmd"
    if os.environ.get(UPDATE_DIAGRAMS):
        committed.write_text(drawn.read_text())
    assert committed.read_text() == drawn.read_text(), "run `make diagrams`"
