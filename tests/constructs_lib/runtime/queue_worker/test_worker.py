"""worker: settings, the job named by WORKER_HANDLER, the receive/work/delete loop against SQS
and DynamoDB on moto, retries and the dead-letter queue, heartbeats, graceful shutdown and the
JSON log lines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[4] / "constructs_lib" / "runtime" / "queue_worker"
REGION = "eu-west-1"
REQUIRED = {
    "QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs",
    "VISIBILITY_TIMEOUT": "300",
    "WORKER_HANDLER": "jobs.handler",
}


@pytest.fixture(scope="module")
def worker_module(source):
    return source.worker


def failing(error: Exception):
    def work(body: str):
        raise error

    return work


# --- settings -------------------------------------------------------------------------------


def test_reads_the_settings_with_their_defaults(worker_module):
    settings = worker_module.Settings.from_environ({**REQUIRED, "AWS_REGION": "eu-west-1"})

    assert settings == worker_module.Settings(
        queue_url=REQUIRED["QUEUE_URL"],
        visibility_timeout=300,
        handler="jobs.handler",
        region="eu-west-1",
        wait_time_seconds=20,
        stop_grace_seconds=100,
        retry_delay_seconds=30,
        platform="none",
        log_level="INFO",
    )


def test_names_every_missing_required_setting_at_once(worker_module):
    with pytest.raises(
        worker_module.ConfigurationError,
        match=r"^the queue worker cannot start: QUEUE_URL is not set \(nor QUEUE_URLS, for several "
        r"queues in priority order\); "
        r"VISIBILITY_TIMEOUT is not set; WORKER_HANDLER is not set$",
    ):
        worker_module.Settings.from_environ({"AWS_REGION": "eu-west-1"})


def test_names_every_invalid_number_with_its_range(worker_module):
    environ = {
        **REQUIRED,
        "VISIBILITY_TIMEOUT": "five minutes",
        "WAIT_TIME_SECONDS": "21",
        "STOP_GRACE_SECONDS": "-1",
    }

    with pytest.raises(worker_module.ConfigurationError) as raised:
        worker_module.Settings.from_environ(environ)

    assert raised.value.problems == (
        "VISIBILITY_TIMEOUT is 'five minutes'; expected a whole number of seconds from 1 to 43200",
        "WAIT_TIME_SECONDS is '21'; expected a whole number of seconds from 0 to 20",
        "STOP_GRACE_SECONDS is '-1'; expected a whole number of seconds from 0 to 43200",
    )


def test_retry_delay_is_at_most_the_visibility_timeout(worker_module):
    settings = worker_module.Settings.from_environ({**REQUIRED, "VISIBILITY_TIMEOUT": "12"})

    assert settings.retry_delay_seconds == 12


REFUSED = {
    "WORKER_PLATFORM=k8s": r"WORKER_PLATFORM is 'k8s'; expected one of ecs, ec2, none",
    # ec2 needs the group and its lifecycle hook, ecs the agent URI ECS sets
    "WORKER_PLATFORM=ec2": r"AUTOSCALING_GROUP_NAME is not set; LIFECYCLE_HOOK_NAME is not set$",
    "WORKER_PLATFORM=ecs": r"ECS_AGENT_URI is not set",
    "LOG_LEVEL=verbose": (
        r"LOG_LEVEL is 'verbose'; expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
    ),
    "WORKER_HANDLER=handler": (
        r"WORKER_HANDLER is 'handler'; expected module.function, like jobs.handler"
    ),
}
"""Settings the worker refuses (``NAME=value``), and the problem it names."""


@pytest.mark.parametrize(("setting", "problem"), REFUSED.items(), ids=list(REFUSED))
def test_rejects_a_setting_naming_the_problem(worker_module, setting, problem):
    name, value = setting.split("=")
    with pytest.raises(worker_module.ConfigurationError, match=problem):
        worker_module.Settings.from_environ({**REQUIRED, name: value})


def test_region_comes_from_the_queue_url_when_the_environment_has_none(worker_module):
    settings = worker_module.Settings.from_environ(
        {**REQUIRED, "QUEUE_URL": "https://sqs.ap-southeast-2.amazonaws.com/123456789012/jobs"}
    )

    assert settings.region == "ap-southeast-2"


def test_main_logs_every_missing_setting_and_exits_with_2(worker_module, logs):
    status = worker_module.main({"QUEUE_URL": REQUIRED["QUEUE_URL"]})

    assert status == 2
    (line,) = logs()
    assert line["level"] == "CRITICAL"
    assert line["problems"] == ["VISIBILITY_TIMEOUT is not set", "WORKER_HANDLER is not set"]
    worker_module.configure_logging("DEBUG")


def test_main_exits_with_2_naming_a_handler_module_that_cannot_be_imported(worker_module, logs):
    status = worker_module.main({**REQUIRED, "WORKER_HANDLER": "no_such_jobs_module.handler"})

    assert status == 2
    (line,) = logs()
    assert line["level"] == "CRITICAL"
    assert line["problems"] == [
        "WORKER_HANDLER is 'no_such_jobs_module.handler'; its module 'no_such_jobs_module' "
        "cannot be imported (ModuleNotFoundError: No module named 'no_such_jobs_module')"
    ]
    worker_module.configure_logging("DEBUG")


def test_main_exits_with_2_naming_a_handler_function_the_module_lacks(
    worker_module, logs, tmp_path, monkeypatch
):
    # GIVEN a job module in the working directory without the function named
    (tmp_path / "thumbs_no_handler.py").write_text("def handle(body):\n    return None\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "thumbs_no_handler", raising=False)

    status = worker_module.main({**REQUIRED, "WORKER_HANDLER": "thumbs_no_handler.handler"})

    assert status == 2
    (line,) = logs()
    (problem,) = line["problems"]
    assert problem.startswith("WORKER_HANDLER is 'thumbs_no_handler.handler'; module ")
    assert problem.endswith("has no function 'handler'")
    sys.modules.pop("thumbs_no_handler", None)
    worker_module.configure_logging("DEBUG")


def test_runs_as_a_script_and_names_missing_settings():
    # GIVEN an empty environment (no settings) and the worker folder as it is deployed
    environment = {
        "PATH": os.environ["PATH"],
        "AWS_EC2_METADATA_DISABLED": "true",
        "PYTHONDONTWRITEBYTECODE": "1",
    }

    # WHEN it is started as the container and the systemd unit start it
    result = subprocess.run(
        [sys.executable, "worker.py"], cwd=SOURCE, env=environment, capture_output=True, text=True
    )

    # THEN it exits at once with 2 and a JSON line naming each missing setting
    assert result.returncode == 2, result.stderr
    line = json.loads(result.stdout)
    assert "QUEUE_URL is not set" in line["message"]
    assert "VISIBILITY_TIMEOUT is not set" in line["message"]
    assert "WORKER_HANDLER is not set" in line["message"]


# --- processing -----------------------------------------------------------------------------


def test_job_is_done_its_result_stored_and_its_message_deleted(
    make_worker, queue, results, a_job, worker_module
):
    # GIVEN a queue holding one job: a 4x2 image to shrink to at most 2 pixels wide
    queue.send(json.dumps(a_job("scan-1", pixels=bytes([0, 10, 20, 30, 40, 50, 60, 70]))))

    # WHEN the worker takes a turn
    outcome = make_worker().step()

    # THEN the thumbnail is stored and the message is gone
    assert outcome is worker_module.Outcome.DONE
    assert results.items() == [
        {"job_id": "scan-1", "width": "2", "height": "1", "thumbnail": "GS0=", "mean": "35.000"}
    ]
    assert queue.counts() == (0, 0)


def test_job_published_to_a_topic_is_done_from_its_sns_envelope(
    account, make_worker, queue, results, a_job, worker_module
):
    # GIVEN the queue subscribed to the jobs topic without raw message delivery (as the
    # reference stack's fanout does), and a job published to the topic
    topic_arn = account.sns.create_topic(Name=f"image-jobs-{queue.url.rsplit('-', 1)[1]}")[
        "TopicArn"
    ]
    queue_arn = account.sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    account.sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    account.sns.publish(TopicArn=topic_arn, Message=json.dumps(a_job("scan-sns")))

    # WHEN the worker takes a turn
    outcome = make_worker().step()

    # THEN the job inside the envelope was done
    assert outcome is worker_module.Outcome.DONE
    assert [item["job_id"] for item in results.items()] == ["scan-sns"]


def test_success_is_logged_with_the_job_and_the_message(make_worker, queue, a_job, logs):
    message_id = queue.send(json.dumps(a_job("scan-7")))

    make_worker().step()

    (done,) = [line for line in logs() if line["message"] == "job done"]
    assert done["level"] == "INFO"
    assert done["job_id"] == "scan-7"
    assert done["message_id"] == message_id
    assert done["receive_count"] == 1
    assert done["already_done"] is False


def test_redelivered_job_is_not_written_twice(make_worker, queue, results, a_job, logs):
    # GIVEN the result of job scan-1, stored by an earlier delivery of its message
    results.dynamodb.put_item(
        TableName=results.name,
        Item={"job_id": {"S": "scan-1"}, "mean": {"N": "1"}, "delivery": {"S": "first"}},
    )
    queue.send(json.dumps(a_job("scan-1")))

    # WHEN the job is delivered again
    make_worker().step()

    # THEN the stored result is untouched, and the message is done with
    assert results.items() == [{"job_id": "scan-1", "mean": "1", "delivery": "first"}]
    assert queue.counts() == (0, 0)
    assert [line["already_done"] for line in logs() if line["message"] == "job done"] == [True]


def test_failed_job_stays_in_the_queue_and_comes_back_after_its_backoff(
    make_worker, make_settings, queue, worker_module
):
    # GIVEN a job that fails, and a retry delay of 1 s
    queue.send(json.dumps({"job_id": "scan-1"}))
    worker = make_worker(make_settings(retry_delay_seconds=1), work=failing(OSError("disk full")))

    # WHEN the worker fails it
    assert worker.step() is worker_module.Outcome.FAILED

    # THEN it is not deleted, but held back for the delay
    assert queue.counts() == (0, 1)
    assert worker.step() is worker_module.Outcome.EMPTY
    time.sleep(1.1)
    (message,) = queue.receive()
    assert message["Attributes"]["ApproximateReceiveCount"] == "2"


def test_failure_is_logged_with_message_id_receive_count_and_error(make_worker, queue, logs, a_job):
    message_id = queue.send(json.dumps(a_job()))

    make_worker(work=failing(OSError("disk full"))).step()

    (failure,) = [line for line in logs() if line["level"] == "ERROR"]
    assert failure["message"] == "job failed: the message stays in the queue for a retry"
    assert failure["message_id"] == message_id
    assert failure["receive_count"] == 1
    assert failure["error"] == "disk full"
    assert failure["error_type"] == "OSError"
    assert "OSError: disk full" in failure["traceback"]


def test_job_that_always_fails_reaches_the_dlq_after_max_receive_count_with_its_body_intact(
    make_worker, make_settings, queue, worker_module
):
    # GIVEN a job that fails every time, retried at once
    body = json.dumps({"job_id": "scan-9", "note": "keeps failing"})
    queue.send(body)
    worker = make_worker(make_settings(retry_delay_seconds=0), work=failing(RuntimeError("boom")))

    # WHEN the worker takes a turn more than the queue's maxReceiveCount
    outcomes = []
    for _ in range(queue.max_receive_count + 1):
        time.sleep(0.01)
        outcomes.append(worker.step())

    # THEN it failed maxReceiveCount times, then SQS moved it to the DLQ as it was sent
    Outcome = worker_module.Outcome
    assert outcomes == [Outcome.FAILED] * queue.max_receive_count + [Outcome.EMPTY]
    assert queue.counts() == (0, 0)
    (dead,) = queue.receive(queue.dlq_url)
    assert dead["Body"] == body


def test_invalid_job_is_logged_as_invalid_with_why(make_worker, queue, logs, a_job):
    # GIVEN a job whose id has a space and whose width is 0
    message_id = queue.send(json.dumps(a_job("scan 1", width=0)))

    # WHEN the worker takes it
    make_worker().step()

    # THEN one ERROR line says it is invalid, and why
    (invalid,) = [line for line in logs() if line["level"] == "ERROR"]
    assert invalid["message"].startswith("invalid job")
    assert invalid["message_id"] == message_id
    assert invalid["receive_count"] == 1
    assert [problem.split(" is ")[0] for problem in invalid["problems"]] == ["job_id", "width"]
    # AND it is retried like any failure (the DLQ takes it in the end)
    assert queue.counts() == (0, 1)


def test_any_exception_with_problems_is_logged_as_an_invalid_job(make_worker, queue, logs):
    # GIVEN a job of the user's that raises its own exception carrying its problems
    class BadOrder(Exception):
        def __init__(self, problems):
            super().__init__("; ".join(problems))
            self.problems = problems

    queue.send("{}")

    make_worker(work=failing(BadOrder(["order_id is missing", "total is -1"]))).step()

    (invalid,) = [line for line in logs() if line["level"] == "ERROR"]
    assert invalid["message"].startswith("invalid job")
    assert invalid["problems"] == ["order_id is missing", "total is -1"]
    assert "traceback" not in invalid


def test_receive_failure_is_logged_and_the_loop_pauses(account, make_settings, worker_module, logs):
    # GIVEN a queue URL that names no queue
    pauses = []
    settings = make_settings(
        queue_url=f"https://sqs.{REGION}.amazonaws.com/123456789012/no-such-queue"
    )
    worker = worker_module.Worker(
        settings,
        account.sqs,
        failing(AssertionError("no job expected")),
        worker_module.NoProtection(),
        wait=lambda event, seconds: pauses.append(seconds) or False,
    )

    # WHEN the worker takes a turn
    outcome = worker.step()

    # THEN the failure is logged and the loop pauses before it tries again
    assert outcome is worker_module.Outcome.RECEIVE_FAILED
    assert pauses == [worker_module.RECEIVE_ERROR_PAUSE_SECONDS]
    (error,) = [line for line in logs() if line["level"] == "ERROR"]
    assert "The specified queue does not exist" in error["error"]


# --- heartbeats -----------------------------------------------------------------------------


def test_long_job_keeps_its_message_invisible_and_deletes_it_when_done(
    make_worker, make_settings, queue, a_job, logs, account, store, source
):
    # GIVEN a visibility timeout of 1 s and a job that takes 1.6 s
    queue.send(json.dumps(a_job("scan-long")))
    seen_by_another_worker = []

    def long_job(body):
        time.sleep(1.6)
        seen_by_another_worker.append(queue.receive())
        return source.jobs.run_job(body, store)

    worker = make_worker(make_settings(visibility_timeout=1), work=long_job)

    # WHEN the worker runs the job
    worker.step()

    # THEN nobody else got the message while it ran (heartbeats kept extending it)
    assert seen_by_another_worker == [[]]
    assert len([line for line in logs() if line["message"] == "heartbeat"]) >= 3
    # AND it was deleted once the job was done
    assert queue.counts() == (0, 0)


# --- stopping -------------------------------------------------------------------------------


def test_sigterm_and_sigint_ask_the_worker_to_stop(
    make_worker, worker_module, restore_signal_handlers
):
    for signum in (signal.SIGTERM, signal.SIGINT):
        worker = make_worker()
        worker_module.install_signal_handlers(worker.request_stop)

        signal.raise_signal(signum)

        assert worker.stop_requested


@pytest.fixture
def sigterm_mid_job(make_worker, make_settings, clock, wait_until, source, restore_signal_handlers):
    """``sigterm_mid_job(seconds=, then=)``: a worker with a 100 s stop grace, its signal
    handlers installed as main() installs them, whose job gets SIGTERM, runs ``seconds`` more
    on the test clock, then ``then(body)``."""

    def make(*, seconds, then):
        def job(body):
            os.kill(os.getpid(), signal.SIGTERM)
            wait_until(lambda: worker.stop_requested)
            clock.advance(seconds)
            return then(body)

        worker = make_worker(make_settings(stop_grace_seconds=100), work=job, clock=clock)
        source.worker.install_signal_handlers(worker.request_stop)
        return worker

    return make


def test_sigterm_mid_job_lets_the_job_finish_within_the_grace_then_the_worker_exits(
    sigterm_mid_job, queue, results, a_job, store, source, logs
):
    # GIVEN a worker with a 100 s stop grace, working on a job
    queue.send(json.dumps(a_job("scan-1")))
    worker = sigterm_mid_job(seconds=50, then=lambda body: source.jobs.run_job(body, store))

    # WHEN SIGTERM arrives while the job runs, and the job needs 50 s more
    status = worker.run()

    # THEN the job finished, its message was deleted, and the worker stopped cleanly
    assert status == 0
    assert [item["job_id"] for item in results.items()] == ["scan-1"]
    assert queue.counts() == (0, 0)
    assert not worker.job_abandoned
    stopped = [line for line in logs() if line["message"] == "worker stopped"]
    assert stopped[0]["reason"] == "SIGTERM"


def test_sigterm_mid_job_gives_the_message_back_when_the_grace_runs_out(
    sigterm_mid_job, queue, results, a_job, wait_until, logs
):
    # GIVEN a worker with a 100 s stop grace, working on a job that will not finish in time
    message_id = queue.send(json.dumps(a_job("scan-1")))
    release = threading.Event()

    def still_running(body):
        release.wait(10)
        raise RuntimeError("the process would have exited before this")

    worker = sigterm_mid_job(seconds=101, then=still_running)

    # WHEN SIGTERM arrives and the grace runs out
    status = worker.run()

    # THEN the worker exits, leaving the job behind (main() ends the process at this point)
    assert status == 0
    assert worker.job_abandoned
    # AND the message is visible again at once, not deleted, and no result was written
    time.sleep(0.01)
    (message,) = queue.receive()
    assert message["MessageId"] == message_id
    assert message["Attributes"]["ApproximateReceiveCount"] == "2"
    assert results.items() == []
    given_back = [line for line in logs() if line["message"].startswith("message given back")]
    assert given_back[0]["reason"] == "the job did not finish within the stop grace"
    release.set()
    wait_until(lambda: not worker.job_abandoned)


def test_message_received_after_a_stop_request_is_given_back_unprocessed(
    make_worker, queue, results, a_job, worker_module
):
    queue.send(json.dumps(a_job()))
    worker = make_worker()
    worker.request_stop("SIGTERM")

    outcome = worker.step()

    assert outcome is worker_module.Outcome.RETURNED
    assert results.items() == []
    time.sleep(0.01)
    assert len(queue.receive()) == 1


def test_main_works_the_queue_until_stopped(
    queue, results, a_job, worker_module, source, wait_until, monkeypatch
):
    # GIVEN a job in the queue and the environment the stack sets (the image job's table)
    queue.send(json.dumps(a_job("scan-main")))
    monkeypatch.setenv("RESULTS_TABLE_NAME", results.name)
    monkeypatch.setattr(source.jobs, "_store", None)
    environ = {
        "QUEUE_URL": queue.url,
        "VISIBILITY_TIMEOUT": "30",
        "WORKER_HANDLER": "jobs.handler",
        "WAIT_TIME_SECONDS": "1",
        "AWS_REGION": REGION,
    }

    def stop_once_the_result_is_stored(request_stop):
        def watch():
            wait_until(lambda: results.items() != [])
            request_stop("SIGTERM")

        threading.Thread(target=watch, daemon=True).start()

    # WHEN the worker runs as its entry point does, until SIGTERM
    status = worker_module.main(environ, install_signals=stop_once_the_result_is_stored)

    # THEN it did the job with the clients it built, and exited with 0
    assert status == 0
    assert [item["job_id"] for item in results.items()] == ["scan-main"]
    assert queue.counts() == (0, 0)
    worker_module.configure_logging("DEBUG")


# --- logs -----------------------------------------------------------------------------------


def test_logs_are_one_json_object_a_line_with_time_level_message_and_fields(
    make_worker, queue, a_job, logs
):
    queue.send(json.dumps(a_job()))

    make_worker().step()

    lines = logs()
    assert lines
    for line in lines:
        assert {"time", "level", "message", "logger"} <= set(line)
        assert line["time"].endswith("Z")


# --- end to end -----------------------------------------------------------------------------

TINY_JOB = """
import json
import os

