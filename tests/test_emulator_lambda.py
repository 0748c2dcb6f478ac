"""The emulator runs Lambda code as Lambda does: each behaviour through the AWS APIs.

Functions are created from small code packages with boto3 on one emulator for the module;
moto's own machinery (``Invoke``, SQS event source mappings, SNS subscriptions, EventBridge
rules, CloudFormation custom resources) then drives them through the runner.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable
from itertools import count
from typing import Any

import pytest
from helpers import wait_for

from constructs_lib.testing import Emulator, event_sources, lambda_runtime
from constructs_lib.testing.fanout import queue_counts

_names = count()

RECORDER = """
import json, os, time, boto3
STATE = {"calls": 0}
def handler(event, context):
    STATE["calls"] += 1
    print("got", json.dumps(event)[:200])
    mode = os.environ.get("MODE", "")
    if mode == "record" or mode == "sqs":
        record = json.dumps(event)
        boto3.client("sqs").send_message(QueueUrl=os.environ["RECORD_URL"], MessageBody=record)
    if mode == "sqs":
        bodies = {r["messageId"]: r["body"] for r in event["Records"]}
        if any(b == "raise" for b in bodies.values()):
            raise RuntimeError("whole batch fails")
        if any(b == "sleep" for b in bodies.values()):
            time.sleep(5)
        if any(b == "malformed" for b in bodies.values()):
            return {"batchItemFailures": [{"itemIdentifier": "no-such-record"}]}
        failed = [{"itemIdentifier": m} for m, b in bodies.items() if b == "bad"]
        return {"batchItemFailures": failed}
    if mode == "fail":
        raise ValueError("always")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("eat_mb"):
        block = bytearray(event["eat_mb"] * 1024 * 1024)
        block[::4096] = b"x" * len(block[::4096])
    return {"calls": STATE["calls"], "variable": os.environ.get("GREETING"),
            "queues": boto3.client("sqs").list_queues().get("QueueUrls", []),
            "left_ms": context.get_remaining_time_in_millis()}
