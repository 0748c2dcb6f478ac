"""Inputs AWS would reject fail at synth, named; inputs it accepts, tokens included, pass.

One class of problem per section: what SNS, SQS, Lambda, KMS and CloudWatch refuse, values
jsii cannot carry (NaN, infinity), tokens that must be skipped, and wrong types. No test here
synthesizes: the constructs check in their constructors.
"""

from __future__ import annotations

import math

import pytest
from aws_cdk import CfnParameter, Duration, Environment, Stack, Token, assertions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from helpers import new_app

from constructs_lib import (
    ConsumerQueue,
    FanoutConfigurationError,
    FanoutTopic,
    LambdaConsumer,
    MobilePush,
    PushPlatform,
    PushPlatformApplication,
)

CODE = lambda_.Code.from_inline("def handler(event, context):\n    return {}\n")
PINNED = Environment(account="111111111111", region="eu-west-1")


def new_stack(env: Environment | None = None) -> Stack:
    return Stack(new_app(), "Some", env=env)


def number_token(stack: Stack, name: str = "Parameter") -> float:
    return Token.as_number(CfnParameter(stack, name, type="Number").value_as_number)


def secret(stack: Stack, name: str = "Apns") -> secretsmanager.ISecret:
    return secretsmanager.Secret.from_secret_name_v2(stack, name, f"push/{name}")


def problems_of(error: pytest.ExceptionInfo[FanoutConfigurationError]) -> list[str]:
    return error.value.problems


# -- filter policies SNS refuses -----------------------------------------------------------

string_filter = sns.SubscriptionFilter.string_filter
numeric_filter = sns.SubscriptionFilter.numeric_filter


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        pytest.param(
            {"kind": string_filter(allowlist=[])}, "has no condition", id="empty allowlist"
        ),
        pytest.param({"kind": string_filter()}, "has no condition", id="string filter, no option"),
        pytest.param(
            {"total": numeric_filter()}, "has no condition", id="numeric filter, no option"
        ),
        pytest.param(
            {"total": numeric_filter(between=sns.BetweenCondition(start=10, stop=5))},
            "is an empty range",
            id="inverted range",
        ),
        pytest.param(
            {"total": numeric_filter(between_strict=sns.BetweenCondition(start=5, stop=5))},
            "is an empty range",
            id="empty strict range",
        ),
        pytest.param(
            {"total": numeric_filter(greater_than=2_000_000_000)},
            "SNS matches numbers from -1,000,000,000 to 1,000,000,000",
            id="number above 1e9",
        ),
        pytest.param(
            {"total": numeric_filter(allowlist=[-1e10])},
            "SNS matches numbers from -1,000,000,000",
            id="number below -1e9",
        ),
    ],
)
def test_fails_when_an_attribute_filter_has_a_condition_sns_refuses(
    policy: dict[str, sns.SubscriptionFilter], message: str
) -> None:
    stack = new_stack()
    with pytest.raises(FanoutConfigurationError, match=r"filter_policy\[") as err:
        FanoutTopic(stack, "F").add_queue_consumer("C", filter_policy=policy)
    assert any(message in p for p in problems_of(err)), problems_of(err)


def test_fails_when_a_body_filter_has_an_empty_nested_policy() -> None:
    stack = new_stack()
    with pytest.raises(FanoutConfigurationError, match=r"\['order'\]\['customer'\].*empty nested"):
        FanoutTopic(stack, "F").add_queue_consumer(
            "C",
            filter_policy_with_message_body={
                "order": sns.FilterOrPolicy.policy(
                    {
                        "customer": sns.FilterOrPolicy.policy({}),
                        "total": sns.FilterOrPolicy.filter(numeric_filter(greater_than=0)),
                    }
                )
            },
        )


def test_fails_when_a_body_filter_leaf_has_no_condition() -> None:
    stack = new_stack()
    with pytest.raises(FanoutConfigurationError, match=r"\['kind'\].*has no condition"):
        FanoutTopic(stack, "F").add_queue_consumer(
            "C",
            filter_policy_with_message_body={
                "kind": sns.FilterOrPolicy.filter(string_filter(allowlist=[]))
            },
        )