import boto3

# Made at import, as a job's module-level clients are: the region must already be set.
SQS = boto3.client("sqs")


def handle(body):
    job = json.loads(body)
    if "fail" in job:
        raise RuntimeError("asked to fail")
    SQS.send_message(QueueUrl=os.environ["DONE_QUEUE_URL"], MessageBody=job["word"].upper())
    return {"word": job["word"]}
"""


def test_packaged_worker_runs_a_job_module_named_by_worker_handler(
    account, queue, worker_module, wait_until, tmp_path, monkeypatch, logs
):
    # GIVEN a tiny job module in its own folder (the working directory, as in the image and
    # on the instance), a queue for what it does, and no region but the queue URL's
    (tmp_path / "tiny_job_e2e.py").write_text(TINY_JOB)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "tiny_job_e2e", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    done_url = account.sqs.create_queue(QueueName=f"done-{queue.url.rsplit('-', 1)[1]}")["QueueUrl"]
    monkeypatch.setenv("DONE_QUEUE_URL", done_url)
    queue.send(json.dumps({"word": "fanout"}))
    environ = {
        "QUEUE_URL": queue.url,
        "VISIBILITY_TIMEOUT": "30",
        "WORKER_HANDLER": "tiny_job_e2e.handle",
        "WAIT_TIME_SECONDS": "1",
    }
    done = []

    def stop_once_done(request_stop):
        def watch():
            wait_until(lambda: done.extend(queue.receive(done_url)) or bool(done), timeout=20)
            request_stop("SIGTERM")

        threading.Thread(target=watch, daemon=True).start()

    # WHEN the packaged worker runs as its entry point does
    status = worker_module.main(environ, install_signals=stop_once_done)

    # THEN the job ran with its own client in the worker's region, and its message is gone
    assert status == 0
    assert [message["Body"] for message in done] == ["FANOUT"]
    assert os.environ["AWS_DEFAULT_REGION"] == REGION
    assert queue.counts() == (0, 0)
    (line,) = [line for line in logs() if line["message"] == "job done"]
    assert line["word"] == "fanout"
    sys.modules.pop("tiny_job_e2e", None)
    worker_module.configure_logging("DEBUG")
