"""CloudFormation resource types moto 5.2.5 skips or gets wrong, implemented on moto's backends.

moto builds its table of CloudFormation types from ``CloudFormationModel.__subclasses__()``;
importing this module (in the process that runs the server) adds the types below, and
``register`` makes moto's table hold them. Each one does what CloudFormation would do, through
the same backend calls the matching API makes, so the emulator's state afterwards is what the
API calls would leave (subscriptions that really deliver, queue and topic policies that
``GetQueueAttributes`` / ``GetTopicAttributes`` return, alarms that ``DescribeAlarms`` lists,
tables that accept items, scaling policies that ``DescribeScalingPolicies`` returns, Fargate
task definitions and services as ``RegisterTaskDefinition`` and ``CreateService`` make them).
Three kinds of gap: types moto skips; types moto has but whose properties it drops (ECS),
replaced here; and a CDK custom resource whose Lambda moto could only run in Docker, done
here as its handler does it.

moto derives a service name from ``cls.__module__.split(".")[1]``: these classes must live in a
package submodule (``constructs_lib.testing.cfn_gaps``), never in a top-level module.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from abc import abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from moto.applicationautoscaling.models import applicationautoscaling_backends
from moto.awslambda.models import lambda_backends
from moto.cloudformation import parsing
from moto.cloudwatch.models import (
    Dimension,
    Metric,
    MetricDataQuery,
    MetricStat,
    cloudwatch_backends,
)
from moto.core.common_models import CloudFormationModel
from moto.core.utils import utcnow
from moto.dynamodb.models import dynamodb_backends
from moto.ec2.exceptions import InvalidPermissionNotFoundError
from moto.ec2.models import ec2_backends
from moto.ecs.models import Cluster, Service, TaskDefinition, ecs_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends
from moto.ssm.models import Parameter, ssm_backends

from .gaps import fills


def _policy(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document)


def _queue_name(url_or_arn: str) -> str:
    return url_or_arn.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]


class _Typed:
    """What moto reads of every emulated type: its CloudFormation type, and the property that
    names a resource of it. Each type sets ``TYPE`` (and ``NAME_TYPE`` where it has one)."""

    TYPE: ClassVar[str] = ""
    """The CloudFormation type the subclass emulates."""
    NAME_TYPE: ClassVar[str] = ""
    """The property that names the resource (moto generates a name into it when absent)."""

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_TYPE


@fills(
    "cloudformation",
    moto="a stack update of a type this module emulates drops the resource from the stack",
    aws="the resource exists with the new properties (emulated as undo, then create)",
)
class _Resource(_Typed):
    """What every type below shares: created at once, identified by ``physical_resource_id``.

    moto calls ``create_from_cloudformation_json`` with the resolved template entry, and
    ``delete_from_cloudformation_json`` with the physical id and the entry as the template
    writes it (references unresolved), so the resolved properties of each resource are kept
    from its creation for its deletion. Each type implements ``create`` (returning the
    physical id) and, where the API has an inverse, ``delete``. Not itself a
    ``CloudFormationModel``: moto lists only *direct* subclasses, so each type names
    ``CloudFormationModel`` as a base of its own.
    """

    _resolved: ClassVar[dict[tuple[type, str], dict[str, Any]]] = {}
    """Resolved properties of the resources created, by (class, physical id)."""

    def __init__(self, physical_resource_id: str, arn: str) -> None:
        self.physical_resource_id = physical_resource_id
        self.arn = arn
        self.properties: dict[str, Any] = {}
        self.logical_id = ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.arn

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> _Resource:
        props = cloudformation_json["Properties"]
        logical_id = kwargs.get("LogicalId", resource_name)
        physical_id, arn = cls.create(resource_name, props, account_id, region_name, logical_id)
        resource = cls(physical_id, arn)
        resource.properties = props
        resource.logical_id = logical_id
        _Resource._resolved[(cls, physical_id)] = props
        return resource

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: _Resource,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> _Resource:
        """AWS: after a stack update the resource exists with the template's new properties
        (updated in place or replaced). moto, for a type without this method, drops the
        resource from the stack. Here: the old one is undone and the new one made, with the
        same calls as a delete and a create."""
        cls.delete(
            original_resource.physical_resource_id,
            original_resource.properties,
            account_id,
            region_name,
        )
        _Resource._resolved.pop((cls, original_resource.physical_resource_id), None)
        return cls.create_from_cloudformation_json(
            new_resource_name,
            cloudformation_json,
            account_id,
            region_name,
            LogicalId=original_resource.logical_id,
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        props = _Resource._resolved.pop((cls, resource_name), cloudformation_json["Properties"])
        cls.delete(resource_name, props, account_id, region_name)

    @classmethod
    @abstractmethod
    def create(
        cls, name: str, props: dict[str, Any], account_id: str, region: str, logical_id: str
    ) -> tuple[str, str]:
        """Make the resource with the API's own backend calls (each type has its own);
        return its physical id and its ``Arn`` attribute."""

    @classmethod
    def delete(cls, physical_id: str, props: dict[str, Any], account_id: str, region: str) -> None:
        """Delete the resource. Default: nothing to undo (a policy left on a deleted stack's
        queue or topic goes with it)."""


@fills(
    "cloudformation",
    moto="`AWS::SNS::Subscription` is skipped: the stack completes and nothing fans out",
    aws="`Subscribe` plus `SetSubscriptionAttributes` (filter policy and its scope, raw "
    "delivery, redrive, delivery and replay policies), in the topic's region",
)
class SnsSubscription(_Resource, CloudFormationModel):
    """AWS::SNS::Subscription: ``Subscribe`` then ``SetSubscriptionAttributes``.

    ``Region`` (a subscription to a topic in another region) picks the topic's backend, as
    CloudFormation creates the subscription in the topic's region.
    """

    ATTRIBUTES = (
        "FilterPolicyScope",
        "FilterPolicy",
        "RawMessageDelivery",
        "RedrivePolicy",
        "DeliveryPolicy",
        "ReplayPolicy",
    )
    """In this order: moto reads a filter policy in the scope set when the policy is set, and a
    replay goes through the filter policy."""

    TYPE = "AWS::SNS::Subscription"

    @classmethod
    def create(
        cls, name: str, props: dict[str, Any], account_id: str, region: str, logical_id: str
    ) -> tuple[str, str]:
        backend = sns_backends[account_id][props.get("Region") or region]
        subscription = backend.subscribe(props["TopicArn"], props["Endpoint"], props["Protocol"])
        for attribute in cls.ATTRIBUTES:
            if attribute in props:
                value = props[attribute]
                if attribute == "RawMessageDelivery":  # the API layer hands the backend a bool
                    value = str(value).lower() == "true"
                elif isinstance(value, dict):
                    value = json.dumps(value)
                backend.set_subscription_attributes(subscription.arn, attribute, value)
        return subscription.arn, subscription.arn

    @classmethod
    def delete(cls, physical_id: str, props: dict[str, Any], account_id: str, region: str) -> None:
        sns_backends[account_id][props.get("Region") or region].unsubscribe(physical_id)


@fills(
    "cloudformation",
    moto="`AWS::SQS::QueuePolicy` is skipped",
    aws="`SetQueueAttributes(Policy)` on every queue it names",
)
class SqsQueuePolicy(_Resource, CloudFormationModel):
    """AWS::SQS::QueuePolicy: ``SetQueueAttributes(Policy)`` on every queue it names."""

    TYPE = "AWS::SQS::QueuePolicy"

    @classmethod
    def create(
        cls, name: str, props: dict[str, Any], account_id: str, region: str, logical_id: str
    ) -> tuple[str, str]:
        backend = sqs_backends[account_id][region]
        for queue in props["Queues"]:
            backend.set_queue_attributes(
                _queue_name(queue), {"Policy": _policy(props["PolicyDocument"])}
            )
        return f"{logical_id}-policy", ""


@fills(
    "cloudformation",
    moto="`AWS::SNS::TopicPolicy` is skipped",
    aws="`SetTopicAttributes(Policy)` on every topic it names",
)
class SnsTopicPolicy(_Resource, CloudFormationModel):
    """AWS::SNS::TopicPolicy: ``SetTopicAttributes(Policy)`` on every topic it names."""

    TYPE = "AWS::SNS::TopicPolicy"

    @classmethod
    def create(
        cls, name: str, props: dict[str, Any], account_id: str, region: str, logical_id: str
    ) -> tuple[str, str]:
        backend = sns_backends[account_id][region]
        for topic_arn in props["Topics"]:
            backend.set_topic_attribute(topic_arn, "policy", _policy(props["PolicyDocument"]))
        return f"{logical_id}-policy", ""


@fills(
    "cloudformation",
    moto="`AWS::CloudWatch::Alarm` is skipped",
    aws="`PutMetricAlarm` with the template's metric or metric math",
)
class CloudWatchAlarm(_Resource, CloudFormationModel):
    """AWS::CloudWatch::Alarm: ``PutMetricAlarm`` with the template's metric or metric math."""

    NAME_TYPE = "AlarmName"

    TYPE = "AWS::CloudWatch::Alarm"

    @classmethod
    def create(
        cls, name: str, props: dict[str, Any], account_id: str, region: str, logical_id: str
    ) -> tuple[str, str]:
        alarm = cloudwatch_backends[account_id][region].put_metric_alarm(
            name=name,
            namespace=_optional(props, "Namespace"),
            metric_name=_optional(props, "MetricName"),
            comparison_operator=props["ComparisonOperator"],
            evaluation_periods=int(props["EvaluationPeriods"]),
            period=_optional(props, "Period"),
            threshold=float(props["Threshold"]),
            statistic=_optional(props, "Statistic"),
            description=_optional(props, "AlarmDescription"),
            dimensions=props.get("Dimensions", []),
            alarm_actions=props.get("AlarmActions", []),
            ok_actions=props.get("OKActions", []),
            metric_data_queries=[_metric_data_query(q) for q in props.get("Metrics", [])] or None,
            datapoints_to_alarm=props.get("DatapointsToAlarm"),
            treat_missing_data=props.get("TreatMissingData"),
        )
        return alarm.name, alarm.alarm_arn

    @classmethod
    def delete(cls, physical_id: str, props: dict[str, Any], account_id: str, region: str) -> None:
        cloudwatch_backends[account_id][region].delete_alarms([physical_id])


