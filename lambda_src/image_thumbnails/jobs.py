"""The work of the reference image-processing queue: one job message in, one result row out.

A job message body is JSON, sent raw or as the ``Message`` of an SNS envelope::

    {"job_id": "scan-42", "width": 640, "height": 480,
     "pixels": "<base64 of width*height bytes, 8-bit grayscale, row by row>", "max_size": 128}

``parse_job`` checks it and raises ``InvalidJob`` naming every broken rule. ``thumbnail_of``
shrinks the image so that its longer side is at most ``max_size`` (aspect ratio kept, never
enlarged) by box averaging, and measures its mean brightness from its histogram. ``run_job``
does both and stores the result once per job id (``ResultStore``), so a redelivered message
does no harm. ``handler`` is the entry point the library's queue worker runs
(``WORKER_HANDLER=jobs.handler``); it writes to the table named by ``RESULTS_TABLE_NAME``. Pure
Python (standard library and boto3 only): no imaging library.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_SIDE = 4096
"""Largest width or height of a job's image."""
MAX_THUMBNAIL_SIDE = 1024
"""Largest ``max_size`` a job may ask for."""
SHOWN_VALUE_LENGTH = 40


class InvalidJob(ValueError):
    """A job no retry can fix; ``problems`` says why, one rule per entry."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class Job:
    """A job whose rules all hold: ``len(pixels) == width * height``."""

    job_id: str
    width: int
    height: int
    pixels: bytes
    max_size: int


@dataclass(frozen=True)
class Thumbnail:
    """The result of a job: the shrunk image and the mean brightness of the original."""

    job_id: str
    width: int
    height: int
    pixels: bytes
    mean: float


def parse_job(body: str) -> Job:
    """The job in a message body, sent raw or inside an SNS envelope (a queue subscribed to a
    topic without raw message delivery); raises ``InvalidJob`` naming every problem found."""
    data = _load_json(body, "the body")
    if isinstance(data, dict) and data.get("Type") == "Notification":
        message = data.get("Message")
        if not isinstance(message, str):
            raise InvalidJob(
                [f"the SNS envelope's Message is {_shown(message)}; expected a string of JSON"]
            )
        data = _load_json(message, "the SNS envelope's Message")
    if not isinstance(data, dict):
        raise InvalidJob([f"the job is a JSON {type(data).__name__}, not an object"])

    problems: list[str] = []
    job_id = data.get("job_id")
    if not (isinstance(job_id, str) and JOB_ID.fullmatch(job_id)):
        problems.append(
            f"job_id is {_shown(job_id)}; expected 1 to 64 characters of A-Z a-z 0-9 _ -"
        )
    width = _integer(data, "width", 1, MAX_SIDE, problems)
    height = _integer(data, "height", 1, MAX_SIDE, problems)
    max_size = _integer(data, "max_size", 1, MAX_THUMBNAIL_SIDE, problems)
    pixels = _pixels(data.get("pixels"), width, height, problems)
    if problems or pixels is None or not isinstance(job_id, str):
        raise InvalidJob(problems)
    return Job(job_id=job_id, width=width, height=height, pixels=pixels, max_size=max_size)


def _load_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise InvalidJob([f"{what} is not JSON ({error})"]) from None
    except RecursionError:
        raise InvalidJob([f"{what} is JSON nested too deeply to read"]) from None


def _integer(data: dict[str, Any], name: str, low: int, high: int, problems: list[str]) -> int:
    """``data[name]`` if it is an integer in ``low..high``; else 0 and a problem noted."""
    value = data.get(name)
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    problems.append(f"{name} is {_shown(value)}; expected an integer from {low} to {high}")
    return 0


def _pixels(value: object, width: int, height: int, problems: list[str]) -> bytes | None:
    if not isinstance(value, str):
        problems.append(f"pixels is {_shown(value)}; expected base64 of width*height bytes")
        return None
    try:
        pixels = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        problems.append("pixels is not valid base64")
        return None
    if width and height and len(pixels) != width * height:
        problems.append(
            f"pixels holds {len(pixels)} bytes; expected width*height = {width * height}"
        )
    return pixels


def _shown(value: object) -> str:
    """A value as a log line shows it: missing, or its repr cut to a readable length."""
    if value is None:
        return "missing"
    text = repr(value)
    return text if len(text) <= SHOWN_VALUE_LENGTH else text[: SHOWN_VALUE_LENGTH - 3] + "..."


def thumbnail_size(width: int, height: int, max_size: int) -> tuple[int, int]:
    """The size of the thumbnail of a ``width`` x ``height`` image.

    The longer side becomes ``max_size`` and the shorter one keeps the aspect ratio (rounded
    half up, at least 1 pixel). An image that already fits keeps its size: never enlarged.
    """
    longer = max(width, height)
    if longer <= max_size:
        return width, height

    def scaled(side: int) -> int:
        return max(1, (2 * side * max_size + longer) // (2 * longer))

    return scaled(width), scaled(height)


def box_downscale(pixels: bytes, width: int, height: int, new_width: int, new_height: int) -> bytes:
    """Shrinks a grayscale image by box averaging.

    The source is cut into ``new_width`` x ``new_height`` boxes along the integer boundaries
    ``i * width // new_width`` (and the same for rows): the boxes cover every source pixel
    once, and differ in size by at most one pixel per side. Each output pixel is the mean of
    its box, rounded half up.
    """
    if not (1 <= new_width <= width and 1 <= new_height <= height):
        raise ValueError(
            f"cannot shrink {width}x{height} to {new_width}x{new_height}: "
            "box averaging only makes an image smaller"
        )
    columns = _spans(width, new_width)
    out = bytearray()
    for top, bottom in _spans(height, new_height):
        sums = [0] * new_width
        for y in range(top, bottom):
            row = pixels[y * width : (y + 1) * width]
            for x, (left, right) in enumerate(columns):
                sums[x] += sum(row[left:right])
        for x, (left, right) in enumerate(columns):
            count = (bottom - top) * (right - left)
            out.append((2 * sums[x] + count) // (2 * count))
    return bytes(out)


def _spans(size: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` consecutive ``(start, end)`` spans covering ``range(size)``."""
    return [(i * size // parts, (i + 1) * size // parts) for i in range(parts)]


def mean_brightness(pixels: bytes) -> float:
    """The mean of the pixel values (0 to 255), computed from the image's histogram."""
    histogram = Counter(pixels)
    return sum(value * count for value, count in histogram.items()) / len(pixels)


def thumbnail_of(job: Job) -> Thumbnail:
    width, height = thumbnail_size(job.width, job.height, job.max_size)
    return Thumbnail(
        job_id=job.job_id,
        width=width,
        height=height,
        pixels=box_downscale(job.pixels, job.width, job.height, width, height),
        mean=mean_brightness(job.pixels),
    )


class ResultStore:
    """The results table: partition key ``job_id`` (S), one item per job, written once."""

    def __init__(self, dynamodb: Any, table_name: str) -> None:
        """``dynamodb`` is a boto3 DynamoDB client."""
        self._dynamodb = dynamodb
        self.table_name = table_name

    def put_once(self, thumbnail: Thumbnail) -> bool:
        """Stores the result; ``False`` (and nothing written) when the job already has one.

        The put is conditional on ``attribute_not_exists(job_id)``, so of two deliveries of a
        job, however they interleave, exactly one writes.
        """
        item = {
            "job_id": {"S": thumbnail.job_id},
            "width": {"N": str(thumbnail.width)},
            "height": {"N": str(thumbnail.height)},
            "thumbnail": {"S": base64.b64encode(thumbnail.pixels).decode("ascii")},
            "mean": {"N": f"{thumbnail.mean:.3f}"},
        }
        try:
            self._dynamodb.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(job_id)",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True


def run_job(body: str, store: ResultStore) -> dict[str, object]:
    """Does the job of a message body; returns what the worker's log line should add.

    Raises ``InvalidJob`` for a body that breaks the job contract, and lets AWS errors
    through: either way the message is retried, and reaches the dead-letter queue in the end.
    """
    job = parse_job(body)
    thumbnail = thumbnail_of(job)
    stored = store.put_once(thumbnail)
    return {
        "job_id": job.job_id,
        "thumbnail_size": f"{thumbnail.width}x{thumbnail.height}",
        "already_done": not stored,
    }


_store: ResultStore | None = None


def results_store() -> ResultStore:
    """The results table named by ``RESULTS_TABLE_NAME``, built on first use.

    The worker sets the region for boto3 before it imports this module; the client is made
    once per process.
    """
    global _store
    if _store is None:
        table_name = os.environ.get("RESULTS_TABLE_NAME", "").strip()
        if not table_name:
            raise RuntimeError("RESULTS_TABLE_NAME is not set: the job has nowhere to write")
        import boto3

        _store = ResultStore(boto3.client("dynamodb"), table_name)
    return _store


def handler(body: str) -> dict[str, object]:
    """The queue worker's job (``WORKER_HANDLER=jobs.handler``): :func:`run_job` on the
    results table of ``RESULTS_TABLE_NAME``."""
    return run_job(body, results_store())
