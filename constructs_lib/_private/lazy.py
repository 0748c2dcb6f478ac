"""Names a package exports but imports only on first use (PEP 562), listed once.

A package lists its public names once, as the imports of its ``if TYPE_CHECKING:`` block
(written ``from .module import Name as Name``, the explicit re-export type checkers
understand). Type checkers and IDEs read that block; at run time :func:`lazy_exports` reads
the same block from the package's source and imports each name from its module when it is
first used, the way SPEC 1's ``lazy_loader.attach_stub`` reads a package's stub file.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any


def declared_exports(source: str) -> dict[str, str]:
    """Name -> relative module of each ``from .module import Name`` in the source's
    ``if TYPE_CHECKING:`` blocks, in the order written."""
    exports: dict[str, str] = {}
    for node in ast.parse(source).body:
        if not (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Name)
            and node.test.id == "TYPE_CHECKING"
        ):
            continue
        for statement in node.body:
            if isinstance(statement, ast.ImportFrom) and statement.level == 1:
                for alias in statement.names:
                    exports[alias.asname or alias.name] = f".{statement.module or ''}"
    return exports


def lazy_exports(
    package: str, namespace: dict[str, Any], init_file: str
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """The ``__getattr__``, ``__dir__`` and ``__all__`` of ``package``, whose
    ``__init__.py`` is ``init_file``; a name is kept in ``namespace`` (the package's
    ``globals()``) once imported."""
    exports = declared_exports(Path(init_file).read_text(encoding="utf-8"))

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__, sorted(exports)