def _optional(props: dict[str, Any], key: str) -> Any:
    """An optional property as moto's models take it: absent is None (their signatures say
    ``str`` or ``int`` but they store None as "not set")."""
    return props.get(key)


def _metric_data_query(query: dict[str, Any]) -> MetricDataQuery:
    """One entry of the alarm's ``Metrics`` (metric math), as ``PutMetricAlarm`` parses it."""
    stat = query.get("MetricStat")
    metric_stat = None
    if stat:
        metric = stat["Metric"]
        metric_stat = MetricStat(
            metric=Metric(
                metric_name=metric.get("MetricName"),
                namespace=metric.get("Namespace"),
                dimensions=[Dimension(d["Name"], d["Value"]) for d in metric.get("Dimensions", [])],
            ),
            period=stat["Period"],
            stat=stat["Stat"],
            unit=stat.get("Unit"),
        )
    return MetricDataQuery(
        query_id=query["Id"],
        label=query.get("Label", ""),
        period=_optional(query, "Period"),
        return_data=query.get("ReturnData", True),
        expression=query.get("Expression"),
        metric_stat=metric_stat,
    )


@fills(
    "cloudformation",
    moto="`AWS::DynamoDB::GlobalTable` (what `TableV2` writes) is skipped",
    aws="`CreateTable` with its keys, billing mode, stream and time to live (the replica of "
    "the stack's region)",
)
class DynamoDbGlobalTable(_Resource, CloudFormationModel):
    """AWS::DynamoDB::GlobalTable (what CDK's ``TableV2`` writes): ``CreateTable`` here.

    Only the replica of the stack's own region is created (a one-region global table, as
    the reference stacks declare); its time-to-live setting is applied as well.
    """

    NAME_TYPE = "TableName"

    TYPE = "AWS::DynamoDB::GlobalTable"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn", "StreamArn", "TableId")

    @classmethod
    def create(
        cls, name: str, props: dict[str, Any], account_id: str, region: str, logical_id: str
    ) -> tuple[str, str]:
        backend = dynamodb_backends[account_id][region]
        table = backend.create_table(
            name,
            schema=props["KeySchema"],
            throughput=None,
            attr=props["AttributeDefinitions"],
            global_indexes=props.get("GlobalSecondaryIndexes"),
            indexes=props.get("LocalSecondaryIndexes"),
            streams=props.get("StreamSpecification"),
            billing_mode=props.get("BillingMode", "PAY_PER_REQUEST"),
            sse_specification=None,
            tags=[],
            deletion_protection_enabled=None,
            warm_throughput=None,
        )
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            backend.update_time_to_live(
                name, {"Enabled": True, "AttributeName": ttl["AttributeName"]}
            )
        return name, str(table.table_arn)

    @classmethod
    def delete(cls, physical_id: str, props: dict[str, Any], account_id: str, region: str) -> None:
        dynamodb_backends[account_id][region].delete_table(physical_id)


