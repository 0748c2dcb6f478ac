"""protection: scale-in protection and termination notice on ECS and EC2, driven by the worker.

The ECS container agent and the EC2 instance metadata service (IMDSv2) are played by small
HTTP servers on 127.0.0.1; SQS, DynamoDB and Auto Scaling (a launch template and a group with
one instance) run on moto.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from uuid import uuid4

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

REGION = "eu-west-1"
TASK_PATH = "/api/4d6a1c2e-task"
PROTECTION_PATH = TASK_PATH + "/task-protection/v1/state"


@pytest.fixture(scope="module")
def protection(source):
    return source.protection


# --- the ECS container agent ----------------------------------------------------------------


def ecs_agent(status: int = 200):
    """The agent's task protection endpoint, answering every PUT with ``status``."""

    def respond(request):
        if request.method != "PUT" or request.path != PROTECTION_PATH:
            return 404, json.dumps({"error": {"Code": "ResourceNotFoundException"}})
        if status != 200:
            failure = {"Arn": "arn:aws:ecs:eu-west-1:123456789012:task/c/1", "Reason": "INVALID"}
            return status, json.dumps({"failure": failure})
        state = json.loads(request.body)
        return 200, json.dumps(
            {
                "protection": {
                    "ExpirationDate": "2026-11-02T10:00:00Z",
                    "ProtectionEnabled": state["ProtectionEnabled"],
                    "TaskArn": "arn:aws:ecs:eu-west-1:123456789012:task/c/1",
                }
            }
        )

    return respond


def put_bodies(endpoint) -> list[dict]:
    return [json.loads(request.body) for request in endpoint.requests if request.method == "PUT"]


def test_ecs_task_is_protected_while_a_job_runs_and_unprotected_after_an_empty_poll(
    local_endpoint, make_settings, make_worker, queue, a_job, source, store
):
    # GIVEN a worker on ECS (the agent's endpoint on 127.0.0.1) and one job in the queue
    agent = local_endpoint(ecs_agent())
    settings = make_settings(
        platform="ecs", ecs_agent_uri=agent.url + TASK_PATH, visibility_timeout=300
    )
    requests_before_the_job_ran = []

    def job(body):
        requests_before_the_job_ran.extend(put_bodies(agent))
        return source.jobs.run_job(body, store)

    worker = make_worker(
        settings, work=job, protection=source.worker.build_protection(settings, None, Config())
    )
    queue.send(json.dumps(a_job()))

    # WHEN the worker takes the job, then finds the queue empty
    worker.step()
    worker.step()

    # THEN the task was protected before the job ran (for two visibility timeouts), and
    # unprotected after the empty poll
    protected = {"ProtectionEnabled": True, "ExpiresInMinutes": 10}
    assert requests_before_the_job_ran == [protected]
    assert put_bodies(agent) == [protected, {"ProtectionEnabled": False}]
    assert {request.headers["content-type"] for request in agent.requests} == {"application/json"}


@pytest.mark.parametrize(
    ("visibility_timeout", "minutes"), [(1, 1), (30, 1), (31, 2), (300, 10), (43200, 1440)]
)
def test_ecs_protection_lasts_two_visibility_timeouts_in_whole_minutes(
    protection, visibility_timeout, minutes
):
    assert protection.ecs_protection_minutes(visibility_timeout) == minutes


def test_ecs_protection_is_renewed_once_half_of_it_has_passed(local_endpoint, protection, clock):
    # GIVEN a task protected for 2 minutes
    agent = local_endpoint(ecs_agent())
    ecs = protection.EcsTaskProtection(agent.url + TASK_PATH, protection_minutes=2, clock=clock)
    ecs.protect()

    # WHEN the worker asks again 59 s, then 60 s later
    clock.advance(59)
    ecs.protect()
    requests_at_59_seconds = len(agent.requests)
    clock.advance(1)
    ecs.protect()

    # THEN only the second ask renews it
    assert requests_at_59_seconds == 1
    assert put_bodies(agent) == [{"ProtectionEnabled": True, "ExpiresInMinutes": 2}] * 2


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _one_job_despite_a_protection_failure(make_worker, queue, results, a_job, logs, protection):
    """A worker with ``protection`` takes one job: it is done and deleted all the same, and the
    failed protection call is the one warning logged, which is returned."""
    queue.send(json.dumps(a_job("scan-1")))

    make_worker(protection=protection).step()

    assert [item["job_id"] for item in results.items()] == ["scan-1"]
    assert queue.counts() == (0, 0)
    (warning,) = [line for line in logs() if line["level"] == "WARNING"]
    return warning


