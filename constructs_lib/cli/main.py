"""The ``fanout`` command: parser, global options, dispatch and exit codes.

Global options (``--region``, ``--profile``, ``--endpoint-url``, ``--output``) are accepted
before or after the subcommand: each subcommand's parser carries them too, with defaults
that never override a value given earlier.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import Any

from .core import (
    EXIT_CODES,
    EXIT_INTERRUPTED,
    PROG,
    Context,
    OperatorError,
)

# Each module registers its subcommand(s) with ``register(commands, common)``. Importing them
# must stay light (no boto3, no aws_cdk): the parser is built for every invocation.
SUBCOMMAND_MODULES = ("dlq", "replay", "local", "diagram")

DESCRIPTION = """\
Operate SNS to SQS fanouts: dead letters (consumer and subscription dead-letter queues),
FIFO replay from a topic's archive, a local emulator on demand, and diagrams of a
synthesized app. AWS subcommands use the standard credential chain, --profile, --region
and --endpoint-url; none of them needs Node or imports aws_cdk.
"""


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("constructs-lib")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def exit_codes_text() -> str:
    width = max(len(str(code)) for code in EXIT_CODES)
    return "exit codes:\n" + "\n".join(
        f"  {str(code).rjust(width)}  {meaning}" for code, meaning in EXIT_CODES.items()
    )


def _add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options every subcommand takes; ``suppress`` keeps an absent option from
    overwriting the value given before the subcommand."""
    from .aws import endpoint_url

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("global options (before or after the subcommand)")
    group.add_argument(
        "--region", default=default(None), help="AWS region (default: the standard configuration)"
    )
    group.add_argument(
        "--profile",
        default=default(None),
        help="AWS profile (default: the standard credential chain)",
    )
    group.add_argument(
        "--endpoint-url",
        type=endpoint_url,
        default=default(None),
        metavar="URL",
        help="AWS endpoint for every service, e.g. a local emulator (default: AWS)",
    )
    group.add_argument(
        "--output",
        choices=("table", "json"),
        default=default("table"),
        help="table for people (default), json for scripts",
    )


class Commands:
    """What a subcommand module's ``register`` is given: ``add`` makes a subcommand parser
    with the global options, examples and exit codes in its help."""

    def __init__(self, subparsers: Any) -> None:
        self._subparsers = subparsers

    def add(
        self,
        name: str,
        *,
        help: str,
        description: str | None = None,
        examples: Sequence[str] = (),
        handler: Callable[[argparse.Namespace, Context], int] | None = None,
    ) -> argparse.ArgumentParser:
        epilog = ""
        if examples:
            epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples) + "\n\n"
        epilog += exit_codes_text()
        text = description or help
        text = "\n\n".join(textwrap.fill(part, 88) for part in text.split("\n\n"))
        parser: argparse.ArgumentParser = self._subparsers.add_parser(
            name,
            help=help,
            description=text,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _add_global_options(parser, suppress=True)
        if handler is not None:
            parser.set_defaults(handler=handler)
        return parser

    def group(
        self, name: str, *, help: str, description: str | None = None
    ) -> tuple[argparse.ArgumentParser, Commands]:
        """A subcommand with subcommands of its own (``fanout dlq list``)."""
        parser = self.add(name, help=help, description=description)
        sub = parser.add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")
        return parser, Commands(sub)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog=PROG,
        description=DESCRIPTION,
        epilog="Run `fanout COMMAND --help` for a command's options and examples.\n\n"
        + exit_codes_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=f"{PROG} {version()}")
    _add_global_options(top, suppress=False)
    commands = Commands(top.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    for module in SUBCOMMAND_MODULES:
        import_module(f"{__package__}.{module}").register(commands)
    return top


def run(argv: Sequence[str] | None = None, *, ctx: Context | None = None) -> int:
    """The command, with its context injectable (tests pass sleep, clock and streams)."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exit_:  # argparse has printed usage and the error, or --help
        return int(exit_.code or 0)
    if ctx is None:
        ctx = Context(args=args)
    else:
        ctx.args = args
    from .aws import translate

    try:
        return int(args.handler(args, ctx))
    except OperatorError as err:
        ctx.error(str(err))
        return err.exit_code
    except KeyboardInterrupt:
        ctx.error("interrupted")
        return EXIT_INTERRUPTED
    except Exception as err:
        failure = translate(err)
        if failure is None:
            raise
        ctx.error(str(failure))
        return failure.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: ``fanout [global options] COMMAND ...``."""
    return run(argv)


__all__ = ["main", "parser", "run"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
