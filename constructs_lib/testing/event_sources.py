"""What the Lambda service does around functions, done in the emulator's process.

moto starts functions from its other services in ways AWS does not: on every ``SendMessage``
it hands the new messages of a queue with an event source mapping to the function at once,
in the sender's request, with a made-up event, and makes failures visible again at once; its
SNS ``lambda`` delivery sends a fixed sample event; its EventBridge rules cannot target a
function at all. :func:`install` puts the AWS behaviour in their place, each fix marked with
what it restores:

* **SQS event source mappings** are served by pollers, one per enabled mapping, as Lambda's
  are: long-poll the queue, gather up to ``BatchSize`` messages within
  ``MaximumBatchingWindowInSeconds``, invoke the function synchronously with the SQS event,
  delete the batch on success. With ``ReportBatchItemFailures`` only the records not listed in
  ``batchItemFailures`` are deleted; a function that raises, times out or answers a malformed
  ``batchItemFailures`` fails the whole batch. Failed messages stay in the queue, invisible
  until their visibility timeout passes, and SQS moves them to the dead-letter queue after
  ``maxReceiveCount`` receives.
* **SNS ``lambda`` subscriptions and EventBridge ``lambda`` targets** invoke asynchronously,
  with the real event, and retry a failed invocation (two retries for SNS and for
  ``Invoke(InvocationType=Event)``, the target's ``RetryPolicy`` for EventBridge).

The SQS clock: visibility timeouts are minutes long in real stacks; :func:`advance_sqs_clock`
moves SQS's notion of now forward, so a test sees a failed message come back, and a poison
message reach its dead-letter queue, without waiting.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from moto.awslambda import models as lambda_models
from moto.events import models as events_models
from moto.sns import models as sns_models
from moto.sqs import models as sqs_models

from . import lambda_runtime
from .events import lambda_record
from .gaps import Original, apply_once, fills, patch

SCAN_SECONDS = 0.05
"""How often new or re-enabled mappings are picked up."""
ASYNC_RETRY_DELAYS_SECONDS = (0.2, 0.4)
"""Delays before the retries of an asynchronous invocation. AWS waits about 1 and 2 minutes;
the emulator keeps the order and the count and shortens the wait."""
EVENTBRIDGE_MAX_RETRIES = 2
"""EventBridge retries a failed target for up to 24 hours (185 times by default); the
emulator retries at most this many times, sooner."""


class Handled:
    """What a batch handed to a function came to: which of its messages failed."""

    message_ids: list[str]
    failed: list[str]

    @property
    def succeeded(self) -> list[str]:
        return [m for m in self.message_ids if m not in self.failed]


@dataclass
class BatchResult(Handled):
    """One batch an event source mapping handed to its function, and what became of it."""

    mapping_uuid: str
    function_name: str
    queue_arn: str
    message_ids: list[str]
    failed: list[str]
    """The records that stay in the queue (all of them when the invocation failed)."""
    error: dict[str, Any] | None
    output: list[str]
    """The function's log lines of this invocation."""
    records: list[dict[str, Any]] = field(default_factory=list)
    """The SQS records of the event, as the function was handed them."""


@dataclass
class _State:
    endpoint_url: str = ""
    pollers: dict[str, _Poller] = field(default_factory=dict)
    batches: list[BatchResult] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    scanner: threading.Thread | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    clock_offset_seconds: float = 0.0
    on_failure: Callable[[Any, Any, lambda_runtime.Invocation, int], None] | None = None


_state = _State()


def install(endpoint_url: str) -> None:
    """Serve event source mappings and asynchronous invocations in this process's emulator
    (idempotent; the endpoint is that of the latest emulator)."""
    _state.endpoint_url = endpoint_url
    apply_once(
        sqs_models.Queue,
        "_constructs_lib_pollers",
        _stop_push_on_send,
        _deliver_sns_to_lambda,
        _eventbridge_lambda_targets,
        _asynchronous_invoke,
        _on_failure_destinations,
        _offset_sqs_clock,
    )
    if _state.scanner is None or not _state.scanner.is_alive():
        _state.stopping.clear()
        _state.scanner = threading.Thread(target=_scan, name="lambda-pollers", daemon=True)
        _state.scanner.start()


