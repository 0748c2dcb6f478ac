"""A deployed ``QueueWorkerPool`` (Fargate) seen from outside: its workers and its scaling.

moto creates the pool's ECS cluster, task definition and service but runs no task, and the
worker image is not built. ``DeployedWorkerPool.run_workers`` plays the tasks' part: it runs
the library's worker program (``python worker.py`` from the installed package's
``worker_program_path()``) as local processes, each with the environment of the container in
the task definition *as the emulator holds it*, plus what ECS adds to a Fargate container
(the region, ``ECS_AGENT_URI``), the emulator's endpoint and test credentials. The job's code
is the folder staged for the worker image in the cloud assembly (the image's content), or
a folder you name. A local stand-in for the ECS agent's task scale-in protection endpoint
records what each worker asks. Each process's JSON log lines are collected; one can be
stopped with SIGTERM, as ECS stops a task.

``DeployedWorkerPool.scaling`` reads the pool's scalable target, its target tracking policy
(backlog per worker, metric math) and its from-zero step policy with the alarm that runs it,
all from the emulator, and computes what Application Auto Scaling would decide from each
queue's ``ApproximateNumberOfMessages`` and ``ApproximateNumberOfMessagesNotVisible`` (a pool
over several queues, ``QUEUE_URLS``, sums them in its metric math) and the service's task
counts. moto evaluates no
alarm and runs no scaling policy: decisions are computed here, and ``apply`` makes the call
Application Auto Scaling makes (``UpdateService`` with the new desired count).
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .fanout import queue_counts
from .harness import DeployedStack
from .local_http import LocalEndpoint, Request

SCALE_IN_FRACTION = 0.9
"""Application Auto Scaling's target tracking scales in when the metric is below 90 % of the
target (its low alarm: 15 datapoints of one minute), and out when it is above the target (its
high alarm: 3 datapoints of one minute)."""

TASK_PROTECTION_PATH = "/task-protection/v1/state"

LogLine = dict[str, Any]
"""One JSON log line of the worker (``time``, ``level``, ``message``, ``logger``, fields)."""


class WorkerProcess:
    """One worker program run as a local process; its log lines are collected as they come.

    ``lines`` holds the parsed JSON lines of its stdout (a line that is not JSON is kept as
    ``{"level": "RAW", "message": line}``), ``stderr`` its standard error, ``protection`` the
    states it set through the ECS agent endpoint (``True`` protected, ``False`` not).
    """

    def __init__(self, name: str, process: subprocess.Popen[str]) -> None:
        self.name = name
        self.process = process
        self.lines: list[LogLine] = []
        self.stderr: list[str] = []
        self.protection: list[bool] = []
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def __repr__(self) -> str:
        return f"WorkerProcess({self.name!r}, pid={self.pid}, returncode={self.returncode})"

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            text = raw.rstrip("\n")
            try:
                line = json.loads(text)
            except ValueError:
                line = None
            self._add(line if isinstance(line, dict) else {"level": "RAW", "message": text})

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            with self._changed:
                self.stderr.append(raw.rstrip("\n"))

    def _add(self, line: LogLine) -> None:
        with self._changed:
            self.lines.append(line)
            self._changed.notify_all()

    def _protected(self, enabled: bool) -> None:
        with self._changed:
            self.protection.append(enabled)
            self._changed.notify_all()

    def logged(self, message: str) -> list[LogLine]:
        """The log lines whose ``message`` is ``message`` (``"job done"``, ...)."""
        with self._changed:
            return [line for line in self.lines if line.get("message") == message]

    def wait_for(self, message: str, *, count: int = 1, timeout: float = 10) -> list[LogLine]:
        """Waits until ``message`` was logged ``count`` times; those lines. Raises
        ``TimeoutError`` (with the worker's output) if it was not, or if the worker exited."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [line for line in self.lines if line.get("message") == message]
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not self._reading()):
                    raise TimeoutError(
                        f"{self.name}: {message!r} logged {len(found)} of {count} times "
                        f"(exit status {self.process.poll()}):\n{self.output()}"
                    )
                self._changed.wait(min(left, 0.2))

    def _reading(self) -> bool:
        return any(reader.is_alive() for reader in self._readers)

    def stop(self, signum: int = signal.SIGTERM) -> None:
        """Sends ``signum`` (SIGTERM: what ECS sends a task it stops)."""
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def wait(self, timeout: float = 10) -> int:
        """Waits for the process to end (its output read to the end); its exit status."""
        status = self.process.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        return status

    def output(self, last: int = 40) -> str:
        """The last ``last`` log lines and standard error lines, for failure messages."""
        with self._changed:
            lines = [json.dumps(line) for line in self.lines[-last:]]
            return "\n".join([*lines, *self.stderr[-last:]])


