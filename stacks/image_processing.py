"""Reference architecture: two work queues in priority order drained by one autoscaled worker
fleet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from constructs_lib import FanoutTopic, FargateWorkers, QueueWorkerPool, WorkerJob

THUMBNAILS_JOB = Path(__file__).resolve().parent.parent / "lambda_src" / "image_thumbnails"


class ImageProcessingStack(Stack):
    """Image jobs published once, thumbnailed by Fargate workers that scale with the backlog,
    paying customers' uploads before bulk re-encodes.

    * a producer (any principal allowed to assume ``producer_role``) publishes the thumbnail
      jobs of customers' uploads to the ``ImageJobs`` fanout topic, and bulk re-encodes of the
      back catalogue (the same job at a new size, thousands at a time) to ``ReencodeJobs``;
    * one :class:`QueueWorkerPool` of Fargate tasks drains both consumer queues in priority
      order, ``Thumbnails`` first, ``Reencodes`` when no thumbnail is waiting (with the
      default starvation guard: one re-encode in every 21 jobs a worker takes while both have
      work), running the library's worker program with the job of
      ``lambda_src/image_thumbnails`` (``jobs.handler``; the image is built at deploy time);
    * it scales on the combined backlog per worker: 5 minutes acceptable latency at about 2
      seconds per job is 150 queued jobs per worker; zero tasks while idle. A burst of
      re-encodes scales the pool out, and a thumbnail arriving meanwhile is the next job a
      worker takes;
    * each queue keeps its own DLQ and alarms; results land in ``results_table`` (one item per
      job id, written once).
    """

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.jobs = FanoutTopic(self, "ImageJobs", display_name="Image jobs")
        self.thumbnails = self.jobs.add_queue_consumer(
            "Thumbnails", visibility_timeout=Duration.minutes(2)
        )
        self.reencode_jobs = FanoutTopic(self, "ReencodeJobs", display_name="Bulk re-encodes")
        self.reencodes = self.reencode_jobs.add_queue_consumer(
            "Reencodes", visibility_timeout=Duration.minutes(2)
        )
        self.results_table = dynamodb.TableV2(
            self,
            "Results",
            partition_key=dynamodb.Attribute(name="job_id", type=dynamodb.AttributeType.STRING),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
        )
        self.workers = QueueWorkerPool(
            self,
            "Workers",
            queues=[self.thumbnails, self.reencodes],  # highest priority first
            workers=FargateWorkers(
                job=WorkerJob(code_path=str(THUMBNAILS_JOB), handler="jobs.handler")
            ),
            acceptable_latency=Duration.minutes(5),
            processing_time_per_message=Duration.seconds(2),
            max_capacity=20,
            environment={"RESULTS_TABLE_NAME": self.results_table.table_name},
        )
        self.results_table.grant(self.workers.grant_principal, "dynamodb:PutItem")
        self.producer_role = iam.Role(
            self,
            "JobProducer",
            assumed_by=iam.AccountRootPrincipal(),
            description="Publishes image jobs; assumable by principals of this account that "
            "are allowed to assume it",
        )
        self.jobs.grant_publish(self.producer_role)
        self.reencode_jobs.grant_publish(self.producer_role)