def test_numbers_at_the_sns_limits_and_ranges_in_order_are_accepted() -> None:
    stack = new_stack()
    consumer = FanoutTopic(stack, "F").add_queue_consumer(
        "C",
        filter_policy={
            "total": numeric_filter(between=sns.BetweenCondition(start=-1e9, stop=1e9)),
            "count": numeric_filter(between=sns.BetweenCondition(start=3, stop=3)),
            "kind": string_filter(denylist=["test"]),
        },
    )
    assert consumer.subscription is not None


# -- dead-letter queues and keys -----------------------------------------------------------


def test_fails_when_own_dead_letter_queue_keeps_messages_no_longer_than_the_queue() -> None:
    stack = new_stack()
    dead_letters = sqs.Queue(stack, "Dlq", retention_period=Duration.days(4))
    with pytest.raises(
        FanoutConfigurationError, match=r"dead_letter_queue=.*must keep messages longer"
    ):
        FanoutTopic(stack, "F").add_queue_consumer(
            "C", dead_letter_queue=dead_letters, retention_period=Duration.days(4)
        )


def test_fails_when_own_dead_letter_queue_keeps_the_sqs_default_and_the_queue_longer() -> None:
    stack = new_stack()
    with pytest.raises(FanoutConfigurationError, match=r"retention 345600 s"):
        FanoutTopic(stack, "F").add_queue_consumer(
            "C", dead_letter_queue=sqs.Queue(stack, "Dlq"), retention_period=Duration.days(7)
        )


def test_own_dead_letter_queue_that_keeps_longer_is_accepted() -> None:
    stack = new_stack()
    dead_letters = sqs.Queue(stack, "Dlq", retention_period=Duration.days(14))
    consumer = FanoutTopic(stack, "F").add_queue_consumer("C", dead_letter_queue=dead_letters)
    assert consumer.dead_letter_queue is dead_letters


def test_fails_when_own_dead_letter_queue_is_in_another_region() -> None:
    app = new_app()
    here = Stack(app, "Here", env=PINNED)
    there = Stack(app, "There", env=Environment(account="111111111111", region="us-east-1"))
    dead_letters = sqs.Queue(there, "Dlq", retention_period=Duration.days(14))
    with pytest.raises(FanoutConfigurationError, match="same account and region"):
        FanoutTopic(here, "F").add_queue_consumer("C", dead_letter_queue=dead_letters)


@pytest.mark.parametrize("option", ["encryption_key", "queue_key"])
def test_fails_when_the_queue_key_is_aws_managed(option: str) -> None:
    stack = new_stack()
    managed = kms.Alias.from_alias_name(stack, "Managed", "alias/aws/sqs")
    with pytest.raises(
        FanoutConfigurationError, match=rf"{option}='alias/aws/sqs': is an AWS-managed key"
    ):
        if option == "queue_key":
            FanoutTopic(stack, "F", queue_key=managed)
        else:
            ConsumerQueue(stack, "C", topic=sns.Topic(stack, "T"), encryption_key=managed)


def test_fails_when_the_queue_key_is_imported_by_an_aws_managed_alias_arn() -> None:
    stack = new_stack()
    managed = kms.Key.from_key_arn(
        stack, "Managed", "arn:aws:kms:eu-west-1:111111111111:alias/aws/sqs"
    )
    with pytest.raises(FanoutConfigurationError, match="AWS-managed key"):
        ConsumerQueue(stack, "C", topic=sns.Topic(stack, "T"), encryption_key=managed)


