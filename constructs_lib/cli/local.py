"""``fanout local``: to be written (placeholder while the command is built)."""

from __future__ import annotations

from .main import Commands


def register(commands: Commands) -> None:
    """Add the ``local`` subcommand."""