class _TaskProtectionEndpoint:
    """The ECS container agent's task scale-in protection endpoint, one URI per worker.

    ECS sets ``ECS_AGENT_URI`` in every container; the worker ``PUT``s
    ``{"ProtectionEnabled": ..., "ExpiresInMinutes": ...}`` to ``$ECS_AGENT_URI`` +
    ``/task-protection/v1/state``. Here each worker gets ``http://127.0.0.1:<port>/<name>``;
    the states are recorded on its ``WorkerProcess`` and answered as the agent does.
    """

    def __init__(self) -> None:
        self.workers: dict[str, WorkerProcess] = {}
        self._endpoint = LocalEndpoint(self._respond).start()

    def _respond(self, request: Request) -> tuple[int, str]:
        name, _, path = request.path.lstrip("/").partition("/")
        try:
            state = json.loads(request.body or b"{}")
        except ValueError:
            state = None
        worker = self.workers.get(name)
        if (
            request.method != "PUT"
            or f"/{path}" != TASK_PROTECTION_PATH
            or worker is None
            or not isinstance(state, dict)
        ):
            return 400, json.dumps({"error": "not a task protection request"})
        enabled = bool(state.get("ProtectionEnabled"))
        worker._protected(enabled)
        return 200, json.dumps({"protection": {"ProtectionEnabled": enabled, "TaskArn": name}})

    def uri(self, name: str) -> str:
        return f"{self._endpoint.url}/{name}"

    def close(self) -> None:
        self._endpoint.stop()


class WorkerFleet:
    """Local worker processes of one pool. Use as a context manager: on exit every worker
    still running gets SIGTERM, and is killed if it has not stopped within ``stop_timeout``."""

    def __init__(
        self,
        pool: DeployedWorkerPool,
        environment: Mapping[str, str],
        job_paths: Sequence[Path],
        python: str,
        stop_timeout: float,
    ) -> None:
        self.pool = pool
        self.environment = dict(environment)
        """The environment every worker gets (the container's, the emulator's, yours)."""
        self.job_paths = list(job_paths)
        self.workers: list[WorkerProcess] = []
        self._python = python
        self._stop_timeout = stop_timeout
        self._agent = _TaskProtectionEndpoint()
        self._closed = False

    def __enter__(self) -> WorkerFleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def start(self, count: int = 1) -> list[WorkerProcess]:
        """Starts ``count`` more workers; the new ones."""
        if self._closed:
            raise RuntimeError("this fleet was stopped; run_workers() gives a new one")
        program = Path(self.pool.worker_program) / "worker.py"
        started = []
        for _ in range(count):
            name = f"worker-{len(self.workers) + 1}"
            process = subprocess.Popen(
                [self._python, str(program)],
                cwd=self.job_paths[0],
                env={**self.environment, "ECS_AGENT_URI": self._agent.uri(name)},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                bufsize=1,
            )
            worker = WorkerProcess(name, process)
            self._agent.workers[name] = worker
            self.workers.append(worker)
            started.append(worker)
        return started

    @property
    def running(self) -> list[WorkerProcess]:
        return [worker for worker in self.workers if worker.returncode is None]

    def logged(self, message: str) -> list[LogLine]:
        """Every worker's log lines with ``message``, worker by worker."""
        return [line for worker in self.workers for line in worker.logged(message)]

    def wait_until(
        self, condition: Callable[[], bool], *, timeout: float = 20, what: str = "condition"
    ) -> None:
        """Polls ``condition`` until it holds; raises ``TimeoutError`` with the workers'
        output if it does not within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                output = "\n".join(f"--- {w.name}\n{w.output()}" for w in self.workers)
                raise TimeoutError(f"{what}: not within {timeout} s\n{output}")
            time.sleep(0.1)

    def stop_all(self) -> dict[str, int]:
        """SIGTERM to every running worker, then waits; exit status by worker name (a worker
        that did not stop in time is killed: -9)."""
        for worker in self.running:
            worker.stop()
        statuses = {}
        for worker in self.workers:
            try:
                statuses[worker.name] = worker.wait(self._stop_timeout)
            except subprocess.TimeoutExpired:
                worker.stop(signal.SIGKILL)
                statuses[worker.name] = worker.wait(self._stop_timeout)
        if not self._closed:
            self._closed = True
            self._agent.close()
        return statuses


@dataclass(frozen=True)
class ScalingDecision:
    """What the pool's policies would do with the figures of one moment."""

    visible: int
    """Messages visible in the queue (``ApproximateNumberOfMessages``); with several queues,
    in all of them."""
    in_flight: int
    """Messages being worked (``ApproximateNumberOfMessagesNotVisible``), in all queues."""
    running: int
    """Workers in service (the metric ``RunningTaskCount``)."""
    desired: int
    """The current desired count (``DesiredTaskCount``)."""
    backlog_per_worker: float
    """The target tracking metric: the policy's metric math on ``visible`` and ``running``."""
    target: float
    """The policy's ``TargetValue``."""
    capacity: int
    """The desired count after the decision (``desired`` when no policy acts)."""
    policy: str | None
    """The policy that sets ``capacity``, or None."""


