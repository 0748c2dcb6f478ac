"""Construct options, declared once.

Each construct declares its options once, as a ``TypedDict`` (its public ``<Name>Options``:
name and type of each option), with one mapping of defaults beside it, and takes them as
``**options: Unpack[<Name>Options]``: type checkers and IDEs see the keyword parameters, and
this module does at run time what a type checker would, so that a wrong name or type is a
:class:`~constructs_lib.errors.FanoutConfigurationError` naming the option, like every other
problem (aws-cdk gets the same from jsii's generated type checks).

:meth:`Declared.settle` merges the defaults under the options given, refuses unknown names (naming
the nearest option) and checks every value given against its declared type. Values only
known at deploy time (tokens) pass any check of a string or number.
"""

from __future__ import annotations

import collections.abc
import difflib
import enum
import functools
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from constructs import IConstruct

from .validation import Problems, unresolved

_SERVICE_ALIASES = {"aws_lambda": "lambda_", "aws_cdk": ""}


_Options = TypeVar("_Options", bound=Mapping[str, object])


@dataclass(frozen=True)
class Declared(Generic[_Options]):
    """One construct's options: the ``TypedDict`` that declares them, their defaults, and
    how to describe an expected type where the declared one would not say enough."""

    construct: str
    """The construct's class name, for messages."""
    options: type
    """The ``TypedDict`` declaring each option's name and type."""
    defaults: _Options
    """Every option's default (None for "not set"), as an instance of ``options``."""
    expected: Mapping[str, str] = field(default_factory=dict)
    """Option -> what to pass, in the user's words, when the type alone would not say it."""
    removed: Mapping[str, str] = field(default_factory=dict)
    """Option the construct no longer takes -> what to do instead."""

    @functools.cached_property
    def hints(self) -> dict[str, Any]:
        return typing.get_type_hints(self.options)

    def settle(
        self,
        construct: IConstruct,
        given: Mapping[str, Any],
        problems: Problems,
        **required: Any,
    ) -> _Options:
        """The options in effect: the defaults overlaid with ``given``.

        Adds a problem for each name that is not an option and for each value of the wrong
        type: of ``given``, by the options type, and of ``required`` (the keyword parameters
        the constructor declares in its signature), by that signature. The caller raises
        them before its value rules run, since those rules read the values as their declared
        types.
        """
        for name in given:
            if name in self.removed:
                problems.add(name, given[name], f"is no longer an option: {self.removed[name]}")
            elif name not in self.defaults:
                nearest = difflib.get_close_matches(name, list(self.defaults), n=1)
                hint = f"did you mean {nearest[0]!r}? " if nearest else ""
                problems.add(
                    name,
                    given[name],
                    f"is not an option of {self.construct}; {hint}the options are "
                    f"{', '.join(sorted(self.defaults))}",
                )
        for name, value in required.items():
            hint = _parameter_hint(type(construct), name)
            check_type(problems, name, value, hint, self.expected.get(name))
        for name, value in given.items():
            if name in self.defaults:
                check_type(problems, name, value, self.hints[name], self.expected.get(name))
        known = {k: _plain(v, self.hints[k]) for k, v in given.items() if k in self.defaults}
        return cast(_Options, {**self.defaults, **known})


@functools.cache
def _parameter_hint(cls: type, name: str) -> Any:
    """The declared type of the constructor parameter ``name``: of the first class in
    ``cls``'s MRO whose constructor declares it (a user's subclass may take other
    parameters and pass this one on)."""
    for owner in cls.__mro__:
        try:
            hints = typing.get_type_hints(owner.__init__)  # type: ignore[misc]
        except Exception:  # a subclass's annotations this module cannot resolve
            continue
        if name in hints:
            return hints[name]
    return Any


def _plain(value: Any, hint: Any) -> Any:
    """A mapping that is not a dict (a ``MappingProxyType``, say) as a dict: the jsii
    runtime takes only dicts where aws-cdk wants a map."""
    if isinstance(value, Mapping) and not isinstance(value, dict) and _mapping_hint(hint):
        return dict(value)
    return value


def check_type(problems: Problems, option: str, value: Any, hint: Any, what: str | None) -> bool:
    """Add a problem unless ``value`` is of type ``hint``; True when it is. In a dict of the
    right kind, each entry of the wrong type is its own problem (``option['key']``)."""
    if conforms(value, hint):
        return True
    mapping = _mapping_hint(hint)
    if mapping is not None and isinstance(value, Mapping):
        key_hint, item_hint = typing.get_args(mapping) or (Any, Any)
        for key, item in value.items():
            if not conforms(key, key_hint):
                problems.wrong_type(f"{option} key", key, expected(key_hint))
            elif not conforms(item, item_hint):
                problems.wrong_type(f"{option}[{key!r}]", item, expected(item_hint))
        return False
    problems.wrong_type(option, value, what or expected(hint))
    return False


