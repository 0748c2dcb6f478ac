"""The ImageProcessing stack deployed to the local emulator: its worker fleet at work.

The stack is deployed as ``cdk deploy`` would (the worker image is not built). moto runs no
ECS task, so the pool's worker program runs as local processes with the environment of the
deployed task definition (``DeployedWorkerPool.run_workers``); jobs are published to the
``ImageJobs`` topic (thumbnails, high priority) and the ``ReencodeJobs`` topic (bulk, low
priority) and reach the workers through the deployed subscriptions and queues. The scaling
policies are read back from the emulator and their decisions computed from the queues' and
the service's figures (moto evaluates no alarm and runs no policy).
"""

from __future__ import annotations

import datetime
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from helpers import deployed_on_emulator
from image_jobs import image_job

from constructs_lib.testing import DeployedStack, DeployedWorkerPool, WorkerProcess
from constructs_lib.testing.fanout import DeployedFanout, published_body
from stacks import ImageProcessingStack

SLOW_JOB = Path(__file__).resolve().parent / "slow_image_job"
FAST = {"WAIT_TIME_SECONDS": "1", "RETRY_DELAY_SECONDS": "0"}
"""Worker settings that keep a scenario short: 1 s long polls, a failed job retried at once."""
GIVEN_BACK = "message given back to the queue unprocessed"
INVALID_JOB = "invalid job: it is retried like any failure, then dead-lettered"


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedStack]:
    out = tmp_path_factory.mktemp("cdk.out")
    with deployed_on_emulator(out, ImageProcessingStack, "ImageProcessing") as deployed:
        yield deployed


@pytest.fixture(scope="module")
def pool(deployed: DeployedStack) -> DeployedWorkerPool:
    return DeployedWorkerPool(deployed, "ImageProcessing/Workers")


@pytest.fixture
def jobs(deployed: DeployedStack) -> DeployedFanout:
    fanout = DeployedFanout(deployed, "ImageProcessing/ImageJobs")
    fanout.empty()
    return fanout


@pytest.fixture
def reencodes(deployed: DeployedStack) -> DeployedFanout:
    fanout = DeployedFanout(deployed, "ImageProcessing/ReencodeJobs")
    fanout.empty()
    return fanout


def publish_jobs(jobs: DeployedFanout, bodies: Sequence[dict[str, Any]]) -> None:
    """Publish job bodies to the topic (ImageJobs or ReencodeJobs), ten per ``PublishBatch``."""
    for start in range(0, len(bodies), 10):
        jobs.sns.publish_batch(
            TopicArn=jobs.topic_arn,
            PublishBatchRequestEntries=[
                {"Id": str(n), "Message": json.dumps(body)}
                for n, body in enumerate(bodies[start : start + 10])
            ],
        )


def result_ids(pool: DeployedWorkerPool, prefix: str) -> list[str]:
    """Job ids in the results table (the table the deployed task definition names)."""
    items = pool.deployed.client("dynamodb").scan(TableName=pool.environment["RESULTS_TABLE_NAME"])[
        "Items"
    ]
    return sorted(i["job_id"]["S"] for i in items if i["job_id"]["S"].startswith(prefix))


def test_a_burst_of_jobs_is_drained_with_none_lost_and_none_done_twice(
    pool: DeployedWorkerPool, jobs: DeployedFanout
) -> None:
    # GIVEN a burst of 30 jobs published to the topic
    job_ids = [f"burst-{n:02d}" for n in range(30)]
    publish_jobs(jobs, [image_job(job_id) for job_id in job_ids])

    # WHEN three workers drain the queue, then are stopped as ECS stops tasks
    with pool.run_workers(3, environment=FAST) as fleet:
        fleet.wait_until(
            lambda: len(fleet.logged("job done")) >= len(job_ids) and pool.queue_depth() == (0, 0),
            timeout=30,
            what="the burst drained",
        )
        statuses = fleet.stop_all()

    # THEN every job was done once, by workers reading the deployed queue and table
    done = fleet.logged("job done")
    assert sorted(line["job_id"] for line in done) == job_ids
    assert max(Counter(line["message_id"] for line in done).values()) == 1
    assert not any(line["already_done"] for line in done)
    assert result_ids(pool, "burst-") == job_ids
    for started in fleet.logged("worker started"):
        assert (started["queue_url"], started["platform"]) == (pool.queue_url, "ecs")
    assert statuses == {"worker-1": 0, "worker-2": 0, "worker-3": 0}