class PoolScaling:
    """The pool's scaling as deployed: the scalable target, the target tracking policy, and the
    step policies with the alarms that run them, read from the emulator."""

    def __init__(self, pool: DeployedWorkerPool) -> None:
        self.pool = pool
        client = pool.deployed.client("application-autoscaling")
        resource_id, dimension, namespace = pool.scalable_target_id.split("|")
        (target,) = client.describe_scalable_targets(
            ServiceNamespace=namespace, ResourceIds=[resource_id], ScalableDimension=dimension
        )["ScalableTargets"]
        self.min_capacity = int(target["MinCapacity"])
        self.max_capacity = int(target["MaxCapacity"])
        self.policies: list[dict[str, Any]] = client.describe_scaling_policies(
            ServiceNamespace=namespace, ResourceId=resource_id, ScalableDimension=dimension
        )["ScalingPolicies"]
        tracking = [p for p in self.policies if p["PolicyType"] == "TargetTrackingScaling"]
        if len(tracking) != 1:
            raise ValueError(f"{pool.path}: expected one target tracking policy, not {tracking}")
        self.target_tracking = tracking[0]
        configuration = self.target_tracking["TargetTrackingScalingPolicyConfiguration"]
        self.target = float(configuration["TargetValue"])
        self.scale_in_disabled = bool(configuration.get("DisableScaleIn", False))
        self.metrics: list[dict[str, Any]] = configuration["CustomizedMetricSpecification"][
            "Metrics"
        ]
        pages = pool.deployed.client("cloudwatch").get_paginator("describe_alarms").paginate()
        alarms = [alarm for page in pages for alarm in page["MetricAlarms"]]
        self.step_policies = [
            (policy, [a for a in alarms if policy["PolicyARN"] in a.get("AlarmActions", [])])
            for policy in self.policies
            if policy["PolicyType"] == "StepScaling"
        ]

    def figures(self) -> tuple[int, int, int]:
        """(visible, running, desired) now: the queues' ``ApproximateNumberOfMessages`` (all
        of them together), and the service's running and desired counts as the emulator
        reports them."""
        visible = sum(self.visible_by_queue().values())
        service = self.pool.service()
        return visible, int(service["runningCount"]), int(service["desiredCount"])

    def visible_by_queue(self) -> dict[str, int]:
        """Each worked queue's ``ApproximateNumberOfMessages`` now, by queue name, highest
        priority first."""
        return self._by_attribute("ApproximateNumberOfMessages")

    def in_flight_by_queue(self) -> dict[str, int]:
        """Each worked queue's ``ApproximateNumberOfMessagesNotVisible`` now, by queue name."""
        return self._by_attribute("ApproximateNumberOfMessagesNotVisible")

    def _by_attribute(self, attribute: str) -> dict[str, int]:
        client = self.pool.deployed.client("sqs")
        return {
            url.rsplit("/", 1)[-1]: int(
                client.get_queue_attributes(QueueUrl=url, AttributeNames=[attribute])["Attributes"][
                    attribute
                ]
            )
            for url in self.pool.queue_urls
        }

    def backlog_per_worker(
        self,
        visible: int | Mapping[str, int],
        running: int,
        in_flight: int | Mapping[str, int] = 0,
    ) -> float:
        """The target tracking metric for these figures, by the deployed policy's metric math
        (``visible`` and ``in_flight`` as for :meth:`decide`)."""
        values = self._values(self._by_queue(visible), self._by_queue(in_flight), running, running)
        value = _evaluate(self.metrics, values)
        if value is None:
            raise ValueError(f"{self.pool.path}: the scaling metric has no value")
        return value

    def decide(
        self,
        *,
        visible: int | Mapping[str, int] | None = None,
        running: int | None = None,
        desired: int | None = None,
        in_flight: int | Mapping[str, int] | None = None,
    ) -> ScalingDecision:
        """What Application Auto Scaling would set the desired count to, if these figures held
        long enough for the alarms (the emulator's figures where not given).

        ``visible`` is the messages visible, by queue name for a pool over several queues
        (a number there is taken as the highest queue's, the others empty); ``in_flight``
        likewise the messages being worked (the emulator's when neither is given, else 0).

        Target tracking: above the target it scales out, below 90 % of it in, to
        ``ceil(desired * metric / target)`` within the target's bounds (from zero it cannot:
        the result stays zero). A step policy acts when its alarm breaches: its band for the
        alarm's metric minus the threshold gives the capacity. Of several policies scaling
        out, the largest capacity wins; scale-in likewise takes the largest proposal.
        """
        if in_flight is None:
            in_flight = self.in_flight_by_queue() if visible is None else 0
        if visible is None:
            visible = self.visible_by_queue()
        if running is None or desired is None:
            service = self.pool.service()
            running = int(service["runningCount"]) if running is None else running
            desired = int(service["desiredCount"]) if desired is None else desired
        by_queue = self._by_queue(visible)
        working = self._by_queue(in_flight)
        values = self._values(by_queue, working, running, desired)
        metric = _evaluate(self.metrics, values)
        proposals: list[tuple[int, str]] = []
        if metric is not None:
            new = self._bounded(math.ceil(desired * metric / self.target - 1e-9))
            if (metric > self.target and new > desired) or (
                not self.scale_in_disabled
                and metric < SCALE_IN_FRACTION * self.target
                and new < desired
            ):
                proposals.append((new, self.target_tracking["PolicyName"]))
        for policy, alarms in self.step_policies:
            for alarm in alarms:
                new_capacity = self._step(policy, alarm, values, desired)
                if new_capacity is not None and new_capacity != desired:
                    proposals.append((new_capacity, policy["PolicyName"]))
        out = [p for p in proposals if p[0] > desired]
        chosen = max(out or [p for p in proposals if p[0] < desired] or [(desired, "")])
        return ScalingDecision(
            visible=sum(by_queue.values()),
            in_flight=sum(working.values()),
            running=running,
            desired=desired,
            backlog_per_worker=math.nan if metric is None else metric,
            target=self.target,
            capacity=chosen[0],
            policy=chosen[1] or None,
        )

    def apply(self, decision: ScalingDecision) -> None:
        """What Application Auto Scaling does with a decision: ``UpdateService`` with the new
        desired count (moto then reports that many tasks running, and starts none)."""
        if decision.capacity != decision.desired:
            service = self.pool.service()
            self.pool.deployed.client("ecs").update_service(
                cluster=service["clusterArn"],
                service=service["serviceName"],
                desiredCount=decision.capacity,
            )

    def _bounded(self, capacity: int) -> int:
        return min(max(capacity, self.min_capacity), self.max_capacity)

    def _step(
        self,
        policy: Mapping[str, Any],
        alarm: Mapping[str, Any],
        values: Mapping[str, float | None],
        desired: int,
    ) -> int | None:
        if "Metrics" in alarm:
            value = _evaluate(alarm["Metrics"], values)
        else:
            value = values.get(self._quantity(alarm))
        if value is None:
            return None
        threshold = float(alarm["Threshold"])
        comparison = alarm["ComparisonOperator"]
        if not _COMPARISONS[comparison](value, threshold):
            return None
        configuration = policy["StepScalingPolicyConfiguration"]
        above = comparison.startswith("Greater")
        difference = value - threshold
        for step in configuration["StepAdjustments"]:
            lower = step.get("MetricIntervalLowerBound", -math.inf)
            upper = step.get("MetricIntervalUpperBound", math.inf)
            inside = lower <= difference < upper if above else lower < difference <= upper
            if inside:
                adjustment = int(step["ScalingAdjustment"])
                kind = configuration.get("AdjustmentType", "ChangeInCapacity")
                if kind == "ExactCapacity":
                    return self._bounded(adjustment)
                if kind == "ChangeInCapacity":
                    return self._bounded(desired + adjustment)
                raise ValueError(f"{policy['PolicyName']}: adjustment type {kind} not modelled")
        return None

    def _by_queue(self, visible: int | Mapping[str, int]) -> dict[str, int]:
        names = [url.rsplit("/", 1)[-1] for url in self.pool.queue_urls]
        if isinstance(visible, Mapping):
            unknown = set(visible) - set(names)
            if unknown:
                raise ValueError(f"{self.pool.path}: works {names}, not {sorted(unknown)}")
            return {name: int(visible.get(name, 0)) for name in names}
        return {name: (int(visible) if n == 0 else 0) for n, name in enumerate(names)}

    def _values(
        self,
        visible: Mapping[str, int],
        in_flight: Mapping[str, int],
        running: int,
        desired: int,
    ) -> dict[str, float | None]:
        """The value of each metric the policies and alarms use, by its id."""
        values: dict[str, float | None] = {}
        queries = [*self.metrics]
        for _policy, alarms in self.step_policies:
            for alarm in alarms:
                queries += alarm.get("Metrics", [])
        for query in queries:
            if "MetricStat" in query:
                metric = query["MetricStat"]["Metric"]
                quantity = self._quantity(metric)
                if quantity in ("visible", "in_flight"):
                    dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
                    figures = visible if quantity == "visible" else in_flight
                    values[query["Id"]] = float(figures[dimensions["QueueName"]])
                else:
                    values[query["Id"]] = float(running if quantity == "running" else desired)
        return values

    def _quantity(self, metric: Mapping[str, Any]) -> str:
        """Which figure a metric is: checks that it is one of this pool's queues or its
        service."""
        key = (str(metric.get("Namespace")), str(metric.get("MetricName")))
        quantity = _QUANTITIES.get(key)
        if quantity is None:
            raise ValueError(f"{self.pool.path}: metric {key} is not one this helper computes")
        dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
        expected = (
            [{"QueueName": url.rsplit("/", 1)[-1]} for url in self.pool.queue_urls]
            if quantity in ("visible", "in_flight")
            else [{"ClusterName": self.pool.cluster, "ServiceName": self.pool.service_name}]
        )
        if dimensions not in expected:
            raise ValueError(
                f"{self.pool.path}: metric {key} has dimensions {dimensions}; this pool's are "
                f"{' or '.join(map(str, expected))}"
            )
        return quantity


