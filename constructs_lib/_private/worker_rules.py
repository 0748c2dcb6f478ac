"""The rules of a :class:`~constructs_lib.QueueWorkerPool`'s options, apart from the
construct (as aws-cdk keeps ``validate-queue-props.ts`` beside ``queue.ts``)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ..consumer_queue import ConsumerQueue
from ..workers import PROGRAM_FILES, Ec2Workers, FargateWorkers, WorkerJob
from .options import check_type
from .queue_facts import QueueFacts, queue_facts
from .validation import EnvironmentRules, Problems, known_seconds, unresolved
from .worker_build import JOB_REQUIREMENTS, job_files

HANDLER_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$")


RESERVED_ENVIRONMENT = frozenset(
    {
        "QUEUE_URL",
        "QUEUE_URLS",
        "PRIORITY_STARVATION_LIMIT",
        "VISIBILITY_TIMEOUT",
        "WORKER_HANDLER",
        "WORKER_PLATFORM",
        "AUTOSCALING_GROUP_NAME",
        "LIFECYCLE_HOOK_NAME",
        "ECS_AGENT_URI",
    }
)
"""Variables the pool (or ECS) sets for the worker program; a user value would break it."""


MAX_EC2_ENVIRONMENT_BYTES = 8192
"""EC2 passes the environment in the instances' user data, which EC2 limits to 16 KB (raw);
half of it is left to the pool's own boot script."""


ENVIRONMENT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def worker_environment_rules(ec2_workers: bool) -> EnvironmentRules:
    """Names a shell and the worker accept, none the pool sets itself, values on one line
    (the EC2 environment file holds one variable a line), and room in EC2's user data."""
    return EnvironmentRules(
        reserved=RESERVED_ENVIRONMENT,
        reserved_reason="is set by the pool for the worker program (queues, their priority "
        "policy, visibility timeout, job, platform); a value of yours would break it: rename "
        "the variable (the starvation limit is the option priority_starvation_limit)",
        name=ENVIRONMENT_NAME,
        name_rule="letters, digits and underscores, not starting with a digit",
        max_bytes=MAX_EC2_ENVIRONMENT_BYTES if ec2_workers else None,
        size_reason="on EC2 they travel in the instances' user data, which EC2 limits to "
        f"16 KB, so the pool allows {MAX_EC2_ENVIRONMENT_BYTES}",
        one_line=True,
    )


FOLDER: Any = str | os.PathLike
"""A folder option: a path string (or a ``pathlib.Path``)."""


def check_worker_types(problems: Problems, workers: Ec2Workers | FargateWorkers) -> None:
    """Each field of ``workers`` (and of its job) is of its declared type."""
    fields: list[tuple[str, object, Any, str | None]] = [
        ("job", workers.job, WorkerJob | None, "WorkerJob(code_path=..., handler=...)")
    ]
    if isinstance(workers, Ec2Workers):
        fields += [
            ("code_path", workers.code_path, FOLDER | None, "a folder path (str)"),
            ("command", workers.command, str, None),
            ("instance_type", workers.instance_type, ec2.InstanceType, None),
            ("machine_image", workers.machine_image, ec2.IMachineImage | None, None),
            ("packages", workers.packages, Sequence[str], "a tuple of dnf package names"),
        ]
    else:
        fields += [
            ("image", workers.image, ecs.ContainerImage | None, None),
            ("cpu", workers.cpu, int, None),
            ("memory_limit_mib", workers.memory_limit_mib, int, None),
            ("cluster", workers.cluster, ecs.ICluster | None, None),
        ]
    if isinstance(workers.job, WorkerJob):
        fields += [
            ("job.code_path", workers.job.code_path, FOLDER, "a folder path (str)"),
            ("job.handler", workers.job.handler, str, "a str, module.function"),
        ]
    for name, value, hint, what in fields:
        check_type(problems, f"workers.{name}", value, hint, what)


def check_capacities(problems: Problems, min_capacity: int, max_capacity: int) -> None:
    """Each capacity in its range, and (both usable) the minimum not above the maximum."""
    usable = problems.check_ranges(
        {"min_capacity": min_capacity, "max_capacity": max_capacity},
        {"min_capacity": (0, 10_000), "max_capacity": (1, 10_000)},
    )
    if (
        usable == {"min_capacity", "max_capacity"}
        and not unresolved(min_capacity)
        and not unresolved(max_capacity)
        and min_capacity > max_capacity
    ):
        problems.add("min_capacity", min_capacity, f"must not exceed max_capacity ({max_capacity})")