"""


def package(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def role(emulator: Emulator) -> str:
    arn: str = emulator.client("iam").create_role(
        RoleName="function-role", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    return arn


@pytest.fixture
def make_function(emulator: Emulator, role: str) -> Callable[..., str]:
    def make(
        code: str = RECORDER,
        *,
        runtime: str = "python3.14",
        handler: str = "app.handler",
        file: str = "app.py",
        **settings: Any,
    ) -> str:
        name = f"function-{next(_names)}"
        emulator.client("lambda").create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=role,
            Handler=handler,
            Code={"ZipFile": package({file: code})},
            **{"Timeout": 3, **settings},
        )
        return name

    return make


def invoke(emulator: Emulator, name: str, event: Any = None, **options: Any) -> dict[str, Any]:
    answer = emulator.client("lambda").invoke(
        FunctionName=name, Payload=json.dumps(event or {}), **options
    )
    payload = answer["Payload"].read()
    return {
        "error": answer.get("FunctionError"),
        "payload": json.loads(payload) if payload else None,
        "status": answer["StatusCode"],
    }


def queue(emulator: Emulator, **attributes: str) -> tuple[str, str]:
    sqs = emulator.client("sqs")
    url: str = sqs.create_queue(QueueName=f"queue-{next(_names)}", Attributes=attributes)[
        "QueueUrl"
    ]
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def recording_function(
    emulator: Emulator, make_function: Callable[..., str], *code: str, **variables: str
) -> tuple[str, str]:
    """A function (``code``, by default the test function) recording each event it gets on a
    queue of its own: the queue's URL, and the function's ARN."""
    record_url, _ = queue(emulator)
    name = make_function(*code, Environment={"Variables": {**variables, "RECORD_URL": record_url}})
    configuration = emulator.client("lambda").get_function(FunctionName=name)["Configuration"]
    return record_url, configuration["FunctionArn"]


def recorded(emulator: Emulator, url: str, at_least: int = 1) -> list[Any]:
    sqs = emulator.client("sqs")
    got: list[Any] = []

    def more() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            got.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(got) >= at_least

    wait_for(more)
    return got


# -- the runner ----------------------------------------------------------------------------


def test_the_handler_runs_with_its_environment_against_the_emulator(
    emulator: Emulator, make_function: Callable[..., str]
) -> None:
    url, _ = queue(emulator)
    name = make_function(Environment={"Variables": {"GREETING": "hello"}})

    result = invoke(emulator, name)

    assert result["error"] is None
    assert result["payload"]["variable"] == "hello"
    assert url in result["payload"]["queues"]  # boto3 in the function reached the emulator
    assert 0 < result["payload"]["left_ms"] <= 3000


def test_warm_invocations_keep_module_state_as_in_lambda(
    emulator: Emulator, make_function: Callable[..., str]
) -> None:
    name = make_function()
    calls = [invoke(emulator, name)["payload"]["calls"] for _ in range(3)]
    assert calls == [1, 2, 3]


def test_the_timeout_ends_the_invocation_as_an_error_and_the_next_starts_cold(
    emulator: Emulator, make_function: Callable[..., str]
) -> None:
    name = make_function(Timeout=1)
    invoke(emulator, name)

    timed_out = invoke(emulator, name, {"sleep": 3})
    after = invoke(emulator, name)

    assert timed_out["error"] == "Handled"
    assert timed_out["payload"]["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in timed_out["payload"]["errorMessage"]
    assert after["payload"]["calls"] == 1  # a new environment


def test_memory_above_the_setting_ends_the_invocation(
    emulator: Emulator, make_function: Callable[..., str]
) -> None:
    name = make_function(MemorySize=128)
    result = invoke(emulator, name, {"eat_mb": 200})
    assert result["payload"]["errorType"] == "Runtime.OutOfMemory"


def test_an_exception_is_the_invocation_error_lambda_returns(
    emulator: Emulator, make_function: Callable[..., str]
) -> None:
    name = make_function(Environment={"Variables": {"MODE": "fail"}})
    result = invoke(emulator, name)
    assert result["error"] == "Handled"
    assert result["payload"]["errorType"] == "ValueError"
    assert result["payload"]["errorMessage"] == "always"


def test_what_the_function_prints_goes_to_its_log_group(
    emulator: Emulator, make_function: Callable[..., str]
) -> None:
    logs = emulator.client("logs")
    name = make_function(LoggingConfig={"LogGroup": "/custom/orders", "LogFormat": "Text"})
    invoke(emulator, name, {"order": "o-1"})

    streams = logs.describe_log_streams(logGroupName="/custom/orders")["logStreams"]
    (stream,) = streams
    lines = [
        e["message"]
        for e in logs.get_log_events(
            logGroupName="/custom/orders", logStreamName=stream["logStreamName"]
        )["events"]
    ]
    assert lines[0].startswith("START RequestId: ")
    assert any(line.startswith('got {"order": "o-1"}') for line in lines)
    assert lines[-2].startswith("END RequestId: ")
    assert lines[-1].startswith("REPORT RequestId: ") and "Max Memory Used" in lines[-1]


def test_an_unknown_layer_is_an_error_naming_it(
    emulator: Emulator, make_function: Callable[..., str]
) -> None:
    layer = "arn:aws:lambda:eu-west-1:999999999999:layer:Unknown:1"
    name = make_function(Layers=[layer])
    result = invoke(emulator, name)
    assert result["error"]
    assert layer in result["payload"]["errorMessage"]


def test_the_public_powertools_layer_is_served_and_published_layers_are_unpacked(
    emulator: Emulator, make_function: Callable[..., str]
) -> None:
    lambda_ = emulator.client("lambda")
    published = lambda_.publish_layer_version(
        LayerName="shared",
        Content={"ZipFile": package({"python/shared.py": "VALUE = 'from the layer'\n"})},
    )["LayerVersionArn"]
    powertools = (
        "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:27"
    )
    code = (
        "import shared\nfrom aws_lambda_powertools import Logger\n"
        "def handler(event, context):\n    return shared.VALUE\n"
    )
    name = make_function(code, Layers=[powertools, published])
    assert invoke(emulator, name)["payload"] == "from the layer"
    # without the layer, the module is not there: nothing of the test process leaks in
    bare = make_function("import shared\ndef handler(event, context):\n    return 1\n")
    assert invoke(emulator, bare)["payload"]["errorType"] == "Runtime.ImportModuleError"


def test_a_nodejs_function_runs_with_its_context(
    emulator: Emulator, make_function: Callable[..., str]
) -> None:
    code = "exports.handler = async (event, context) => ({name: context.functionName, ...event});"
    name = make_function(code, runtime="nodejs22.x", handler="index.handler", file="index.js")
    assert invoke(emulator, name, {"x": 1})["payload"] == {"name": name, "x": 1}


# -- SQS event source mappings --------------------------------------------------------------


@pytest.fixture
def mapped(
    emulator: Emulator, make_function: Callable[..., str]
) -> Callable[..., tuple[str, str, str]]:
    """A queue (maxReceiveCount 2 into a DLQ) mapped to a recording function."""

    def make(**mapping: Any) -> tuple[str, str, str]:
        dlq_url, dlq_arn = queue(emulator)
        url, arn = queue(
            emulator,
            VisibilityTimeout="30",
            RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
        )
        record_url, _ = queue(emulator)
        name = make_function(
            Timeout=1, Environment={"Variables": {"MODE": "sqs", "RECORD_URL": record_url}}
        )
        emulator.client("lambda").create_event_source_mapping(
            FunctionName=name,
            EventSourceArn=arn,
            **{"BatchSize": 10, "FunctionResponseTypes": ["ReportBatchItemFailures"], **mapping},
        )
        return url, dlq_url, name

    return make


def depth(emulator: Emulator, url: str) -> tuple[int, int]:
    visible, in_flight = queue_counts(emulator.client("sqs"), url)
    return visible, in_flight


def send_batch(emulator: Emulator, url: str, bodies: list[str]) -> list[str]:
    sent = emulator.client("sqs").send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)]
    )["Successful"]
    return [s["MessageId"] for s in sent]


def batches_of(name: str, at_least: int = 1) -> list[event_sources.BatchResult]:
    return wait_for(
        lambda: len(event_sources.batches(name)) >= at_least and event_sources.batches(name)
    )  # type: ignore[no-any-return]


def test_only_the_reported_records_stay_in_the_queue(
    emulator: Emulator, mapped: Callable[..., tuple[str, str, str]]
) -> None:
    url, _, name = mapped(MaximumBatchingWindowInSeconds=1)
    ids = send_batch(emulator, url, ["good", "bad", "good"])

    (batch,) = batches_of(name)

    assert sorted(batch.message_ids) == sorted(ids)
    assert batch.failed == [ids[1]]
    assert depth(emulator, url) == (0, 1)  # the bad one, invisible until its timeout


@pytest.mark.parametrize("body", ["raise", "sleep", "malformed"])
def test_a_failed_invocation_or_a_malformed_answer_returns_the_whole_batch(
    emulator: Emulator, mapped: Callable[..., tuple[str, str, str]], body: str
) -> None:
    url, _, name = mapped(MaximumBatchingWindowInSeconds=1)
    ids = send_batch(emulator, url, ["good", body])

    (batch,) = batches_of(name)

    assert sorted(batch.failed) == sorted(ids)
    assert depth(emulator, url) == (0, 2)


def test_a_record_failed_max_receive_count_times_is_dead_lettered(
    emulator: Emulator, mapped: Callable[..., tuple[str, str, str]]
) -> None:
    url, dlq_url, name = mapped()
    (bad,) = send_batch(emulator, url, ["bad"])
    batches_of(name, 1)

    emulator.advance_sqs_clock(31)  # the visibility timeout passes: received a second time
    batches_of(name, 2)
    emulator.advance_sqs_clock(31)  # and after maxReceiveCount (2) SQS moves it to the DLQ

    wait_for(lambda: depth(emulator, dlq_url) == (1, 0))
    assert depth(emulator, url) == (0, 0)
    assert [b.failed for b in event_sources.batches(name)] == [[bad], [bad]]


def test_the_batching_window_gathers_messages_sent_one_by_one(
    emulator: Emulator, mapped: Callable[..., tuple[str, str, str]]
) -> None:
    url, _, name = mapped(BatchSize=5, MaximumBatchingWindowInSeconds=1)
    sqs = emulator.client("sqs")
    for _ in range(3):
        sqs.send_message(QueueUrl=url, MessageBody="good")
        time.sleep(0.1)

    (batch,) = batches_of(name)
    time.sleep(0.3)

    assert len(batch.message_ids) == 3 and len(event_sources.batches(name)) == 1


# -- SNS, asynchronous Invoke, EventBridge ----------------------------------------------------


def test_an_sns_lambda_subscription_gets_the_notification_as_published(
    emulator: Emulator, make_function: Callable[..., str]
) -> None:
    record_url, function_arn = recording_function(emulator, make_function, MODE="record")
    sns = emulator.client("sns")
    topic = sns.create_topic(Name=f"topic-{next(_names)}")["TopicArn"]
    subscription = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)[
        "SubscriptionArn"
    ]

    message_id = sns.publish(
        TopicArn=topic,
        Message="order o-1",
        Subject="orders",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"}},
    )["MessageId"]

    (event,) = recorded(emulator, record_url)
    (record,) = event["Records"]
    assert record["EventSubscriptionArn"] == subscription
    assert record["Sns"]["MessageId"] == message_id
    assert record["Sns"]["TopicArn"] == topic
    assert record["Sns"]["Message"] == "order o-1" and record["Sns"]["Subject"] == "orders"
    assert record["Sns"]["MessageAttributes"]["kind"] == {"Type": "String", "Value": "order"}


def test_an_asynchronous_invoke_is_queued_and_a_failure_retried_twice(
    emulator: Emulator, make_function: Callable[..., str]
) -> None:
    name = make_function(Environment={"Variables": {"MODE": "fail"}})
    result = invoke(emulator, name, {"n": 1}, InvocationType="Event")
    assert result["status"] == 202
    wait_for(lambda: len(lambda_runtime.invocations_of(name)) == 3)
    time.sleep(0.8)
    assert len(lambda_runtime.invocations_of(name)) == 3  # the first try and two retries


def test_an_eventbridge_rule_invokes_its_function_target(
    emulator: Emulator, make_function: Callable[..., str]
) -> None:
    record_url, function_arn = recording_function(emulator, make_function, MODE="record")
    events = emulator.client("events")
    rule = f"rule-{next(_names)}"
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["shop.orders"]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "f", "Arn": function_arn}])

    events.put_events(
        Entries=[{"Source": "shop.orders", "DetailType": "placed", "Detail": '{"id": "o-1"}'}]
    )

    (event,) = recorded(emulator, record_url)
    assert event["source"] == "shop.orders" and event["detail"] == {"id": "o-1"}


# -- CloudFormation custom resources ---------------------------------------------------------

PROVIDER = """
import json, os, urllib.request, boto3
def handler(event, context):
    record = json.dumps(event)
    boto3.client("sqs").send_message(QueueUrl=os.environ["RECORD_URL"], MessageBody=record)
    props = event["ResourceProperties"]
    answer = {"Status": "FAILED" if props.get("Fail") == "yes" else "SUCCESS",
              "Reason": "refused by the handler", "StackId": event["StackId"],
              "RequestId": event["RequestId"], "LogicalResourceId": event["LogicalResourceId"],
              "PhysicalResourceId": "thing-" + props["Name"],
              "Data": {"Greeting": "hi " + props["Name"]}}
    body = json.dumps(answer).encode()
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT")
    urllib.request.urlopen(request).read()
