"""What every subcommand shares: exit codes, expected errors and the :class:`Context`.

A subcommand module registers its parsers with ``register(commands, common)`` and its
handlers take ``(args, ctx)`` and return an exit code. Expected failures raise
:class:`OperatorError` (or :class:`UsageError`); :func:`constructs_lib.cli.main.run` prints
them as one line, without a traceback, and exits with their code.

This module imports neither boto3 nor rich at import time, so ``fanout --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

PROG = "fanout"

EXIT_OK = 0
"""Done."""
EXIT_AWS = 1
"""AWS (or the emulator) refused or failed the request, or a task it runs failed."""
EXIT_USAGE = 2
"""The request cannot be carried out as given: a bad argument, a queue that does not exist,
a queue that is not a dead-letter queue, a replay on a topic without an archive."""
EXIT_UNREACHABLE = 3
"""AWS could not be reached or called: no credentials, no region, an unreachable endpoint."""
EXIT_INCOMPLETE = 4
"""Stopped with work left that needs a decision (see the message, then rerun)."""
EXIT_INTERRUPTED = 130
"""Stopped by Ctrl-C (SIGINT), after leaving everything consistent."""

EXIT_CODES = {
    EXIT_OK: "done",
    EXIT_AWS: "AWS refused or failed the request, or a task it ran failed",
    EXIT_USAGE: "bad argument, unknown queue or consumer, or a request that cannot apply "
    "(not a dead-letter queue, no archive)",
    EXIT_UNREACHABLE: "AWS not reachable: no credentials, no region, endpoint unreachable",
    EXIT_INCOMPLETE: "stopped with messages that need a decision (the message says which)",
    EXIT_INTERRUPTED: "interrupted by Ctrl-C after a clean stop; a rerun continues",
}

# boto3 ships no type information; clients are dynamic objects.
Client = Any


class OperatorError(Exception):
    """An expected failure: printed as one line, no traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_AWS) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class UsageError(OperatorError):
    """The request cannot be carried out as given (bad argument, unknown queue)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)


def _wide_console(stream: Any) -> Console:
    from rich.console import Console

    # Off a terminal (a pipe, a file, CI, a test) rich would fit tables into 80 columns (or
    # COLUMNS), cutting queue names short; there the lines are as long as they need to be.
    # On a terminal, tables fold long names over lines instead of cutting them.
    width = None if stream.isatty() else 250
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


@dataclass
class Context:
    """What a handler works with: the AWS session, where it writes, how it waits.

    Tests replace ``sleep``, ``now`` and ``session_factory``; everything else follows the
    parsed global options.
    """

    args: argparse.Namespace
    session_factory: Callable[[argparse.Namespace], Any] | None = None
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = lambda: datetime.now(tz=UTC)
    stdout: Any = field(default_factory=lambda: sys.stdout)
    stderr: Any = field(default_factory=lambda: sys.stderr)
    _clients: dict[str, Client] = field(default_factory=dict)
    _out: Console | None = None
    _err: Console | None = None

    # -- output ---------------------------------------------------------------------------

    @property
    def json_output(self) -> bool:
        """``--output json``: print one JSON document (or JSON Lines) for scripts."""
        return getattr(self.args, "output", "table") == "json"

    @property
    def out(self) -> Console:
        """Standard output, through rich (tables, text)."""
        if self._out is None:
            self._out = _wide_console(self.stdout)
        return self._out

    @property
    def err(self) -> Console:
        """Standard error, through rich (progress bars, warnings)."""
        if self._err is None:
            self._err = _wide_console(self.stderr)
        return self._err

    def print(self, text: str = "") -> None:
        """A line of plain text on standard output (no markup is interpreted), never broken
        in two by rich: a long line stays one line (a task handle, a message body)."""
        self.out.print(text, markup=False, highlight=False, soft_wrap=True)

    def print_json(self, value: Any) -> None:
        self.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")
        self.stdout.flush()

    def warn(self, text: str) -> None:
        self.err.print(f"{PROG}: warning: {text}", markup=False, highlight=False, soft_wrap=True)

    def error(self, text: str) -> None:
        self.err.print(f"{PROG}: error: {text}", markup=False, highlight=False, soft_wrap=True)

    def clock(self) -> str:
        return self.now().strftime("%H:%M:%S")

    @contextmanager
    def progress(self) -> Iterator[Progress]:
        """A rich progress bar on standard error: a live bar on a terminal; elsewhere (CI,
        a pipe, a test) only the final state, printed once when the work stops."""
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=self.err,
            auto_refresh=self.err.is_terminal,
        ) as bar:
            yield bar

    # -- AWS ------------------------------------------------------------------------------

    def client(self, service: str) -> Client:
        """A boto3 client for ``service`` from the standard credential chain, ``--profile``,
        ``--region`` and ``--endpoint-url``; one per service for the whole command."""
        if service not in self._clients:
            from .aws import client

            self._clients[service] = client(self, service)
        return self._clients[service]

    @property
    def sqs(self) -> Client:
        return self.client("sqs")

    @property
    def sns(self) -> Client:
        return self.client("sns")
