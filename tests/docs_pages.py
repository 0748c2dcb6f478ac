"""The documentation: README.md and the site's pages under docs/, for the tests that run or
compare what they show."""

from __future__ import annotations

from pathlib import Path

from helpers import ROOT

DOCS = ROOT / "docs"


def pages() -> list[Path]:
    """README.md, then every page of the site."""
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def text() -> str:
    """All of them, one after the other (each section heading appears once in all)."""
    return "\n\n".join(page.read_text() for page in pages())


def page_with(marker: str) -> Path:
    """The page that holds ``marker``."""
    found = [page for page in pages() if marker in page.read_text()]
    assert len(found) == 1, f"{marker!r} is on {len(found)} pages: {found}"
    return found[0]
