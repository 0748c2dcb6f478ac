"""Lambda functions run by the emulator itself, without Docker.

moto runs every function through one method, ``LambdaFunction._invoke_lambda``: ``Invoke``,
its SQS event source mappings, SNS ``lambda`` subscriptions and CloudFormation custom
resources all end there, and moto's own version needs Docker. :func:`install` replaces it, in
the process that runs the server, with a runner that does what Lambda does with the code the
emulator holds (the package ``cdk deploy`` uploaded):

* **Execution environments.** Each function gets an environment: a child process (Python for
  ``python3.*`` runtimes, ``node`` for ``nodejs*``) that imports the handler once and then
  serves invocations, one at a time, keeping module state between them (warm starts, as in
  Lambda). Two invocations at once get two environments. A new code package or configuration
  gets a new environment.
* **What the function sees.** Its code package unpacked as ``LAMBDA_TASK_ROOT``; its layers
  (layers published to the emulator, unpacked as Lambda unpacks them under ``/opt``; the public
  Powertools for AWS Lambda (Python) layer served from the installed ``aws-lambda-powertools``
  package; any other layer is an error naming it); the packages Lambda's runtime provides
  (boto3 for Python; for Node.js the AWS SDK for JavaScript v3, found in a ``node_modules``
  beside the CDK CLI); nothing else of this process's packages. Its environment variables,
  Lambda's own (``AWS_LAMBDA_FUNCTION_NAME``, ``AWS_REGION``, ``_HANDLER``, ...), test
  credentials and ``AWS_ENDPOINT_URL`` pointing at the emulator; nothing inherited.
* **Limits.** The function's timeout ends the invocation as an error (``Sandbox.Timedout``,
  "Task timed out after N seconds") and its environment; memory above the function's
  ``MemorySize`` (resident set size, checked every 20 ms) ends it as ``Runtime.OutOfMemory``.
* **Logs.** What the handler prints (stdout and stderr) goes to the function's log group in the
  emulator's CloudWatch Logs (``LoggingConfig.LogGroup`` or ``/aws/lambda/<name>``), one stream
  per environment, between ``START`` and ``END`` lines and a ``REPORT`` line with the duration
  and the memory used, as Lambda writes them.

Differences from AWS, known and kept: Python functions run on this process's interpreter
(3.11 here) whatever their ``python3.x`` runtime; the memory setting is enforced as a ceiling,
not as a CPU share; an environment is reused as long as the emulator runs (Lambda recycles
them after a while).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.util
import io
import json
import os
import queue
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

from moto.awslambda import models as lambda_models
from moto.core.utils import unix_time_millis, utcnow
from moto.logs.models import logs_backends

from .gaps import Original, apply_once, fills, patch

BOOTSTRAP = Path(__file__).resolve().parent / "lambda_bootstrap"
END_OF_LOG = "\x1e"
INIT_TIMEOUT_SECONDS = 10.0
"""Lambda's init phase limit (10 s for on-demand functions)."""
MEMORY_CHECK_SECONDS = 0.02

POWERTOOLS_LAYER = re.compile(
    r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:017000801446:layer:AWSLambdaPowertoolsPythonV[23]\b"
)
"""The public layer of Powertools for AWS Lambda (Python), published by AWS's account."""

PYTHON_RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3")
"""What Lambda's Python runtimes provide besides the standard library (boto3 and its needs);
``six`` is added where installed (python-dateutil imports it)."""
POWERTOOLS_PACKAGES = ("aws_lambda_powertools", "typing_extensions", "jmespath")
"""The contents of the Powertools layer: the package and what it imports."""


class LambdaRuntimeError(Exception):
    """A function cannot be run as deployed (unknown layer, no Node.js, no code)."""


@dataclass
class _Settings:
    endpoint_url: str = ""
    workdir: Path | None = None
    node_modules: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


_settings = _Settings()


@dataclass
class Invocation:
    """One invocation as the runner saw it (kept in :data:`INVOCATIONS`, newest last)."""

    function_name: str
    request_id: str
    event: Any
    payload: str
    error: dict[str, Any] | None
    log: list[str]
    duration_ms: float
    max_memory_mb: int

    @property
    def failed(self) -> bool:
        return self.error is not None


INVOCATIONS: list[Invocation] = []
"""Every invocation the runner made since :func:`install` (or :func:`reset`)."""
_invocations_lock = threading.Lock()


