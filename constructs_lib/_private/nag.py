"""cdk-nag acknowledgments that match whatever environment the stack is deployed to.

cdk-nag names a finding after the resolved value it flags: ``AwsSolutions-IAM5[Resource::
arn:<AWS::Partition>:sns:<AWS::Region>:...]`` in an environment-agnostic stack, but
``arn:aws:sns:eu-west-1:111111111111:...`` once the stack is pinned to an account and
region (and ``arn:aws-cn:...`` in another partition). An acknowledgment written with either
spelling misses the other, so the constructs render the finding id from the value they
grant, the way cdk-nag renders it: literal text as it is, a reference as ``<LogicalId>``,
an attribute as ``<LogicalId.Attribute>``, joins joined.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct


def rendered(scope: IConstruct, value: str) -> str:
    """``value`` as cdk-nag prints it in a finding of a resource in ``scope``'s stack."""
    return _flatten(Stack.of(scope).resolve(value))


def _flatten(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(_flatten(part) for part in parts)
        if function == "Fn::ImportValue":
            return f"<{_flatten(argument)}>"
    return str(value)


def acknowledge_wildcard_resource(construct: IConstruct, resource: str, reason: str) -> None:
    """Acknowledge cdk-nag's IAM5 finding for ``resource`` (an ARN with a wildcard)."""
    Validations.of(construct).acknowledge(
        Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::{rendered(construct, resource)}]", reason=reason
        )
    )


def acknowledge_managed_policy(construct: IConstruct, policy_arn: str, reason: str) -> None:
    """Acknowledge cdk-nag's IAM4 finding for the AWS-managed policy ``policy_arn``."""
    Validations.of(construct).acknowledge(
        Acknowledgment(
            id=f"AwsSolutions-IAM4[Policy::{rendered(construct, policy_arn)}]", reason=reason
        )
    )