def stopped_mid_job(
    pool: DeployedWorkerPool,
    jobs: DeployedFanout,
    job_id: str,
    *,
    job_seconds: int,
    grace_seconds: int,
    timeout: float,
) -> WorkerProcess:
    """One worker on a slow job (``job_seconds`` long) that ECS stops (SIGTERM) once the job
    has started, with a stop grace of ``grace_seconds``: the worker, exited with 0."""
    slow = {
        "WORKER_HANDLER": "slow_jobs.handler",
        "SLOW_JOB_SECONDS": str(job_seconds),
        "LOG_LEVEL": "DEBUG",
        "STOP_GRACE_SECONDS": str(grace_seconds),
    }
    with pool.run_workers(
        1, job_path=[SLOW_JOB, pool.image_folder()], environment={**FAST, **slow}
    ) as fleet:
        (worker,) = fleet.workers
        publish_jobs(jobs, [image_job(job_id)])
        worker.wait_for("job started")
        worker.stop()
        assert worker.wait(timeout=timeout) == 0
    return worker


def test_sigterm_during_a_job_lets_it_finish_within_the_stop_grace(
    pool: DeployedWorkerPool, jobs: DeployedFanout
) -> None:
    # WHEN ECS stops the task in the middle of a 1 s job, with a 20 s stop grace
    worker = stopped_mid_job(pool, jobs, "stop-finish", job_seconds=1, grace_seconds=20, timeout=15)

    # THEN the job finished, its message was deleted, and only then the worker stopped
    messages = [line["message"] for line in worker.lines]
    assert messages.index("job started") < messages.index("job done")
    assert messages.index("job done") < messages.index("worker stopped")
    (stopping,) = worker.logged("worker stopping")
    assert stopping["reason"] == "SIGTERM"
    (done,) = worker.logged("job done")
    assert done["job_id"] == "stop-finish"
    assert pool.queue_depth() == (0, 0)
    assert result_ids(pool, "stop-finish") == ["stop-finish"]
    # protected from scale-in while it held the message, unprotected once it stopped
    assert worker.protection[-2:] == [True, False]


def test_sigterm_during_a_job_longer_than_the_grace_gives_the_message_back(
    pool: DeployedWorkerPool, jobs: DeployedFanout
) -> None:
    # WHEN ECS stops the task and the job (60 s) outlasts the stop grace (1 s)
    worker = stopped_mid_job(
        pool, jobs, "stop-give-back", job_seconds=60, grace_seconds=1, timeout=10
    )

    # THEN the message is visible again at once, and nothing was written
    (given_back,) = worker.logged(GIVEN_BACK)
    assert given_back["reason"] == "the job did not finish within the stop grace"
    assert worker.logged("job done") == []
    assert pool.queue_depth() == (1, 0)
    assert result_ids(pool, "stop-give-back") == []

    # AND the next worker does the job: nothing lost
    with pool.run_workers(1, environment=FAST) as fleet:
        (done,) = fleet.workers[0].wait_for("job done")
    assert (done["job_id"], done["receive_count"]) == ("stop-give-back", 2)
    assert result_ids(pool, "stop-give-back") == ["stop-give-back"]


def test_a_poison_job_reaches_the_dlq_after_max_receive_count(
    pool: DeployedWorkerPool, jobs: DeployedFanout
) -> None:
    thumbnails = jobs.consumers["Thumbnails"]
    publish_jobs(jobs, [image_job("poison-1", width=0)])

    with pool.run_workers(1, environment=FAST) as fleet:
        fleet.wait_until(
            lambda: jobs.depth(thumbnails.dead_letter_queue_url) == 1,
            timeout=20,
            what="the poison job dead-lettered",
        )

    # THEN it was tried max_receive_count times, then SQS moved it to the DLQ, body intact
    invalid = fleet.logged(INVALID_JOB)
    counts = [line["receive_count"] for line in invalid]
    assert counts == list(range(1, thumbnails.max_receive_count + 1)) == [1, 2, 3, 4, 5]
    assert invalid[0]["problems"][0].startswith("width is 0")
    (dead,) = jobs.receive_all(thumbnails.dead_letter_queue_url)
    assert published_body(dead, raw=thumbnails.raw)["job_id"] == "poison-1"
    assert pool.queue_depth() == (0, 0)
    assert result_ids(pool, "poison-") == []


