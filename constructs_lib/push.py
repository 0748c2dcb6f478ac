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

from aws_cdk import (
    Annotations,
    ArnFormat,
    CustomResource,
    Duration,
    Names,
    Stack,
    Token,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import custom_resources as cr
from constructs import Construct

from ._private import monitoring
from ._private.functions import least_privilege_function, runtime_code
from ._private.nag import acknowledge_wildcard_resource
from ._private.validation import Problems, expect_grantee, implements, is_topic
from .fanout_topic import FanoutTopic


def wrong_type(option: str, value: object, what: str) -> TypeError:  # temporary shim
    """Temporary: the removed ``_private.validation.wrong_type`` (until this module is
    converted to ``Problems``)."""
    return TypeError(f"{option}: expected {what}, got {type(value).__name__} {value!r:.80}")


def expect_type(option: str, value: object, types: tuple[type, ...], what: str) -> None:
    """Temporary: the removed ``_private.validation.expect_type``."""
    if not isinstance(value, types):
        raise wrong_type(option, value, what)

PROVIDER_ID = "ConstructsLibPushPlatformApplicationProvider"
MAX_APPLICATION_NAME_LENGTH = 256
_APPLICATION_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
"""SNS: letters, digits, underscores, hyphens and periods, 1 to 256 characters."""
_SEGMENT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
MAX_SEGMENT_NAME_LENGTH = 64


class PushPlatform(enum.Enum):
    """Mobile push services; ``FCM`` is ``GCM`` in SNS terms (FCM HTTP v1 credentials)."""

    APNS = "APNS"
    APNS_SANDBOX = "APNS_SANDBOX"
    FCM = "GCM"


class ApnsAuth(enum.Enum):
    """How SNS authenticates to APNs: a .p8 signing key (token) or a certificate."""

    TOKEN = "token"
    CERTIFICATE = "certificate"


class _Provider(Construct):
    """One custom resource provider per stack, shared by its platform applications."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        built = least_privilege_function(
            self,
            code=runtime_code("push_platform_application"),
            handler="handler.on_event",
            description="Creates, updates and deletes SNS platform applications "
            "(credentials read from Secrets Manager)",
            timeout=Duration.minutes(1),
            powertools_layer=False,
        )
        self.function = built.function
        self.role = built.role
        framework_role = iam.Role(
            self,
            "FrameworkRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Custom resource framework of the SNS platform applications",
        )
        framework_logs = logs.LogGroup(
            self, "FrameworkLogGroup", retention=logs.RetentionDays.ONE_MONTH
        )
        framework_logs.grant_write(framework_role)
        self.provider = cr.Provider(
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
            "The custom resource framework may invoke the one platform-application "
            "handler, any of its versions (the :* suffix); nothing else.",
        )


def _provider(scope: Construct) -> _Provider:
    stack = Stack.of(scope)
    existing = stack.node.try_find_child(PROVIDER_ID)
    return existing if isinstance(existing, _Provider) else _Provider(stack, PROVIDER_ID)


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

    :param platform: :class:`PushPlatform`.
    :param credentials_secret: the secret with the credential.
    :param apns_auth: APNs only. Default: token (.p8 key).
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
        apns_auth: ApnsAuth = ApnsAuth.TOKEN,
        application_name: str | None = None,
        event_topic: sns.ITopic | None = None,
        credentials_version: str | None = None,
        delivery_status_logging: bool = False,
        success_sample_rate: int = 0,
    ) -> None:
        super().__init__(scope, id)
        expect_type("platform", platform, (PushPlatform,), "a PushPlatform (APNS, FCM, ...)")
        expect_type("apns_auth", apns_auth, (ApnsAuth,), "an ApnsAuth (TOKEN or CERTIFICATE)")
        _expect_secret("credentials_secret", credentials_secret)
        if event_topic is not None and not is_topic(event_topic):
            raise wrong_type("event_topic", event_topic, "an sns.ITopic")
        problems = Problems()
        problems.check_int("success_sample_rate", success_sample_rate, 0, 100)
        if credentials_version is not None and not (
            isinstance(credentials_version, str)
            and (Token.is_unresolved(credentials_version) or credentials_version.strip())
        ):
            problems.add(
                "credentials_version",
                credentials_version,
                "must be a non-empty string (the secret's version id, a date, ...); change it "
                "to push the secret's current value, or leave it out",
            )
        _warn_if_sampling_without_logging(self, success_sample_rate, delivery_status_logging)
        self.platform = platform
        self.application_name = application_name or Names.unique_resource_name(
            self, max_length=MAX_APPLICATION_NAME_LENGTH, separator="-"
        )
        _check_application_name(problems, self, application_name)
        problems.raise_if_any(self)
        provider = _provider(self)
        credentials_secret.grant_read(provider.role)
        application_arn = Stack.of(self).format_arn(
            service="sns",
            resource="app",
            resource_name=f"{platform.value}/{self.application_name}",
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
        properties: dict[str, str] = {
            "Name": self.application_name,
            "Platform": platform.value,
            "CredentialsSecretArn": credentials_secret.secret_arn,
        }
        if platform is not PushPlatform.FCM:
            properties["AuthMethod"] = apns_auth.value
        if event_topic is not None:
            for event in (
                "EndpointCreated",
                "EndpointDeleted",
                "EndpointUpdated",
                "DeliveryFailure",
            ):
                properties[f"Event{event}"] = event_topic.topic_arn
        if credentials_version is not None:
            properties["CredentialsVersion"] = credentials_version
        self.delivery_status_role: iam.Role | None = None
        if delivery_status_logging:
            self.delivery_status_role = self._delivery_status_role(provider)
            properties["SuccessFeedbackRoleArn"] = self.delivery_status_role.role_arn
            properties["FailureFeedbackRoleArn"] = self.delivery_status_role.role_arn
            properties["SuccessFeedbackSampleRate"] = str(success_sample_rate)
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=provider.provider.service_token,
            resource_type="Custom::SnsPlatformApplication",
            properties=properties,
        )
        self.platform_application_arn = self.resource.get_att_string("PlatformApplicationArn")

    def _delivery_status_role(self, provider: _Provider) -> iam.Role:
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
    :param apns_auth: Default: token.
    :param segments: names of extra topics devices may join. Default: none.
    :param delivery_status_logging: log deliveries to CloudWatch Logs (all failures, and
        ``success_sample_rate`` percent of successes). Default: False.
    :param success_sample_rate: percentage (0..100) of successful deliveries logged.
        Default: 0.
    :param broadcast_topic_fifo: must stay False: SNS cannot deliver a FIFO topic to mobile
        endpoints (a synth error says so).
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
        apns_auth: ApnsAuth = ApnsAuth.TOKEN,
        segments: Sequence[str] = (),
        broadcast_topic_fifo: bool = False,
        delivery_status_logging: bool = False,
        success_sample_rate: int = 0,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, id)
        expect_type("apns_auth", apns_auth, (ApnsAuth,), "an ApnsAuth (TOKEN or CERTIFICATE)")
        if not isinstance(credentials, Mapping):
            raise wrong_type("credentials", credentials, "a dict of PushPlatform to secret")
        for platform, secret in credentials.items():
            expect_type(
                "credentials", platform, (PushPlatform,), "PushPlatform keys (APNS, FCM, ...)"
            )
            _expect_secret(f"credentials[{platform}]", secret)
        problems = Problems()
        if broadcast_topic_fifo:
            problems.add(
                "broadcast_topic_fifo",
                broadcast_topic_fifo,
                "SNS cannot deliver a FIFO topic to mobile endpoints (APNs, FCM); use a "
                "standard topic",
            )
        if not credentials:
            problems.add("credentials", {}, "configure at least one push platform")
        problems.check_int("success_sample_rate", success_sample_rate, 0, 100)
        problems.check_alarm_topic("alarm_topic", alarm_topic)
        segment_ids = _check_segments(problems, segments)
        problems.raise_if_any(self)
        self.alarm_topic = alarm_topic

        self.events = FanoutTopic(
            self, "Events", display_name="Push endpoint events", alarm_topic=alarm_topic
        )
        self._allow_sns_to_publish_events(self.events)
        self.applications = {
            platform: PushPlatformApplication(
                self,
                platform.name.title().replace("_", ""),
                platform=platform,
                credentials_secret=secret,
                apns_auth=apns_auth,
                event_topic=self.events.topic,
                delivery_status_logging=delivery_status_logging,
                success_sample_rate=success_sample_rate,
            )
            for platform, secret in credentials.items()
        }
        self.broadcast = FanoutTopic(
            self, "Broadcast", display_name="Broadcast", alarm_topic=alarm_topic
        )
        self.segment_topics = {
            name: FanoutTopic(self, construct_id, alarm_topic=alarm_topic)
            for name, construct_id in segment_ids.items()
        }
        topics = [self.broadcast.topic, *(t.topic for t in self.segment_topics.values())]
        environment = {
            "PLATFORM_APPLICATIONS": Stack.of(self).to_json_string(
                {
                    platform.name.lower(): app.platform_application_arn
                    for platform, app in self.applications.items()
                }
            ),
            "BROADCAST_TOPIC_ARN": self.broadcast.topic.topic_arn,
            "SEGMENT_TOPICS": Stack.of(self).to_json_string(
                {name: t.topic.topic_arn for name, t in self.segment_topics.items()}
            ),
        }

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
        self.registration_errors_alarm: cloudwatch.Alarm = monitoring.at_least_once_alarm(
            registration,
            "ErrorsAlarm",
            metric=built.function.metric_errors(
                period=monitoring.ALARM_PERIOD, statistic=cloudwatch.Stats.SUM
            ),
            description=f"{self.node.path}: device registration failed with an error (a bad "
            "request is answered with 400 and is not an error)",
        )
        monitoring.notify(self.registration_errors_alarm, alarm_topic)
        app_arns = [app.platform_application_arn for app in self.applications.values()]
        built.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sns:CreatePlatformEndpoint"],
                resources=app_arns,
            )
        )
        built.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "sns:GetEndpointAttributes",
                    "sns:SetEndpointAttributes",
                ],
                resources=[_endpoints_of(self, app) for app in self.applications.values()],
            )
        )
        built.role.add_to_policy(
            iam.PolicyStatement(actions=["sns:Subscribe"], resources=[t.topic_arn for t in topics])
        )
        self._acknowledge_endpoints(built.role)

        self._sync_rotated_credentials(credentials, apns_auth)

        self.feedback = self.events.add_lambda_consumer(
            "Feedback",
            code=runtime_code("push_feedback"),
            handler="handler.handler",
            environment={
                "BROADCAST_TOPIC_ARN": environment["BROADCAST_TOPIC_ARN"],
                "SEGMENT_TOPICS": environment["SEGMENT_TOPICS"],
            },
        )
        self.feedback.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sns:GetEndpointAttributes", "sns:DeleteEndpoint"],
                resources=[_endpoints_of(self, app) for app in self.applications.values()],
            )
        )
        self.feedback.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sns:ListSubscriptionsByTopic", "sns:Unsubscribe"],
                resources=[t.topic_arn for t in topics],
            )
        )
        self._acknowledge_endpoints(self.feedback.role)

    def _acknowledge_endpoints(self, role: iam.IRole) -> None:
        """cdk-nag's IAM5 finding for each application's ``endpoint/<app>/*`` resource."""
        for app in self.applications.values():
            acknowledge_wildcard_resource(
                role.node.find_child("DefaultPolicy"),
                _endpoints_of(self, app),
                "Endpoint ids are assigned by SNS when a device registers; the wildcard "
                "stands only for them, within this one platform application.",
            )

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
        for secret in credentials.values():
            secret.grant_read(built.role)
        built.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sns:SetPlatformApplicationAttributes"],
                resources=[app.platform_application_arn for app in self.applications.values()],
            )
        )
        built.role.add_to_policy(
            iam.PolicyStatement(actions=["sns:ListPlatformApplications"], resources=["*"])
        )
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

    def grant_register(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` (the app backend) call the registration function URL."""
        expect_grantee(self, grantee)
        return self.registration_function.grant_invoke_url(grantee)

    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` publish to the broadcast topic."""
        expect_grantee(self, grantee)
        return self.broadcast.grant_publish(grantee)

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


def _endpoints_of(scope: Construct, app: PushPlatformApplication) -> str:
    return Stack.of(scope).format_arn(
        service="sns",
        resource="endpoint",
        resource_name=f"{app.platform.value}/{app.application_name}/*",
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def _warn_if_sampling_without_logging(scope: Construct, rate: object, logging: bool) -> None:
    if logging or rate in (0, None) or Token.is_unresolved(rate):
        return
    Annotations.of(scope).add_warning_v2(
        "constructs-lib:sampleRateWithoutLogging",
        f"success_sample_rate={rate!r} has no effect without delivery_status_logging=True: "
        "no delivery is logged. Set delivery_status_logging=True, or drop the rate.",
    )


def _expect_secret(option: str, secret: object) -> None:
    if not implements(secret, "secret_arn", "grant_read"):
        raise wrong_type(
            option,
            secret,
            "a secretsmanager.ISecret, e.g. Secret.from_secret_complete_arn(scope, id, arn) "
            "for a secret known by its ARN",
        )


def _check_application_name(
    problems: Problems, application: PushPlatformApplication, given: str | None
) -> None:
    """A name SNS accepts, not already used by another application of the same platform."""
    name = application.application_name
    if Token.is_unresolved(name):
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
        f"{application.platform.name} platform application",
        name,
    )


def _check_segments(problems: Problems, segments: Sequence[str]) -> dict[str, str]:
    """Segment name -> construct id (``Segment<Name>``), every name usable and distinct."""
    if isinstance(segments, str) or not isinstance(segments, Sequence):
        problems.add("segments", segments, "must be a list of segment names")
        return {}
    ids: dict[str, str] = {}
    for name in segments:
        if not isinstance(name, str) or not (
            len(name) <= MAX_SEGMENT_NAME_LENGTH and _SEGMENT_NAME.match(name)
        ):
            problems.add(
                "segments",
                name,
                f"a segment name is 1 to {MAX_SEGMENT_NAME_LENGTH} lowercase letters, digits "
                "and hyphens, starting with a letter or digit",
            )
            continue
        construct_id = f"Segment{name.title().replace('-', '')}"
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
    return ids