_QUANTITIES = {
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible"): "visible",
    ("AWS/SQS", "ApproximateNumberOfMessagesNotVisible"): "in_flight",
    ("ECS/ContainerInsights", "RunningTaskCount"): "running",
    ("ECS/ContainerInsights", "DesiredTaskCount"): "desired",
}
_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda a, b: a >= b,
    "GreaterThanThreshold": lambda a, b: a > b,
    "LessThanThreshold": lambda a, b: a < b,
    "LessThanOrEqualToThreshold": lambda a, b: a <= b,
}


class DeployedWorkerPool:
    """The Fargate ``QueueWorkerPool`` at ``path`` (e.g. ``"ImageProcessing/Workers"``) in a
    deployed stack: its task definition, service and scalable target, found by construct path.
    """

    def __init__(self, deployed: DeployedStack, path: str) -> None:
        self.deployed = deployed
        self.path = path
        try:
            task_definition = deployed.logical_id_at(f"{path}/TaskDefinition/Resource")
        except KeyError as error:
            raise KeyError(
                f"{path}: no Fargate worker pool there (its task definition would be at "
                f"{path}/TaskDefinition/Resource); EC2 pools are not run locally: {error}"
            ) from None
        self.task_definition_arn = deployed.physical_id(task_definition)
        self.service_arn = deployed.physical_id(deployed.logical_id_at(f"{path}/Service/Service"))
        # arn:aws:ecs:<region>:<account>:service/<cluster>/<service>
        self.cluster, self.service_name = self.service_arn.split(":", 5)[5].split("/")[1:3]
        self.scalable_target_id = deployed.physical_id(
            deployed.logical_id_at(f"{path}/ScalableTarget")
        )
        self.worker_program = _worker_program_path()
        """The installed package's worker program folder (``worker.py``, ``protection.py``)."""

    def task_definition(self) -> dict[str, Any]:
        """The task definition as the emulator holds it (``DescribeTaskDefinition``)."""
        described: dict[str, Any] = self.deployed.client("ecs").describe_task_definition(
            taskDefinition=self.task_definition_arn
        )["taskDefinition"]
        return described

    def container(self) -> dict[str, Any]:
        """The worker's container definition (the task definition has one container)."""
        (container,) = self.task_definition()["containerDefinitions"]
        return dict(container)

    @property
    def environment(self) -> dict[str, str]:
        """The container's environment in the deployed task definition."""
        return {e["name"]: e["value"] for e in self.container().get("environment", [])}

    @property
    def queue_urls(self) -> list[str]:
        """The worked queues' URLs, highest priority first (``QUEUE_URLS``, or the one
        ``QUEUE_URL``)."""
        environment = self.environment
        if "QUEUE_URLS" in environment:
            return [url for url in environment["QUEUE_URLS"].split(",") if url]
        return [environment["QUEUE_URL"]]

    @property
    def queue_url(self) -> str:
        """The work queue's URL (with several queues, the highest priority one's)."""
        return self.queue_urls[0]

    def service(self) -> dict[str, Any]:
        """The ECS service as the emulator reports it (``DescribeServices``)."""
        (service,) = self.deployed.client("ecs").describe_services(
            cluster=self.cluster, services=[self.service_name]
        )["services"]
        return dict(service)

    def image_folder(self) -> Path:
        """The folder the worker image is built from, as staged in the cloud assembly: the
        worker program and the job's files (the image's content; the image is not built)."""
        image = str(self.container()["image"])
        tag = image.rsplit(":", 1)[-1]
        directory = self.deployed.assembly_directory
        if directory is None:
            raise FileNotFoundError(f"{self.path}: the stack's cloud assembly is not known")
        manifest = json.loads((directory / f"{self.deployed.name}.assets.json").read_text())
        asset = manifest.get("dockerImages", {}).get(tag)
        if asset is None:
            raise FileNotFoundError(
                f"{self.path}: image {image} is not an image asset of {self.deployed.name}; "
                "pass job_path (the folder of your job's modules)"
            )
        return directory / str(asset["source"]["directory"])

    def run_workers(
        self,
        count: int = 0,
        *,
        job_path: str | Path | Sequence[str | Path] | None = None,
        environment: Mapping[str, str] | None = None,
        python: str = sys.executable,
        stop_timeout: float = 15,
    ) -> WorkerFleet:
        """A fleet of local workers (``count`` started at once; ``start`` adds more).

        :param job_path: the folder of the job's modules (or several, the first one the
            working directory), put on ``PYTHONPATH``. Default: the folder staged for the
            worker image (:meth:`image_folder`).
        :param environment: added last, e.g. ``WAIT_TIME_SECONDS``, ``RETRY_DELAY_SECONDS``,
            ``STOP_GRACE_SECONDS`` or ``LOG_LEVEL`` to keep a test fast; or
            ``WORKER_HANDLER`` to run another job.
        """
        if job_path is None:
            paths = [self.image_folder()]
        elif isinstance(job_path, (str, Path)):
            paths = [Path(job_path)]
        else:
            paths = [Path(p) for p in job_path]
        emulator = self.deployed.emulator
        base = {
            name: os.environ[name]
            for name in ("PATH", "SYSTEMROOT", "TMPDIR")
            if name in os.environ
        }
        settings = {
            **base,
            **self.environment,
            # What ECS sets in a Fargate container (ECS_AGENT_URI per worker, at start).
            "AWS_REGION": self.deployed.region,
            "AWS_DEFAULT_REGION": self.deployed.region,
            # The emulator instead of AWS, and nothing of this machine's AWS configuration.
            "AWS_ENDPOINT_URL": emulator.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "HOME": tempfile.gettempdir(),
            "PYTHONPATH": os.pathsep.join(str(p) for p in paths),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            **(environment or {}),
        }
        fleet = WorkerFleet(self, settings, paths, python, stop_timeout)
        if count:
            fleet.start(count)
        return fleet

    def scaling(self) -> PoolScaling:
        """The pool's scaling policies as deployed, read from the emulator now."""
        return PoolScaling(self)

    def queue_depth(self) -> tuple[int, int]:
        """(visible, in flight) messages of the work queues, all of them together."""
        client = self.deployed.client("sqs")
        counts = [queue_counts(client, url) for url in self.queue_urls]
        return sum(c[0] for c in counts), sum(c[1] for c in counts)