def test_the_deployed_policies_scale_on_backlog_per_worker(
    pool: DeployedWorkerPool, jobs: DeployedFanout
) -> None:
    """Target 150 jobs per worker (5 minutes at 2 s a job), bounds 0 to 20, every figure read
    from the emulator: the queue's visible messages, the service's running and desired tasks."""
    scaling = pool.scaling()
    assert (scaling.target, scaling.min_capacity, scaling.max_capacity) == (150, 0, 20)
    ecs = pool.deployed.client("ecs")
    steps = []

    def step() -> None:
        # WHEN the policies see the queue and the service as the emulator reports them
        decision = scaling.decide()
        steps.append(
            (
                decision.visible,
                decision.running,
                decision.backlog_per_worker,
                decision.capacity,
                decision.policy,
            )
        )
        # AND Application Auto Scaling sets the service's desired count
        scaling.apply(decision)

    step()  # an idle pool stays at zero
    publish_jobs(jobs, [image_job("scale-0")])
    step()  # work arrives at zero: the from-zero step policy starts one worker
    publish_jobs(jobs, [image_job(f"scale-{n}") for n in range(1, 300)])
    step()  # 300 per worker, twice the target: two workers
    step()  # 150 per worker, on target: nothing moves
    ecs.update_service(cluster=pool.cluster, service=pool.service_name, desiredCount=6)
    step()  # six workers left from an earlier burst: 50 per worker, below 90 %: two
    jobs.sqs.purge_queue(QueueUrl=pool.queue_url)
    step()  # the queue drained: the surplus policy (3 minutes) leaves one worker of two
    step()  # and target tracking (15 minutes) takes the last one: back to zero

    # THEN each step is what the policies' target expects
    assert steps == [
        # queued, running, backlog per worker, capacity decided, by policy
        (0, 0, 0.0, 0, None),
        (1, 0, 1.0, 1, "from-zero"),
        (300, 1, 300.0, 2, "backlog-per-worker"),
        (300, 2, 150.0, 2, None),
        (300, 6, 50.0, 2, "backlog-per-worker"),
        (0, 2, 0.0, 1, "surplus"),
        (0, 1, 0.0, 0, "backlog-per-worker"),
    ]
    assert pool.service()["desiredCount"] == 0


def test_from_zero_the_step_policy_sizes_the_pool_by_its_bands(pool: DeployedWorkerPool) -> None:
    """The deployed from-zero bands (1, 2, 4, ... 20 workers by backlog) and the max capacity,
    on given figures: no queue that large is needed to compute them."""
    scaling = pool.scaling()

    def capacity(visible: int, running: int) -> tuple[int, str | None]:
        decision = scaling.decide(visible=visible, running=running, desired=running)
        return decision.capacity, decision.policy

    assert capacity(150, 0) == (1, "from-zero")
    assert capacity(300, 0) == (2, "from-zero")
    assert capacity(1000, 0) == (8, "from-zero")
    assert capacity(2400, 0) == (16, "from-zero")
    assert capacity(2401, 0) == (20, "from-zero")
    assert capacity(6000, 1) == (20, "backlog-per-worker")  # 40 wanted, max_capacity 20


