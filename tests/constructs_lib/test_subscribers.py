"""Lambda, HTTP/S, email, SMS and Firehose subscribers: what the templates hold, and the
rules SNS enforces."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aws_cdk import Acknowledgment, Duration, Environment, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks
from helpers import Tmpl, cfn_lint, new_app

from constructs_lib import (
    EmailSubscriber,
    FanoutConfigurationError,
    FanoutTopic,
    FirehoseSubscriber,
    HttpSubscriber,
    LambdaSubscriber,
)

CODE = lambda_.Code.from_inline("def handler(event, context):\n    return None\n")
TEST_FUNCTION: dict[str, Any] = {
    "code": CODE,
    "handler": "index.handler",
    "runtime": lambda_.Runtime.PYTHON_3_14,
}
IMPORTED_TOPIC = "arn:aws:sns:eu-west-1:111111111111:orders"
LAKE = "arn:aws:firehose:eu-west-1:111111111111:deliverystream/lake"
string_filter = sns.SubscriptionFilter.string_filter


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = new_app(outdir=str(outdir))
    stack = Stack(app, "Shop")
    ops = sns.Topic(stack, "Ops", enforce_ssl=True)
    orders = FanoutTopic(stack, "Orders", alarm_topic=ops)
    audit_function = lambda_.Function(stack, "AuditFunction", **TEST_FUNCTION)
    # The user's own function: its managed policy (cdk-nag IAM4) and CDK's redundant
    # DependsOn on its role (cfn-lint W3005) are the user's to acknowledge, not the library's.
    audit_function.node.default_child.add_metadata(  # type: ignore[union-attr]
        "cfn-lint", {"config": {"ignore_checks": ["W3005"]}}
    )
    Validations.of(audit_function).acknowledge(
        Acknowledgment(
            id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]",
            reason="The test's own function, with CDK's default role; not library code.",
        )
    )
    audit = orders.add_lambda_subscriber(
        "Audit",
        function=audit_function,
        filter_policy={"kind": string_filter(allowlist=["refund"])},
    )
    partner = orders.add_http_subscriber(
        "Partner",
        url="https://partner.example.com/orders",
        raw_message_delivery=True,
        delivery_policy=sns.DeliveryPolicy(
            healthy_retry_policy=sns.HealthyRetryPolicy(
                num_retries=10, min_delay_target=Duration.seconds(5)
            ),
            throttle_policy=sns.ThrottlePolicy(max_receives_per_second=20),
        ),
    )
    team = Stack(app, "Team", env=Environment(region="eu-west-1"))
    imported = sns.Topic.from_topic_arn(team, "Orders", IMPORTED_TOPIC)
    webhook = HttpSubscriber(team, "Webhook", topic=imported, url="https://hooks.example.com/x")
    reactor = LambdaSubscriber(
        team,
        "Reactor",
        topic=imported,
        function=lambda_.Function.from_function_arn(
            team, "Imported", "arn:aws:lambda:eu-west-1:111111111111:function:react"
        ),
        failed_invocations=False,
    )
    archive = orders.add_firehose_subscriber(
        "Archive",
        delivery_stream=firehose.DeliveryStream.from_delivery_stream_arn(stack, "Lake", LAKE),
        raw_message_delivery=True,
    )
    lake = FirehoseSubscriber(
        team,
        "Lake",
        topic=imported,
        delivery_stream=firehose.DeliveryStream.from_delivery_stream_arn(team, "Stream", LAKE),
    )
    for with_import in (stack, team):
        # aws-cdk's DeliveryStream import adds a CIDR mapping it does not use (cfn-lint W7001):
        # the user's import, not the subscriber.
        with_import.template_options.metadata = {
            "cfn-lint": {"config": {"ignore_checks": ["W7001"]}}
        }
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
    built = {"orders": orders, "audit": audit, "audit_function": audit_function}
    built |= {"partner": partner, "webhook": webhook, "reactor": reactor}
    built |= {"archive": archive, "lake": lake}
    return SimpleNamespace(t=Tmpl(stack), team_t=Tmpl(team), outdir=Path(outdir), **built)


def test_a_lambda_subscriber_is_invoked_by_the_topic_with_its_filter(
    built: SimpleNamespace,
) -> None:
    t = built.t
    subscription = t.props(built.audit.subscription)
    assert subscription["Protocol"] == "lambda"
    assert subscription["Endpoint"] == t.arn_of(built.audit_function)
    assert subscription["TopicArn"] == {"Ref": t.logical_id(built.orders.topic)}
    assert subscription["FilterPolicy"] == {"kind": ["refund"]}


def test_sns_may_invoke_the_function_only_for_this_topic(built: SimpleNamespace) -> None:
    t = built.t
    permission = t.props(built.audit.permission)
    assert permission == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": t.arn_of(built.audit_function),
        "Principal": "sns.amazonaws.com",
        "SourceArn": {"Ref": t.logical_id(built.orders.topic)},
    }
    dependencies = t.resources[t.logical_id(built.audit.subscription)].get("DependsOn", [])
    assert t.logical_id(built.audit.permission) in dependencies


def test_failed_invocations_go_to_the_fanouts_subscription_dead_letter_queue(
    built: SimpleNamespace,
) -> None:
    t = built.t
    dead_letters = t.arn_of(built.orders.subscription_dead_letter_queue)
    assert t.props(built.audit.subscription)["RedrivePolicy"] == {
        "deadLetterTargetArn": dead_letters
    }
    config = t.props(built.audit.invoke_config)
    assert config["DestinationConfig"] == {"OnFailure": {"Destination": dead_letters}}
    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] == 6 * 3600
    role = built.audit_function.role
    sends = [s for s in t.role_statements(role) if s["Resource"] == dead_letters]
    assert sends and all("sqs:SendMessage" in str(s["Action"]) for s in sends)


def test_the_fanouts_one_alarm_watches_what_its_subscribers_could_not_get(
    built: SimpleNamespace,
) -> None:
    assert built.audit.undelivered_alarm is None and built.partner.undelivered_alarm is None
    assert built.audit.subscription_dead_letter_queue is built.orders.subscription_dead_letter_queue
    assert built.orders.undelivered_alarm is not None


def test_an_http_subscriber_gets_raw_messages_with_its_delivery_policy(
    built: SimpleNamespace,
) -> None:
    subscription = built.t.props(built.partner.subscription)
    assert subscription["Protocol"] == "https"
    assert subscription["Endpoint"] == "https://partner.example.com/orders"
    assert subscription["RawMessageDelivery"] is True
    policy = subscription["DeliveryPolicy"]
    assert policy["healthyRetryPolicy"]["numRetries"] == 10
    assert policy["healthyRetryPolicy"]["minDelayTarget"] == 5
    assert policy["throttlePolicy"] == {"maxReceivesPerSecond": 20}


@pytest.mark.parametrize("subscriber", ["webhook", "lake"])
def test_a_subscriber_of_its_own_gets_its_own_dead_letter_queue_and_alarm(
    built: SimpleNamespace, subscriber: str
) -> None:
    t = built.team_t
    own = getattr(built, subscriber)
    queue = own.subscription_dead_letter_queue
    assert t.props(own.subscription)["RedrivePolicy"] == {"deadLetterTargetArn": t.arn_of(queue)}
    alarm = t.props(own.undelivered_alarm)
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [t.logical_id(queue), "QueueName"]}}
    ]
    statements = t.policies_of_queue(t.logical_id(queue))
    allow = [s for s in statements if s["Effect"] == "Allow"]
    assert allow[0]["Condition"] == {"ArnEquals": {"aws:SourceArn": IMPORTED_TOPIC}}


def test_an_imported_function_can_subscribe_without_async_settings(
    built: SimpleNamespace,
) -> None:
    t = built.team_t
    assert built.reactor.invoke_config is None
    assert t.of_type("AWS::Lambda::EventInvokeConfig") == {}
    permission = t.props(built.reactor.permission)
    assert permission["FunctionName"] == "arn:aws:lambda:eu-west-1:111111111111:function:react"


def test_sns_writes_to_a_firehose_stream_through_a_role_scoped_to_that_stream(
    built: SimpleNamespace,
) -> None:
    t = built.t
    subscription = t.props(built.archive.subscription)
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("firehose", LAKE)
    assert subscription["RawMessageDelivery"] is True
    role = built.archive.role
    assert subscription["SubscriptionRoleArn"] == t.arn_of(role)
    trust = t.props(role)["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "sns.amazonaws.com"}]
    assert t.role_statements(role) == [
        {
            "Action": [
                "firehose:DescribeDeliveryStream",
                "firehose:ListTagsForDeliveryStream",
                "firehose:PutRecord",
                "firehose:PutRecordBatch",
            ],
            "Effect": "Allow",
            "Resource": LAKE,
        }
    ]
    assert subscription["RedrivePolicy"] == {
        "deadLetterTargetArn": t.arn_of(built.orders.subscription_dead_letter_queue)
    }


def test_the_firehose_subscription_waits_for_its_role_policy(built: SimpleNamespace) -> None:
    t = built.t
    depends = t.resources[t.logical_id(built.archive.subscription)].get("DependsOn", [])
    policy = built.archive.role.node.find_child("DefaultPolicy").node.default_child
    assert t.logical_id(policy) in depends


def test_the_templates_pass_cfn_lint(built: SimpleNamespace) -> None:
    code, out, err = cfn_lint(sorted(str(p) for p in built.outdir.glob("*.template.json")))
    assert code == 0, out + err


def test_the_cdk_nag_report_is_clean(built: SimpleNamespace) -> None:
    """The synth in the fixture raises on any unacknowledged finding; the report it wrote
    holds no failed plugin either."""
    report = json.loads((built.outdir / "validation-report.json").read_text())
    assert [r for r in report["pluginReports"] if r["conclusion"] != "success"] == []


# -- rules -----------------------------------------------------------------------------------


def _stack() -> Stack:
    return Stack(new_app(), "Some")


def _hook(url: str = "https://example.com/hook", **options: Any) -> HttpSubscriber:
    """An HttpSubscriber of a topic of its own, in a stack of its own."""
    stack = _stack()
    return HttpSubscriber(stack, "H", topic=sns.Topic(stack, "T"), url=url, **options)


@pytest.mark.parametrize("add", ["add_lambda_subscriber", "add_http_subscriber"])
def test_a_fifo_fanout_refuses_subscribers_other_than_queues(add: str) -> None:
    stack = _stack()
    fanout = FanoutTopic(stack, "Ledger", fifo=True)
    target = (
        {"function": lambda_.Function.from_function_name(stack, "F", "f")}
        if add == "add_lambda_subscriber"
        else {"url": "https://example.com/hook"}
    )
    with pytest.raises(FanoutConfigurationError, match=r"fifo=True: SNS delivers FIFO topics only"):
        getattr(fanout, add)("Other", **target)


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("http://example.com/hook", {}, r"url='http://example.com/hook': is plain HTTP"),
        ("ftp://example.com", {}, r"url='ftp://example.com': must be an https:// URL"),
        ("https:// example.com", {}, r"must be an https:// URL"),
    ],
)
def test_fails_on_urls_sns_cannot_or_should_not_post_to(
    url: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(FanoutConfigurationError, match=message):
        _hook(url, **options)


def test_plain_http_is_accepted_when_asked_for() -> None:
    hook = _hook("http://10.0.0.5/hook", allow_plain_http=True)
    assert Tmpl(Stack.of(hook)).props(hook.subscription)["Protocol"] == "http"


R = sns.HealthyRetryPolicy
PREFIX = r"delivery_policy\.healthy_retry_policy\."


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (R(num_retries=101), PREFIX + r"num_retries=101: must be an integer from 0 to 100"),
        (R(num_no_delay_retries=-1), PREFIX + r"num_no_delay_retries=-1: must be an integer"),
        (R(min_delay_target=Duration.seconds(0)), PREFIX + r"min_delay_target=.*from 1 second"),
        (R(max_delay_target=Duration.seconds(3601)), PREFIX + r"max_delay_target=.*to 1 hour"),
        (
            R(min_delay_target=Duration.seconds(30), max_delay_target=Duration.seconds(10)),
            PREFIX + r"min_delay_target=.*must not exceed max_delay_target \(10 s\)",
        ),
        (
            R(num_retries=3, num_no_delay_retries=2, num_min_delay_retries=2),
            PREFIX + r"num_retries=3: is the total of all phases.*are 4",
        ),
        (
            R(num_retries=100, min_delay_target=Duration.seconds(60)),
            PREFIX + r"num_retries=100: with these delays the retries take at least 6000 s",
        ),
        (
            R(min_delay_target=Duration.millis(1500)),
            PREFIX + r"min_delay_target=.*whole number of seconds",
        ),
    ],
)
def test_fails_on_retry_policies_sns_refuses(policy: sns.HealthyRetryPolicy, message: str) -> None:
    with pytest.raises(FanoutConfigurationError, match=message):
        _hook(
            delivery_policy=sns.DeliveryPolicy(healthy_retry_policy=policy),
        )


@pytest.mark.parametrize("rate", [0, 1.5])
def test_fails_on_a_throttle_sns_refuses(rate: float) -> None:
    with pytest.raises(FanoutConfigurationError, match=r"max_receives_per_second=.*at least 1"):
        _hook(
            delivery_policy=sns.DeliveryPolicy(
                throttle_policy=sns.ThrottlePolicy(max_receives_per_second=rate)
            ),
        )


def test_a_policy_within_the_limits_is_accepted() -> None:
    hook = _hook(
        delivery_policy=sns.DeliveryPolicy(
            healthy_retry_policy=R(
                num_retries=50,
                num_no_delay_retries=3,
                num_max_delay_retries=5,
                min_delay_target=Duration.seconds(10),
                max_delay_target=Duration.seconds(60),
            )
        ),
    )
    assert hook.subscription


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retry_attempts": 3}, r"retry_attempts=3: must be an integer from 0 to 2"),
        ({"max_event_age": Duration.hours(7)}, r"max_event_age=.*from 1 minute to 6 hours"),
        ({"subscription_dead_letter_queue": "dlq"}, r"subscription_dead_letter_queue='dlq'"),
    ],
)
def test_fails_on_lambda_subscriber_settings_lambda_refuses(
    options: dict[str, Any], message: str
) -> None:
    stack = _stack()
    with pytest.raises(FanoutConfigurationError, match=message):
        LambdaSubscriber(
            stack,
            "L",
            topic=sns.Topic(stack, "T"),
            function=lambda_.Function.from_function_name(stack, "F", "f"),
            **options,
        )


def test_a_fifo_subscription_dead_letter_queue_is_refused_for_a_standard_topic() -> None:
    with pytest.raises(
        FanoutConfigurationError,
        match=r"subscription_dead_letter_queue=.*is FIFO but the topic is standard",
    ):
        _hook(
            subscription_dead_letter_queue=sqs.Queue(Stack(new_app(), "Other"), "Q", fifo=True),
        )


def test_a_function_imported_without_its_role_gets_a_warning_about_the_grant() -> None:
    from aws_cdk import assertions

    stack = _stack()
    LambdaSubscriber(
        stack,
        "L",
        topic=sns.Topic(stack, "T"),
        function=lambda_.Function.from_function_arn(
            stack, "F", "arn:aws:lambda:eu-west-1:111111111111:function:f"
        ),
    )
    assertions.Annotations.from_stack(stack).has_warning(
        "/Some/L", assertions.Match.string_like_regexp("imported without its execution role")
    )


# -- email and SMS ---------------------------------------------------------------------------


def test_email_and_sms_subscribers_share_the_fanouts_dead_letter_queue() -> None:
    stack = _stack()
    fanout = FanoutTopic(stack, "Ops")
    oncall = fanout.add_email_subscriber("OnCall", address="oncall@example.com", json=True)
    pager = fanout.add_sms_subscriber(
        "Pager",
        phone_number="+14155550100",
        filter_policy={"severity": string_filter(allowlist=["critical"])},
    )
    t = Tmpl(stack)
    dead_letters = t.arn_of(fanout.subscription_dead_letter_queue)
    email = t.props(oncall.subscription)
    assert (email["Protocol"], email["Endpoint"]) == ("email-json", "oncall@example.com")
    sms = t.props(pager.subscription)
    assert (sms["Protocol"], sms["Endpoint"]) == ("sms", "+14155550100")
    assert sms["FilterPolicy"] == {"severity": ["critical"]}
    for props in (email, sms):
        assert props["RedrivePolicy"] == {"deadLetterTargetArn": dead_letters}
    assert fanout.subscribers == {"OnCall": oncall, "Pager": pager}


@pytest.mark.parametrize(
    ("add", "message"),
    [
        (lambda f: f.add_email_subscriber("E", address="not-an-address"), r"address=.*email"),
        (lambda f: f.add_sms_subscriber("S", phone_number="0415 555 0100"), r"E\.164"),
        (lambda f: f.add_sms_subscriber("S", phone_number="+1"), r"phone_number='\+1'"),
        (
            lambda f: f.add_email_subscriber("Ops", address="a@example.com"),
            r"id='Ops': this topic already has",
        ),
    ],
)
def test_fails_on_addresses_and_numbers_sns_refuses(add: Any, message: str) -> None:
    fanout = FanoutTopic(_stack(), "F")
    fanout.add_queue_consumer("Ops")
    with pytest.raises(FanoutConfigurationError, match=message):
        add(fanout)


@pytest.mark.parametrize(
    "add",
    [
        lambda f: f.add_email_subscriber("E", address="oncall@example.com"),
        lambda f: f.add_sms_subscriber("S", phone_number="+14155550100"),
    ],
)
def test_a_fifo_fanout_refuses_email_and_sms(add: Any) -> None:
    with pytest.raises(FanoutConfigurationError, match=r"fifo=True: SNS delivers FIFO topics"):
        add(FanoutTopic(_stack(), "Ledger", fifo=True))


def test_a_firehose_stream_in_another_region_than_the_topic_is_refused() -> None:
    stack = Stack(new_app(), "Some", env=Environment(region="eu-west-1"))
    topic = sns.Topic.from_topic_arn(stack, "T", IMPORTED_TOPIC)
    stream = firehose.DeliveryStream.from_delivery_stream_arn(
        stack, "S", "arn:aws:firehose:us-east-1:111111111111:deliverystream/lake"
    )
    with pytest.raises(
        FanoutConfigurationError,
        match=r"delivery_stream='Some/S': is in us-east-1 and the topic in eu-west-1: SNS "
        r"delivers across regions only to SQS queues and Lambda",
    ):
        FirehoseSubscriber(stack, "F", topic=topic, delivery_stream=stream)


def test_a_fifo_fanout_refuses_a_firehose_subscriber() -> None:
    stack = _stack()
    stream = firehose.DeliveryStream.from_delivery_stream_arn(stack, "S", LAKE)
    with pytest.raises(FanoutConfigurationError, match=r"not to Firehose subscriptions"):
        FanoutTopic(stack, "Ledger", fifo=True).add_firehose_subscriber("A", delivery_stream=stream)


def test_a_given_role_is_used_as_it_is() -> None:
    stack = _stack()
    role = iam.Role.from_role_arn(stack, "R", "arn:aws:iam::111111111111:role/sns-to-lake")
    stream = firehose.DeliveryStream.from_delivery_stream_arn(stack, "S", LAKE)
    subscriber = FanoutTopic(stack, "F").add_firehose_subscriber(
        "Lake", delivery_stream=stream, role=role
    )
    t = Tmpl(stack)
    assert t.props(subscriber.subscription)["SubscriptionRoleArn"] == role.role_arn
    # The only role is the fanout's delivery status logging role, not the subscriber's.
    assert [t.logical_id(r) for r in subscriber.node.find_all() if isinstance(r, iam.CfnRole)] == []
    assert list(t.of_type("AWS::IAM::Role")) == [
        t.logical_id(Stack.of(subscriber).node.find_child("F").delivery_status_role)
    ]


def test_a_fifo_topic_refuses_a_standalone_email_subscriber_naming_the_protocol() -> None:
    stack = _stack()
    with pytest.raises(FanoutConfigurationError, match=r"topic=.*not to email subscriptions"):
        EmailSubscriber(
            stack, "E", topic=sns.Topic(stack, "T", fifo=True), address="oncall@example.com"
        )