def test_a_customer_managed_imported_key_only_warns() -> None:
    stack = new_stack()
    key = kms.Key.from_key_arn(
        stack,
        "Theirs",
        "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    )
    ConsumerQueue(stack, "C", topic=sns.Topic(stack, "T"), encryption_key=key)
    warnings = assertions.Annotations.from_stack(stack).find_warning(
        "*", assertions.Match.string_like_regexp("importedKeyPolicy")
    )
    assert warnings


# -- alarm topics ------------------------------------------------------------------------


def fifo_topic(stack: Stack) -> sns.Topic:
    return sns.Topic(stack, "Alarms", fifo=True, topic_name="alarms")


@pytest.mark.parametrize(
    "construct", ["FanoutTopic", "ConsumerQueue", "LambdaConsumer", "MobilePush"]
)
def test_fails_when_the_alarm_topic_is_fifo(construct: str) -> None:
    stack = new_stack()
    alarms = fifo_topic(stack)
    with pytest.raises(FanoutConfigurationError, match=r"alarm_topic='Some/Alarms': is a FIFO"):
        if construct == "FanoutTopic":
            FanoutTopic(stack, "F", alarm_topic=alarms)
        elif construct == "ConsumerQueue":
            ConsumerQueue(stack, "C", topic=sns.Topic(stack, "T"), alarm_topic=alarms)
        elif construct == "LambdaConsumer":
            LambdaConsumer(
                stack,
                "L",
                queue=sqs.Queue(stack, "Q", visibility_timeout=Duration.minutes(3)),
                code=CODE,
                handler="index.handler",
                alarm_topic=alarms,
            )
        else:
            MobilePush(
                stack, "P", credentials={PushPlatform.APNS: secret(stack)}, alarm_topic=alarms
            )


def test_an_imported_topic_of_unknown_type_is_accepted_as_alarm_topic() -> None:
    stack = new_stack()
    alarms = sns.Topic.from_topic_arn(stack, "Alarms", "arn:aws:sns:eu-west-1:111111111111:ops")
    assert FanoutTopic(stack, "F", alarm_topic=alarms).alarm_topic is alarms


# -- regions ---------------------------------------------------------------------------------


def test_fails_when_a_topic_of_a_known_region_feeds_a_region_agnostic_stack() -> None:
    stack = new_stack()
    topic = sns.Topic.from_topic_arn(stack, "T", "arn:aws:sns:us-west-2:111111111111:orders")
    with pytest.raises(
        FanoutConfigurationError, match=r"subscription_dead_letter_queue=None: .*region-agnostic"
    ):
        ConsumerQueue(stack, "C", topic=topic)


def test_a_topic_of_a_known_region_with_a_dead_letter_queue_there_is_accepted() -> None:
    app = new_app()
    there = Stack(app, "There", env=Environment(region="us-west-2"))
    here = Stack(app, "Here")
    undelivered = sqs.Queue(there, "Undelivered")
    topic = sns.Topic.from_topic_arn(here, "T", "arn:aws:sns:us-west-2:111111111111:orders")
    consumer = ConsumerQueue(here, "C", topic=topic, subscription_dead_letter_queue=undelivered)
    assert consumer.subscription_dead_letter_queue is undelivered


# -- Lambda consumers ------------------------------------------------------------------------


def lambda_consumer(stack: Stack, **options: object) -> LambdaConsumer:
    return FanoutTopic(stack, "F").add_lambda_consumer(
        "C",
        code=CODE,
        handler="index.handler",
        **options,  # type: ignore[arg-type]
    )


def test_warns_when_reserved_concurrency_is_zero() -> None:
    stack = new_stack()
    lambda_consumer(stack, reserved_concurrent_executions=0)
    warnings = assertions.Annotations.from_stack(stack).find_warning(
        "*", assertions.Match.string_like_regexp("reserved_concurrent_executions=0 stops")
    )
    assert len(warnings) == 1


def test_non_python_runtime_gets_no_powertools_layer() -> None:
    stack = new_stack()
    consumer = lambda_consumer(stack, runtime=lambda_.Runtime.NODEJS_22_X)
    template = assertions.Template.from_stack(stack).to_json()
    props = template["Resources"][stack.resolve(consumer.function.node.default_child.logical_id)][
        "Properties"
    ]
    assert "Layers" not in props
    assert not [p for p in template.get("Parameters", {}) if "powertools" in p.lower()]


def test_fails_when_the_powertools_layer_is_asked_for_a_non_python_runtime() -> None:
    stack = new_stack()
    with pytest.raises(FanoutConfigurationError, match=r"powertools_layer=True: .*nodejs22.x"):
        lambda_consumer(stack, runtime=lambda_.Runtime.NODEJS_22_X, powertools_layer=True)


def test_fails_when_the_environment_is_over_4_kb() -> None:
    stack = new_stack()
    with pytest.raises(FanoutConfigurationError, match=r"environment=.* Lambda allows 4096"):
        lambda_consumer(stack, environment={f"K{i}": "x" * 100 for i in range(41)})


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("AWS_REGION", "Lambda sets itself"),
        ("1ST", "not a valid variable name"),
        ("A-B", "not a valid"),
    ],
)
def test_fails_when_an_environment_variable_name_is_refused_by_lambda(
    key: str, message: str
) -> None:
    stack = new_stack()
    with pytest.raises(FanoutConfigurationError, match=message):
        lambda_consumer(stack, environment={key: "x"})


