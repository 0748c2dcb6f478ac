"""LambdaConsumer: partial-batch failures, the visibility rule, least privilege, alarms."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pytest
from aws_cdk import Duration, Stack, assertions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from helpers import Tmpl, new_app

from constructs_lib import (
    ConsumerQueue,
    FanoutConfigurationError,
    FanoutTopic,
    LambdaConsumer,
    required_visibility_timeout,
)

CODE = lambda_.Code.from_inline("def handler(event, context):\n    return {}\n")


@pytest.fixture(scope="module")
def built() -> SimpleNamespace:
    stack = Stack(new_app(), "Consumers")
    ops = sns.Topic(stack, "Ops")
    orders = FanoutTopic(stack, "Orders", alarm_topic=ops)
    billing = orders.add_lambda_consumer(
        "Billing",
        code=CODE,
        handler="index.handler",
        timeout=Duration.seconds(20),
        environment={"TABLE": "invoices"},
    )
    windowed = orders.add_lambda_consumer(
        "Reports",
        code=CODE,
        handler="index.handler",
        batch_size=100,
        max_batching_window=Duration.seconds(30),
        max_concurrency=5,
        reserved_concurrent_executions=10,
    )
    return SimpleNamespace(
        t=Tmpl(stack), orders=orders, billing=billing, windowed=windowed, ops=ops
    )


def _mapping(t: Tmpl, consumer: LambdaConsumer) -> dict[str, Any]:
    return t.props(consumer.event_source_mapping)


def test_event_source_reports_batch_item_failures(built: SimpleNamespace) -> None:
    for consumer in (built.billing, built.windowed):
        assert _mapping(built.t, consumer)["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_event_source_drains_the_consumer_queue_into_the_function(built: SimpleNamespace) -> None:
    t = built.t
    mapping = _mapping(t, built.billing)
    queue_lid = t.logical_id(built.orders.consumers["Billing"].queue)
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [queue_lid, "Arn"]}
    assert mapping["FunctionName"] == {"Ref": t.logical_id(built.billing.function)}
    assert mapping["BatchSize"] == 10


def test_owned_queue_visibility_is_six_function_timeouts(built: SimpleNamespace) -> None:
    t = built.t
    queue_lid = _mapping(t, built.billing)["EventSourceArn"]["Fn::GetAtt"][0]
    timeout = t.props(built.billing.function)["Timeout"]
    assert t.props(queue_lid)["VisibilityTimeout"] == 6 * timeout == 120


def test_owned_queue_visibility_includes_the_batching_window(built: SimpleNamespace) -> None:
    t = built.t
    mapping = _mapping(t, built.windowed)
    queue_lid = mapping["EventSourceArn"]["Fn::GetAtt"][0]
    timeout = t.props(built.windowed.function)["Timeout"]
    window = mapping["MaximumBatchingWindowInSeconds"]
    assert t.props(queue_lid)["VisibilityTimeout"] == 6 * timeout + window == 210
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 5}
    assert mapping["BatchSize"] == 100


def test_role_consumes_only_its_queue_and_decrypts_only_with_its_key(
    built: SimpleNamespace,
) -> None:
    t = built.t
    consumer_queue = built.orders.consumers["Billing"]
    queue_arn = {"Fn::GetAtt": [t.logical_id(consumer_queue.queue), "Arn"]}
    key_lid = t.key_of_queue(t.logical_id(consumer_queue.queue))
    statements = t.role_statements(built.billing.role)
    sqs_statements = [s for s in statements if "sqs:" in str(s["Action"])]
    assert sqs_statements == [
        {
            "Action": [
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ReceiveMessage",
            ],
            "Effect": "Allow",
            "Resource": queue_arn,
        }
    ]
    kms_statements = [s for s in statements if "kms:" in str(s["Action"])]
    assert kms_statements == [
        {"Action": "kms:Decrypt", "Effect": "Allow", "Resource": {"Fn::GetAtt": [key_lid, "Arn"]}}
    ]


def test_role_has_no_managed_policies_and_no_wildcard_actions(built: SimpleNamespace) -> None:
    t = built.t
    role = t.props(built.billing.role)
    assert "ManagedPolicyArns" not in role
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"
    }
    actions = [a for s in t.role_statements(built.billing.role) for a in _as_list(s["Action"])]
    assert all("*" not in a for a in actions), actions
    wildcard_resources = [s for s in t.role_statements(built.billing.role) if s["Resource"] == "*"]
    assert wildcard_resources == [
        {
            "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
            "Effect": "Allow",
            "Resource": "*",
        }
    ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_function_logs_to_its_own_log_group_with_retention(built: SimpleNamespace) -> None:
    t = built.t
    log_group_lid = t.logical_id(built.billing.log_group)
    function = t.props(built.billing.function)
    assert function["LoggingConfig"] == {"LogGroup": {"Ref": log_group_lid}}
    assert t.props(log_group_lid)["RetentionInDays"] == 30
    writes = [s for s in t.role_statements(built.billing.role) if "logs:" in str(s["Action"])]
    assert writes == [
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [log_group_lid, "Arn"]},
        }
    ]


def test_function_uses_the_newest_python_runtime_with_active_tracing(
    built: SimpleNamespace,
) -> None:
    newest = max(
        (getattr(lambda_.Runtime, n) for n in dir(lambda_.Runtime) if n.startswith("PYTHON_3")),
        key=lambda r: tuple(int(p) for p in r.name.removeprefix("python").split(".")),
    )
    function = built.t.props(built.billing.function)
    assert function["Runtime"] == newest.name
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["Architectures"] == ["arm64"]


def test_powertools_layer_is_resolved_per_region_from_its_ssm_parameter(
    built: SimpleNamespace,
) -> None:
    t = built.t
    (layer,) = t.props(built.billing.function)["Layers"]
    parameter = t.json["Parameters"][layer["Ref"]]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert re.fullmatch(
        r"/aws/service/powertools/python/arm64/python3\.14/\d+\.\d+\.\d+", parameter["Default"]
    )


def test_environment_names_the_service_and_keeps_user_variables(built: SimpleNamespace) -> None:
    variables = built.t.props(built.billing.function)["Environment"]["Variables"]
    assert variables == {"POWERTOOLS_SERVICE_NAME": "Billing", "TABLE": "invoices"}


def test_reserved_concurrency_is_applied(built: SimpleNamespace) -> None:
    assert built.t.props(built.windowed.function)["ReservedConcurrentExecutions"] == 10


@pytest.mark.parametrize(
    ("alarm", "metric"), [("errors_alarm", "Errors"), ("throttles_alarm", "Throttles")]
)
def test_function_alarms_watch_this_function(
    built: SimpleNamespace, alarm: str, metric: str
) -> None:
    t = built.t
    props = t.props(getattr(built.billing, alarm))
    assert props["MetricName"] == metric
    assert props["Namespace"] == "AWS/Lambda"
    assert props["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": t.logical_id(built.billing.function)}}
    ]
    assert props["Threshold"] == 1
    assert props["AlarmActions"] == [{"Ref": t.logical_id(built.ops)}]


def test_required_visibility_timeout_is_six_timeouts_plus_the_window() -> None:
    assert required_visibility_timeout(Duration.minutes(5), None).to_seconds() == 1800
    assert (
        required_visibility_timeout(Duration.seconds(10), Duration.seconds(20)).to_seconds() == 80
    )


# -- validation ---------------------------------------------------------------------------


def _stack() -> Stack:
    return Stack(new_app(), "Some")


def _consumer(stack: Stack, queue: sqs.IQueue, **options: Any) -> LambdaConsumer:
    """A LambdaConsumer of ``queue`` with the test code and ``options``."""
    return LambdaConsumer(stack, "C", queue=queue, code=CODE, handler="index.handler", **options)


def test_fails_when_an_existing_consumer_queue_is_not_invisible_long_enough() -> None:
    stack = _stack()
    queue = ConsumerQueue(stack, "Q", topic=sns.Topic(stack, "T"))  # 30 s visibility
    with pytest.raises(
        FanoutConfigurationError,
        match=re.escape(
            "queue='Some/Q/Queue with visibility_timeout=Duration(30 seconds)': a queue drained "
            "by Lambda needs a visibility timeout of at least 6 x timeout 300 s = 1800 seconds; "
            "raise the queue's visibility_timeout to Duration.seconds(1800) or lower timeout"
        ),
    ):
        LambdaConsumer(
            stack, "C", queue=queue, code=CODE, handler="index.handler", timeout=Duration.minutes(5)
        )


def test_fails_when_a_plain_queue_is_not_invisible_long_enough() -> None:
    stack = _stack()
    queue = sqs.Queue(stack, "Q", visibility_timeout=Duration.seconds(60))
    with pytest.raises(FanoutConfigurationError, match=r"at least 6 x timeout 30 s = 180 seconds"):
        LambdaConsumer(stack, "C", queue=queue, code=CODE, handler="index.handler")


def test_a_queue_invisible_long_enough_is_accepted() -> None:
    stack = _stack()
    queue = sqs.Queue(stack, "Q", visibility_timeout=Duration.seconds(180))
    consumer = LambdaConsumer(stack, "C", queue=queue, code=CODE, handler="index.handler")
    assert consumer.queue is queue


def test_an_imported_queue_gets_a_warning_with_the_number_to_check() -> None:
    stack = _stack()
    queue = sqs.Queue.from_queue_arn(stack, "Q", "arn:aws:sqs:us-east-1:111122223333:jobs")
    LambdaConsumer(stack, "C", queue=queue, code=CODE, handler="index.handler")
    assertions.Annotations.from_stack(stack).has_warning(
        "/Some/C", assertions.Match.string_like_regexp("at least 180 seconds")
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout": Duration.seconds(0)}, "timeout=Duration(0 seconds): must be from 1 second"),
        ({"timeout": Duration.seconds(901)}, "to 15 minutes"),
        ({"memory_size": 127}, "memory_size=127: must be an integer from 128 to 10240"),
        ({"memory_size": 10241}, "memory_size=10241"),
        ({"batch_size": 0}, "batch_size=0: must be an integer from 1 to 10000"),
        (
            {"batch_size": 11},
            "batch_size=11: above 10 Lambda requires max_batching_window of at least 1 second",
        ),
        (
            {"max_batching_window": Duration.seconds(301)},
            "max_batching_window=Duration(5 minutes 1 second): must be from 0 seconds to 5 minutes",
        ),
        ({"max_concurrency": 1}, "max_concurrency=1: must be an integer from 2 to 1000"),
        ({"max_concurrency": 1001}, "max_concurrency=1001"),
    ],
)
def test_fails_on_limits_lambda_enforces(options: dict[str, Any], message: str) -> None:
    stack = _stack()
    queue = sqs.Queue(stack, "Q", visibility_timeout=Duration.hours(12))
    with pytest.raises(FanoutConfigurationError, match=re.escape(message)):
        _consumer(stack, queue, **options)


def test_fails_on_a_batching_window_or_large_batch_on_a_fifo_queue() -> None:
    stack = _stack()
    queue = sqs.Queue(stack, "Q", fifo=True, visibility_timeout=Duration.hours(12))
    with pytest.raises(FanoutConfigurationError) as err:
        _consumer(stack, queue, batch_size=11, max_batching_window=Duration.seconds(5))
    assert err.value.problems == [
        "batch_size=11: must be an integer from 1 to 10",
        "max_batching_window=Duration(5 seconds): Lambda does not support a batching window "
        "on FIFO queues; drop the option",
    ]


def test_warns_when_reserved_concurrency_is_below_max_concurrency() -> None:
    stack = _stack()
    queue = sqs.Queue(stack, "Q", visibility_timeout=Duration.hours(12))
    _consumer(stack, queue, max_concurrency=10, reserved_concurrent_executions=2)
    assertions.Annotations.from_stack(stack).has_warning(
        "/Some/C",
        assertions.Match.string_like_regexp("reserved_concurrent_executions=2 is below"),
    )


def test_fanout_lambda_consumer_with_a_fixed_short_visibility_is_an_error() -> None:
    fanout = FanoutTopic(_stack(), "Orders")
    with pytest.raises(FanoutConfigurationError, match=r"Duration\.seconds\(180\)"):
        fanout.add_lambda_consumer(
            "Billing",
            code=CODE,
            handler="index.handler",
            queue_options={"visibility_timeout": Duration.seconds(60)},
        )
