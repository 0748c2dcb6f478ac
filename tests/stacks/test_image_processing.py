"""The image processing reference stack: jobs published once, drained by a scaled pool."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import Tmpl, new_app

from stacks import ImageProcessingStack


@pytest.fixture(scope="module")
def stack() -> ImageProcessingStack:
    return ImageProcessingStack(new_app(), "ImageProcessing")


@pytest.fixture(scope="module")
def t(stack: ImageProcessingStack) -> Tmpl:
    return Tmpl(stack)


def test_fargate_workers_scale_on_thumbnails_and_reencodes_together(
    stack: ImageProcessingStack, t: Tmpl
) -> None:
    policy = t.props(stack.workers.scaling_policy)
    metrics = {
        m["Id"]: m
        for m in policy["TargetTrackingScalingPolicyConfiguration"][
            "CustomizedMetricSpecification"
        ]["Metrics"]
    }
    for query_id, queue in (("visible_1", stack.thumbnails), ("visible_2", stack.reencodes)):
        assert metrics[query_id]["MetricStat"]["Metric"]["Dimensions"] == [
            {"Name": "QueueName", "Value": {"Fn::GetAtt": [t.logical_id(queue.queue), "QueueName"]}}
        ]
    assert metrics["backlog_per_worker"]["Expression"].startswith(
        "(FILL(visible_1, 0) + FILL(in_flight_1, 0) + FILL(visible_2, 0) + FILL(in_flight_2, 0)) / "
    )
    # 5 minutes of acceptable latency at 2 seconds per job.
    assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 150


def test_workers_take_thumbnails_before_reencodes_and_find_the_results_table(
    stack: ImageProcessingStack, t: Tmpl
) -> None:
    (container,) = t.props(stack.workers.task_definition)["ContainerDefinitions"]
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    thumbnails, reencodes = (t.logical_id(q.queue) for q in (stack.thumbnails, stack.reencodes))
    assert env["QUEUE_URLS"] == {"Fn::Join": ["", [{"Ref": thumbnails}, ",", {"Ref": reencodes}]]}
    assert env["RESULTS_TABLE_NAME"] == {"Ref": t.logical_id(stack.results_table)}


def test_workers_may_only_put_results(stack: ImageProcessingStack, t: Tmpl) -> None:
    role_lid = t.logical_id(stack.workers.role)
    statements = [
        s
        for p in t.of_type("AWS::IAM::Policy").values()
        if {"Ref": role_lid} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "dynamodb:" in json.dumps(s["Action"])
    ]
    assert statements == [
        {
            "Action": "dynamodb:PutItem",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [t.logical_id(stack.results_table), "Arn"]},
        }
    ]


def test_the_producer_may_publish_image_jobs_and_reencodes(
    stack: ImageProcessingStack, t: Tmpl
) -> None:
    role_lid = t.logical_id(stack.producer_role)
    (publish,) = [
        s
        for p in t.of_type("AWS::IAM::Policy").values()
        if {"Ref": role_lid} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "sns:Publish"
    ]
    topics = [{"Ref": t.logical_id(f.topic)} for f in (stack.jobs, stack.reencode_jobs)]
    resources = publish["Resource"]
    assert sorted(map(str, resources if isinstance(resources, list) else [resources])) == sorted(
        map(str, topics)
    )


def test_the_worker_image_is_built_from_the_queue_worker_folder(
    stack: ImageProcessingStack, t: Tmpl
) -> None:
    """Synth only stages the folder; the image is built by `cdk deploy` (no Docker here)."""
    assembly = stack.node.root.synth()  # type: ignore[attr-defined]
    manifest = json.loads(
        (Path(assembly.directory) / f"{stack.artifact_id}.assets.json").read_text()
    )
    (image,) = manifest["dockerImages"].values()
    staged = Path(assembly.directory) / image["source"]["directory"]
    assert {"Dockerfile", "worker.py", "jobs.py", "protection.py"} <= {
        p.name for p in staged.iterdir()
    }
    assert image["source"]["platform"] == "linux/arm64"