def test_token_batching_window_with_a_large_batch_is_not_refused() -> None:
    stack = new_stack()
    consumer = lambda_consumer(
        stack,
        batch_size=100,
        max_batching_window=Duration.seconds(number_token(stack)),
        queue_options={"visibility_timeout": Duration.minutes(10)},
    )
    assert consumer.event_source_mapping is not None


# -- values jsii cannot carry, and types -----------------------------------------------------


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_fails_when_a_number_is_not_finite(value: float) -> None:
    stack = new_stack()
    with pytest.raises(FanoutConfigurationError, match=r"max_receive_count=.*must be a finite"):
        FanoutTopic(stack, "F").add_queue_consumer("C", max_receive_count=value)  # type: ignore[arg-type]


def test_fails_when_a_lambda_number_is_not_finite() -> None:
    stack = new_stack()
    with pytest.raises(FanoutConfigurationError, match=r"memory_size=inf: must be a finite"):
        lambda_consumer(stack, memory_size=math.inf)


def test_fails_when_an_integer_option_gets_a_fraction() -> None:
    stack = new_stack()
    with pytest.raises(
        FanoutConfigurationError, match=r"max_receive_count=2.5: must be an integer"
    ):
        FanoutTopic(stack, "F").add_queue_consumer("C", max_receive_count=2.5)  # type: ignore[arg-type]


def test_fails_when_a_duration_option_gets_a_number() -> None:
    stack = new_stack()
    with pytest.raises(
        FanoutConfigurationError, match=r"visibility_timeout=30: expected a Duration, got int"
    ):
        FanoutTopic(stack, "F").add_queue_consumer("C", visibility_timeout=30)  # type: ignore[arg-type]


def test_a_fanout_topic_where_a_topic_is_expected_is_an_error_naming_the_fix() -> None:
    stack = new_stack()
    with pytest.raises(
        FanoutConfigurationError,
        match=r"topic=.*: expected an sns.ITopic \(a FanoutTopic: pass its .topic",
    ):
        ConsumerQueue(stack, "C", topic=FanoutTopic(stack, "F"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(
            lambda s: ConsumerQueue(s, "C", topic="arn:aws:sns:eu-west-1:111111111111:t"),
            r"topic='arn:aws:sns:eu-west-1:111111111111:t': expected an sns.ITopic, got str",
            id="topic ARN string",
        ),
        pytest.param(
            lambda s: ConsumerQueue(s, "C", topic=sns.Topic(s, "T"), encryption_key="alias/mine"),
            r"encryption_key='alias/mine': expected a kms.IKey",
            id="key alias string",
        ),
        pytest.param(
            lambda s: ConsumerQueue(s, "C", topic=sns.Topic(s, "T"), dead_letter_queue="dlq"),
            r"dead_letter_queue='dlq': expected an sqs.IQueue",
            id="queue name string",
        ),
        pytest.param(
            lambda s: LambdaConsumer(
                s, "L", queue="arn:aws:sqs:eu-west-1:1:q", code=CODE, handler="h"
            ),
            r"queue='arn:aws:sqs:eu-west-1:1:q': expected a ConsumerQueue or an sqs.IQueue",
            id="lambda queue string",
        ),
        pytest.param(
            lambda s: LambdaConsumer(
                s, "L", queue=sqs.Queue(s, "Q"), code="lambda_src/x", handler="h"
            ),
            r"code='lambda_src/x': expected a lambda_.Code",
            id="code path string",
        ),
        pytest.param(
            lambda s: FanoutTopic(s, "F", alarm_topic="arn:aws:sns:eu-west-1:111111111111:ops"),
            r"alarm_topic='arn:aws:sns:eu-west-1:111111111111:ops': expected an sns.ITopic",
            id="alarm topic ARN",
        ),
    ],
)
def test_a_wrong_type_is_a_configuration_error_naming_the_option(build, message: str) -> None:
    with pytest.raises(FanoutConfigurationError, match=message):
        build(new_stack())


