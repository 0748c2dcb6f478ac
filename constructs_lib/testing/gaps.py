"""Every gap in moto that this package fills, with the AWS behaviour each one restores.

Each fix is written where it is implemented, marked with :func:`fills` (what moto does, what
AWS does); :func:`all_gaps` collects them from every module that holds fixes, so this is the
one place that lists them. ``python -m constructs_lib.testing.gaps`` prints them as the
Markdown table the README carries (a test compares the two).

Every fix has one shape: a function marked with :func:`fills` that patches moto, most often
through :func:`patch` (the replacement gets moto's original as its first argument), and the
module's ``install`` / ``apply`` runs its fixes through :func:`apply_once`.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
Original = Callable[..., Any]
"""What :func:`patch` hands a replacement first: moto's own function."""

FIX_MODULES = (
    "constructs_lib.testing.cfn_gaps",
    "constructs_lib.testing.custom_resources",
    "constructs_lib.testing.event_sources",
    "constructs_lib.testing.lambda_runtime",
    "constructs_lib.testing.moto_fixes",
    "constructs_lib.testing.push_fixes",
    "constructs_lib.testing.sns_archive",
    "constructs_lib.testing.sns_fixes",
    "constructs_lib.testing.sns_http",
    "constructs_lib.testing.sqs_fixes",
)
"""The modules whose import registers their fixes."""


@dataclass(frozen=True)
class Gap:
    """One behaviour moto 5.2.5 lacks or gets wrong, and the AWS behaviour put in its place."""

    service: str
    moto: str
    """What moto does on its own."""
    aws: str
    """What AWS does: the behaviour the fix restores."""
    where: str
    """The function or class that restores it (``module.name``)."""


_GAPS: dict[str, Gap] = {}


def fills(service: str, *, moto: str, aws: str) -> Callable[[T], T]:
    """Mark a function or class as the fix of one gap (registered when its module loads)."""

    def register(fix: T) -> T:
        where = f"{fix.__module__}.{fix.__qualname__}"  # type: ignore[attr-defined]
        _GAPS[where] = Gap(service, " ".join(moto.split()), " ".join(aws.split()), where)
        return fix

    return register


def apply_once(owner: object, flag: str, *fixes: Callable[[], object]) -> None:
    """Run ``fixes`` in order, once per process: ``owner`` (a moto object they patch) carries
    the attribute ``flag`` once they have run."""
    if getattr(owner, flag, False):
        return
    for fix in fixes:
        fix()
    setattr(owner, flag, True)


def patch(owner: Any, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the function replaces moto's ``owner.<name>``, and is called with moto's
    original first (``original(self, ...)`` does what moto does)."""

    def install(replacement: Callable[..., Any]) -> Callable[..., Any]:
        original = getattr(owner, name)

        @functools.wraps(original)
        def patched(*args: Any, **kwargs: Any) -> Any:
            return replacement(original, *args, **kwargs)

        setattr(owner, name, patched)
        return patched

    return install


def all_gaps() -> list[Gap]:
    """Every registered gap, by service then by where it is fixed."""
    for module in FIX_MODULES:
        importlib.import_module(module)
    return sorted(_GAPS.values(), key=lambda gap: (gap.service, gap.where))


def markdown() -> str:
    """The gaps as a Markdown table (service, moto 5.2.5, AWS restored, where)."""
    rows = ["| service | moto 5.2.5 | AWS, restored | where |", "| --- | --- | --- | --- |"]
    for gap in all_gaps():
        where = gap.where.removeprefix("constructs_lib.testing.")
        rows.append(f"| {gap.service} | {gap.moto} | {gap.aws} | `{where}` |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    # Run as a script this file is ``__main__``; the fixes register with the package module.
    from constructs_lib.testing import gaps as registry

    print(registry.markdown(), end="")