def target_backlog(
    problems: Problems,
    acceptable_latency: Duration | None,
    processing_time: Duration | None,
    target: float | None,
) -> float:
    """The target backlog per worker: given, or ``acceptable_latency / processing_time``
    (1.0 stands in where a problem was added)."""
    if target is not None:
        return given_target(problems, target, acceptable_latency, processing_time)
    if acceptable_latency is None or processing_time is None:
        problems.add(
            "acceptable_latency" if acceptable_latency is None else "processing_time_per_message",
            None,
            "the pool needs acceptable_latency and processing_time_per_message (or "
            "target_backlog_per_worker) to compute its target backlog per worker",
        )
        return 1.0
    return computed_target(problems, acceptable_latency, processing_time)


def given_target(
    problems: Problems,
    target: float,
    acceptable_latency: Duration | None,
    processing_time: Duration | None,
) -> float:
    if not problems.check_finite("target_backlog_per_worker", target):
        return 1.0
    pair_has_token = (
        acceptable_latency is not None and known_seconds(acceptable_latency) is None
    ) or (processing_time is not None and known_seconds(processing_time) is None)
    given_pair = acceptable_latency is not None or processing_time is not None
    # With a deploy-time token in the pair the target cannot be computed: then the
    # target is what counts, and acceptable_latency still sets the latency alarm.
    if given_pair and not pair_has_token:
        problems.add(
            "target_backlog_per_worker",
            target,
            "give either target_backlog_per_worker or acceptable_latency with "
            "processing_time_per_message, not both",
        )
        return 1.0
    if not unresolved(target) and target <= 0:
        problems.add("target_backlog_per_worker", target, "must be greater than 0")
    return target


def computed_target(
    problems: Problems, acceptable_latency: Duration, processing_time: Duration
) -> float:
    latency = known_seconds(acceptable_latency)
    per_message = known_seconds(processing_time)
    if latency is None or per_message is None:
        option, value = (
            ("acceptable_latency", acceptable_latency)
            if latency is None
            else ("processing_time_per_message", processing_time)
        )
        problems.add(
            option,
            value,
            "is a deploy-time token, so the target backlog per worker (acceptable_latency "
            "/ processing_time_per_message) cannot be computed at synth: also pass "
            "target_backlog_per_worker (a number, or a token such as "
            "CfnParameter(...).value_as_number)",
        )
        return 1.0
    if per_message <= 0:
        problems.add("processing_time_per_message", processing_time, "must be greater than 0")
        return 1.0
    if latency < per_message:
        problems.add(
            "acceptable_latency",
            acceptable_latency,
            f"is shorter than processing_time_per_message "
            f"({processing_time.to_human_string()}): no number of workers can meet it",
        )
        return 1.0
    return latency / per_message


ZONE_NAME = re.compile(r"^(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)[a-z]$")


def check_zones(
    problems: Problems, zones: Sequence[str] | None, vpc: ec2.IVpc | None, region: str
) -> list[str] | None:
    """``availability_zones`` as a list, checked (tokens skipped); None when not given."""
    if zones is None:
        return None
    listed = list(zones)
    if vpc is not None:
        problems.add(
            "availability_zones",
            listed,
            "sets the zones of the default VPC only; with vpc, the workers use that VPC's "
            "private subnets: give one of the two",
        )
        return None
    if not listed:
        problems.add("availability_zones", listed, "must name at least one zone")
        return None
    known = [zone for zone in listed if not unresolved(zone)]
    if any(not zone for zone in known):
        problems.add("availability_zones", listed, "must hold zone names (strings)")
        return None
    for zone in known:
        match = ZONE_NAME.match(zone)
        if match is None:
            problems.add(
                "availability_zones",
                zone,
                "is not a zone name such as 'eu-west-1a' (zone ids such as 'euw1-az1' are not "
                "accepted where a subnet names its zone)",
            )
        elif (
            not unresolved(region)
            and match.group("region") != region
            and not match.group("region").startswith(f"{region}-")  # a Local Zone
        ):
            problems.add(
                "availability_zones",
                zone,
                f"is a zone of {match.group('region')}, but the stack is in {region}",
            )
    duplicates = sorted({zone for zone in known if known.count(zone) > 1})
    if duplicates:
        problems.add(
            "availability_zones",
            listed,
            f"names {', '.join(duplicates)} more than once; each zone gets one subnet of each kind",
        )
    return listed


FARGATE_MEMORY = {
    256: range(512, 2049, 512),
    512: range(1024, 4097, 1024),
    1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024),
    4096: range(8192, 30721, 1024),
    8192: range(16384, 61441, 4096),
    16384: range(32768, 122881, 8192),
}
"""The CPU units Fargate offers (Linux) and the memory (MiB) it allows with each."""