@fills(
    "cloudformation",
    moto="`Custom::VpcRestrictDefaultSG` (which `ec2.Vpc` adds) invokes its Node.js handler in "
    "Docker; without Docker the stack stays `CREATE_IN_PROGRESS` for good",
    aws="the handler's calls: `RevokeSecurityGroupEgress` (all traffic to 0.0.0.0/0) and "
    "`RevokeSecurityGroupIngress` (all traffic from the group itself) on the VPC's default "
    "security group; both authorized again on delete",
)
class VpcRestrictDefaultSecurityGroup(_Resource, CloudFormationModel):
    """CDK's ``Custom::VpcRestrictDefaultSG``: what its handler does, without running it.

    ``ec2.Vpc`` (``@aws-cdk/aws-ec2:restrictDefaultSecurityGroup``) empties the VPC's default
    security group through a custom resource whose Lambda handler (Node.js) revokes the
    group's default rules, ignoring a rule that is not there (``InvalidPermission.NotFound``;
    moto's default groups have no self-referencing ingress rule). The same two calls are made
    here on moto's EC2 backend; the handler function is deployed but never invoked.
    """

    TYPE = "Custom::VpcRestrictDefaultSG"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False  # the handler returns no data

    @staticmethod
    def _rules(
        props: dict[str, Any], account_id: str
    ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """The group, and the handler's egress and ingress rules as the API layer parses them
        (``IpPermissions`` with ``IpProtocol`` -1: all traffic)."""
        group_id = props["DefaultSecurityGroupId"]
        owner = props.get("Account") or account_id
        egress = {"ip_ranges": [{"CidrIp": "0.0.0.0/0"}], "source_groups": []}
        ingress = {"ip_ranges": [], "source_groups": [{"GroupId": group_id, "UserId": owner}]}
        rule: dict[str, Any] = {
            "ip_protocol": "-1",
            "from_port": None,
            "to_port": None,
            "prefix_list_ids": [],
        }
        return group_id, {**rule, **egress}, {**rule, **ingress}

    @classmethod
    def create(
        cls, name: str, props: dict[str, Any], account_id: str, region: str, logical_id: str
    ) -> tuple[str, str]:
        backend = ec2_backends[account_id][region]
        group_id, egress, ingress = cls._rules(props, account_id)
        # As the handler: a rule that is not there is already revoked.
        with contextlib.suppress(InvalidPermissionNotFoundError):
            backend.revoke_security_group_egress(group_id, **egress)
        with contextlib.suppress(InvalidPermissionNotFoundError):
            backend.revoke_security_group_ingress(group_id, **ingress)
        # CDK's custom resource framework answers with the request id as the physical id.
        return str(uuid.uuid4()), ""

    @classmethod
    def delete(cls, physical_id: str, props: dict[str, Any], account_id: str, region: str) -> None:
        backend = ec2_backends[account_id][region]
        group_id, egress, ingress = cls._rules(props, account_id)
        backend.authorize_security_group_ingress(group_id, **ingress)
        backend.authorize_security_group_egress(group_id, **egress)


ECS_SERVICE_LINKED_ROLE = (
    "arn:aws:iam::{account}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/"
    "AWSServiceRoleForApplicationAutoScaling_ECSService"
)
"""The role Application Auto Scaling uses for an ECS scalable target registered without one."""


@fills(
    "cloudformation",
    moto="`AWS::ApplicationAutoScaling::ScalableTarget` is skipped",
    aws="`RegisterScalableTarget` (bounds, role, suspended state) and `PutScheduledAction` "
    "for each scheduled action; `Ref` is `resource id|dimension|namespace`",
)
class ApplicationAutoScalingScalableTarget(_Resource, CloudFormationModel):
    """AWS::ApplicationAutoScaling::ScalableTarget: ``RegisterScalableTarget``.

    ``Ref`` is what CloudFormation returns, ``<resource id>|<dimension>|<namespace>``, which a
    scaling policy's ``ScalingTargetId`` names. Without ``RoleARN`` the target gets the
    service-linked role, as Application Auto Scaling does for ECS.
    """

    TYPE = "AWS::ApplicationAutoScaling::ScalableTarget"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Id"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.physical_resource_id

    @classmethod
    def create(
        cls, name: str, props: dict[str, Any], account_id: str, region: str, logical_id: str
    ) -> tuple[str, str]:
        backend = applicationautoscaling_backends[account_id][region]
        namespace, resource_id = props["ServiceNamespace"], props["ResourceId"]
        dimension = props["ScalableDimension"]
        role = _optional(props, "RoleARN")
        if role is None and namespace == "ecs":
            role = ECS_SERVICE_LINKED_ROLE.format(account=account_id)
        target = backend.register_scalable_target(
            namespace,
            resource_id,
            dimension,
            min_capacity=int(props["MinCapacity"]),
            max_capacity=int(props["MaxCapacity"]),
            role_arn=role,
            suspended_state=_optional(props, "SuspendedState"),
        )
        for action in props.get("ScheduledActions", []):
            backend.put_scheduled_action(
                service_namespace=namespace,
                schedule=action["Schedule"],
                timezone=action.get("Timezone"),
                scheduled_action_name=action["ScheduledActionName"],
                resource_id=resource_id,
                scalable_dimension=dimension,
                start_time=action.get("StartTime"),
                end_time=action.get("EndTime"),
                scalable_target_action=action.get("ScalableTargetAction"),
            )
        return f"{resource_id}|{dimension}|{namespace}", target.arn

    @classmethod
    def delete(cls, physical_id: str, props: dict[str, Any], account_id: str, region: str) -> None:
        backend = applicationautoscaling_backends[account_id][region]
        for action in props.get("ScheduledActions", []):
            backend.delete_scheduled_action(
                props["ServiceNamespace"],
                action["ScheduledActionName"],
                props["ResourceId"],
                props["ScalableDimension"],
            )
        backend.deregister_scalable_target(
            props["ServiceNamespace"], props["ResourceId"], props["ScalableDimension"]
        )


@fills(
    "cloudformation",
    moto="`AWS::ApplicationAutoScaling::ScalingPolicy` is skipped",
    aws="`PutScalingPolicy` with the step or target tracking configuration (metric math "
    "included), on the target `ScalingTargetId` names; `Ref` is the policy ARN",
)
class ApplicationAutoScalingScalingPolicy(_Resource, CloudFormationModel):
    """AWS::ApplicationAutoScaling::ScalingPolicy: ``PutScalingPolicy``.

    The target is the one ``ScalingTargetId`` names (a scalable target's ``Ref``), or the
    ``ResourceId``, ``ScalableDimension`` and ``ServiceNamespace`` given instead. The
    configuration is stored as the template gives it (the API takes the same structure), so
    ``DescribeScalingPolicies`` returns the deployed metric math.
    """

    TYPE = "AWS::ApplicationAutoScaling::ScalingPolicy"

    @staticmethod
    def _target(props: dict[str, Any]) -> tuple[str, str, str]:
        """(namespace, resource id, dimension) of the policy's scalable target."""
        if "ScalingTargetId" in props:
            resource_id, dimension, namespace = str(props["ScalingTargetId"]).split("|")
            return namespace, resource_id, dimension
        return props["ServiceNamespace"], props["ResourceId"], props["ScalableDimension"]

    @classmethod
    def create(
        cls, name: str, props: dict[str, Any], account_id: str, region: str, logical_id: str
    ) -> tuple[str, str]:
        namespace, resource_id, dimension = cls._target(props)
        kind = props["PolicyType"]
        configuration = props.get(
            "StepScalingPolicyConfiguration"
            if kind == "StepScaling"
            else "TargetTrackingScalingPolicyConfiguration"
        )
        policy = applicationautoscaling_backends[account_id][region].put_scaling_policy(
            policy_name=props["PolicyName"],
            service_namespace=namespace,
            resource_id=resource_id,
            scalable_dimension=dimension,
            policy_body=configuration or {},
            policy_type=kind,
        )
        return policy.policy_arn, policy.policy_arn

    @classmethod
    def delete(cls, physical_id: str, props: dict[str, Any], account_id: str, region: str) -> None:
        namespace, resource_id, dimension = cls._target(props)
        applicationautoscaling_backends[account_id][region].delete_scaling_policy(
            props["PolicyName"], namespace, resource_id, dimension
        )


# -- ECS: moto has these types, but keeps only some of their properties ----------------------


def _api_shape(value: Any) -> Any:
    """A template property as the ECS API spells it: keys in camelCase, values as given
    (``Environment: [{Name, Value}]`` is ``environment: [{name, value}]``)."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: _api_shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_api_shape(item) for item in value]
    return value


def _container_definitions(definitions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Container definitions in the API's spelling. Docker labels and the options of a log
    driver or of FireLens are names of their own (``awslogs-group``): kept as written."""
    shaped = []
    for definition in definitions:
        container = _api_shape(definition)
        if "DockerLabels" in definition:
            container["dockerLabels"] = definition["DockerLabels"]
        for key in ("LogConfiguration", "FirelensConfiguration"):
            if "Options" in definition.get(key, {}):
                container[key[:1].lower() + key[1:]]["options"] = definition[key]["Options"]
        shaped.append(container)
    return shaped


def _tags(props: dict[str, Any]) -> list[dict[str, str]]:
    return [{"key": tag["Key"], "value": tag["Value"]} for tag in props.get("Tags", [])]


class _EcsModel(_Typed):
    """What the ECS types below share: moto's own model objects are the resources.

    moto implements ``AWS::ECS::Cluster``, ``TaskDefinition`` and ``Service`` but drops most
    of their properties; each type here makes the same backend call with every property the
    API takes, and returns moto's object (its ``Ref`` and ``GetAtt`` are moto's). Registered
    after moto's classes, so moto's table of types holds these.
    """

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn", "Name", "ServiceArn")

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        return cls.create(resource_name, cloudformation_json["Properties"], account_id, region_name)

    @classmethod
    @abstractmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region: str) -> Any:
        """Make the resource with the API's backend call; return moto's object."""

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        cls.delete(resource_name, cloudformation_json["Properties"], account_id, region_name)

    @classmethod
    @abstractmethod
    def delete(cls, physical_id: str, props: dict[str, Any], account_id: str, region: str) -> None:
        """Delete the resource named by its physical id."""


