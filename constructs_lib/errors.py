"""The one error every construct raises for options AWS would reject or that cannot work."""

from __future__ import annotations

from collections.abc import Sequence


class FanoutConfigurationError(ValueError):
    """Raised at synth for construct options AWS would reject, or that cannot work.

    Every problem of one construct is reported at once: ``problems`` holds one line per
    problem, each naming the option, the value given and what is allowed. Values only known
    at deploy time (tokens) are never refused.
    """

    def __init__(self, construct_path: str, problems: Sequence[str]) -> None:
        self.construct_path = construct_path
        self.problems = list(problems)
        super().__init__(format_problems(construct_path, self.problems))


def format_problems(construct_path: str, problems: Sequence[str]) -> str:
    """The message of a :class:`FanoutConfigurationError`: the construct, then a line per
    problem."""
    count = len(problems)
    noun = "problem" if count == 1 else "problems"
    lines = "\n".join(f"  - {p}" for p in problems)
    return f"{construct_path}: {count} configuration {noun}:\n{lines}"