def _worker_program_path() -> str:
    from constructs_lib.workers import worker_program_path

    return worker_program_path()


# -- CloudWatch metric math: the subset scaling policies use -------------------------------

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?)|([A-Za-z_]\w*)|(==|!=|>=|<=|[-+*/(),<>]))")
_OPERATORS: dict[str, Callable[[float, float], float | None]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: None if b == 0 else a / b,
    "==": lambda a, b: float(a == b),
    "!=": lambda a, b: float(a != b),
    ">=": lambda a, b: float(a >= b),
    "<=": lambda a, b: float(a <= b),
    ">": lambda a, b: float(a > b),
    "<": lambda a, b: float(a < b),
}
_PRECEDENCE = [("==", "!=", ">=", "<=", ">", "<"), ("+", "-"), ("*", "/")]


def _evaluate(
    queries: Sequence[Mapping[str, Any]], values: Mapping[str, float | None]
) -> float | None:
    """The value of the query that returns data, its expressions evaluated on ``values``
    (metric ids to datapoints; None is a missing datapoint)."""
    known = dict(values)
    expressions = {q["Id"]: q["Expression"] for q in queries if "Expression" in q}
    returned = [q["Id"] for q in queries if q.get("ReturnData", True)]
    if len(returned) != 1:
        raise ValueError(f"metric math returns {len(returned)} series: {queries}")

    def value_of(query_id: str, seen: tuple[str, ...] = ()) -> float | None:
        if query_id in known:
            return known[query_id]
        if query_id not in expressions or query_id in seen:
            raise ValueError(f"metric math: no value for {query_id!r}")
        result = _MathParser(expressions[query_id], lambda i: value_of(i, (*seen, query_id))).run()
        known[query_id] = result
        return result

    return value_of(returned[0])