def _logged_at(line: dict[str, Any]) -> datetime.datetime:
    return datetime.datetime.strptime(line["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.UTC
    )


def test_paid_thumbnails_are_taken_before_the_bulk_reencodes_waiting_ahead_of_them(
    pool: DeployedWorkerPool, jobs: DeployedFanout, reencodes: DeployedFanout
) -> None:
    # GIVEN a burst of 30 bulk re-encodes being drained by two workers (0.1 s a job)
    publish_jobs(reencodes, [image_job(f"bulk-{n:02d}") for n in range(30)])
    slow = {"WORKER_HANDLER": "slow_jobs.handler", "SLOW_JOB_SECONDS": "0.1", "LOG_LEVEL": "DEBUG"}
    with pool.run_workers(
        2, job_path=[SLOW_JOB, pool.image_folder()], environment={**FAST, **slow}
    ) as fleet:
        fleet.wait_until(lambda: len(fleet.logged("job done")) >= 4, what="the burst under way")
        # WHEN paying customers' thumbnails arrive, then more re-encodes after them
        published = datetime.datetime.now(datetime.UTC)
        publish_jobs(jobs, [image_job(f"paid-{n}") for n in range(5)])
        publish_jobs(reencodes, [image_job(f"late-{n}") for n in range(5)])
        fleet.wait_until(
            lambda: len(fleet.logged("job done")) >= 40 and pool.queue_depth() == (0, 0),
            timeout=40,
            what="both queues drained",
        )
        statuses = fleet.stop_all()

    # THEN every job was done once, none lost, each from its own queue
    done = fleet.logged("job done")
    job_of = {line["message_id"]: line["job_id"] for line in done}
    assert sorted(job_of.values()) == sorted(
        [f"bulk-{n:02d}" for n in range(30)]
        + [f"paid-{n}" for n in range(5)]
        + [f"late-{n}" for n in range(5)]
    )
    assert max(Counter(line["message_id"] for line in done).values()) == 1
    queues = {line["job_id"]: line["queue"] for line in done}
    thumbnails_queue = pool.queue_urls[0].rsplit("/", 1)[-1]
    assert {queues[f"paid-{n}"] for n in range(5)} == {thumbnails_queue}
    assert thumbnails_queue not in {queues[f"bulk-{n:02d}"] for n in range(30)}
    # AND every thumbnail started before any re-encode that arrived after it, and once the
    # thumbnails were queued a worker took at most the one re-encode it was already receiving
    started = {job_of[line["message_id"]]: _logged_at(line) for line in fleet.logged("job started")}
    last_paid = max(started[f"paid-{n}"] for n in range(5))
    assert last_paid < min(started[f"late-{n}"] for n in range(5))
    overtaking = [
        job for job, at in started.items() if job.startswith("bulk-") and published < at < last_paid
    ]
    assert len(overtaking) <= 2, overtaking
    # AND every bulk job still got done: the low queue is not starved once the high one is empty
    assert result_ids(pool, "bulk-") == [f"bulk-{n:02d}" for n in range(30)]
    assert statuses == {"worker-1": 0, "worker-2": 0}


def test_a_poison_reencode_reaches_the_reencodes_dlq_not_the_thumbnails_one(
    pool: DeployedWorkerPool, jobs: DeployedFanout, reencodes: DeployedFanout
) -> None:
    queue = reencodes.consumers["Reencodes"]
    publish_jobs(reencodes, [image_job("poison-bulk", width=0)])

    with pool.run_workers(1, environment=FAST) as fleet:
        fleet.wait_until(
            lambda: reencodes.depth(queue.dead_letter_queue_url) == 1,
            timeout=20,
            what="the poison re-encode dead-lettered",
        )

    counts = [line["receive_count"] for line in fleet.logged(INVALID_JOB)]
    assert counts == list(range(1, queue.max_receive_count + 1))
    (dead,) = reencodes.receive_all(queue.dead_letter_queue_url)
    assert published_body(dead, raw=queue.raw)["job_id"] == "poison-bulk"
    assert jobs.depth(jobs.consumers["Thumbnails"].dead_letter_queue_url) == 0
    assert pool.queue_depth() == (0, 0)


def test_the_deployed_policies_scale_on_both_queues_together(
    pool: DeployedWorkerPool, jobs: DeployedFanout, reencodes: DeployedFanout
) -> None:
    scaling = pool.scaling()
    # GIVEN work only in the low queue, at zero workers: the from-zero alarm sees it
    publish_jobs(reencodes, [image_job("zero-bulk")])
    started = scaling.decide(running=0, desired=0)
    assert (started.capacity, started.policy) == (1, "from-zero")
    # WHEN 20 re-encodes and 10 thumbnails wait for one worker
    publish_jobs(reencodes, [image_job(f"sum-bulk-{n}") for n in range(19)])
    publish_jobs(jobs, [image_job(f"sum-paid-{n}") for n in range(10)])
    by_queue = scaling.visible_by_queue()
    decision = scaling.decide(running=1, desired=1)

    # THEN the target tracking metric is their sum per worker, read queue by queue
    thumbnails, bulk = (url.rsplit("/", 1)[-1] for url in pool.queue_urls)
    assert by_queue == {thumbnails: 10, bulk: 20}
    assert (decision.visible, decision.backlog_per_worker, decision.capacity) == (30, 30.0, 1)
    # AND 100 thumbnails and 200 re-encodes (given as figures: moto slows down with depth) are
    # 300 per worker, twice the target, wherever they wait: two workers
    for figures in ({thumbnails: 100, bulk: 200}, {thumbnails: 300, bulk: 0}, {bulk: 300}):
        decided = scaling.decide(visible=figures, running=1, desired=1)
        assert (decided.backlog_per_worker, decided.capacity) == (300.0, 2), figures
    jobs.empty()
    reencodes.empty()


def test_a_worker_busy_with_the_only_job_is_not_scaled_away(
    pool: DeployedWorkerPool, jobs: DeployedFanout
) -> None:
    """A pool that keeps up with its work reads no messages waiting; the message it holds
    (in flight) is what keeps target tracking from scaling it to zero under the job."""
    scaling = pool.scaling()
    slow = {"WORKER_HANDLER": "slow_jobs.handler", "SLOW_JOB_SECONDS": "3", "LOG_LEVEL": "DEBUG"}
    with pool.run_workers(
        1, job_path=[SLOW_JOB, pool.image_folder()], environment={**FAST, **slow}
    ) as fleet:
        publish_jobs(jobs, [image_job("held-1")])
        fleet.workers[0].wait_for("job started")
        # WHEN the policies look while the job runs (nothing waiting, one message in flight)
        busy = scaling.decide(running=1, desired=1)
        fleet.workers[0].wait_for("job done")
        fleet.wait_until(lambda: pool.queue_depth() == (0, 0), what="the job deleted")
        idle = scaling.decide(running=1, desired=1)

    # THEN the busy worker stays; once the job is done and deleted, the pool may go to zero
    assert (busy.visible, busy.in_flight, busy.backlog_per_worker) == (0, 1, 1.0)
    assert (busy.capacity, busy.policy) == (1, None)
    assert (idle.in_flight, idle.capacity, idle.policy) == (0, 0, "backlog-per-worker")


def test_a_drained_pool_shrinks_to_cover_what_is_left(pool: DeployedWorkerPool) -> None:
    """The deployed surplus policy (bands 1, 2, 4, 8, 16 below max 20), on given figures: 20
    workers left with a few messages are cut to a worker per message, rounded up to a power
    of two, without target tracking's 15 minutes; it never acts while the work needs them."""
    scaling = pool.scaling()
    policies = {policy["PolicyName"] for policy, _alarms in scaling.step_policies}
    assert policies == {"from-zero", "surplus"}

    def after_burst(visible: int, in_flight: int) -> tuple[int, str | None]:
        decision = scaling.decide(visible=visible, in_flight=in_flight, running=20, desired=20)
        return decision.capacity, decision.policy

    assert after_burst(0, 1) == (1, "surplus")
    assert after_burst(2, 1) == (4, "surplus")
    assert after_burst(5, 4) == (16, "surplus")
    # 10 messages would keep more than half of 20 workers busy: the surplus policy leaves
    # them; target tracking shrinks the pool only after its 15 minutes below the target.
    assert after_burst(6, 4) == (1, "backlog-per-worker")
    thumbnails, bulk = (url.rsplit("/", 1)[-1] for url in pool.queue_urls)
    # Both queues count: 2 + 1 waiting, 1 in flight is 4 messages, 4 workers.
    decision = scaling.decide(
        visible={thumbnails: 2, bulk: 1}, in_flight={bulk: 1}, running=20, desired=20
    )
    assert (decision.capacity, decision.policy) == (4, "surplus")