"""


def template(function_arn: str, name: str, fail: str = "no") -> str:
    return json.dumps(
        {
            "Resources": {
                "Thing": {
                    "Type": "Custom::Thing",
                    "Properties": {"ServiceToken": function_arn, "Name": name, "Fail": fail},
                }
            },
            "Outputs": {"Greeting": {"Value": {"Fn::GetAtt": ["Thing", "Greeting"]}}},
        }
    )


def test_a_custom_resource_is_created_updated_replaced_and_deleted(
    emulator: Emulator, make_function: Callable[..., str]
) -> None:
    record_url, arn = recording_function(emulator, make_function, PROVIDER)
    cloudformation = emulator.client("cloudformation")

    cloudformation.create_stack(StackName="custom", TemplateBody=template(arn, "a"))
    (created,) = recorded(emulator, record_url)
    stack = cloudformation.describe_stacks(StackName="custom")["Stacks"][0]
    resource = cloudformation.describe_stack_resource(StackName="custom", LogicalResourceId="Thing")

    cloudformation.update_stack(StackName="custom", TemplateBody=template(arn, "b"))
    updated, replaced = recorded(emulator, record_url, at_least=2)
    cloudformation.delete_stack(StackName="custom")
    (deleted,) = recorded(emulator, record_url)

    assert created["RequestType"] == "Create" and "PhysicalResourceId" not in created
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Outputs"] == [{"OutputKey": "Greeting", "OutputValue": "hi a"}]
    assert resource["StackResourceDetail"]["PhysicalResourceId"] == "thing-a"
    assert updated["RequestType"] == "Update"
    assert updated["PhysicalResourceId"] == "thing-a"
    assert updated["OldResourceProperties"]["Name"] == "a"
    assert updated["ResourceProperties"]["Name"] == "b"
    # a new physical id is a replacement: the old resource gets its Delete
    assert (replaced["RequestType"], replaced["PhysicalResourceId"]) == ("Delete", "thing-a")
    assert (deleted["RequestType"], deleted["PhysicalResourceId"]) == ("Delete", "thing-b")


def test_a_failed_answer_fails_the_stack_with_its_reason(
    emulator: Emulator, make_function: Callable[..., str]
) -> None:
    _, arn = recording_function(emulator, make_function, PROVIDER)
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="refused by the handler"):
        emulator.client("cloudformation").create_stack(
            StackName="refused", TemplateBody=template(arn, "c", fail="yes")
        )