class _MathParser:
    """Numbers, metric ids, + - * /, comparisons, parentheses, ``IF(c, a, b)`` and
    ``FILL(x, v)``. A missing datapoint (None) stays missing through arithmetic; ``FILL``
    replaces it; division by zero gives none."""

    def __init__(self, text: str, lookup: Callable[[str], float | None]) -> None:
        self.text = text
        self.lookup = lookup
        self.tokens: list[str] = []
        position = 0
        while text[position:].strip():
            match = _TOKEN.match(text, position)
            if match is None:
                raise ValueError(f"cannot read metric math {text!r} at {text[position:]!r}")
            self.tokens.append(match.group(match.lastindex or 0))
            position = match.end()
        self.index = 0

    def run(self) -> float | None:
        value = self._binary(0)
        if self.index != len(self.tokens):
            raise ValueError(f"unexpected {self.tokens[self.index]!r} in {self.text!r}")
        return value

    def _peek(self) -> str | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> str:
        token = self._peek()
        if token is None or (expected is not None and token != expected):
            raise ValueError(f"expected {expected or 'more'} in metric math {self.text!r}")
        self.index += 1
        return token

    def _binary(self, level: int) -> float | None:
        if level == len(_PRECEDENCE):
            return self._unary()
        left = self._binary(level + 1)
        while self._peek() in _PRECEDENCE[level]:
            operator = self._take()
            right = self._binary(level + 1)
            left = None if left is None or right is None else _OPERATORS[operator](left, right)
        return left

    def _unary(self) -> float | None:
        if self._peek() == "-":
            self._take()
            value = self._unary()
            return None if value is None else -value
        return self._primary()

    def _primary(self) -> float | None:
        token = self._take()
        if token == "(":
            value = self._binary(0)
            self._take(")")
            return value
        if token[0].isdigit():
            return float(token)
        if self._peek() == "(":
            self._take("(")
            args = [self._binary(0)]
            while self._peek() == ",":
                self._take(",")
                args.append(self._binary(0))
            self._take(")")
            return _function(token.upper(), args, self.text)
        return self.lookup(token)


def _function(name: str, args: list[float | None], text: str) -> float | None:
    if name == "IF" and len(args) in (2, 3):
        condition, then = args[0], args[1]
        otherwise = args[2] if len(args) == 3 else None
        if condition is None:
            return None
        return then if condition != 0 else otherwise
    if name == "FILL" and len(args) == 2:
        return args[1] if args[0] is None else args[0]
    raise ValueError(f"metric math function {name} with {len(args)} arguments: {text!r}")