def _mapping_hint(hint: Any) -> Any:
    """The ``Mapping[K, V]`` of ``hint`` (itself, or the one member of an optional)."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        members = [m for m in typing.get_args(hint) if m is not type(None)]
        return _mapping_hint(members[0]) if len(members) == 1 else None
    return hint if _is(origin, Mapping) else None


def conforms(value: Any, hint: Any) -> bool:
    """Whether ``value`` is of the declared type ``hint`` (checked as deeply as a type
    checker would: union members, mapping keys and values, sequence items)."""
    if hint is Any or hint is object:
        return True
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(conforms(value, member) for member in typing.get_args(hint))
    if hint is None or hint is type(None):
        return value is None
    if isinstance(value, str | int | float) and not isinstance(value, bool) and unresolved(value):
        # A token stands for a value of its own kind: a string token for a str option, a
        # number token (CDK encodes them as floats) for a number option.
        return hint is str if isinstance(value, str) else hint in (int, float)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int or hint is float:
        # Whole and finite numbers are value rules (checked with the value's bounds).
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if _is(origin, Mapping):
        key, item = typing.get_args(hint) or (Any, Any)
        return isinstance(value, Mapping) and all(
            conforms(k, key) and conforms(v, item) for k, v in value.items()
        )
    if (
        origin is not None
        and isinstance(origin, type)
        and issubclass(origin, collections.abc.Sequence)
    ):
        (item,) = typing.get_args(hint) or (Any,)
        return (
            isinstance(value, collections.abc.Sequence)
            and not isinstance(value, str | bytes)
            and all(conforms(v, item) for v in value)
        )
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if isinstance(hint, type) and getattr(hint, "_is_protocol", False):
        return _implements(value, hint)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True  # a form this checker does not know: leave it to the value rules


def _is(origin: Any, kind: type) -> bool:
    return isinstance(origin, type) and issubclass(origin, kind)


def _implements(value: Any, interface: type) -> bool:
    """Whether ``value`` has what a jsii interface promises. Imported resources are often
    jsii proxies that subclass no Python class of the interface, so the check looks at what
    their class has (its properties and methods), not at what it is, without reading a
    property (each read is a call into the jsii runtime). Only jsii's dynamic proxy (one
    object for several interfaces, which answers by delegation) is asked for each member."""
    if isinstance(value, str | bytes | int | float | bool | Mapping) or value is None:
        return False
    members = _members(interface)
    cls = type(value)
    if all(hasattr(cls, name) for name in members):
        return True
    # jsii's dynamic proxy (an object of several interfaces) answers by delegation only.
    return hasattr(cls, "__getattr__") and all(_answers(value, name) for name in members)


def _answers(value: Any, name: str) -> bool:
    try:
        return hasattr(value, name)
    except Exception:  # a property the runtime cannot read yet still exists
        return True


@functools.cache
def _members(interface: type) -> tuple[str, ...]:
    return tuple(name for name in vars(interface) if not name.startswith("_"))


def expected(hint: Any) -> str:
    """``hint`` in the user's words: ``an sns.ITopic``, ``a Duration``, ``a dict of str to
    str``, ``an int``, ``one of ...``."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        members = [m for m in typing.get_args(hint) if m is not type(None)]
        text = " or ".join(expected(m) for m in members)
        return text + (" (or None)" if len(members) < len(typing.get_args(hint)) else "")
    if _is(origin, Mapping):
        key, item = typing.get_args(hint) or (Any, Any)
        return f"a dict of {_bare(expected(key))} to {_bare(expected(item))}"
    if (
        origin is not None
        and isinstance(origin, type)
        and issubclass(origin, collections.abc.Sequence)
    ):
        (item,) = typing.get_args(hint) or (Any,)
        return f"a list of {_bare(expected(item))}"
    if hint is bool:
        return "a bool (True or False)"
    if hint is int:
        return "an int"
    if hint is float:
        return "a number"
    if hint is str:
        return "a str"
    if (
        isinstance(hint, type)
        and issubclass(hint, enum.Enum)
        and hint.__module__.startswith("constructs_lib")
    ):
        return f"a {hint.__name__} ({', '.join(m.name for m in hint)})"
    if isinstance(hint, type):
        return _article(_qualified(hint))
    return str(hint)


def _qualified(cls: type) -> str:
    module = cls.__module__
    if module.startswith("constructs_lib"):
        return cls.__name__
    service = module.split(".")[1] if module.count(".") >= 1 else module
    alias = _SERVICE_ALIASES.get(service, service.removeprefix("aws_"))
    return f"{alias}.{cls.__name__}" if alias else cls.__name__


_SPELLED_WITH_A_VOWEL_SOUND = frozenset({"sqs", "sns", "ssm", "iam", "ec2", "ecs", "s3", "rds"})
"""Services read letter by letter whose first letter sounds like a vowel: an sqs.IQueue."""


def _article(noun: str) -> str:
    prefix = noun.split(".", 1)[0].lower() if "." in noun else ""
    vowel = prefix in _SPELLED_WITH_A_VOWEL_SOUND or (not prefix and noun[:1].lower() in "aeiou")
    return f"{'an' if vowel else 'a'} {noun}"


def _bare(text: str) -> str:
    return text.removeprefix("an ").removeprefix("a ")
