"""A griffe extension for the API reference: a constructor that takes its options as
``**options: Unpack[<Name>Options]`` (a TypedDict, the options declared once) is shown with
one keyword-only parameter per option, with its type, so the reference lists each option
beside its ``:param:`` text. The defaults are in the text ("Default: ..."); the signature
shows ``...`` for them."""

from __future__ import annotations

from typing import Any

import griffe


class UnpackOptions(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _walk(pkg):
            if isinstance(obj, griffe.Function):
                self._expand(obj)

    @staticmethod
    def _expand(func: griffe.Function) -> None:
        params = list(func.parameters)
        for index, param in enumerate(params):
            if param.kind is not griffe.ParameterKind.var_keyword:
                continue
            text = str(param.annotation or "")
            if not (text.startswith("Unpack[") and text.endswith("]")):
                continue
            name = text[len("Unpack[") : -1].rsplit(".", 1)[-1]
            options = func.module.members.get(name)
            if not isinstance(options, griffe.Class):
                continue
            expanded = [
                griffe.Parameter(
                    member.name,
                    annotation=member.annotation,
                    kind=griffe.ParameterKind.keyword_only,
                    default="...",
                )
                for member in options.members.values()
                if isinstance(member, griffe.Attribute) and not member.name.startswith("_")
            ]
            func.parameters = griffe.Parameters(*params[:index], *expanded, *params[index + 1 :])
            return


def _walk(obj: Any) -> Any:
    yield obj
    for member in getattr(obj, "members", {}).values():
        if isinstance(member, griffe.Alias):
            continue
        yield from _walk(member)