@pytest.mark.parametrize("agent_state", ["refusing", "unreachable"])
def test_ecs_protection_failure_is_logged_and_the_job_still_completes(
    local_endpoint, make_worker, queue, results, a_job, logs, protection, agent_state
):
    # GIVEN an agent that refuses protection (409, as for a task outside a service) or is down
    if agent_state == "refusing":
        agent_url = local_endpoint(ecs_agent(status=409)).url
    else:
        agent_url = _closed_port_url()
    ecs = protection.EcsTaskProtection(agent_url + TASK_PATH, protection_minutes=1, timeout=1)

    # WHEN the worker takes a job: THEN it is done and deleted all the same
    warning = _one_job_despite_a_protection_failure(make_worker, queue, results, a_job, logs, ecs)

    # AND the failed protection call is logged, with the agent's answer when there is one
    assert warning["action"] == "ECS task scale-in protection"
    assert warning["protection_enabled"] is True
    if agent_state == "refusing":
        assert warning["status"] == 409
        assert "INVALID" in warning["response"]


# --- EC2: the instance metadata service and the Auto Scaling group --------------------------


class Imds:
    """IMDSv2: a token from ``PUT /latest/api/token``, then GETs that must carry it."""

    def __init__(self, instance_id: str) -> None:
        self.instance_id = instance_id
        self.lifecycle_state: str | None = "InService"
        self.valid_tokens: set[str] = set()
        self.tokens_issued = 0
        self.url = ""

    def respond(self, request):
        if request.method == "PUT" and request.path == "/latest/api/token":
            if "x-aws-ec2-metadata-token-ttl-seconds" not in request.headers:
                return 400, ""
            self.tokens_issued += 1
            token = f"token-{self.tokens_issued}"
            self.valid_tokens.add(token)
            return 200, token
        if request.headers.get("x-aws-ec2-metadata-token") not in self.valid_tokens:
            return 401, ""
        items = {
            "/latest/meta-data/instance-id": self.instance_id,
            "/latest/meta-data/autoscaling/target-lifecycle-state": self.lifecycle_state,
        }
        item = items.get(request.path)
        return (404, "") if item is None else (200, item)


@dataclass
class Fleet:
    """An Auto Scaling group of one instance, with a termination lifecycle hook."""

    autoscaling: object
    group_name: str
    hook_name: str
    instance_id: str

    def protected(self) -> bool:
        (instance,) = self.autoscaling.describe_auto_scaling_instances(
            InstanceIds=[self.instance_id]
        )["AutoScalingInstances"]
        return instance["ProtectedFromScaleIn"]


@pytest.fixture
def fleet(account) -> Fleet:
    suffix = uuid4().hex[:8]
    template = f"workers-{suffix}"
    account.ec2.create_launch_template(
        LaunchTemplateName=template,
        LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"},
    )
    group = f"workers-{suffix}"
    account.autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=group,
        LaunchTemplate={"LaunchTemplateName": template},
        MinSize=1,
        MaxSize=1,
        DesiredCapacity=1,
        AvailabilityZones=[f"{REGION}a"],
    )
    account.autoscaling.put_lifecycle_hook(
        LifecycleHookName="drain",
        AutoScalingGroupName=group,
        LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
        HeartbeatTimeout=300,
        DefaultResult="CONTINUE",
    )
    (instance,) = account.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])[
        "AutoScalingGroups"
    ][0]["Instances"]
    return Fleet(account.autoscaling, group, "drain", instance["InstanceId"])


