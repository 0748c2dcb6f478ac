"""Least-privilege Python Lambda functions, shared by the constructs that deploy code."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from .validation import EnvironmentRules, Problems, unresolved

DEFAULT_RUNTIME = lambda_.Runtime.PYTHON_3_14
DEFAULT_TIMEOUT = Duration.seconds(30)
POWERTOOLS_VERSION = "3.37.0"
"""Powertools for AWS Lambda (Python) layer version; the tests run against the same release."""
POWERTOOLS_RUNTIMES = frozenset(f"python3.{minor}" for minor in range(9, 15))
"""The runtimes Powertools 3 publishes its layer for (an SSM parameter per runtime)."""

RUNTIME = Path(__file__).resolve().parent.parent / "runtime"
"""The library's own function code, shipped in the wheel."""
ASSET_EXCLUDES = ("__pycache__", "*.pyc", "*.pyo", ".mypy_cache", ".pytest_cache", ".ruff_cache")
"""Left out of every code asset: pip byte-compiles an installed package and writes its install
time into each ``.pyc``, so with them two installs of one wheel would hash differently."""

MAX_ENVIRONMENT_BYTES = 4096
"""Lambda's limit on the total size of a function's environment variables (keys and values)."""
RESERVED_ENVIRONMENT = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAMBDA_RUNTIME_DIR",
        "LAMBDA_TASK_ROOT",
    }
)
"""Variables Lambda sets itself and refuses in a function's configuration."""
_ENVIRONMENT_KEY = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]+$")


def runtime_code(name: str) -> lambda_.Code:
    """The code of ``constructs_lib/runtime/<name>``, hashed the same from any install."""
    return lambda_.Code.from_asset(str(RUNTIME / name), exclude=list(ASSET_EXCLUDES))


LAMBDA_ENVIRONMENT = EnvironmentRules(
    reserved=RESERVED_ENVIRONMENT,
    reserved_reason="is a variable Lambda sets itself and refuses; rename it",
    name=_ENVIRONMENT_KEY,
    name_rule="a letter, then letters, digits and underscores (at least two characters)",
    max_bytes=MAX_ENVIRONMENT_BYTES,
    size_reason=f"Lambda allows {MAX_ENVIRONMENT_BYTES} for keys and values in all, the "
    "library's own included",
)
"""What Lambda accepts in a function's environment."""


MAX_HANDLER_LENGTH = 128
_HANDLER = re.compile(r"^[^\s]+$")


def check_handler(problems: Problems, option: str, handler: str) -> None:
    """A handler string Lambda accepts: 1 to 128 characters, no white space."""
    if unresolved(handler):
        return
    if not isinstance(handler, str) or not (
        len(handler) <= MAX_HANDLER_LENGTH and _HANDLER.match(handler)
    ):
        problems.add(
            option,
            handler,
            f"Lambda takes 1 to {MAX_HANDLER_LENGTH} characters without white space, e.g. "
            "'module.function' for Python",
        )


def powertools_layer_supported(runtime: lambda_.Runtime) -> bool:
    """Whether Powertools for AWS Lambda (Python) publishes a layer for ``runtime``."""
    return runtime.name in POWERTOOLS_RUNTIMES


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