def reset() -> None:
    """Stop every poller, forget the batches, and put the SQS clock back."""
    _state.stopping.set()
    if _state.scanner is not None:
        _state.scanner.join(timeout=5)
        _state.scanner = None
    with _state.lock:
        pollers, _state.pollers = list(_state.pollers.values()), {}
        _state.batches.clear()
    for poller in pollers:
        poller.join(timeout=5)
    _state.clock_offset_seconds = 0.0


def batches(function_name: str | None = None) -> list[BatchResult]:
    """The batches handed to functions so far (of one function), oldest first."""
    with _state.lock:
        return [b for b in _state.batches if function_name in (None, b.function_name)]


def busy(mapping_uuid: str) -> bool:
    """Whether the mapping's poller is handling a batch right now."""
    with _state.lock:
        poller = _state.pollers.get(mapping_uuid)
    return poller is not None and poller.busy


def advance_sqs_clock(seconds: float) -> None:
    """Move SQS's clock ``seconds`` forward: visibility timeouts, delays and retention pass.

    Long polls waiting on a queue look again at once (a message whose timeout passed is
    visible now), as they would the moment the timeout passed on SQS's own clock.
    """
    _state.clock_offset_seconds += seconds
    for account_backends in list(sqs_models.sqs_backends.values()):
        for backend in list(account_backends.values()):
            for queue in list(backend.queues.values()):
                with queue._messages_lock:
                    queue._messages_lock.notify_all()


# -- SQS event source mappings ---------------------------------------------------------------


class _DiscardingMappings(dict[str, Any]):
    """What a queue's ``lambda_event_source_mappings`` becomes: moto registers mappings in it
    and invokes them on each send; the pollers serve them instead."""

    def __setitem__(self, key: str, value: Any) -> None:
        return None

    def __delitem__(self, key: str) -> None:
        return None

    def pop(self, key: str, default: Any = None) -> Any:
        return default


@fills(
    "lambda",
    moto="an SQS event source mapping invokes the function inside each `SendMessage` with a "
    "made-up event, ignores `ReportBatchItemFailures` and the batching window, and makes a "
    "failed batch visible again at once",
    aws="a poller receives batches (`BatchSize`, `MaximumBatchingWindowInSeconds`), deletes "
    "what succeeded (all, or what `batchItemFailures` does not list; nothing when the "
    "function fails or answers a malformed list) and leaves failures to their visibility "
    "timeout, then to the redrive policy",
)
def _stop_push_on_send() -> None:
    def get(self: Any) -> dict[str, Any]:
        return _DiscardingMappings()

    def set_(self: Any, value: Any) -> None:
        return None

    sqs_models.Queue.lambda_event_source_mappings = property(get, set_)  # type: ignore[assignment]


def _scan() -> None:
    while not _state.stopping.wait(SCAN_SECONDS):
        for account_backends in list(lambda_models.lambda_backends.values()):
            for backend in list(account_backends.values()):
                for mapping in list(backend._event_source_mappings.values()):
                    _ensure_poller(mapping)


def _ensure_poller(mapping: Any) -> None:
    if not mapping.enabled or ":sqs:" not in mapping.event_source_arn:
        return
    with _state.lock:
        poller = _state.pollers.get(mapping.uuid)
        if poller is not None and poller.is_alive():
            return
        poller = _Poller(mapping)
        _state.pollers[mapping.uuid] = poller
    poller.start()