@fills(
    "cloudformation",
    moto="`AWS::ECS::Cluster` ignores `ClusterSettings` (Container Insights stays disabled), "
    "`Configuration`, capacity providers and tags",
    aws="`CreateCluster` with every property",
)
class EcsCluster(_EcsModel, CloudFormationModel):
    """AWS::ECS::Cluster: ``CreateCluster`` with settings, configuration, capacity providers."""

    NAME_TYPE = "ClusterName"

    TYPE = "AWS::ECS::Cluster"

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region: str) -> Cluster:
        return ecs_backends[account_id][region].create_cluster(
            cluster_name=name,
            tags=_tags(props),
            cluster_settings=_api_shape(props.get("ClusterSettings")),
            configuration=_api_shape(props.get("Configuration")),
            capacity_providers=props.get("CapacityProviders"),
            default_capacity_provider_strategy=_api_shape(
                props.get("DefaultCapacityProviderStrategy")
            ),
            service_connect_defaults=_api_shape(props.get("ServiceConnectDefaults")),
        )

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Cluster,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Cluster:
        """A new name replaces the cluster; anything else is ``UpdateCluster`` in place."""
        props = cloudformation_json["Properties"]
        backend = ecs_backends[account_id][region_name]
        if "ClusterName" in props and props["ClusterName"] != original_resource.name:
            backend.delete_cluster(original_resource.name)
            return cls.create(new_resource_name, props, account_id, region_name)
        backend.put_cluster_capacity_providers(
            original_resource.name,
            props.get("CapacityProviders"),
            _api_shape(props.get("DefaultCapacityProviderStrategy")),
        )
        return backend.update_cluster(
            original_resource.name,
            _api_shape(props.get("ClusterSettings")),
            _api_shape(props.get("Configuration")),
            _api_shape(props.get("ServiceConnectDefaults")),
        )

    @classmethod
    def delete(cls, physical_id: str, props: dict[str, Any], account_id: str, region: str) -> None:
        ecs_backends[account_id][region].delete_cluster(physical_id)