# -- mobile push ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(
            lambda s: MobilePush(
                s,
                "P",
                credentials={
                    PushPlatform.APNS: "arn:aws:secretsmanager:eu-west-1:111111111111:secret:x"
                },
            ),
            r"credentials\[PushPlatform.APNS\]='arn:.*': expected a secretsmanager.ISecret, "
            r"e.g. Secret.from_secret_complete_arn\(scope, id, arn\).*, got str",
            id="secret ARN string",
        ),
        pytest.param(
            lambda s: MobilePush(s, "P", credentials={"apns": secret(s)}),
            r"credentials='apns': expected PushPlatform keys \(APNS, APNS_SANDBOX, FCM\), got str",
            id="platform as a string",
        ),
        pytest.param(
            lambda s: PushPlatformApplication(
                s, "A", platform="APNS", credentials_secret=secret(s)
            ),
            r"platform='APNS': expected a PushPlatform \(APNS, APNS_SANDBOX, FCM\), got str",
            id="platform name string",
        ),
    ],
)
def test_a_wrong_push_type_is_a_configuration_error_naming_the_option(build, message: str) -> None:
    with pytest.raises(FanoutConfigurationError, match=message):
        build(new_stack())


def test_a_grant_register_to_something_not_grantable_is_a_configuration_error() -> None:
    stack = new_stack()
    push = MobilePush(stack, "P", credentials={PushPlatform.FCM: secret(stack)})
    with pytest.raises(
        FanoutConfigurationError,
        match=r"grantee='arn:aws:iam::123456789012:role/backend': expected an iam.IGrantable "
        r".*from_role_arn.*, got str",
    ):
        push.grant_register("arn:aws:iam::123456789012:role/backend")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["has space", "slash/name", "x" * 257, "ümlaut"])
def test_fails_when_the_application_name_is_one_sns_refuses(name: str) -> None:
    stack = new_stack()
    with pytest.raises(FanoutConfigurationError, match=r"application_name=.*SNS allows 1 to 256"):
        PushPlatformApplication(
            stack,
            "App",
            platform=PushPlatform.APNS,
            credentials_secret=secret(stack),
            application_name=name,
        )


def test_fails_when_two_applications_share_a_name_and_platform() -> None:
    stack = new_stack()
    PushPlatformApplication(
        stack,
        "One",
        platform=PushPlatform.FCM,
        credentials_secret=secret(stack),
        application_name="app",
    )
    with pytest.raises(
        FanoutConfigurationError, match=r"is also the name of Some/One's FCM platform application"
    ):
        PushPlatformApplication(
            stack,
            "Two",
            platform=PushPlatform.FCM,
            credentials_secret=secret(stack, "Fcm"),
            application_name="app",
        )


def test_fails_when_pinned_stacks_of_one_environment_share_an_application_name() -> None:
    app = new_app()
    first, second = (Stack(app, name, env=PINNED) for name in ("First", "Second"))
    PushPlatformApplication(
        first,
        "App",
        platform=PushPlatform.FCM,
        credentials_secret=secret(first),
        application_name="app",
    )
    with pytest.raises(FanoutConfigurationError, match="is also the name of First/App"):
        PushPlatformApplication(
            second,
            "App",
            platform=PushPlatform.FCM,
            credentials_secret=secret(second),
            application_name="app",
        )


def test_one_name_for_two_platforms_is_accepted() -> None:
    stack = new_stack()
    for platform in (PushPlatform.APNS, PushPlatform.APNS_SANDBOX, PushPlatform.FCM):
        PushPlatformApplication(
            stack,
            f"App{platform.name}",
            platform=platform,
            credentials_secret=secret(stack, platform.name),
            application_name="app",
        )


@pytest.mark.parametrize(
    ("segments", "message"),
    [
        (["beta", "beta"], "is given twice"),
        (["Beta"], "lowercase letters"),
        (["beta users"], "lowercase letters"),
        ([""], "lowercase letters"),
        ("beta", "expected a list of segment names"),
    ],
)
def test_fails_when_segment_names_cannot_be_topics(segments: object, message: str) -> None:
    stack = new_stack()
    with pytest.raises(FanoutConfigurationError, match=rf"segments=.*{message}"):
        MobilePush(stack, "P", credentials={PushPlatform.FCM: secret(stack)}, segments=segments)  # type: ignore[arg-type]


def test_token_success_sample_rate_is_not_refused() -> None:
    stack = new_stack()
    push = MobilePush(
        stack,
        "P",
        credentials={PushPlatform.FCM: secret(stack)},
        delivery_status_logging=True,
        success_sample_rate=number_token(stack),  # type: ignore[arg-type]
    )
    assert push.applications[PushPlatform.FCM].delivery_status_role is not None


