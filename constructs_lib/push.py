"""Mobile push: SNS platform applications (APNs, FCM) as a secure custom resource, and
MobilePush, which adds a broadcast topic, device registration and delivery feedback.

CloudFormation has no resource for SNS platform applications
(cloudformation-coverage-roadmap#148). ``AwsCustomResource`` would put the APNs key or the
FCM service-account JSON in the template and its logs; here a Lambda-backed custom resource
reads the credential from Secrets Manager at deploy time, so it never appears in the
template, in the custom resource's properties or event, or in logs.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from typing import TypedDict, Unpack

from aws_cdk import (
    Annotations,
    ArnFormat,
    CustomResource,
    Names,
    Stack,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from constructs import Construct

from ._private import monitoring
from ._private.functions import least_privilege_function, runtime_code
from ._private.metrics import MetricOptions, metric_of
from ._private.nag import acknowledge_wildcard_resource
from ._private.options import Declared, check_type
from ._private.provider import StackProvider, stack_provider
from ._private.validation import Problems, expect_grantee, unresolved
from .fanout_topic import FanoutTopic
from .lambda_consumer import LambdaConsumer

PROVIDER_ID = "ConstructsLibPushPlatformApplicationProvider"
MAX_APPLICATION_NAME_LENGTH = 256
_APPLICATION_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
"""SNS: letters, digits, underscores, hyphens and periods, 1 to 256 characters."""
_SEGMENT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
MAX_SEGMENT_NAME_LENGTH = 64
_ENDPOINT_EVENTS = ("EndpointCreated", "EndpointDeleted", "EndpointUpdated", "DeliveryFailure")
"""The application events SNS publishes to ``event_topic`` (``Event<name>`` attributes)."""


class PushPlatform(enum.Enum):
    """Mobile push services; ``FCM`` is ``GCM`` in SNS terms (FCM HTTP v1 credentials)."""

    APNS = "APNS"
    APNS_SANDBOX = "APNS_SANDBOX"
    FCM = "GCM"


class ApnsAuth(enum.Enum):
    """How SNS authenticates to APNs: a .p8 signing key (token) or a certificate."""

    TOKEN = "token"
    CERTIFICATE = "certificate"


PLATFORM = "a PushPlatform (APNS, APNS_SANDBOX, FCM)"
PLATFORM_KEYS = "PushPlatform keys (APNS, APNS_SANDBOX, FCM)"
SECRET = (
    "a secretsmanager.ISecret, e.g. Secret.from_secret_complete_arn(scope, id, arn) for a "
    "secret known by its ARN"
)
APNS_AUTH = "an ApnsAuth (TOKEN or CERTIFICATE)"
TOPIC = "an sns.ITopic (e.g. sns.Topic or Topic.from_topic_arn)"


class PushPlatformApplicationOptions(TypedDict, total=False):
    """The options of :class:`PushPlatformApplication` other than ``platform`` and
    ``credentials_secret``, declared once; see :class:`PushPlatformApplication` for what each
    one means and its default.
    """

    apns_auth: ApnsAuth
    application_name: str | None
    event_topic: sns.ITopic | None
    credentials_version: str | None
    delivery_status_logging: bool
    success_sample_rate: int


APPLICATION_OPTIONS = Declared(
    construct="PushPlatformApplication",
    options=PushPlatformApplicationOptions,
    defaults=PushPlatformApplicationOptions(
        apns_auth=ApnsAuth.TOKEN,
        application_name=None,
        event_topic=None,
        credentials_version=None,
        delivery_status_logging=False,
        success_sample_rate=0,
    ),
    expected={
        "platform": PLATFORM,
        "credentials_secret": SECRET,
        "apns_auth": APNS_AUTH,
        "event_topic": TOPIC,
    },
)


class MobilePushOptions(TypedDict, total=False):
    """The options of :class:`MobilePush` other than ``credentials``, declared once; see
    :class:`MobilePush` for what each one means and its default.
    """

    apns_auth: ApnsAuth
    segments: Sequence[str]
    broadcast_topic_fifo: bool
    delivery_status_logging: bool
    success_sample_rate: int
    alarm_topic: sns.ITopic | None


MOBILE_PUSH_OPTIONS = Declared(
    construct="MobilePush",
    options=MobilePushOptions,
    defaults=MobilePushOptions(
        apns_auth=ApnsAuth.TOKEN,
        segments=(),
        broadcast_topic_fifo=False,
        delivery_status_logging=False,
        success_sample_rate=0,
        alarm_topic=None,
    ),
    expected={
        "credentials": f"a dict of PushPlatform (APNS, APNS_SANDBOX, FCM) to {SECRET[2:]}",
        "apns_auth": APNS_AUTH,
        "segments": "a list of segment names (str)",
        "alarm_topic": TOPIC,
    },
)


def _provider(scope: Construct) -> StackProvider:
    """The stack's one provider of platform applications."""
    return stack_provider(
        scope,
        PROVIDER_ID,
        code=runtime_code("push_platform_application"),
        job="platform-application",
        handler="handler.on_event",
        description="Creates, updates and deletes SNS platform applications "
        "(credentials read from Secrets Manager)",
        framework_description="Custom resource framework of the SNS platform applications",
    )