@fills(
    "cloudformation",
    moto="`AWS::ECS::TaskDefinition` keeps only the family, containers, volumes and memory: a "
    "Fargate task definition is registered for EC2 with bridge networking, without CPU, "
    "runtime platform, task role or execution role",
    aws="`RegisterTaskDefinition` with every property; an update registers a new revision and "
    "deregisters the old one",
)
class EcsTaskDefinition(_EcsModel, CloudFormationModel):
    """AWS::ECS::TaskDefinition: ``RegisterTaskDefinition`` with every property."""

    TYPE = "AWS::ECS::TaskDefinition"

    @classmethod
    def create(
        cls, name: str, props: dict[str, Any], account_id: str, region: str
    ) -> TaskDefinition:
        return ecs_backends[account_id][region].register_task_definition(
            family=props.get("Family", name),
            container_definitions=_container_definitions(props.get("ContainerDefinitions", [])),
            volumes=_api_shape(props.get("Volumes")),
            network_mode=props.get("NetworkMode"),
            tags=_tags(props),
            placement_constraints=_api_shape(props.get("PlacementConstraints")),
            requires_compatibilities=props.get("RequiresCompatibilities"),
            cpu=_optional_str(props, "Cpu"),
            memory=_optional_str(props, "Memory"),
            task_role_arn=props.get("TaskRoleArn"),
            execution_role_arn=props.get("ExecutionRoleArn"),
            proxy_configuration=_api_shape(props.get("ProxyConfiguration")),
            inference_accelerators=_api_shape(props.get("InferenceAccelerators")),
            runtime_platform=_api_shape(props.get("RuntimePlatform")),
            ipc_mode=props.get("IpcMode"),
            pid_mode=props.get("PidMode"),
            ephemeral_storage=_api_shape(props.get("EphemeralStorage")),
        )

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: TaskDefinition,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> TaskDefinition:
        """Task definitions are immutable: a new revision, the old one deregistered."""
        new = cls.create(
            new_resource_name, cloudformation_json["Properties"], account_id, region_name
        )
        ecs_backends[account_id][region_name].deregister_task_definition(original_resource.arn)
        return new

    @classmethod
    def delete(cls, physical_id: str, props: dict[str, Any], account_id: str, region: str) -> None:
        ecs_backends[account_id][region].deregister_task_definition(physical_id)


