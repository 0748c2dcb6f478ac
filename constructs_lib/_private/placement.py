"""Where a fanout's consumers go: its own stack until a budget, then nested stacks.

CloudFormation allows 500 resources (and 200 parameters and 200 outputs) per stack. A
fanout charges what it creates to the stack it creates it in and, when the next consumer
would not fit, opens a nested stack ``Consumers<n>``; at synth :class:`StackLimits` checks
every stack holding consumers against the limits, counting what users attached later too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import jsii
from aws_cdk import CfnOutput, CfnParameter, CfnResource, NestedStack, Stack
from constructs import Construct, IConstruct, IValidation

from .monitoring import QueueQueryAlarm

_Part = TypeVar("_Part", bound=Construct)

MAX_STACK_RESOURCES = 500
"""CloudFormation's limit on resources per stack (nested stacks included)."""
MAX_STACK_PARAMETERS = 200
MAX_STACK_OUTPUTS = 200
OWN_STACK_BUDGET = 200
"""Resources the fanout may create in the stack it is defined in (topic, keys, consumers,
alarms): the other 300 stay free for the rest of the user's stack."""
NESTED_STACK_BUDGET = 399
"""Resources the fanout places in each of its nested consumer stacks: below the 80 % of the
limit at which CDK reports a stack as approaching it, and 101 stay free for what users
attach to their consumers afterwards (grants, their own alarms, about one per consumer).
Changing it moves consumers between stacks, so it is fixed."""
FIRST_CONSUMER_ESTIMATE = {"queue": 5, "lambda": 12}
"""What a consumer is assumed to cost before the first of its kind has been measured."""
ALARM_HEADROOM = 2
"""A consumer may open a new dead-letter alarm and a new message-age alarm in its stack."""


@dataclass
class ConsumerStack:
    """Where consumers go: the fanout itself (its own stack) or one nested stack, with the
    query alarms that cover the consumers placed there."""

    scope: Construct
    budget: int
    used: int
    dead_letter_alarms: dict[str, list[QueueQueryAlarm]] = field(default_factory=dict)
    age_alarms: dict[tuple[str, str], list[QueueQueryAlarm]] = field(default_factory=dict)
    alarms_opened: dict[str, int] = field(default_factory=dict)


def resources_in(construct: Construct) -> int:
    return sum(isinstance(c, CfnResource) for c in construct.node.find_all())


class Placement:
    """The stacks of one fanout and what each holds; :meth:`place` picks the next one."""

    def __init__(self, fanout: Construct) -> None:
        self._fanout = fanout
        self.stacks = [ConsumerStack(fanout, OWN_STACK_BUDGET, resources_in(fanout))]
        self.nested: list[NestedStack] = []
        self._measured: dict[str, int] = {}

    def counted(self, build: Callable[[], _Part]) -> _Part:
        """Build a part in the fanout's own stack and charge its resources to that stack."""
        part = build()
        self.stacks[0].used += resources_in(part)
        return part

    def place(self, kind: str) -> ConsumerStack:
        """The stack the next consumer of ``kind`` goes to, opening a nested one if needed."""
        estimate = self._measured.get(kind, FIRST_CONSUMER_ESTIMATE[kind]) + ALARM_HEADROOM
        current = self.stacks[-1]
        if current.used + estimate <= current.budget:
            return current
        number = len(self.stacks) + 1
        nested = NestedStack(
            self._fanout,
            f"Consumers{number}",
            description=f"Consumers of the {self._fanout.node.path} fanout, part {number}",
        )
        self.nested.append(nested)
        self.stacks[0].used += 1  # the AWS::CloudFormation::Stack resource
        opened = ConsumerStack(nested, NESTED_STACK_BUDGET, 0)
        self.stacks.append(opened)
        return opened

    def account(self, target: ConsumerStack, kind: str, consumer: Construct) -> None:
        """Charge what ``consumer`` really created to ``target``; it is the new estimate
        for its kind when it is the largest so far."""
        cost = resources_in(consumer)
        target.used += cost
        self._measured[kind] = max(cost, self._measured.get(kind, 0))


def _count_by_kind(stack: Stack) -> dict[str, int]:
    """Resources, parameters and outputs of ``stack`` itself, not of its nested stacks.

    One ``find_all()`` for the stack and one per nested stack directly under it (each lists
    its own nested stacks too), instead of a call per construct across the jsii boundary.
    """
    kinds = (("resources", CfnResource), ("parameters", CfnParameter), ("outputs", CfnOutput))

    def count(constructs: list[IConstruct]) -> dict[str, int]:
        return {kind: sum(isinstance(c, cls) for c in constructs) for kind, cls in kinds}

    everything = stack.node.find_all()
    totals = count(everything)
    for nested in everything:
        if (
            isinstance(nested, Stack)
            and nested is not stack
            and nested.nested_stack_parent is stack
        ):
            for kind, number in count(nested.node.find_all()).items():
                totals[kind] -= number
    return totals


@jsii.implements(IValidation)
class StackLimits:
    """At synth: the stacks holding a fanout's consumers are within CloudFormation's
    limits on resources, parameters and outputs, counting everything in them by then
    (what users attached to consumers after adding them included)."""

    def __init__(self, fanout: Construct, consumer_stacks: Sequence[NestedStack]) -> None:
        self._fanout = fanout
        self._consumer_stacks = consumer_stacks

    def validate(self) -> list[str]:
        limits = {
            "resources": MAX_STACK_RESOURCES,
            "parameters": MAX_STACK_PARAMETERS,
            "outputs": MAX_STACK_OUTPUTS,
        }
        problems = []
        for stack in (Stack.of(self._fanout), *self._consumer_stacks):
            for kind, count in _count_by_kind(stack).items():
                limit = limits[kind]
                if count > limit:
                    problems.append(
                        f"{stack.node.path} has {count} {kind}; CloudFormation allows {limit} "
                        f"per stack. The fanout {self._fanout.node.path} leaves room when it "
                        "places consumers; the rest was added to this stack afterwards "
                        "(resources under the consumers, references to their attributes): "
                        "move those elsewhere"
                    )
        return problems