class PushPlatformApplication(Construct):
    """An SNS platform application whose credential lives in Secrets Manager.

    The credential secret holds JSON: for APNs token auth
    ``{"signing_key": "<.p8>", "key_id", "team_id", "bundle_id"}``; for APNs certificate auth
    ``{"certificate": "<PEM>", "private_key": "<PEM>"}``; for FCM the Google service-account
    JSON (or ``{"service_account": {...}}``). The handler reads it at deploy time.

    * Changing ``credentials_version`` (any string, e.g. the secret's new version id after a
      rotation) makes CloudFormation update the application with the secret's current value.
    * Renaming replaces the application; deleting an application that is already gone
      succeeds.
    * The handler may read exactly this secret and manage exactly this application.

    :param platform: :class:`PushPlatform` (APNS, APNS_SANDBOX or FCM).
    :param credentials_secret: the secret with the credential.
    :param apns_auth: APNs only: a .p8 signing key or a certificate. Default: token.
    :param application_name: Default: generated from the stack and construct path.
    :param event_topic: topic for endpoint created/deleted/updated and delivery failure
        events. Default: none.
    :param credentials_version: change it to push a rotated secret. Default: none.
    :param delivery_status_logging: log deliveries to CloudWatch Logs through a role SNS
        assumes. Default: False.
    :param success_sample_rate: with ``delivery_status_logging``, the percentage (0..100) of
        successful deliveries logged; failures are always logged. Default: 0.

    ``application_name`` must be 1 to 256 letters, digits, underscores, hyphens and periods,
    and unique per platform within an account and region: a second application with the
    same name and platform in the same stack (or in a stack pinned to the same account and
    region) is a synth error.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: PushPlatform,
        credentials_secret: secretsmanager.ISecret,
        **options: Unpack[PushPlatformApplicationOptions],
    ) -> None:
        super().__init__(scope, id)
        settings = self._validate(platform, credentials_secret, options)
        _warn_if_sampling_without_logging(
            self, settings["success_sample_rate"], settings["delivery_status_logging"]
        )
        self.platform: PushPlatform = platform
        """The push service (``platform.value`` is its name in SNS)."""
        self.application_name: str = _application_name(self, settings["application_name"])
        """The application's name in SNS, given or generated."""
        self.delivery_status_role: iam.Role | None = None
        """The role SNS assumes to write delivery status logs (``delivery_status_logging``)."""
        self.resource: CustomResource
        """The custom resource that creates, updates and deletes the application."""
        self.platform_application_arn: str
        """The application's ARN (``PlatformApplicationArn`` of the custom resource)."""
        provider = _provider(self)
        self._let_provider_manage(provider, credentials_secret)
        if settings["delivery_status_logging"]:
            self.delivery_status_role = self._delivery_status_role(provider)
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type="Custom::SnsPlatformApplication",
            properties=self._properties(credentials_secret, settings),
        )
        self.platform_application_arn = self.resource.get_att_string("PlatformApplicationArn")

    # -- validate ------------------------------------------------------------------------

    def _validate(
        self,
        platform: PushPlatform,
        credentials_secret: secretsmanager.ISecret,
        options: PushPlatformApplicationOptions,
    ) -> PushPlatformApplicationOptions:
        """Every rule on the options, all problems raised together."""
        problems = Problems()
        settings = APPLICATION_OPTIONS.settle(
            self, options, problems, platform=platform, credentials_secret=credentials_secret
        )
        problems.raise_if_any(self)
        success_sample_rate = settings["success_sample_rate"]
        problems.check_int("success_sample_rate", success_sample_rate, 0, 100)
        credentials_version = settings["credentials_version"]
        if (
            credentials_version is not None
            and not unresolved(credentials_version)
            and not credentials_version.strip()
        ):
            problems.add(
                "credentials_version",
                credentials_version,
                "must be a non-empty string (the secret's version id, a date, ...); change it "
                "to push the secret's current value, or leave it out",
            )
        _check_application_name(problems, self, platform, settings["application_name"])
        problems.raise_if_any(self)
        return settings

    # -- build ---------------------------------------------------------------------------

    def _let_provider_manage(
        self, provider: StackProvider, credentials_secret: secretsmanager.ISecret
    ) -> None:
        """The shared handler may read this secret and manage this application, no other."""
        credentials_secret.grant_read(provider.role)
        application_arn = Stack.of(self).format_arn(
            service="sns",
            resource="app",
            resource_name=f"{self.platform.value}/{self.application_name}",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        provider.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "sns:CreatePlatformApplication",
                    "sns:SetPlatformApplicationAttributes",
                    "sns:GetPlatformApplicationAttributes",
                    "sns:DeletePlatformApplication",
                ],
                resources=[application_arn],
            )
        )

    def _delivery_status_role(self, provider: StackProvider) -> iam.Role:
        """The role SNS assumes to write this application's delivery status logs."""
        role = iam.Role(
            self,
            "DeliveryStatusRole",
            assumed_by=iam.ServicePrincipal("sns.amazonaws.com"),
            description=f"Delivery status logging of {self.node.path}",
        )
        stack = Stack.of(self)
        log_groups = (
            f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:"
            f"sns/{stack.region}/{stack.account}/app/{self.platform.value}/"
            f"{self.application_name}*"
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:PutRetentionPolicy",
                ],
                resources=[log_groups],
            )
        )
        acknowledge_wildcard_resource(
            role.node.find_child("DefaultPolicy"),
            log_groups,
            "SNS names the delivery status log groups of an application after it "
            "(and adds /Failure); the wildcard covers only this application's groups "
            "and their streams.",
        )
        role.grant_pass_role(provider.role)
        return role

    def _properties(
        self, credentials_secret: secretsmanager.ISecret, settings: PushPlatformApplicationOptions
    ) -> dict[str, str]:
        """The custom resource's properties: the secret's ARN, never the credential."""
        properties: dict[str, str] = {
            "Name": self.application_name,
            "Platform": self.platform.value,
            "CredentialsSecretArn": credentials_secret.secret_arn,
        }
        if self.platform is not PushPlatform.FCM:
            properties["AuthMethod"] = settings["apns_auth"].value
        event_topic = settings["event_topic"]
        if event_topic is not None:
            for event in _ENDPOINT_EVENTS:
                properties[f"Event{event}"] = event_topic.topic_arn
        credentials_version = settings["credentials_version"]
        if credentials_version is not None:
            properties["CredentialsVersion"] = credentials_version
        if self.delivery_status_role is not None:
            properties["SuccessFeedbackRoleArn"] = self.delivery_status_role.role_arn
            properties["FailureFeedbackRoleArn"] = self.delivery_status_role.role_arn
            properties["SuccessFeedbackSampleRate"] = str(settings["success_sample_rate"])
        return properties