@fills(
    "cloudformation",
    moto="`AWS::ECS::Service` keeps only the cluster, task definition and desired count: a "
    "Fargate service is created with launch type EC2 and no network configuration",
    aws="`CreateService` with launch type, platform version, network configuration (subnets "
    "and security groups checked), load balancers, registries, tags and scheduling",
)
class EcsService(_EcsModel, CloudFormationModel):
    """AWS::ECS::Service: ``CreateService`` with every property moto's ``CreateService`` takes.

    moto's ``CreateService`` itself has no deployment configuration (circuit breaker, healthy
    percentages), capacity provider strategy or ECS managed tags: those are not stored by the
    API either. moto runs no task for a service (``ListTasks`` is empty whatever the desired
    count).
    """

    NAME_TYPE = "ServiceName"

    TYPE = "AWS::ECS::Service"

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region: str) -> Service:
        return ecs_backends[account_id][region].create_service(
            props.get("Cluster", "default"),
            name,
            int(props.get("DesiredCount", 1)),
            task_definition_str=props.get("TaskDefinition"),
            load_balancers=_api_shape(props.get("LoadBalancers")),
            scheduling_strategy=props.get("SchedulingStrategy"),
            tags=_tags(props),
            deployment_controller=_api_shape(props.get("DeploymentController")),
            launch_type=props.get("LaunchType"),
            service_registries=_api_shape(props.get("ServiceRegistries")),
            platform_version=props.get("PlatformVersion"),
            propagate_tags=props.get("PropagateTags", "NONE"),
            network_configuration=_api_shape(props.get("NetworkConfiguration")),
            role_arn=props.get("Role"),
        )

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Service,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Service:
        """``UpdateService`` in place: task definition, desired count, network configuration."""
        props = cloudformation_json["Properties"]
        return ecs_backends[account_id][region_name].update_service(
            {
                "cluster": original_resource.cluster_name,
                "service": original_resource.name,
                "task_definition": props.get("TaskDefinition"),
                "desired_count": int(props["DesiredCount"]) if "DesiredCount" in props else None,
                "network_configuration": _api_shape(props.get("NetworkConfiguration")),
            }
        )

    @classmethod
    def delete(cls, physical_id: str, props: dict[str, Any], account_id: str, region: str) -> None:
        backend = ecs_backends[account_id][region]
        for service in list(backend.services.values()):
            if service.arn == physical_id:
                backend.delete_service(service.cluster_name, service.name, force=True)


