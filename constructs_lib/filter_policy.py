"""Size of SNS subscription filter policies, checked against the limits SNS enforces.

SNS rejects a filter policy with more than 5 keys, or whose value combinations (the product
of the number of values in each key's array) exceed 150. For a policy on the message body,
nested keys count by their full path, so ``{"order": {"total": [...], "currency": [...]}}``
has two keys.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from aws_cdk import aws_sns as sns

MAX_FILTER_KEYS = 5
MAX_FILTER_COMBINATIONS = 150


@dataclass(frozen=True)
class FilterPolicySize:
    """Key paths and value combinations of one filter policy."""

    keys: tuple[str, ...]
    combinations: int


def attribute_policy_size(policy: Mapping[str, sns.SubscriptionFilter]) -> FilterPolicySize:
    """Size of a filter policy on message attributes."""
    counts = {name: len(f.conditions) for name, f in policy.items()}
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