@pytest.fixture
def imds(fleet, local_endpoint):
    """The instance's metadata service; ``imds.url`` is where it listens."""
    service = Imds(fleet.instance_id)
    service.url = local_endpoint(service.respond).url
    return service


def ec2_protection(protection, fleet, imds_url, autoscaling=None):
    return protection.Ec2InstanceProtection(
        autoscaling or fleet.autoscaling,
        group_name=fleet.group_name,
        lifecycle_hook_name=fleet.hook_name,
        metadata=protection.InstanceMetadata(imds_url),
    )


def test_ec2_instance_is_protected_while_a_job_runs_and_unprotected_after_an_empty_poll(
    make_worker, queue, a_job, fleet, imds, protection, source, store
):
    # GIVEN a worker on an instance of the group, and one job in the queue
    protected_while_the_job_ran = []

    def job(body):
        protected_while_the_job_ran.append(fleet.protected())
        return source.jobs.run_job(body, store)

    worker = make_worker(work=job, protection=ec2_protection(protection, fleet, imds.url))
    queue.send(json.dumps(a_job()))

    # WHEN the worker takes the job, then finds the queue empty
    worker.step()
    worker.step()

    # THEN the group could not choose the instance for scale-in while the job ran, and can now
    assert protected_while_the_job_ran == [True]
    assert not fleet.protected()


def test_imdsv2_token_is_taken_once_and_sent_with_every_read(local_endpoint, protection):
    # GIVEN the instance metadata service
    service = Imds("i-0123456789abcdef0")
    endpoint = local_endpoint(service.respond)
    metadata = protection.InstanceMetadata(endpoint.url)

    # WHEN two items are read
    instance_id = metadata.get("/latest/meta-data/instance-id")
    state = metadata.get("/latest/meta-data/autoscaling/target-lifecycle-state")

    # THEN a session token was asked for once (PUT, with its lifetime) and sent with both GETs
    assert (instance_id, state) == ("i-0123456789abcdef0", "InService")
    token_request, *reads = endpoint.requests
    assert (token_request.method, token_request.path) == ("PUT", "/latest/api/token")
    assert token_request.headers["x-aws-ec2-metadata-token-ttl-seconds"] == "21600"
    assert [(read.method, read.headers["x-aws-ec2-metadata-token"]) for read in reads] == [
        ("GET", "token-1"),
        ("GET", "token-1"),
    ]


def test_rejected_imds_token_is_replaced(local_endpoint, protection):
    service = Imds("i-0123456789abcdef0")
    metadata = protection.InstanceMetadata(local_endpoint(service.respond).url)
    metadata.get("/latest/meta-data/instance-id")
    service.valid_tokens.clear()

    assert metadata.get("/latest/meta-data/instance-id") == "i-0123456789abcdef0"
    assert service.tokens_issued == 2


def expect_the_hook_completed(stubber, fleet):
    """The one CompleteLifecycleAction the worker must make: CONTINUE, for its instance."""
    stubber.add_response(
        "complete_lifecycle_action",
        {},
        {
            "LifecycleHookName": "drain",
            "AutoScalingGroupName": fleet.group_name,
            "LifecycleActionResult": "CONTINUE",
            "InstanceId": fleet.instance_id,
        },
    )


