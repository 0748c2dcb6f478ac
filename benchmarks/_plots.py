"""Figures for the benchmarks, written so that regenerating them changes only what the
numbers change. Shared by ``scaling_sim.py`` and ``synth_scale.py``.

matplotlib (the ``bench`` extra) is imported only by :func:`new_figure`, so the scripts'
other uses and the tests that do not draw never import it. Figures use the Agg renderer
directly (no pyplot, no interactive backend) with matplotlib's default style, whatever
matplotlibrc the machine has, a fixed size and DPI, the bundled DejaVu Sans font, SVG ids
from a fixed salt, SVG text as text, and no date or software version in either file.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.typing import RcKeyType

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / "docs" / "images" / "benchmarks"
SIZE_INCHES = (10.0, 7.5)
DPI = 120
"""1200 x 900 pixels in the PNG."""
COLORS = {"ideal": "#7f7f7f", "ours": "#1f77b4", "theirs": "#d62728"}

_STYLE: dict[RcKeyType, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 10.0,
    "svg.fonttype": "none",  # text stays text: searchable, and smaller than glyph outlines
    "svg.hashsalt": "constructs_lib-benchmarks",  # clip-path ids from content, not uuid4
    "axes.grid": True,
    "grid.alpha": 0.3,
}


def add_figures_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--figures-dir",
        type=Path,
        default=DEFAULT_DIR,
        metavar="DIR",
        help=f"where {what} is written as PNG and SVG (default: {_shown(DEFAULT_DIR)}; the "
        "committed figures come from a run with the default settings)",
    )


def missing() -> str | None:
    """Why figures cannot be drawn here, or None."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return (
            "matplotlib is not installed (the bench extra: "
            ".venv/bin/pip install -c constraints.txt -e '.[bench]')"
        )
    return None


@contextmanager
def new_figure(rows: int) -> Iterator[Figure]:
    """A figure of ``rows`` panels sharing the x axis, drawn with the fixed style; call
    :func:`save` inside the ``with`` block (the SVG settings are read when it is written)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.rc_context():
        matplotlib.rcdefaults()  # not the machine's matplotlibrc
        matplotlib.rcParams.update(_STYLE)
        figure = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
        FigureCanvasAgg(figure)
        figure.subplots(rows, 1, sharex=True)
        yield figure


def save(figure: Figure, directory: Path, stem: str) -> list[Path]:
    """Write ``stem.png`` and ``stem.svg`` into ``directory``; the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    png, svg = directory / f"{stem}.png", directory / f"{stem}.svg"
    figure.savefig(png, format="png", dpi=DPI, metadata={"Software": None})
    figure.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    return [png, svg]


def written(paths: list[Path]) -> str:
    """The paths as a line of output, relative to the working directory where they can be."""
    return ", ".join(_shown(path) for path in paths)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
