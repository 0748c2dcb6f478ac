"""One CloudFormation custom resource provider per stack and job, behind the CDK ``Provider``
framework, for what CloudFormation has no resource (or no clean-up) for.

Each caller names its handler's folder literally (``runtime_code("topic_archive")``), so the
packaging tests can check that every function the library deploys ships in the wheel."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from .functions import least_privilege_function
from .nag import acknowledge_wildcard_resource


class StackProvider(Construct):
    """A provider: the library's handler ``code`` (``runtime_code(<folder>)``; a
    least-privilege function: grant it what it calls on ``role``) and the framework's own
    function, role and log group. ``job`` says what it does, in the acknowledgment's words."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        code: lambda_.Code,
        job: str,
        handler: str,
        description: str,
        framework_description: str,
    ) -> None:
        super().__init__(scope, id)
        built = least_privilege_function(
            self,
            code=code,
            handler=handler,
            description=description,
            timeout=Duration.minutes(1),
            powertools_layer=False,
        )
        self.function: lambda_.Function = built.function
        self.role: iam.Role = built.role
        framework_role = iam.Role(
            self,
            "FrameworkRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=framework_description,
        )
        framework_logs = logs.LogGroup(
            self, "FrameworkLogGroup", retention=logs.RetentionDays.ONE_MONTH
        )
        framework_logs.grant_write(framework_role)
        self.provider: cr.Provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=self.function,
            framework_on_event_role=framework_role,
            log_group=framework_logs,
        )
        framework = self.provider.node.try_find_child("framework-onEvent")
        cfn_framework = framework.node.default_child if framework is not None else None
        if isinstance(cfn_framework, lambda_.CfnFunction):
            # Same redundant DependsOn-plus-GetAtt on its role as every lambda.Function (W3005).
            cfn_framework.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
        acknowledge_wildcard_resource(
            framework_role,
            f"{self.function.function_arn}:*",
            f"The custom resource framework may invoke the one {job} handler, any of its "
            "versions (the :* suffix); nothing else.",
        )

    @property
    def service_token(self) -> str:
        """What a ``CustomResource`` of this provider names as its ``service_token``."""
        return self.provider.service_token


def stack_provider(scope: Construct, id: str, **settings: Any) -> StackProvider:
    """The stack's provider ``id`` (a child of the stack), created on first use with
    ``settings`` (:class:`StackProvider`'s)."""
    stack = Stack.of(scope)
    existing = stack.node.try_find_child(id)
    if isinstance(existing, StackProvider):
        return existing
    return StackProvider(stack, id, **settings)
