"""The Lambda service's part of an SQS event source mapping, run in this process.

moto runs Lambda functions only in Docker, and there is no Docker engine here, so ``deploy``
switches off the mappings moto created from the template (otherwise moto would try to run
the function on every message sent). ``LambdaService`` then does what Lambda's poller does for
each deployed mapping: it receives up to ``BatchSize`` messages from the mapping's queue,
builds the SQS event, invokes the function's handler, and deletes the messages the handler
did not report as failed (``ReportBatchItemFailures``); a handler that raises fails the
whole batch. Failed messages stay in the queue; after the visibility timeout they are
received again, and after ``maxReceiveCount`` receives SQS moves them to the dead-letter
queue.

The handler is loaded as Lambda loads it: the function's code package is downloaded from
the emulator's S3 (where ``deploy`` published the asset), unpacked, its folder put on
``sys.path``, and the module imported with the function's deployed environment variables.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import uuid4

from .events import lambda_record
from .harness import DeployedStack


class CurrentStdout(io.TextIOBase):
    """Writes to ``sys.stdout`` as it is at the time of writing.

    Powertools' log handler keeps the stream that was stdout when the handler module was
    imported; pointed at this, its lines go wherever stdout is redirected later (capsys, an
    invocation's captured output).
    """

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@dataclass
class Context:
    """The parts of Lambda's context object that handlers (Powertools) read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class Function:
    """A deployed function, its handler imported from its deployed code package."""

    name: str
    handler: Any
    environment: dict[str, str]
    memory: int


@dataclass
class EventSourceMapping:
    """An SQS event source mapping: which queue feeds which function, in what batches."""

    logical_id: str
    function: Function
    queue_url: str
    queue_arn: str
    batch_size: int
    report_batch_item_failures: bool


@dataclass
class Invocation:
    """What one poll did: the records handed over, which succeeded, which failed."""

    function: str
    message_ids: list[str]
    failed: list[str]
    error: str | None = None
    output: str = ""

    @property
    def succeeded(self) -> list[str]:
        return [m for m in self.message_ids if m not in self.failed]


class LambdaService:
    """Runs the stack's SQS-triggered functions in process, as the event source mapping does."""

    def __init__(self, deployed: DeployedStack) -> None:
        self.deployed = deployed
        self._workdir = tempfile.TemporaryDirectory(prefix="lambda-tasks-")
        self._lambda = deployed.client("lambda")
        self._sqs = deployed.client("sqs")
        self.mappings: dict[str, EventSourceMapping] = {}
        functions: dict[str, Function] = {}
        for lid, resource in deployed.of_type("AWS::Lambda::EventSourceMapping").items():
            props = resource["Properties"]
            function_lid = props["FunctionName"]["Ref"]
            if function_lid not in functions:
                functions[function_lid] = self._load(deployed.physical_id(function_lid))
            queue_lid = props["EventSourceArn"]["Fn::GetAtt"][0]
            self.mappings[queue_lid] = EventSourceMapping(
                logical_id=lid,
                function=functions[function_lid],
                queue_url=deployed.queue_url(queue_lid),
                queue_arn=deployed.queue_arn(queue_lid),
                batch_size=int(props.get("BatchSize", 10)),
                report_batch_item_failures="ReportBatchItemFailures"
                in props.get("FunctionResponseTypes", []),
            )
        self.in_flight: dict[str, list[str]] = {}

    def close(self) -> None:
        self._workdir.cleanup()

    def __enter__(self) -> LambdaService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- loading ---------------------------------------------------------------------------

    def _load(self, function_name: str) -> Function:
        configuration = self._lambda.get_function(FunctionName=function_name)
        settings = configuration["Configuration"]
        code_dir = Path(self._workdir.name) / function_name
        self._download_code(code_dir)
        environment = dict(settings.get("Environment", {}).get("Variables", {}))
        module_name, handler_name = settings["Handler"].rsplit(".", 1)
        with self._environment(function_name, environment, int(settings["MemorySize"])):
            module = _import_isolated(code_dir, module_name)
        return Function(
            name=function_name,
            handler=getattr(module, handler_name),
            environment=environment,
            memory=int(settings["MemorySize"]),
        )

    def _download_code(self, code_dir: Path) -> None:
        function_lid = next(
            lid
            for lid in self.deployed.of_type("AWS::Lambda::Function")
            if self.deployed.physical_id(lid) == code_dir.name
        )
        code = self.deployed.resources[function_lid]["Properties"]["Code"]
        bucket = self.deployed.emulator.asset_bucket(self.deployed.region)
        body = self.deployed.client("s3").get_object(Bucket=bucket, Key=code["S3Key"])["Body"]
        with zipfile.ZipFile(io.BytesIO(body.read())) as archive:
            archive.extractall(code_dir)

    @contextlib.contextmanager
    def _environment(
        self, function_name: str, environment: Mapping[str, str], memory: int
    ) -> Iterator[None]:
        """The variables Lambda sets for the function, plus the function's own."""
        values = {
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            **environment,
        }
        saved = {name: os.environ.get(name) for name in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    # -- polling ---------------------------------------------------------------------------

    def poll(self, queue_logical_id: str) -> Invocation | None:
        """One receive and invoke of the mapping on this queue; None when it was empty."""
        mapping = self.mappings[queue_logical_id]
        messages = self._sqs.receive_message(
            QueueUrl=mapping.queue_url,
            MaxNumberOfMessages=min(mapping.batch_size, 10),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return None
        records = [lambda_record(m, mapping.queue_arn, self.deployed.region) for m in messages]
        invocation = self._invoke(mapping, records)
        handles = {m["MessageId"]: m["ReceiptHandle"] for m in messages}
        failed = set(invocation.failed)
        for message_id, handle in handles.items():
            if message_id not in failed:
                self._sqs.delete_message(QueueUrl=mapping.queue_url, ReceiptHandle=handle)
        self.in_flight.setdefault(queue_logical_id, []).extend(
            handles[m] for m in invocation.failed
        )
        return invocation

    def drain(self, queue_logical_id: str, *, max_polls: int = 100) -> list[Invocation]:
        """Poll until the queue has nothing visible, letting failed messages come back.

        Each round polls until nothing is visible, then lets the visibility timeout of the
        messages the handler failed pass (``expire_visibility``), so they are received
        again, as they would be once the timeout is over; SQS moves a message to the
        dead-letter queue on the receive after ``maxReceiveCount``.
        """
        invocations: list[Invocation] = []
        for _ in range(max_polls):
            invocation = self.poll(queue_logical_id)
            if invocation is not None:
                invocations.append(invocation)
                continue
            if not self.in_flight.get(queue_logical_id):
                return invocations
            self.expire_visibility(queue_logical_id)
        raise AssertionError(f"{queue_logical_id}: still not drained after {max_polls} polls")

    def expire_visibility(self, queue_logical_id: str) -> None:
        """What the passing of the visibility timeout does to the messages a handler failed."""
        mapping = self.mappings[queue_logical_id]
        for handle in self.in_flight.pop(queue_logical_id, []):
            with contextlib.suppress(self._sqs.exceptions.ReceiptHandleIsInvalid):
                self._sqs.change_message_visibility(
                    QueueUrl=mapping.queue_url, ReceiptHandle=handle, VisibilityTimeout=0
                )

    def _invoke(self, mapping: EventSourceMapping, records: list[dict[str, Any]]) -> Invocation:
        function = mapping.function
        context = Context(
            function_name=function.name,
            memory_limit_in_mb=function.memory,
            invoked_function_arn=(
                f"arn:aws:lambda:{self.deployed.region}:{self.deployed.emulator.account}:function:"
                f"{function.name}"
            ),
        )
        ids = [r["messageId"] for r in records]
        out = io.StringIO()
        with (
            self._environment(function.name, function.environment, function.memory),
            contextlib.redirect_stdout(out),
        ):
            try:
                response = function.handler({"Records": records}, context)
            except Exception as error:  # the whole batch fails, as in Lambda
                return Invocation(function.name, ids, ids, repr(error), out.getvalue())
        if not mapping.report_batch_item_failures:
            return Invocation(function.name, ids, [], None, out.getvalue())
        failed = [f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])]
        return Invocation(function.name, ids, failed, None, out.getvalue())


def _import_isolated(code_dir: Path, module_name: str) -> ModuleType:
    """Import the handler module from ``code_dir`` without sharing modules with others.

    Functions deployed from the same folder have modules of the same names (``consumer``,
    ``orders``) but each function has its own copies, as each Lambda function has its own
    runtime; the modules loaded from ``code_dir`` are taken out of ``sys.modules`` again so
    the next function imports its own.
    """
    before = set(sys.modules)
    sys.path.insert(0, str(code_dir))
    try:
        module = importlib.import_module(module_name)
    finally:
        sys.path.remove(str(code_dir))
        for name in set(sys.modules) - before:
            origin = getattr(sys.modules[name], "__file__", None) or ""
            if origin.startswith(str(code_dir)):
                del sys.modules[name]
    # Powertools points its log handler at sys.stdout as it was at import; point it at
    # whatever stdout is when a line is written, so invocations can capture their logs.
    logger = getattr(module, "logger", None)
    registered = getattr(logger, "registered_handler", None)
    if registered is not None:
        registered.setStream(CurrentStdout())
    return module
