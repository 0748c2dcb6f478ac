"""Size of SNS subscription filter policies, checked against the limits SNS enforces.

SNS rejects a filter policy with more than 5 keys, or whose value combinations (the product
of the number of values in each key's array) exceed 150. For a policy on the message body,
nested keys count by their full path, so ``{"order": {"total": [...], "currency": [...]}}``
has two keys.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_sns as sns

from .validation import Problems, unresolved

MAX_FILTER_KEYS = 5
MAX_FILTER_COMBINATIONS = 150
MAX_NUMERIC_MAGNITUDE = 1_000_000_000
"""SNS matches numbers from -1,000,000,000 to 1,000,000,000 (inclusive)."""
_LOWER = {">", ">="}
_UPPER = {"<", "<="}


@dataclass(frozen=True)
class FilterPolicySize:
    """Key paths and value combinations of one filter policy."""

    keys: tuple[str, ...]
    combinations: int


def attribute_policy_size(policy: Mapping[str, sns.SubscriptionFilter]) -> FilterPolicySize:
    """Size of a filter policy on message attributes."""
    counts = {
        name: len(f.conditions)
        for name, f in policy.items()
        if isinstance(f, sns.SubscriptionFilter)
    }
    return FilterPolicySize(tuple(counts), math.prod(counts.values()))


def body_policy_size(policy: Mapping[str, sns.FilterOrPolicy]) -> FilterPolicySize:
    """Size of a filter policy on the message body (nested keys counted by path)."""
    counts = dict(_leaf_counts(policy, prefix=""))
    return FilterPolicySize(tuple(counts), math.prod(counts.values()))


def _leaf_counts(
    policy: Mapping[str, sns.FilterOrPolicy], prefix: str
) -> Iterator[tuple[str, int]]:
    for name, node in policy.items():
        path = f"{prefix}{name}"
        if isinstance(node, sns.Policy):
            yield from _leaf_counts(node.policy_doc, prefix=f"{path}.")
        elif isinstance(node, sns.Filter):
            yield path, len(node.filter_doc.conditions)


def check_attribute_policy(
    problems: Problems, option: str, policy: Mapping[str, sns.SubscriptionFilter]
) -> None:
    """Every condition of a filter policy on message attributes is one SNS accepts."""
    if not isinstance(policy, Mapping):
        problems.add(option, policy, "must be a dict of attribute name to SubscriptionFilter")
        return
    for name, subscription_filter in policy.items():
        if not isinstance(subscription_filter, sns.SubscriptionFilter):
            problems.add(
                f"{option}[{name!r}]",
                subscription_filter,
                "must be an sns.SubscriptionFilter (e.g. SubscriptionFilter.string_filter(...))",
            )
            continue
        _check_conditions(problems, f"{option}[{name!r}]", subscription_filter.conditions)


def check_body_policy(
    problems: Problems, option: str, policy: Mapping[str, sns.FilterOrPolicy]
) -> None:
    """Every nested policy of a filter on the message body is non-empty, every condition valid."""
    if not isinstance(policy, Mapping):
        problems.add(option, policy, "must be a dict of key to sns.FilterOrPolicy")
        return
    for name, node in policy.items():
        path = f"{option}[{name!r}]"
        if isinstance(node, sns.Policy):
            nested = node.policy_doc
            if not nested:
                problems.add(
                    path,
                    "FilterOrPolicy.policy({})",
                    "is an empty nested policy; SNS rejects it: give it keys or drop it",
                )
            else:
                check_body_policy(problems, path, nested)
        elif isinstance(node, sns.Filter):
            _check_conditions(problems, path, node.filter_doc.conditions)
        else:
            problems.add(
                path,
                node,
                "must be sns.FilterOrPolicy.filter(...) or sns.FilterOrPolicy.policy({...})",
            )


def _check_conditions(problems: Problems, path: str, conditions: Sequence[Any]) -> None:
    if unresolved(conditions):
        return
    if not conditions:
        problems.add(
            path,
            [],
            "has no condition (an empty allowlist, or a filter given no option); SNS rejects "
            "an empty list: give at least one value or drop the key",
        )
        return
    for condition in conditions:
        if isinstance(condition, bool):
            continue
        if isinstance(condition, int | float):
            _check_number(problems, path, condition)
        elif isinstance(condition, Mapping):
            _check_operator(problems, path, condition)


def _check_operator(problems: Problems, path: str, condition: Mapping[str, Any]) -> None:
    for operator, operand in condition.items():
        if operator == "numeric" and isinstance(operand, Sequence):
            _check_numeric(problems, path, list(operand))
        elif operator == "anything-but":
            if isinstance(operand, Sequence) and not isinstance(operand, str) and not operand:
                problems.add(
                    path,
                    condition,
                    "is an empty denylist; SNS rejects it: give at least one value",
                )
            elif isinstance(operand, Sequence) and not isinstance(operand, str):
                for value in operand:
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        _check_number(problems, path, value)


def _check_numeric(problems: Problems, path: str, operand: list[Any]) -> None:
    pairs = list(zip(operand[::2], operand[1::2], strict=False))
    for _, number in pairs:
        if isinstance(number, int | float) and not isinstance(number, bool):
            _check_number(problems, path, number)
    bounds = dict(pairs)
    lower = next((v for op, v in pairs if op in _LOWER), None)
    upper = next((v for op, v in pairs if op in _UPPER), None)
    if (
        isinstance(lower, int | float)
        and isinstance(upper, int | float)
        and not unresolved(lower)
        and not unresolved(upper)
    ):
        inclusive = ">=" in bounds and "<=" in bounds
        if lower > upper or (lower == upper and not inclusive):
            problems.add(
                path,
                {"numeric": operand},
                f"is an empty range (from {lower} to {upper}): it matches no number and SNS "
                "rejects it; swap the bounds",
            )


def _check_number(problems: Problems, path: str, number: float) -> None:
    if unresolved(number):
        return
    if not math.isfinite(number) or abs(number) > MAX_NUMERIC_MAGNITUDE:
        problems.add(
            path,
            number,
            f"SNS matches numbers from -{MAX_NUMERIC_MAGNITUDE:,} to {MAX_NUMERIC_MAGNITUDE:,}",
        )