def _optional_str(props: dict[str, Any], key: str) -> str | None:
    """A property the API takes as a string (ECS ``Cpu``, ``Memory``), or None."""
    return None if props.get(key) is None else str(props[key])


@fills(
    "cloudformation",
    moto="`AWS::Lambda::Permission` is added to the function's policy but gets no physical id",
    aws="`AddPermission` with the template's statement; its physical id, and "
    "`RemovePermission` on delete",
)
class LambdaPermission(_Resource, CloudFormationModel):
    """AWS::Lambda::Permission: ``AddPermission`` on the function it names."""

    TYPE = "AWS::Lambda::Permission"

    @classmethod
    def create(
        cls, name: str, props: dict[str, Any], account_id: str, region: str, logical_id: str
    ) -> tuple[str, str]:
        function = lambda_backends[account_id][region].get_function(props["FunctionName"])
        statement = {k: v for k, v in props.items() if k != "FunctionName"}
        statement["StatementId"] = f"{logical_id}-{function.function_name}"[:100]
        function.policy.add_statement(raw=json.dumps(statement))
        return statement["StatementId"], ""

    @classmethod
    def delete(cls, physical_id: str, props: dict[str, Any], account_id: str, region: str) -> None:
        function = lambda_backends[account_id][region].get_function(props["FunctionName"])
        function.policy.del_statement(physical_id)