def test_termination_notice_mid_job_drains_it_then_completes_the_lifecycle_action(
    make_worker,
    make_settings,
    queue,
    results,
    a_job,
    fleet,
    imds,
    protection,
    source,
    store,
    clock,
    wait_until,
    logs,
):
    """moto 5.2.5 does not implement CompleteLifecycleAction (it raises NotImplementedError),
    so that one call is answered by botocore's Stubber, activated on the worker's Auto Scaling
    client once protection (SetInstanceProtection, on moto) has been set."""
    # GIVEN a worker on an instance of the group, working on a job
    worker_autoscaling = boto3.client("autoscaling", region_name=REGION)
    stubber = Stubber(worker_autoscaling)
    expect_the_hook_completed(stubber, fleet)
    protected_while_the_job_ran = []

    def job_during_which_the_instance_is_told_to_terminate(body):
        protected_while_the_job_ran.append(fleet.protected())
        stubber.activate()
        imds.lifecycle_state = "Terminated"
        clock.advance(source.worker.TERMINATION_POLL_SECONDS)
        wait_until(lambda: worker.stop_requested)
        return source.jobs.run_job(body, store)

    settings = make_settings(
        platform="ec2", autoscaling_group_name=fleet.group_name, lifecycle_hook_name="drain"
    )
    worker = make_worker(
        settings,
        work=job_during_which_the_instance_is_told_to_terminate,
        protection=ec2_protection(protection, fleet, imds.url, worker_autoscaling),
        clock=clock,
    )
    queue.send(json.dumps(a_job("scan-1")))

    # WHEN the group starts terminating the instance (its termination hook holds it)
    status = worker.run()

    # THEN the job finished and its message was deleted, then the hook was completed
    stubber.assert_no_pending_responses()
    stubber.deactivate()
    assert status == 0
    assert protected_while_the_job_ran == [True]
    assert [item["job_id"] for item in results.items()] == ["scan-1"]
    assert queue.counts() == (0, 0)
    messages = [line["message"] for line in logs()]
    assert messages.index("job done") < messages.index(
        "termination lifecycle action completed: the instance may terminate"
    )


def test_termination_notice_while_idle_completes_the_hook_without_taking_a_message(
    make_worker, make_settings, queue, a_job, fleet, imds, protection
):
    """CompleteLifecycleAction is answered by botocore's Stubber: moto 5.2.5 lacks it."""
    # GIVEN an instance the group is terminating, and a job in the queue
    imds.lifecycle_state = "Terminated"
    worker_autoscaling = boto3.client("autoscaling", region_name=REGION)
    queue.send(json.dumps(a_job()))

    # WHEN the worker starts
    with Stubber(worker_autoscaling) as stubber:
        expect_the_hook_completed(stubber, fleet)
        status = make_worker(
            protection=ec2_protection(protection, fleet, imds.url, worker_autoscaling)
        ).run()
        stubber.assert_no_pending_responses()

    # THEN it completed the hook and left the job for another worker
    assert status == 0
    assert queue.counts() == (1, 0)


def test_unreadable_lifecycle_state_is_no_termination_and_is_logged_once(
    fleet, imds, protection, logs
):
    # GIVEN an instance whose metadata has no target lifecycle state
    imds.lifecycle_state = None
    ec2 = ec2_protection(protection, fleet, imds.url)

    # WHEN the worker polls it twice
    answers = [ec2.termination_requested(), ec2.termination_requested()]

    # THEN neither is a termination, and only the first failure is a warning
    assert answers == [False, False]
    assert [line["level"] for line in logs()] == ["WARNING", "DEBUG"]


def test_ec2_protection_failure_is_logged_and_the_job_still_completes(
    make_worker, queue, results, a_job, fleet, protection, logs
):
    # GIVEN an instance whose metadata service cannot be reached
    ec2 = ec2_protection(protection, fleet, _closed_port_url())

    # WHEN the worker takes a job: THEN it is done all the same, and the failure logged
    warning = _one_job_despite_a_protection_failure(make_worker, queue, results, a_job, logs, ec2)
    assert warning["action"] == "EC2 instance scale-in protection"
    assert not fleet.protected()


@pytest.mark.parametrize(
    ("platform", "kind"),
    [("none", "NoProtection"), ("ecs", "EcsTaskProtection"), ("ec2", "Ec2InstanceProtection")],
)
def test_platform_setting_chooses_the_protection(make_settings, source, account, platform, kind):
    settings = make_settings(
        platform=platform,
        ecs_agent_uri="http://169.254.170.2/api/task",
        autoscaling_group_name="workers",
        lifecycle_hook_name="drain",
    )
    session = boto3.session.Session(region_name=REGION)

    chosen = source.worker.build_protection(settings, session, Config())

    assert type(chosen).__name__ == kind
