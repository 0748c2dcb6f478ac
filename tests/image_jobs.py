"""Test data of the reference image job (``lambda_src/image_thumbnails``): a job's JSON."""

from __future__ import annotations

import base64
from typing import Any


def image_job(
    job_id: str = "scan-1",
    *,
    width: int = 4,
    height: int = 2,
    pixels: bytes | str | None = None,
    max_size: int = 2,
    **changes: Any,
) -> dict[str, Any]:
    """The JSON of a valid job: by default a 4x2 ramp to shrink to 2x1 (``pixels`` as bytes,
    or as the text to send)."""
    if pixels is None:
        pixels = bytes((10 * i) % 256 for i in range(width * height))
    job = {
        "job_id": job_id,
        "width": width,
        "height": height,
        "pixels": pixels if isinstance(pixels, str) else base64.b64encode(pixels).decode(),
        "max_size": max_size,
    }
    return {**job, **changes}