def install(endpoint_url: str) -> None:
    """Run functions in this process's emulator with this runner, its clients at
    ``endpoint_url`` (idempotent; the endpoint is that of the latest emulator)."""
    with _settings.lock:
        _settings.endpoint_url = endpoint_url
        if _settings.workdir is None:
            _settings.workdir = Path(tempfile.mkdtemp(prefix="constructs-lib-lambda-"))
        _settings.node_modules = _find_node_modules()
    apply_once(
        lambda_models.LambdaFunction,
        "_constructs_lib_runner",
        _replace_invoke,
        _keep_logging_config,
        _keep_layers,
    )


def reset() -> None:
    """Stop every environment and forget the invocations (the emulator's reset)."""
    _pool.stop_all()
    with _invocations_lock:
        INVOCATIONS.clear()


@fills(
    "lambda",
    moto="runs functions only in Docker (every path: `Invoke`, event source mappings, SNS "
    "subscriptions, custom resources); without Docker an invocation fails",
    aws="the function's deployed code runs with its handler, environment, layers, timeout "
    "and memory limit, warm between invocations, logging to its log group",
)
def _replace_invoke() -> None:
    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        invocation = run(self, event if event is not None else {})
        if invocation.error is not None:
            return json.dumps(invocation.error), True, "\n".join(invocation.log)
        return invocation.payload, False, "\n".join(invocation.log)

    lambda_models.LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]


@fills(
    "lambda",
    moto="forgets a function's `LoggingConfig`",
    aws="the function logs to `LoggingConfig.LogGroup` when one is set (CDK's `log_group=`)",
)
def _keep_logging_config() -> None:
    cls = lambda_models.LambdaFunction

    @patch(cls, "__init__")
    def __init__(
        original: Original,
        self: Any,
        account_id: str,
        spec: dict[str, Any],
        *args: Any,
        **kw: Any,
    ) -> None:
        original(self, account_id, spec, *args, **kw)
        self._logging_config = dict(spec.get("LoggingConfig") or {})

    @patch(cls, "update_configuration")
    def update_configuration(original: Original, self: Any, config_updates: dict[str, Any]) -> Any:
        if "LoggingConfig" in config_updates:
            self._logging_config = dict(config_updates["LoggingConfig"] or {})
        return original(self, config_updates)


@fills(
    "lambda",
    moto="a function created by CloudFormation loses its `Layers` and `LoggingConfig`; a layer "
    "of another account (a public layer such as Powertools) fails an update",
    aws="the function keeps its layers, including public layers of other accounts, and its "
    "logging configuration",
)
def _keep_layers() -> None:
    cls = lambda_models.LambdaFunction
    original_create = cls.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(
        klass: Any, resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kw: Any
    ) -> Any:
        function = original_create(klass, resource_name, cloudformation_json, *args, **kw)
        properties = cloudformation_json["Properties"]
        function.layers = function._get_layers_data(properties.get("Layers", []))
        function._logging_config = dict(properties.get("LoggingConfig") or {})
        return function

    @patch(cls, "_get_layers_data")
    def _get_layers_data(original: Original, self: Any, arns: list[str]) -> list[Any]:
        backend = lambda_models.lambda_backends[self.account_id][self.region]
        known = [arn for arn in arns if backend.layers_versions_by_arn(arn) is not None]
        data = {layer["Arn"]: layer for layer in original(self, known)} if known else {}
        return [data.get(arn, {"Arn": arn, "CodeSize": 0}) for arn in arns]

    cls.create_from_cloudformation_json = classmethod(  # type: ignore[method-assign, assignment]
        create_from_cloudformation_json
    )


def log_group_of(function: Any) -> str:
    """The log group a deployed function writes to."""
    config = getattr(function, "_logging_config", {}) or {}
    return str(config.get("LogGroup") or function.logs_group_name)


# -- running one invocation ----------------------------------------------------------------


def run(function: Any, event: Any) -> Invocation:
    """Invoke ``function`` (moto's ``LambdaFunction``) with ``event``, as Lambda would."""
    request_id = str(uuid4())
    started = time.monotonic()
    try:
        environment = _pool.take(function)
    except LambdaRuntimeError as error:
        invocation = Invocation(
            function.function_name,
            request_id,
            event,
            "",
            {"errorType": "Runtime.InvalidEntrypoint", "errorMessage": str(error)},
            [f"[ERROR] {error}"],
            0.0,
            0,
        )
        _record(invocation)
        return invocation
    try:
        invocation = environment.invoke(function, event, request_id)
    finally:
        _pool.give_back(environment)
    invocation.duration_ms = round((time.monotonic() - started) * 1000, 2)
    environment.write_log(invocation)
    _record(invocation)
    return invocation