class MobilePush(Construct):
    """Push notifications end to end: applications, a broadcast topic, registration, feedback.

    * one :class:`PushPlatformApplication` per entry of ``credentials``;
    * ``broadcast``: a standard :class:`FanoutTopic` every registered device subscribes to
      (publish once, SNS delivers through APNs or FCM); ``segments`` add one topic each;
    * ``registration``: a function behind a function URL with IAM auth (never anonymous)
      that creates or refreshes a device's endpoint and subscribes it; grant callers with
      :meth:`grant_register`;
    * ``feedback``: endpoint and delivery-failure events of the applications go through an
      events topic to a :class:`LambdaConsumer` that deletes dead endpoints and their
      subscriptions, so the endpoint list does not rot.

    :param credentials: platform → secret (see :class:`PushPlatformApplication`).
    :param apns_auth: how SNS authenticates to APNs (a .p8 signing key or a certificate).
        Default: token.
    :param segments: names of extra topics devices may join. Default: none.
    :param broadcast_topic_fifo: must stay False: SNS cannot deliver a FIFO topic to mobile
        endpoints (a synth error says so). Default: False.
    :param delivery_status_logging: log deliveries to CloudWatch Logs (all failures, and
        ``success_sample_rate`` percent of successes). Default: False.
    :param success_sample_rate: percentage (0..100) of successful deliveries logged.
        Default: 0.
    :param alarm_topic: standard topic for the alarm and OK notifications of the events,
        broadcast and segment fanouts, the feedback consumer and the registration function.
        Default: none (alarms only change state).

    Segment names are 1 to 64 lowercase letters, digits and hyphens, starting with a letter
    or digit, each given once. The broadcast and segment topics have no consumer queues, so
    they get a topic key each and nothing else (see :class:`FanoutTopic`).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        credentials: Mapping[PushPlatform, secretsmanager.ISecret],
        **options: Unpack[MobilePushOptions],
    ) -> None:
        super().__init__(scope, id)
        settings = self._validate(credentials, options)
        self.alarm_topic: sns.ITopic | None = settings["alarm_topic"]
        """Receives the alarm and OK notifications of every part, when given."""
        self.events: FanoutTopic
        """The topic the applications publish endpoint and delivery-failure events to."""
        self.applications: dict[PushPlatform, PushPlatformApplication]
        """One platform application per entry of ``credentials``."""
        self.broadcast: FanoutTopic
        """The standard topic every registered device subscribes to."""
        self.segment_topics: dict[str, FanoutTopic]
        """Segment name -> the topic devices of that segment subscribe to."""
        self.registration_function: lambda_.Function
        """Creates or refreshes a device's endpoint and subscribes it."""
        self.registration_url: lambda_.FunctionUrl
        """The registration function's URL (IAM auth: see :meth:`grant_register`)."""
        self.registration_errors_alarm: cloudwatch.Alarm
        """Alarm on any error of the registration function (a bad request is not one)."""
        self.credential_sync_function: lambda_.Function
        """Pushes a credential secret's new value to its application."""
        self.credential_sync_rule: events.Rule
        """Runs :attr:`credential_sync_function` when a credential secret changes."""
        self.feedback: LambdaConsumer
        """Deletes dead endpoints and their subscriptions, fed by :attr:`events`."""

        self.events = self._build_events()
        self.applications = self._build_applications(credentials, settings)
        self._build_topics(settings["segments"])
        environment = self._environment()
        registration_role = self._build_registration(environment)
        self._allow_registration(registration_role)
        self._sync_rotated_credentials(credentials, settings["apns_auth"])
        self.feedback = self._build_feedback(environment)
        self._allow_feedback(self.feedback.role)

    # -- validate ------------------------------------------------------------------------

    def _validate(
        self, credentials: Mapping[PushPlatform, secretsmanager.ISecret], options: MobilePushOptions
    ) -> MobilePushOptions:
        """Every rule on the options, all problems raised together."""
        problems = Problems()
        settings = MOBILE_PUSH_OPTIONS.settle(self, options, problems)
        # Checked here, entry by entry, for messages that name the platform.
        if not isinstance(credentials, Mapping):
            problems.wrong_type("credentials", credentials, "a dict of PushPlatform to secret")
        else:
            _check_credential_types(problems, credentials)
        problems.raise_if_any(self)
        if settings["broadcast_topic_fifo"]:
            problems.add(
                "broadcast_topic_fifo",
                settings["broadcast_topic_fifo"],
                "SNS cannot deliver a FIFO topic to mobile endpoints (APNs, FCM); use a "
                "standard topic",
            )
        if not credentials:
            problems.add("credentials", {}, "configure at least one push platform")
        problems.check_int("success_sample_rate", settings["success_sample_rate"], 0, 100)
        problems.check_alarm_topic("alarm_topic", settings["alarm_topic"])
        _check_segments(problems, settings["segments"])
        problems.raise_if_any(self)
        return settings

    # -- build ---------------------------------------------------------------------------

    def _build_events(self) -> FanoutTopic:
        """The events fanout, whose key lets SNS itself publish the endpoint events."""
        fanout = FanoutTopic(
            self, "Events", display_name="Push endpoint events", alarm_topic=self.alarm_topic
        )
        self._allow_sns_to_publish_events(fanout)
        return fanout

    def _build_applications(
        self,
        credentials: Mapping[PushPlatform, secretsmanager.ISecret],
        settings: MobilePushOptions,
    ) -> dict[PushPlatform, PushPlatformApplication]:
        """One application per platform (``Apns``, ``ApnsSandbox``, ``Fcm``), reporting to
        the events topic."""
        return {
            platform: PushPlatformApplication(
                self,
                platform.name.title().replace("_", ""),
                platform=platform,
                credentials_secret=secret,
                apns_auth=settings["apns_auth"],
                event_topic=self.events.topic,
                delivery_status_logging=settings["delivery_status_logging"],
                success_sample_rate=settings["success_sample_rate"],
            )
            for platform, secret in credentials.items()
        }

    def _build_topics(self, segments: Sequence[str]) -> None:
        """The broadcast topic, then one topic per segment (``Segment<Name>``)."""
        self.broadcast = FanoutTopic(
            self, "Broadcast", display_name="Broadcast", alarm_topic=self.alarm_topic
        )
        self.segment_topics = {
            name: FanoutTopic(self, _segment_id(name), alarm_topic=self.alarm_topic)
            for name in segments
        }

    def _topic_arns(self) -> list[str]:
        """The broadcast topic's ARN, then each segment topic's."""
        return [
            self.broadcast.topic.topic_arn,
            *(t.topic.topic_arn for t in self.segment_topics.values()),
        ]

    def _environment(self) -> dict[str, str]:
        """What the registration and feedback functions know of the applications and topics."""
        stack = Stack.of(self)
        return {
            "PLATFORM_APPLICATIONS": stack.to_json_string(
                {
                    platform.name.lower(): app.platform_application_arn
                    for platform, app in self.applications.items()
                }
            ),
            "BROADCAST_TOPIC_ARN": self.broadcast.topic.topic_arn,
            "SEGMENT_TOPICS": stack.to_json_string(
                {name: t.topic.topic_arn for name, t in self.segment_topics.items()}
            ),
        }

    def _build_registration(self, environment: Mapping[str, str]) -> iam.Role:
        """The registration function, its IAM-auth URL and its errors alarm; its role."""
        registration = Construct(self, "Registration")
        built = least_privilege_function(
            registration,
            code=runtime_code("push_registration"),
            handler="handler.handler",
            description=f"Registers devices for push ({self.node.path})",
            environment={"POWERTOOLS_SERVICE_NAME": "push-registration", **environment},
        )
        self.registration_function = built.function
        self.registration_url = built.function.add_function_url(
            auth_type=lambda_.FunctionUrlAuthType.AWS_IAM
        )
        self.registration_errors_alarm = monitoring.at_least_once_alarm(
            registration,
            "ErrorsAlarm",
            metric=self.metric_registration_errors(),
            description=f"{self.node.path}: device registration failed with an error (a bad "
            "request is answered with 400 and is not an error)",
            alarm_topic=self.alarm_topic,
        )
        return built.role

    def _sync_rotated_credentials(
        self, credentials: Mapping[PushPlatform, secretsmanager.ISecret], apns_auth: ApnsAuth
    ) -> None:
        """Push a secret's new value to its application when the secret changes.

        Secrets Manager API calls reach EventBridge through CloudTrail: the account needs a
        trail recording management events (most accounts have one).
        """
        scope = Construct(self, "CredentialSync")
        applications = [
            {
                "secret_arn": credentials[platform].secret_arn,
                "platform": platform.value,
                "auth_method": apns_auth.value,
                "name": app.application_name,
            }
            for platform, app in self.applications.items()
        ]
        built = least_privilege_function(
            scope,
            code=runtime_code("push_platform_application"),
            handler="handler.on_secret_rotated",
            description=f"Updates platform applications when their secret changes "
            f"({self.node.path})",
            powertools_layer=False,
            environment={"APPLICATIONS": Stack.of(self).to_json_string(applications)},
            other_wildcard_actions="so is sns:ListPlatformApplications, which the function only "
            "reads to find its own applications by name; its writes name those applications.",
        )
        self.credential_sync_function = built.function
        self._allow_credential_sync(built.role, credentials)
        self.credential_sync_rule = events.Rule(
            scope,
            "SecretChanged",
            description="A push credential secret got a new value",
            event_pattern=events.EventPattern(
                source=["aws.secretsmanager"],
                detail={
                    "eventName": ["PutSecretValue", "UpdateSecret", "RotationSucceeded"],
                },
            ),
            targets=[targets.LambdaFunction(built.function, retry_attempts=4)],
        )

    def _build_feedback(self, environment: Mapping[str, str]) -> LambdaConsumer:
        """The consumer of the events topic that deletes dead endpoints."""
        return self.events.add_lambda_consumer(
            "Feedback",
            code=runtime_code("push_feedback"),
            handler="handler.handler",
            environment={
                "BROADCAST_TOPIC_ARN": environment["BROADCAST_TOPIC_ARN"],
                "SEGMENT_TOPICS": environment["SEGMENT_TOPICS"],
            },
        )

    # -- wire ----------------------------------------------------------------------------

    def _allow_registration(self, role: iam.Role) -> None:
        """Create and refresh endpoints of these applications; subscribe to these topics."""
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["sns:CreatePlatformEndpoint"],
                resources=[app.platform_application_arn for app in self.applications.values()],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "sns:GetEndpointAttributes",
                    "sns:SetEndpointAttributes",
                ],
                resources=self._endpoints(),
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["sns:Subscribe"], resources=self._topic_arns())
        )
        self._acknowledge_endpoints(role)

    def _allow_credential_sync(
        self, role: iam.Role, credentials: Mapping[PushPlatform, secretsmanager.ISecret]
    ) -> None:
        """Read the credential secrets; update these applications, found by name."""
        for secret in credentials.values():
            secret.grant_read(role)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["sns:SetPlatformApplicationAttributes"],
                resources=[app.platform_application_arn for app in self.applications.values()],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["sns:ListPlatformApplications"], resources=["*"])
        )

    def _allow_feedback(self, role: iam.Role) -> None:
        """Delete endpoints of these applications; unsubscribe them from these topics."""
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["sns:GetEndpointAttributes", "sns:DeleteEndpoint"],
                resources=self._endpoints(),
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["sns:ListSubscriptionsByTopic", "sns:Unsubscribe"],
                resources=self._topic_arns(),
            )
        )
        self._acknowledge_endpoints(role)

    def _endpoints(self) -> list[str]:
        """``endpoint/<platform>/<app>/*`` of each application."""
        return [_endpoints_of(self, app) for app in self.applications.values()]

    def _acknowledge_endpoints(self, role: iam.IRole) -> None:
        """cdk-nag's IAM5 finding for each application's ``endpoint/<app>/*`` resource."""
        for app in self.applications.values():
            acknowledge_wildcard_resource(
                role.node.find_child("DefaultPolicy"),
                _endpoints_of(self, app),
                "Endpoint ids are assigned by SNS when a device registers; the wildcard "
                "stands only for them, within this one platform application.",
            )

    @staticmethod
    def _allow_sns_to_publish_events(events: FanoutTopic) -> None:
        """SNS itself publishes the applications' endpoint events to the encrypted topic."""
        key = events.topic_key
        if isinstance(key, kms.Key):
            key.add_to_resource_policy(
                iam.PolicyStatement(
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    principals=[iam.ServicePrincipal("sns.amazonaws.com")],
                    resources=["*"],
                    conditions={"StringEquals": {"aws:SourceAccount": Stack.of(events).account}},
                )
            )

    # -- grants --------------------------------------------------------------------------

    def grant_register(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` (the app backend) call the registration function URL."""
        expect_grantee(self, grantee)
        return self.registration_function.grant_invoke_url(grantee)

    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` publish to the broadcast topic."""
        expect_grantee(self, grantee)
        return self.broadcast.grant_publish(grantee)

    # -- metrics -------------------------------------------------------------------------

    def metric_registration_errors(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Registrations that failed with an error (a bad request, answered with 400, is not
        one). Default: Sum over 1 minute."""
        return metric_of(self, self.registration_function, "Errors", options)


def _endpoints_of(scope: Construct, app: PushPlatformApplication) -> str:
    return Stack.of(scope).format_arn(
        service="sns",
        resource="endpoint",
        resource_name=f"{app.platform.value}/{app.application_name}/*",
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def _warn_if_sampling_without_logging(scope: Construct, rate: object, logging: bool) -> None:
    if logging or rate in (0, None) or unresolved(rate):
        return
    Annotations.of(scope).add_warning_v2(
        "constructs-lib:sampleRateWithoutLogging",
        f"success_sample_rate={rate!r} has no effect without delivery_status_logging=True: "
        "no delivery is logged. Set delivery_status_logging=True, or drop the rate.",
    )


def _application_name(application: PushPlatformApplication, given: str | None) -> str:
    """``given``, or a name generated from the stack and the construct path."""
    return given or Names.unique_resource_name(
        application, max_length=MAX_APPLICATION_NAME_LENGTH, separator="-"
    )


def _check_application_name(
    problems: Problems,
    application: PushPlatformApplication,
    platform: PushPlatform,
    given: str | None,
) -> None:
    """A name SNS accepts, not already used by another application of the same platform."""
    name = _application_name(application, given)
    if unresolved(name):
        return
    if given is not None and not (
        1 <= len(name) <= MAX_APPLICATION_NAME_LENGTH and _APPLICATION_NAME.match(name)
    ):
        problems.add(
            "application_name",
            name,
            "SNS allows 1 to 256 letters, digits, underscores, hyphens and periods",
        )
    # SNS keeps one application per name and platform in an account and region.
    problems.check_unique_name(
        application,
        "application_name",
        f"{platform.name} platform application",
        name,
    )


def _check_credential_types(
    problems: Problems, credentials: Mapping[PushPlatform, secretsmanager.ISecret]
) -> None:
    """Each key of ``credentials`` a :class:`PushPlatform` and each value a secret, a
    problem per wrong entry (``credentials[PushPlatform.APNS]=...``)."""
    for platform, secret in credentials.items():
        if check_type(problems, "credentials", platform, PushPlatform, PLATFORM_KEYS):
            check_type(problems, f"credentials[{platform}]", secret, secretsmanager.ISecret, SECRET)


def _segment_id(name: str) -> str:
    """The construct id of a segment's topic: ``Segment<Name>``."""
    return f"Segment{name.title().replace('-', '')}"


def _check_segments(problems: Problems, segments: Sequence[str]) -> None:
    """Every segment name usable as a topic, and each one's construct id distinct."""
    ids: dict[str, str] = {}
    for name in segments:
        if not (len(name) <= MAX_SEGMENT_NAME_LENGTH and _SEGMENT_NAME.match(name)):
            problems.add(
                "segments",
                name,
                f"a segment name is 1 to {MAX_SEGMENT_NAME_LENGTH} lowercase letters, digits "
                "and hyphens, starting with a letter or digit",
            )
            continue
        construct_id = _segment_id(name)
        clash = next((n for n, i in ids.items() if i == construct_id), None)
        if clash is not None:
            problems.add(
                "segments",
                name,
                f"is given twice (or clashes with {clash!r}: both become {construct_id}); "
                "give each segment once",
            )
            continue
        ids[name] = construct_id
