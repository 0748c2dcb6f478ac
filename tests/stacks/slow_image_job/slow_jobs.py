"""Test data: the reference image job, slowed down, so that a stop can arrive while it runs.

The worker runs it as ``WORKER_HANDLER=slow_jobs.handler`` with this folder and the reference
job's folder on its path; ``SLOW_JOB_SECONDS`` is how long each job sleeps before its work.
"""

from __future__ import annotations

import os
import time

import jobs


def handler(body: str) -> dict[str, object]:
    time.sleep(float(os.environ["SLOW_JOB_SECONDS"]))
    return jobs.handler(body)