def _record(invocation: Invocation) -> None:
    with _invocations_lock:
        INVOCATIONS.append(invocation)


def invocations_of(function_name: str) -> list[Invocation]:
    """The invocations of one function so far, oldest first."""
    with _invocations_lock:
        return [i for i in INVOCATIONS if i.function_name == function_name]


# -- execution environments ----------------------------------------------------------------


def _fingerprint(function: Any) -> str:
    """What a new environment is needed for: code, handler, runtime, settings, layers."""
    parts = {
        "arn": function.function_arn,
        "code": getattr(function, "code_sha_256", ""),
        "handler": function.handler,
        "runtime": function.run_time,
        "memory": str(function.memory_size),
        "timeout": str(function.timeout),
        "environment": function.environment_vars,
        "layers": [layer["Arn"] for layer in function.layers],
        "logging": log_group_of(function),
        "endpoint": _settings.endpoint_url,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class _Pool:
    """Idle environments by function fingerprint; busy ones are not in it."""

    def __init__(self) -> None:
        self._idle: dict[str, list[_Environment]] = {}
        self._all: list[_Environment] = []
        self._lock = threading.Lock()

    def take(self, function: Any) -> _Environment:
        key = _fingerprint(function)
        with self._lock:
            idle = self._idle.get(key, [])
            while idle:
                environment = idle.pop()
                if environment.alive():
                    return environment
        environment = _Environment(function, key)
        with self._lock:
            self._all.append(environment)
        return environment

    def give_back(self, environment: _Environment) -> None:
        with self._lock:
            if environment.alive():
                self._idle.setdefault(environment.key, []).append(environment)
            else:
                with contextlib.suppress(ValueError):
                    self._all.remove(environment)

    def stop_all(self) -> None:
        with self._lock:
            environments, self._all, self._idle = self._all, [], {}
        for environment in environments:
            environment.stop()


_pool = _Pool()
atexit.register(_pool.stop_all)  # no execution environment outlives the process that ran it


class _Environment:
    """One execution environment: a child process serving one invocation at a time."""

    def __init__(self, function: Any, key: str) -> None:
        self.key = key
        self.function_name = function.function_name
        self.memory_mb = int(function.memory_size)
        self.log_group = log_group_of(function)
        date = utcnow()
        self.log_stream = f"{date:%Y/%m/%d}/[$LATEST]{uuid4().hex}"
        self.region = function.region
        self.account_id = function.account_id
        self._lines: queue.Queue[str | None] = queue.Queue()
        task_root = _unpack(function.code_bytes, "code", function.function_name)
        command, paths = _command(function, task_root)
        read_results, write_results = os.pipe()
        arguments = paths if command[-1].endswith(".py") else []  # Node.js: NODE_PATH
        self._process = subprocess.Popen(
            [*command, str(write_results), *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=task_root,
            env=self._variables(function, task_root, paths),
            pass_fds=(write_results,),
            text=True,
        )
        os.close(write_results)
        self._results = os.fdopen(read_results, "r")
        threading.Thread(target=self._read_output, daemon=True).start()
        self._init_log: list[str] = []
        init = self._answer(INIT_TIMEOUT_SECONDS)
        self._init_log = self._drain_lines()
        self.init_error = None if init is None else init.get("init_error")
        if init is None:
            self.stop()
            self.init_error = {
                "errorType": "Runtime.InitTimeout",
                "errorMessage": f"the init phase took longer than {INIT_TIMEOUT_SECONDS:.0f} s",
            }

    def _variables(self, function: Any, task_root: Path, paths: list[str]) -> dict[str, str]:
        runtime = str(function.run_time or "")
        variables = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "LAMBDA_TASK_ROOT": str(task_root),
            "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP),
            "_HANDLER": str(function.handler),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": self.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": function.region,
            "AWS_DEFAULT_REGION": function.region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_ENDPOINT_URL": _settings.endpoint_url,
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        if runtime.startswith("nodejs"):
            variables["NODE_PATH"] = os.pathsep.join(paths)
        variables.update({k: str(v) for k, v in (function.environment_vars or {}).items()})
        return variables

    # -- talking to the process ------------------------------------------------------------

    def _read_output(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _answer(self, timeout: float) -> dict[str, Any] | None:
        """The next answer on the results pipe, or None if none came within ``timeout``
        (or the process ended, or outgrew its memory: see ``self.ended``)."""
        deadline = time.monotonic() + timeout
        self.ended: str | None = None
        self.max_rss_mb = _rss_mb(self._process.pid)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.ended = "timeout"
                return None
            ready, _, _ = select.select([self._results], [], [], min(remaining, 0.02))
            if ready:
                line = self._results.readline()
                if not line:
                    self.ended = "exit"
                    return None
                answer: dict[str, Any] = json.loads(line)
                return answer
            rss = _rss_mb(self._process.pid)
            self.max_rss_mb = max(self.max_rss_mb, rss)
            if rss > self.memory_mb:
                self.ended = "memory"
                return None
            if self._process.poll() is not None:
                self.ended = "exit"
                return None

    def _drain_lines(self, until: str | None = None, wait: float = 0.0) -> list[str]:
        lines: list[str] = []
        deadline = time.monotonic() + wait
        while True:
            try:
                timeout = max(0.0, deadline - time.monotonic()) if until else 0.0
                line = self._lines.get(timeout=timeout) if until else self._lines.get_nowait()
            except queue.Empty:
                return lines
            if line is None:
                return lines
            if line.startswith(END_OF_LOG):
                if until is None or line[1:] == until:
                    return lines
                continue
            lines.append(line)

    def invoke(self, function: Any, event: Any, request_id: str) -> Invocation:
        timeout = float(function.timeout)
        if self.init_error is not None and self._process.poll() is not None:
            return Invocation(
                self.function_name, request_id, event, "", self.init_error, self._init_log, 0, 0
            )
        request = {
            "id": request_id,
            "event": event,
            "function_arn": function.function_arn,
            "deadline_ms": int(time.time() * 1000 + timeout * 1000),
        }
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
        except (BrokenPipeError, OSError):
            self.ended = "exit"
            answer = None
        else:
            answer = self._answer(timeout)
        log = [*self._init_log]
        self._init_log = []
        if answer is not None:
            log += self._drain_lines(until=request_id, wait=5.0)
            error = answer.get("error")
            payload = answer.get("payload", "null") if error is None else json.dumps(error)
            return Invocation(
                self.function_name, request_id, event, payload, error, log, 0, self.max_rss_mb
            )
        reason = self.ended
        self.stop()
        log += self._drain_lines()
        if reason == "timeout":
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            error = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"{stamp} {request_id} Task timed out after {timeout:.2f} seconds",
            }
        elif reason == "memory":
            error = {
                "errorType": "Runtime.OutOfMemory",
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                "signal: killed",
            }
        else:
            error = {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                f"exit status {self._process.returncode}",
            }
        log.append(f"{request_id} {error['errorMessage']}")
        return Invocation(
            self.function_name,
            request_id,
            event,
            json.dumps(error),
            error,
            log,
            0,
            self.max_rss_mb,
        )

    def write_log(self, invocation: Invocation) -> None:
        backend = logs_backends[self.account_id][self.region]
        with contextlib.suppress(Exception):
            backend.ensure_log_group(self.log_group)
        if self.log_stream not in backend.groups[self.log_group].streams:
            backend.create_log_stream(self.log_group, self.log_stream)
        request_id = invocation.request_id
        billed = max(1, int(-(-invocation.duration_ms // 1)))
        status = ""
        if invocation.error and invocation.error.get("errorType") == "Sandbox.Timedout":
            status = "\tStatus: timeout"
        elif invocation.error and invocation.error.get("errorType") == "Runtime.OutOfMemory":
            status = "\tStatus: error\tError Type: Runtime.OutOfMemory"
        lines = [
            f"START RequestId: {request_id} Version: $LATEST",
            *invocation.log,
            f"END RequestId: {request_id}",
            f"REPORT RequestId: {request_id}\tDuration: {invocation.duration_ms:.2f} ms\t"
            f"Billed Duration: {billed} ms\tMemory Size: {self.memory_mb} MB\t"
            f"Max Memory Used: {invocation.max_memory_mb} MB{status}",
        ]
        now = int(unix_time_millis())
        backend.put_log_events(
            self.log_group,
            self.log_stream,
            [{"timestamp": now, "message": line} for line in lines],
        )

    def alive(self) -> bool:
        return self._process.poll() is None

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
        for stream in (self._process.stdin, self._results):
            with contextlib.suppress(Exception):
                if stream is not None:
                    stream.close()


def _rss_mb(pid: int) -> int:
    """Resident set size of a process in MiB (0 when it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) // 1024 if match else 0


# -- code, layers and the runtime's own packages --------------------------------------------


def _unpack(archive: bytes, kind: str, name: str) -> Path:
    """Unpack a code package or layer once (by content) into the runner's work folder."""
    if not archive:
        raise LambdaRuntimeError(f"{name}: the emulator holds no {kind} package for it")
    assert _settings.workdir is not None
    digest = hashlib.sha256(archive).hexdigest()[:24]
    target = _settings.workdir / kind / digest
    with _settings.lock:
        if not target.is_dir():
            partial = target.with_name(f"{digest}.partial-{uuid4().hex[:8]}")
            with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
                zipped.extractall(partial)
            partial.rename(target)
    return target


def _command(function: Any, task_root: Path) -> tuple[list[str], list[str]]:
    """The process of an environment, and the folders its imports come from."""
    runtime = str(function.run_time or "")
    layers = [_layer(function, layer["Arn"], runtime) for layer in function.layers]
    if runtime.startswith("python"):
        paths = [str(task_root)]
        for layer in layers:
            paths += [str(p) for p in _python_layer_paths(layer)]
        paths.append(str(_provided("python-runtime", (*PYTHON_RUNTIME_PACKAGES, "six"))))
        bootstrap = BOOTSTRAP / "python_runtime.py"
        return [sys.executable, "-I", "-S", str(bootstrap)], paths
    if runtime.startswith("nodejs"):
        node = shutil.which("node")
        if node is None:
            raise LambdaRuntimeError(
                f"{function.function_name} runs on {runtime}: put a Node.js `node` on PATH "
                "(the CDK CLI needs one too)"
            )
        paths = [str(layer / "nodejs" / "node_modules") for layer in layers]
        paths += _settings.node_modules
        bootstrap = BOOTSTRAP / "node_runtime.js"
        return [os.path.abspath(node), str(bootstrap)], paths
    raise LambdaRuntimeError(
        f"{function.function_name}: runtime {runtime or '(none)'} is not run by the emulator "
        "(Python and Node.js functions are)"
    )


def _python_layer_paths(layer: Path) -> Iterator[Path]:
    """Where Lambda's Python runtime finds a layer's modules (``/opt/python`` and
    ``/opt/python/lib/python3.x/site-packages``)."""
    yield layer / "python"
    yield from sorted(layer.glob("python/lib/python3*/site-packages"))


def _layer(function: Any, arn: str, runtime: str) -> Path:
    """A layer's unpacked folder: published to the emulator, or a public layer served from
    installed packages; any other layer is an error naming it."""
    backend = lambda_models.lambda_backends[function.account_id][function.region]
    published = backend.layers_versions_by_arn(arn)
    if published is not None and published.code_bytes:
        return _unpack(published.code_bytes, "layer", arn)
    if POWERTOOLS_LAYER.match(arn):
        if importlib.util.find_spec("aws_lambda_powertools") is None:
            raise LambdaRuntimeError(
                f"{function.function_name} uses the Powertools layer {arn}: the emulator serves "
                "it from the installed aws-lambda-powertools package, which is not installed "
                "(pip install aws-lambda-powertools)"
            )
        return _provided("powertools-layer", POWERTOOLS_PACKAGES, under="python")
    raise LambdaRuntimeError(
        f"{function.function_name} uses the layer {arn}, which the emulator does not hold "
        "(publish it to the emulator) and which is not a public layer it serves (Powertools "
        "for AWS Lambda (Python))"
    )


def _provided(name: str, packages: tuple[str, ...], under: str = "") -> Path:
    """A folder of links to installed packages (what a runtime or public layer provides)."""
    assert _settings.workdir is not None
    root = _settings.workdir / name
    folder = root / under if under else root
    with _settings.lock:
        if not folder.is_dir():
            folder.mkdir(parents=True)
            for package in packages:
                spec = importlib.util.find_spec(package)
                if spec is None or spec.origin is None:
                    continue
                origin = Path(spec.origin)
                source = origin.parent if origin.name == "__init__.py" else origin
                link = folder / source.name
                if not link.exists():
                    link.symlink_to(source)
    return root


def _find_node_modules() -> list[str]:
    """``node_modules`` folders holding the AWS SDK for JavaScript v3, which Lambda's Node.js
    runtime provides: the working directory's and its parents', then the CDK CLI's."""
    found: list[str] = []
    candidates = [Path.cwd(), *Path.cwd().parents]
    cdk = shutil.which("cdk")
    if cdk is not None:
        candidates += [Path(cdk).resolve().parent.parent, Path(cdk).parent.parent.parent]
    for folder in candidates:
        modules = folder if folder.name == "node_modules" else folder / "node_modules"
        if (modules / "@aws-sdk").is_dir() and str(modules) not in found:
            found.append(str(modules))
    return found