class _Poller(threading.Thread):
    """Lambda's poller for one SQS event source mapping."""

    def __init__(self, mapping: Any) -> None:
        super().__init__(name=f"poller-{mapping.uuid[:8]}", daemon=True)
        self.mapping = mapping
        self.busy = False
        _, _, _, region, account, name = mapping.event_source_arn.split(":", 5)
        self.region, self.account, self.queue_name = region, account, name
        self.queue_arn = mapping.event_source_arn

    def _active(self) -> bool:
        backend = lambda_models.lambda_backends[self.mapping.account_id][self.mapping.region]
        current = backend._event_source_mappings.get(self.mapping.uuid)
        return current is self.mapping and bool(current.enabled) and not _state.stopping.is_set()

    def run(self) -> None:
        sqs = _client("sqs", self.region)
        queue_url = ""
        while self._active():
            try:
                if not queue_url:
                    queue_url = sqs.get_queue_url(
                        QueueName=self.queue_name, QueueOwnerAWSAccountId=self.account
                    )["QueueUrl"]
                messages = self._gather(sqs, queue_url)
                if messages:
                    self._handle(sqs, queue_url, messages)
            except Exception:  # the queue went away, the emulator stopped: try again later
                queue_url = ""
                time.sleep(0.2)
            finally:
                self.busy = False

    def _gather(self, sqs: Any, queue_url: str) -> list[dict[str, Any]]:
        size = int(self.mapping.batch_size or 10)
        window = float(self.mapping.max_batch_window or 0)
        messages: list[dict[str, Any]] = []
        window_ends: float | None = None
        while len(messages) < size and self._active():
            waiting = not messages
            received = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(10, size - len(messages)),
                WaitTimeSeconds=1 if waiting else 0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if received:
                self.busy = True
                messages += received
            if not messages:
                continue
            if window_ends is None:
                window_ends = time.monotonic() + window
            if time.monotonic() >= window_ends:
                break
            if not received:
                time.sleep(0.05)
        return messages

    def _handle(self, sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
        backend = lambda_models.lambda_backends[self.mapping.account_id][self.mapping.region]
        function = backend.get_function(self.mapping.function_arn)
        records = [lambda_record(m, self.queue_arn, self.region) for m in messages]
        ids = [m["MessageId"] for m in messages]
        invocation = lambda_runtime.run(function, {"Records": records})
        failed = ids if invocation.error else self._reported_failures(invocation.payload, ids)
        handles = [m["ReceiptHandle"] for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(handles), 10):
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": h}
                    for i, h in enumerate(handles[start : start + 10])
                ],
            )
        with _state.lock:
            _state.batches.append(
                BatchResult(
                    self.mapping.uuid,
                    function.function_name,
                    self.queue_arn,
                    ids,
                    list(failed),
                    invocation.error,
                    invocation.log,
                    records,
                )
            )

    def _reported_failures(self, payload: str, ids: list[str]) -> list[str]:
        """The records to leave in the queue, read as Lambda reads the function's answer."""
        if "ReportBatchItemFailures" not in (self.mapping.function_response_types or []):
            return []
        try:
            answer = json.loads(payload) if payload else None
        except ValueError:
            return ids
        if answer is None or answer == "" or (isinstance(answer, dict) and not answer):
            return []
        if not isinstance(answer, dict):
            return ids
        failures = answer.get("batchItemFailures")
        if failures is None or failures == []:
            return []
        if not isinstance(failures, list):
            return ids
        failed: list[str] = []
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if not isinstance(identifier, str) or identifier not in ids:
                return ids  # empty, null or unknown identifier: the whole batch fails
            failed.append(identifier)
        return failed


@fills(
    "sqs",
    moto="time passes only with the wall clock",
    aws="(an emulator facility) `advance_sqs_clock` moves SQS's now forward, so visibility "
    "timeouts, delays and retention pass without waiting",
)
def _offset_sqs_clock() -> None:
    models: Any = sqs_models
    unix_time = models.unix_time
    unix_time_millis = models.unix_time_millis

    def shifted(dt: Any = None) -> float:
        return float(unix_time(dt) if dt is not None else unix_time()) + (
            _state.clock_offset_seconds
        )

    def shifted_millis(dt: Any = None) -> float:
        base = unix_time_millis(dt) if dt is not None else unix_time_millis()
        return float(base) + _state.clock_offset_seconds * 1000

    models.unix_time = shifted
    models.unix_time_millis = shifted_millis


# -- asynchronous invocation ----------------------------------------------------------------


