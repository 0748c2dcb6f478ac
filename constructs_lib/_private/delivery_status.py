"""Delivery status logging of a fanout's topic (Security Hub control SNS.2).

SNS writes one CloudWatch Logs event per delivery it gives up on, and a sample of the
deliveries that succeeded, for the protocols a topic has a logging configuration for. It
writes through an IAM role it assumes, into log groups named after the topic:
``sns/<region>/<account>/<topic name>`` for successes and ``.../Failure`` for failures
(https://docs.aws.amazon.com/sns/latest/dg/topics-attrib-prereq.html; the ``/Failure``
suffix as in https://repost.aws/knowledge-center/monitor-sns-texts-cloudwatch).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from .nag import acknowledge_wildcard_resource

LOGGED_PROTOCOLS: Mapping[str, sns.LoggingProtocol] = MappingProxyType(
    {
        "SQS": sns.LoggingProtocol.SQS,
        "Lambda": sns.LoggingProtocol.LAMBDA,
        "HTTP/S": sns.LoggingProtocol.HTTP,
        "Firehose": sns.LoggingProtocol.FIREHOSE,
    }
)
"""The SNS delivery-status protocol of each kind of subscriber a fanout adds (``SQS`` for its
queue consumers, a subscriber class's ``KIND`` for the others). SNS logs topic deliveries for
``http/s``, ``sqs``, ``lambda``, ``firehose`` and ``application`` only (CloudFormation
``AWS::SNS::Topic LoggingConfig.Protocol``); email and email-json have no delivery status
logging, and SMS delivery logging is an account-wide setting (``SetSMSAttributes``
``DeliveryStatusIAMRole``), so those kinds are absent on purpose."""

LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")
"""What SNS needs to write delivery status logs (the prerequisites page); not
``PutMetricFilter`` or ``PutRetentionPolicy``, which the broader AWS-managed AmazonSNSRole adds:
the log groups are created here, with their retention."""


class DeliveryStatusLogging(Construct):
    """The log groups and the role through which SNS logs a topic's deliveries; the topic
    gets one logging configuration per protocol :meth:`cover` is called with.

    The role trusts ``sns.amazonaws.com`` with no ``aws:SourceArn`` / ``aws:SourceAccount``
    condition: AWS documents no such context keys for the role SNS assumes to log delivery
    status, and a condition on a key that is absent denies, which would silently stop the
    logging. Only principals of this account allowed ``iam:PassRole`` on the role can set it
    on a topic, and the role can only write to this topic's own log groups.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic: sns.Topic,
        success_sample_rate: int,
        retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, id)
        self._topic = topic
        self._success_sample_rate = success_sample_rate
        self._protocols: list[sns.LoggingProtocol] = []
        stack = Stack.of(self)
        base = f"sns/{stack.region}/{stack.account}/{topic.topic_name}"
        self.failure_log_group = self._log_group("FailureLogGroup", f"{base}/Failure", retention)
        self.success_log_group: logs.LogGroup | None = (
            self._log_group("SuccessLogGroup", base, retention) if success_sample_rate else None
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sns.amazonaws.com"),
            description=f"Lets SNS log the delivery status of the {topic.node.path} topic",
        )
        resources: list[str] = []
        for group in (self.failure_log_group, self.success_log_group):
            if group is None:
                continue
            group_arn = stack.format_arn(
                service="logs",
                resource="log-group",
                resource_name=group.log_group_name,
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            streams = f"{group_arn}:*"
            resources += [group_arn, streams]
            acknowledge_wildcard_resource(
                self,
                streams,
                "SNS names the log streams of a delivery status log group itself (one per "
                "delivery context, unknown at deploy time); the wildcard covers only the "
                "streams of this topic's own log group.",
            )
        # A policy of its own, not the role's inline policy: the topic names the role, the
        # log group names name the topic, so an inline policy naming them would be a cycle.
        iam.Policy(
            self,
            "Policy",
            roles=[self.role],
            statements=[iam.PolicyStatement(actions=list(LOG_ACTIONS), resources=resources)],
        )

    def _log_group(self, id: str, name: str, retention: logs.RetentionDays) -> logs.LogGroup:
        """A log group with the name SNS writes to. Created here so that it has a retention
        (SNS would create one that keeps events forever); destroyed with the stack, since a
        named log group left behind would make the next deployment of the topic fail."""
        return logs.LogGroup(
            self,
            id,
            log_group_name=name,
            retention=retention,
            removal_policy=RemovalPolicy.DESTROY,
        )

    def cover(self, protocol: sns.LoggingProtocol) -> None:
        """Log the deliveries of ``protocol``, once per protocol."""
        if protocol in self._protocols:
            return
        self._protocols.append(protocol)
        self._topic.add_logging_config(
            protocol=protocol,
            failure_feedback_role=self.role,
            success_feedback_role=self.role,
            success_feedback_sample_rate=self._success_sample_rate,
        )

    @property
    def protocols(self) -> list[sns.LoggingProtocol]:
        """The protocols whose deliveries are logged, in the order they were added."""
        return list(self._protocols)