@pytest.mark.parametrize("rate", [-1, 101, 2.5, math.nan])
def test_fails_when_success_sample_rate_is_not_a_percentage(rate: float) -> None:
    stack = new_stack()
    with pytest.raises(FanoutConfigurationError, match=r"success_sample_rate="):
        MobilePush(
            stack,
            "P",
            credentials={PushPlatform.FCM: secret(stack)},
            delivery_status_logging=True,
            success_sample_rate=rate,  # type: ignore[arg-type]
        )


def test_every_problem_of_mobile_push_is_reported_at_once() -> None:
    stack = new_stack()
    with pytest.raises(FanoutConfigurationError) as err:
        MobilePush(
            stack,
            "P",
            credentials={},
            segments=["Bad Name"],
            broadcast_topic_fifo=True,
            success_sample_rate=200,
            alarm_topic=fifo_topic(stack),
        )
    options = sorted(p.split("=", 1)[0] for p in problems_of(err))
    assert options == [
        "alarm_topic",
        "broadcast_topic_fifo",
        "credentials",
        "segments",
        "success_sample_rate",
    ]


@pytest.mark.parametrize("handler", ["", "has space.handler", "x" * 129])
def test_fails_when_the_lambda_handler_is_one_lambda_refuses(handler: str) -> None:
    stack = new_stack()
    with pytest.raises(FanoutConfigurationError, match=r"handler=.*1 to 128 characters"):
        FanoutTopic(stack, "F").add_lambda_consumer("C", code=CODE, handler=handler)


# -- physical names ------------------------------------------------------------------------


def test_fails_when_two_consumers_are_given_one_queue_name() -> None:
    stack = new_stack()
    orders = FanoutTopic(stack, "Orders")
    orders.add_queue_consumer("Billing", queue_name="billing")
    with pytest.raises(
        FanoutConfigurationError,
        match=r"queue_name='billing': is also the name of Some/Orders/Billing's queue",
    ):
        FanoutTopic(stack, "Refunds").add_queue_consumer("Billing", queue_name="billing")


def test_fails_when_pinned_stacks_of_one_environment_share_a_topic_name() -> None:
    app = new_app()
    FanoutTopic(Stack(app, "First", env=PINNED), "Orders", topic_name="orders")
    with pytest.raises(FanoutConfigurationError, match=r"topic_name='orders': is also the name"):
        FanoutTopic(Stack(app, "Second", env=PINNED), "Orders", topic_name="orders")


def test_one_topic_name_in_two_regions_is_accepted() -> None:
    app = new_app()
    for region in ("eu-west-1", "us-east-1"):
        stack = Stack(app, region, env=Environment(account="111111111111", region=region))
        assert FanoutTopic(stack, "Orders", topic_name="orders").topic is not None


def test_fails_when_a_lambda_environment_value_is_not_a_string() -> None:
    stack = new_stack()
    with pytest.raises(
        FanoutConfigurationError, match=r"environment\['RETRIES'\]=3: expected a str, got int"
    ):
        lambda_consumer(stack, environment={"RETRIES": 3})


@pytest.mark.parametrize(
    "grant",
    [
        lambda s: FanoutTopic(s, "F").grant_publish("arn:aws:iam::123456789012:role/api"),
        lambda s: FanoutTopic(s, "F").add_queue_consumer("C").grant_consume_messages("role"),
        lambda s: FanoutTopic(s, "F").add_queue_consumer("C").grant_redrive(None),
    ],
    ids=["grant_publish", "grant_consume_messages", "grant_redrive"],
)
def test_a_grant_to_something_not_grantable_is_a_configuration_error(grant) -> None:
    with pytest.raises(
        FanoutConfigurationError, match=r"grantee=.*: expected an iam.IGrantable .*from_role_arn"
    ):
        grant(new_stack())


def test_fails_when_credentials_version_is_empty() -> None:
    stack = new_stack()
    with pytest.raises(FanoutConfigurationError, match=r"credentials_version='': must be a non"):
        PushPlatformApplication(
            stack,
            "App",
            platform=PushPlatform.FCM,
            credentials_secret=secret(stack),
            credentials_version="",
        )


def test_warns_when_a_success_sample_rate_is_given_without_delivery_status_logging() -> None:
    stack = new_stack()
    MobilePush(stack, "P", credentials={PushPlatform.FCM: secret(stack)}, success_sample_rate=50)
    warnings = assertions.Annotations.from_stack(stack).find_warning(
        "*", assertions.Match.string_like_regexp("success_sample_rate=50 has no effect")
    )
    assert [w.id for w in warnings] == ["/Some/P/Fcm"]
