"""placeholder"""

from __future__ import annotations

from .main import Commands


def register(commands: Commands) -> None:
    """Add the ``dlq`` subcommands."""
