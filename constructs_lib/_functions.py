"""Least-privilege Python Lambda functions, shared by the constructs that deploy code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

DEFAULT_RUNTIME = lambda_.Runtime.PYTHON_3_14
DEFAULT_TIMEOUT = Duration.seconds(30)
POWERTOOLS_VERSION = "3.37.0"
"""Powertools for AWS Lambda (Python) layer version; the tests run against the same release."""


@dataclass(frozen=True)
class Function:
    function: lambda_.Function
    role: iam.Role
    log_group: logs.LogGroup


def least_privilege_function(
    scope: Construct,
    *,
    code: lambda_.Code,
    handler: str,
    description: str,
    runtime: lambda_.Runtime = DEFAULT_RUNTIME,
    architecture: lambda_.Architecture = lambda_.Architecture.ARM_64,
    timeout: Duration = DEFAULT_TIMEOUT,
    memory_size: int = 256,
    environment: Mapping[str, str] | None = None,
    layers: Sequence[lambda_.ILayerVersion] = (),
    powertools_layer: bool = True,
    reserved_concurrent_executions: int | None = None,
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    other_wildcard_actions: str | None = None,
) -> Function:
    """``Role``, ``LogGroup`` and ``Function`` children of ``scope``.

    The role has no AWS-managed policy: it may write to its own log group and send traces
    (X-Ray's actions support no resource-level permissions: that cdk-nag finding is
    acknowledged on this role with the reason). Grant everything else explicitly;
    ``other_wildcard_actions`` explains any other action the caller grants on ``*``.
    """
    role = iam.Role(
        scope,
        "Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"Execution role of {scope.node.path}",
    )
    log_group = logs.LogGroup(scope, "LogGroup", retention=log_retention)
    all_layers = list(layers)
    if powertools_layer:
        all_layers.insert(0, powertools_layer_version(scope, runtime, architecture))
    function = lambda_.Function(
        scope,
        "Function",
        code=code,
        handler=handler,
        runtime=runtime,
        architecture=architecture,
        timeout=timeout,
        memory_size=memory_size,
        role=role,
        log_group=log_group,
        tracing=lambda_.Tracing.ACTIVE,
        layers=all_layers,
        reserved_concurrent_executions=reserved_concurrent_executions,
        environment=dict(environment or {}),
        description=description,
    )
    # lambda.Function adds DependsOn its role (so the role's policy exists before the
    # function) while also referencing the role's ARN; cfn-lint reports that redundancy as
    # W3005. Acknowledged on this resource only.
    cfn_function = function.node.default_child
    if isinstance(cfn_function, lambda_.CfnFunction):
        cfn_function.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
    log_group.grant_write(role)
    Validations.of(role).acknowledge(
        Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason="Active tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, "
            "which support no resource-level permissions (AWS service authorization "
            "reference); "
            + (other_wildcard_actions or "every other statement of this role names its resources."),
        )
    )
    return Function(function, role, log_group)


def powertools_layer_version(
    scope: Construct, runtime: lambda_.Runtime, architecture: lambda_.Architecture
) -> lambda_.ILayerVersion:
    """The Powertools layer, its ARN read per region from the SSM parameter it publishes."""
    parameter = (
        f"/aws/service/powertools/python/{architecture.name}/{runtime.name}/{POWERTOOLS_VERSION}"
    )
    arn = ssm.StringParameter.value_for_string_parameter(scope, parameter)
    return lambda_.LayerVersion.from_layer_version_arn(scope, "PowertoolsLayer", arn)