def check_fargate_size(problems: Problems, workers: FargateWorkers) -> None:
    cpu, memory = workers.cpu, workers.memory_limit_mib
    finite = [
        problems.check_finite(f"workers.{n}", v)
        for n, v in (("cpu", cpu), ("memory_limit_mib", memory))
    ]
    if not all(finite) or unresolved(cpu) or unresolved(memory):
        return
    if cpu not in FARGATE_MEMORY:
        problems.add(
            "workers.cpu",
            cpu,
            f"Fargate offers {', '.join(map(str, FARGATE_MEMORY))} CPU units",
        )
        return
    allowed = FARGATE_MEMORY[cpu]
    if memory not in allowed:
        problems.add(
            "workers.memory_limit_mib",
            memory,
            f"with cpu={cpu} Fargate allows {allowed.start} to {allowed.stop - 1} MiB in steps "
            f"of {allowed.step}",
        )


def check_workers(problems: Problems, workers: Ec2Workers | FargateWorkers) -> None:
    """Exactly one of job and the own program (``code_path``, ``image``); a usable job."""
    if isinstance(workers, FargateWorkers):
        check_fargate_size(problems, workers)
    own_name = "code_path" if isinstance(workers, Ec2Workers) else "image"
    own = workers.code_path if isinstance(workers, Ec2Workers) else workers.image
    kind = type(workers).__name__
    if (workers.job is None) == (own is None):
        problems.add(
            f"workers.{own_name}" if workers.job is not None else "workers.job",
            own if workers.job is not None else None,
            f"{kind} takes exactly one of job=WorkerJob(code_path=..., handler=...) (your "
            f"job, run by the library's worker program) and {own_name}= (your own "
            f"{'program' if own_name == 'code_path' else 'image'}); "
            f"{'both were' if workers.job is not None else 'neither was'} given",
        )
        return
    if workers.job is not None:
        check_job(problems, workers.job)
    elif isinstance(workers, Ec2Workers) and not Path(str(workers.code_path)).is_dir():
        problems.add("workers.code_path", workers.code_path, "must be a folder")


def check_job(problems: Problems, job: WorkerJob) -> None:
    folder = Path(job.code_path)
    if not folder.is_dir():
        problems.add("workers.job.code_path", job.code_path, "must be a folder holding the job")
        return
    if not HANDLER_PATTERN.match(job.handler):
        problems.add(
            "workers.job.handler",
            job.handler,
            "must be module.function, like 'jobs.handler' (a module of code_path)",
        )
        return
    module = job.handler.rpartition(".")[0].replace(".", "/")
    if not (folder / f"{module}.py").is_file() and not (folder / module / "__init__.py").is_file():
        problems.add(
            "workers.job.handler",
            job.handler,
            f"names module {job.handler.rpartition('.')[0]!r}, but code_path {job.code_path} "
            f"has no {module}.py",
        )
    clashes = sorted(
        name
        for name in job_files(folder)
        if name in PROGRAM_FILES[:2] + PROGRAM_FILES[3:] + (JOB_REQUIREMENTS,)
    )
    if clashes:
        problems.add(
            "workers.job.code_path",
            job.code_path,
            f"holds {', '.join(clashes)}, which the worker program's build folder already "
            "has: rename them",
        )


MAX_PRIORITY_QUEUES = 4
"""The most queues one pool works. Target tracking reads two metrics of each queue (messages
waiting and being worked) and the worker count, in the metric math of the alarms it creates,
and CloudWatch allows 10 metrics in an alarm's metric math."""
DEFAULT_PRIORITY_STARVATION_LIMIT = 20
"""The worker program's default (``PRIORITY_STARVATION_LIMIT``)."""
MAX_PRIORITY_STARVATION_LIMIT = 10000
"""The largest limit the worker program accepts."""