def invoke_async(
    function: Any, event: Any, retries: int = 2, on_done: Callable[..., None] | None = None
) -> None:
    """Invoke ``function`` as Lambda's asynchronous invocation does: queued (the caller goes
    on), retried ``retries`` times after a failure."""

    def attempt() -> None:
        delays = list(ASYNC_RETRY_DELAYS_SECONDS)
        for number in range(retries + 1):
            invocation = lambda_runtime.run(function, event)
            if invocation.error is None:
                break
            if number < retries:
                time.sleep(delays[min(number, len(delays) - 1)])
        if invocation.error is not None and _state.on_failure is not None:
            _state.on_failure(function, event, invocation, number + 1)
        if on_done is not None:
            on_done(invocation)

    threading.Thread(target=attempt, name="lambda-async", daemon=True).start()


def _retries_of(function: Any) -> int:
    """The function's ``MaximumRetryAttempts`` for asynchronous invocations (default 2)."""
    for config in getattr(function, "event_invoke_config", []) or []:
        value = getattr(config, "config", {}).get("MaximumRetryAttempts")
        if value is not None:
            return int(value)
    return 2


@fills(
    "lambda",
    moto="`Invoke(InvocationType=Event)` runs the function inside the request and never retries",
    aws="the event is queued (HTTP 202 at once), the function runs after, and a failure is "
    "retried up to `MaximumRetryAttempts` (default 2)",
)
def _asynchronous_invoke() -> None:
    @patch(lambda_models.LambdaFunction, "invoke")
    def invoke(
        original: Original, self: Any, body: str, request_headers: Any, response_headers: Any
    ) -> Any:
        if request_headers.get("x-amz-invocation-type") != "Event":
            return original(self, body, request_headers, response_headers)
        event = json.loads(body) if body else {}
        invoke_async(self, event, retries=_retries_of(self))
        return ""


@fills(
    "lambda",
    moto="an asynchronous invocation that failed every retry is dropped; the function's "
    "`DestinationConfig.OnFailure` is stored and never used",
    aws="the invocation record (request and response payloads, `condition` "
    "`RetriesExhausted`, the invoke count) is sent to the on-failure destination (an SQS "
    "queue here)",
)
def _on_failure_destinations() -> None:
    _state.on_failure = _send_to_on_failure_destination


def _send_to_on_failure_destination(
    function: Any, event: Any, invocation: lambda_runtime.Invocation, attempts: int
) -> None:
    for config in getattr(function, "event_invoke_config", []) or []:
        target = (
            getattr(config, "config", {}).get("DestinationConfig", {}).get("OnFailure", {})
        ).get("Destination")
        if not target or ":sqs:" not in target:
            continue
        record = {
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "requestContext": {
                "requestId": invocation.request_id,
                "functionArn": f"{function.function_arn}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": attempts,
            },
            "requestPayload": event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": invocation.error,
        }
        _, _, _, region, account, name = target.split(":", 5)
        sqs_models.sqs_backends[account][region].send_message(name, json.dumps(record))


@fills(
    "sns",
    moto="a `lambda` subscription invokes the function in the `Publish` request with a fixed "
    "sample event (message id, topic, attributes all made up)",
    aws="the function is invoked asynchronously with the notification as published (its "
    "message id, topic and subscription ARNs, subject, timestamp and message attributes), "
    "retried on failure",
)
def _deliver_sns_to_lambda() -> None:
    @delivers("lambda")
    def deliver(self: Any, message: str, message_id: str, delivery: Delivery) -> None:
        subject, attributes, structure = delivery
        if structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        envelope = self.get_post_data(message, message_id, subject, message_attributes=attributes)
        sns = {
            "Type": envelope["Type"],
            "MessageId": message_id,
            "TopicArn": self.topic.arn,
            "Subject": subject,
            "Message": message,
            "Timestamp": envelope["Timestamp"],
            "SignatureVersion": envelope["SignatureVersion"],
            "Signature": envelope["Signature"],
            "SigningCertUrl": envelope["SigningCertURL"],
            "UnsubscribeUrl": envelope["UnsubscribeURL"],
            "MessageAttributes": envelope.get("MessageAttributes", {}),
        }
        event = {
            "Records": [
                {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": self.arn,
                    "Sns": sns,
                }
            ]
        }
        region = self.endpoint.split(":")[3]
        backend = lambda_models.lambda_backends[self.account_id][region]
        function = backend.get_function(self.endpoint)
        invoke_async(function, event, retries=_retries_of(function))