@fills(
    "cloudformation",
    moto="`AWS::Lambda::EventInvokeConfig` is skipped",
    aws="`PutFunctionEventInvokeConfig` (retries, maximum event age, on-success and on-failure "
    "destinations) on the function and qualifier it names",
)
class LambdaEventInvokeConfig(_Resource, CloudFormationModel):
    """AWS::Lambda::EventInvokeConfig: ``PutFunctionEventInvokeConfig`` on its function."""

    TYPE = "AWS::Lambda::EventInvokeConfig"
    SETTINGS = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")

    @classmethod
    def create(
        cls, name: str, props: dict[str, Any], account_id: str, region: str, logical_id: str
    ) -> tuple[str, str]:
        config = {key: props[key] for key in cls.SETTINGS if key in props}
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if key in config:
                config[key] = int(config[key])
        backend = lambda_backends[account_id][region]
        backend.put_function_event_invoke_config(props["FunctionName"], config)
        return f"{props['FunctionName']}:{props.get('Qualifier', '$LATEST')}", ""

    @classmethod
    def delete(cls, physical_id: str, props: dict[str, Any], account_id: str, region: str) -> None:
        function = lambda_backends[account_id][region].get_function(props["FunctionName"])
        function.event_invoke_config = []


@fills(
    "cloudformation",
    moto="`AWS::Lambda::Url` is skipped",
    aws="`CreateFunctionUrlConfig` (auth type, CORS, invoke mode); `FunctionUrl` and "
    "`FunctionArn` attributes",
)
class LambdaUrl(_Resource, CloudFormationModel):
    """AWS::Lambda::Url: ``CreateFunctionUrlConfig`` on the target function."""

    TYPE = "AWS::Lambda::Url"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("FunctionUrl", "FunctionArn")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "FunctionArn":
            return self.physical_resource_id
        return self.arn

    @classmethod
    def create(
        cls, name: str, props: dict[str, Any], account_id: str, region: str, logical_id: str
    ) -> tuple[str, str]:
        function = lambda_backends[account_id][region].get_function(props["TargetFunctionArn"])
        config: dict[str, Any] = {
            k: props[k] for k in ("AuthType", "Cors", "InvokeMode") if k in props
        }
        url = function.create_url_config(config)
        return function.function_arn, url.url

    @classmethod
    def delete(cls, physical_id: str, props: dict[str, Any], account_id: str, region: str) -> None:
        function = lambda_backends[account_id][region].get_function(physical_id)
        function.url_config = None


FILLED_TYPES: dict[str, type[CloudFormationModel]] = {
    model.cloudformation_type(): model
    for model in (
        SnsSubscription,
        SqsQueuePolicy,
        SnsTopicPolicy,
        CloudWatchAlarm,
        DynamoDbGlobalTable,
        VpcRestrictDefaultSecurityGroup,
        ApplicationAutoScalingScalableTarget,
        ApplicationAutoScalingScalingPolicy,
        EcsCluster,
        EcsTaskDefinition,
        EcsService,
        LambdaPermission,
        LambdaUrl,
    )
}
"""The types this module emulates, by CloudFormation type."""

_CUSTOM_TYPES_FIRST = "_constructs_lib_custom_types"
_TypeLookup = Callable[[str], type[CloudFormationModel]]


def _custom_types_first(original: _TypeLookup) -> _TypeLookup:
    """moto maps every ``Custom::`` type to its Lambda-backed custom resource before it looks
    at its table of types; an emulated ``Custom::`` type is looked up first."""

    def resource_class_from_type(resource_type: str) -> type[CloudFormationModel]:
        if resource_type.startswith("Custom::") and resource_type in FILLED_TYPES:
            return FILLED_TYPES[resource_type]
        return original(resource_type)

    setattr(resource_class_from_type, _CUSTOM_TYPES_FIRST, True)
    return resource_class_from_type


def register() -> None:
    """Make moto's CloudFormation see the types above (its model table is cached)."""
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
    if not getattr(parsing.resource_class_from_type, _CUSTOM_TYPES_FIRST, False):
        lookup = _custom_types_first(parsing.resource_class_from_type)
        parsing.resource_class_from_type = lookup  # type: ignore[assignment]
    missing = [
        cfn_type
        for cfn_type, model in FILLED_TYPES.items()
        if parsing.resource_class_from_type(cfn_type) is not model
    ]
    if missing:
        raise RuntimeError(f"moto did not pick up the emulated types {missing}")


def put_public_parameter(account_id: str, region: str, name: str, value: str) -> None:
    """A parameter AWS publishes under ``/aws/service/``, which ``PutParameter`` refuses.

    moto only carries a few public parameter trees (AMIs, regions); this adds one more the
    way moto loads those, straight into the backend.
    """
    backend = ssm_backends[account_id][region]
    backend._parameters[name].append(
        # moto builds its own public parameters the same way; its Parameter model leaves two
        # CloudFormation hooks abstract that nothing here calls.
        Parameter(  # type: ignore[abstract]
            account_id=account_id,
            name=name,
            value=value,
            parameter_type="String",
            description=None,
            allowed_pattern=None,
            keyid=None,
            last_modified_date=utcnow(),
            version=1,
            data_type="text",
        )
    )