def worked_queues(
    problems: Problems,
    pool: Construct,
    queue: ConsumerQueue | sqs.IQueue | None,
    queues: Sequence[ConsumerQueue | sqs.IQueue] | None,
) -> list[QueueFacts]:
    """The queues the pool works, highest priority first, with every problem of ``queue``
    and ``queues`` added: exactly one of them given; not an empty list, no queue twice, at
    most :data:`MAX_PRIORITY_QUEUES`; all FIFO or all standard; one visibility timeout; each
    in the pool's region (values known only at deploy time are skipped)."""
    if queue is None and queues is None:
        problems.add(
            "queue",
            None,
            "give the work queue (queue=a ConsumerQueue or an sqs.IQueue), or several in "
            "priority order (queues=[highest, ..., lowest])",
        )
        return []
    if queue is not None and queues is not None:
        problems.add(
            "queues",
            _paths(queues),
            f"give queue={_path(queue)} or queues=[...], not both (queues=[...] is several "
            "queues in priority order, highest first)",
        )
        return []
    given = [queue] if queue is not None else list(queues or [])
    option = "queue" if queue is not None else "queues"
    if not given:
        problems.add(
            "queues",
            [],
            "is empty; give at least one queue, highest priority first (or queue= for one)",
        )
        return []
    if len(given) > MAX_PRIORITY_QUEUES:
        problems.add(
            "queues",
            _paths(given),
            f"lists {len(given)} queues; a pool works at most {MAX_PRIORITY_QUEUES}: target "
            "tracking reads two metrics of each queue (messages waiting and in flight) and the "
            "worker count in one metric math expression, and CloudWatch allows 10 metrics in "
            "an alarm",
        )
    facts = [queue_facts(q) for q in given]
    _check_repeats(problems, facts)
    _check_types(problems, facts)
    _check_visibility(problems, facts)
    _check_regions(problems, option, facts, Stack.of(pool).region)
    return facts


def check_starvation_limit(
    problems: Problems, given: bool, limit: int, queues: Sequence[QueueFacts]
) -> None:
    """``priority_starvation_limit`` is a whole number the worker accepts, and only set for
    a pool of several queues (one queue has nobody to starve)."""
    if not given:
        return
    if len(queues) == 1:
        problems.add(
            "priority_starvation_limit",
            limit,
            "applies only to a pool of several queues (queues=[...]); drop it, or give the "
            "queues in priority order",
        )
        return
    problems.check_int("priority_starvation_limit", limit, 0, MAX_PRIORITY_STARVATION_LIMIT)


def _path(queue: ConsumerQueue | sqs.IQueue) -> str:
    return str(queue.node.path)


def _paths(queues: Sequence[ConsumerQueue | sqs.IQueue]) -> list[str]:
    return [_path(q) if isinstance(q, Construct) else repr(q) for q in queues]


def _check_repeats(problems: Problems, facts: Sequence[QueueFacts]) -> None:
    """The same SQS queue twice (also as a ConsumerQueue and its ``queue``)."""
    seen: dict[str, int] = {}
    for position, fact in enumerate(facts, start=1):
        path = fact.queue.node.path
        arn = fact.queue.queue_arn
        # An imported queue is known by its ARN: the same one imported twice is one queue.
        keys = [path] if unresolved(arn) else [path, arn]
        first = next((seen[k] for k in keys if k in seen), None)
        if first is not None:
            problems.add(
                "queues",
                path,
                f"is listed twice (positions {first} and {position}); list each queue "
                "once, highest priority first",
            )
        for key in keys:
            seen.setdefault(key, position)


def _check_types(problems: Problems, facts: Sequence[QueueFacts]) -> None:
    """All FIFO or all standard."""
    fifo = [f.queue.node.path for f in facts if f.fifo]
    standard = [f.queue.node.path for f in facts if not f.fifo]
    if fifo and standard:
        problems.add(
            "queues",
            {"FIFO": fifo, "standard": standard},
            "mixes FIFO and standard queues; give queues of one type. A FIFO queue promises "
            "that each message group is worked in order and exactly once, a standard queue "
            "neither, and which queue a job goes to is meant to say only how urgent it is, "
            "not which guarantees it gets (run two pools for two kinds of queue)",
        )


def _check_visibility(problems: Problems, facts: Sequence[QueueFacts]) -> None:
    """One visibility timeout (the workers' heartbeat) for every queue whose timeout is known."""
    known: dict[str, float] = {}
    for fact in facts:
        if fact.visibility_timeout is None:
            continue
        seconds = known_seconds(fact.visibility_timeout)
        if seconds is not None:
            known[fact.queue.node.path] = seconds
    if len(set(known.values())) > 1:
        problems.add(
            "queues",
            {path: f"{seconds:g} s" for path, seconds in known.items()},
            "have different visibility timeouts; give every queue the same one. The workers "
            "keep the message they hold invisible with one heartbeat (VISIBILITY_TIMEOUT): a "
            "queue with a shorter timeout would show its message to a second worker before "
            "the first heartbeat",
        )


def _check_regions(
    problems: Problems, option: str, facts: Sequence[QueueFacts], region: str
) -> None:
    """Every queue in the pool's region (the workers' SQS client is of that region)."""
    if unresolved(region):
        return
    for fact in facts:
        queue_region = fact.queue.env.region
        if not unresolved(queue_region) and queue_region != region:
            problems.add(
                option,
                fact.queue.node.path,
                f"is in region {queue_region}, the pool in {region}; the workers poll queues "
                "of their own region: put the pool in the queue's region (a stack there), or "
                "the queue in the pool's",
            )
