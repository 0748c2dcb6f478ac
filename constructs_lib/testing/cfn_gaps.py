"""CloudFormation resource types moto 5.2.5 silently skips, implemented on moto's own backends.

moto builds its table of CloudFormation types from ``CloudFormationModel.__subclasses__()``;
importing this module (in the process that runs the server) adds the types below. Each one
does what CloudFormation would do, through the same backend calls the matching API makes, so
the emulator's state afterwards is what the API calls would leave (subscriptions that really
deliver, queue and topic policies that ``GetQueueAttributes`` / ``GetTopicAttributes`` return,
alarms that ``DescribeAlarms`` lists, tables that accept items).

moto derives a service name from ``cls.__module__.split(".")[1]``: these classes must live in a
package submodule (``constructs_lib.testing.cfn_gaps``), never in a top-level module.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from typing import Any

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
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends
from moto.ssm.models import Parameter, ssm_backends

from .gaps import fills


def _policy(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document)


def _queue_name(url_or_arn: str) -> str:
    return url_or_arn.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]


@fills(
    "cloudformation",
    moto="a stack update of a type this module emulates drops the resource from the stack",
    aws="the resource exists with the new properties (emulated as undo, then create)",
)
class _Resource:
    """What every type below shares: created at once, identified by ``physical_resource_id``.

    moto calls ``create_from_cloudformation_json`` / ``delete_from_cloudformation_json``
    with the resolved template entry; each type implements ``create`` (returning the
    physical id) and, where the API has an inverse, ``delete``. Not itself a
    ``CloudFormationModel``: moto lists only *direct* subclasses, so each type names
    ``CloudFormationModel`` as a base of its own.
    """

    def __init__(self, physical_resource_id: str, arn: str) -> None:
        self.physical_resource_id = physical_resource_id
        self.arn = arn
        self.properties: dict[str, Any] = {}
        self.logical_id = ""

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

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
        cls.delete(resource_name, cloudformation_json["Properties"], account_id, region_name)

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
    "delivery, redrive policy), in the topic's region",
)
class SnsSubscription(_Resource, CloudFormationModel):
    """AWS::SNS::Subscription: ``Subscribe`` then ``SetSubscriptionAttributes``.

    ``Region`` (a subscription to a topic in another region) picks the topic's backend, as
    CloudFormation creates the subscription in the topic's region.
    """

    ATTRIBUTES = ("FilterPolicyScope", "FilterPolicy", "RawMessageDelivery", "RedrivePolicy")
    """In this order: moto reads a filter policy in the scope set when the policy is set."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::Subscription"

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

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SQS::QueuePolicy"

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

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::TopicPolicy"

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

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

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

    @staticmethod
    def cloudformation_name_type() -> str:
        return "TableName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::DynamoDB::GlobalTable"

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
    moto="`AWS::Lambda::Permission` is added to the function's policy but gets no physical id",
    aws="`AddPermission` with the template's statement; its physical id, and "
    "`RemovePermission` on delete",
)
class LambdaPermission(_Resource, CloudFormationModel):
    """AWS::Lambda::Permission: ``AddPermission`` on the function it names."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::Permission"

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
    moto="`AWS::Lambda::Url` is skipped",
    aws="`CreateFunctionUrlConfig` (auth type, CORS, invoke mode); `FunctionUrl` and "
    "`FunctionArn` attributes",
)
class LambdaUrl(_Resource, CloudFormationModel):
    """AWS::Lambda::Url: ``CreateFunctionUrlConfig`` on the target function."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::Url"

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


FILLED_TYPES = tuple(
    model.cloudformation_type()
    for model in (
        SnsSubscription,
        SqsQueuePolicy,
        SnsTopicPolicy,
        CloudWatchAlarm,
        DynamoDbGlobalTable,
        LambdaPermission,
        LambdaUrl,
    )
)


def register() -> None:
    """Make moto's CloudFormation see the types above (its model table is cached)."""
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
    missing = [t for t in FILLED_TYPES if t not in parsing.get_model_map()]
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