@fills(
    "events",
    moto="a rule with a Lambda function as target fails the whole `PutEvents` with HTTP 500 "
    "(moto has no delivery to function targets)",
    aws="the function is invoked asynchronously with the event (or the target's `Input` / "
    "`InputPath` / `InputTransformer` result), retried up to the target's "
    "`RetryPolicy.MaximumRetryAttempts`",
)
def _eventbridge_lambda_targets() -> None:
    lock = threading.Lock()

    @patch(events_models.Rule, "send_to_targets")
    def send_to_targets(
        original: Original, self: Any, original_event: Any, transform_input: bool = True
    ) -> None:
        if not self.event_pattern.matches_event(original_event):
            return
        functions = [t for t in self.targets if ":lambda:" in t["Arn"]]
        others = [t for t in self.targets if t not in functions]
        for target in functions:
            event = _target_input(target, original_event, transform_input)
            _, _, _, region, account, _ = target["Arn"].split(":", 5)
            backend = lambda_models.lambda_backends[account][region]
            function = backend.get_function(target["Arn"])
            retries = int(target.get("RetryPolicy", {}).get("MaximumRetryAttempts", 185))
            invoke_async(function, event, retries=min(retries, EVENTBRIDGE_MAX_RETRIES))
        if others:
            with lock:
                saved = self.targets
                self.targets = others
                try:
                    original(self, original_event, transform_input)
                finally:
                    self.targets = saved


Delivery = tuple[str | None, dict[str, Any] | None, str | None]
"""The subject, message attributes and message structure of a message SNS delivers."""


def delivers(protocol: str) -> Callable[[Callable[[Any, str, str, Delivery], None]], object]:
    """Decorator: SNS hands each message for a subscription of ``protocol`` to the function,
    ``deliver(subscription, message, message_id, delivery)``, unless the subscription's filter
    policy turns it away; subscriptions of other protocols deliver as moto does."""

    def install(deliver: Callable[[Any, str, str, Delivery], None]) -> object:
        @patch(sns_models.Subscription, "publish")
        def publish(
            original: Original,
            self: Any,
            message: str,
            message_id: str,
            *args: Any,
            **kwargs: Any,
        ) -> Any:
            if self.protocol != protocol:
                return original(self, message, message_id, *args, **kwargs)
            delivery = delivery_of(self, message, args, kwargs)
            if delivery is not None:
                deliver(self, message, message_id, delivery)
            return None

        return publish

    return install


def delivery_of(
    subscription: Any, message: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Delivery | None:
    """The subject, message attributes and message structure of a delivery moto hands
    ``Subscription.publish`` (positionally or by name), or None when the subscription's
    filter policy turns the message away."""
    subject = kwargs.get("subject", args[0] if args else None)
    attributes = kwargs.get("message_attributes", args[1] if len(args) > 1 else None)
    structure = kwargs.get("message_structure", args[4] if len(args) > 4 else None)
    matcher = subscription._filter_policy_matcher
    if matcher is not None and not matcher.matches(attributes, message):
        return None
    return subject, attributes, structure


def _target_input(target: dict[str, Any], event: Any, transform_input: bool) -> Any:
    if "Input" in target:
        return json.loads(target["Input"])
    if not transform_input:
        return dict(event)
    if "InputPath" in target:
        value: Any = event
        for part in target["InputPath"].lstrip("$").strip(".").split("."):
            if part:
                value = value.get(part) if isinstance(value, dict) else None
        return value
    transformer = target.get("InputTransformer", {})
    parser: Any = events_models.EventTemplateParser  # type: ignore[attr-defined]
    parsed = parser.parse(
        input_template=transformer.get("InputTemplate"),
        input_paths_map=transformer.get("InputPathsMap", {}),
        event=event,
    )
    return json.loads(parsed) if isinstance(parsed, str) else parsed


def _client(service: str, region: str) -> Any:
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=_state.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 2}),
    )
