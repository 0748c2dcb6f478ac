"""jobs: the image job contract, the thumbnail and the brightness (pure; no AWS)."""

from __future__ import annotations

import json

import pytest


def body(job) -> str:
    return json.dumps(job)


# --- thumbnail size -------------------------------------------------------------------------


def test_wide_image_shrinks_to_max_size_wide_keeping_its_aspect_ratio(jobs):
    assert jobs.thumbnail_size(400, 300, 100) == (100, 75)


def test_tall_image_shrinks_to_max_size_tall_keeping_its_aspect_ratio(jobs):
    assert jobs.thumbnail_size(300, 400, 100) == (75, 100)


def test_shorter_side_is_rounded_half_up(jobs):
    # 30 x 10/40 = 7.5 -> 8
    assert jobs.thumbnail_size(40, 30, 10) == (10, 8)


def test_image_that_fits_keeps_its_size(jobs):
    assert jobs.thumbnail_size(50, 20, 100) == (50, 20)


def test_thin_image_keeps_at_least_one_pixel_across(jobs):
    assert jobs.thumbnail_size(4096, 1, 10) == (10, 1)


# --- box averaging --------------------------------------------------------------------------


def test_each_thumbnail_pixel_is_the_mean_of_its_box(jobs):
    # GIVEN a 4x2 image whose 2x2 boxes are (0, 10, 40, 50) and (20, 30, 60, 70)
    pixels = bytes([0, 10, 20, 30, 40, 50, 60, 70])

    # WHEN it is halved
    thumbnail = jobs.box_downscale(pixels, 4, 2, 2, 1)

    # THEN each pixel is its box's mean
    assert list(thumbnail) == [25, 45]


def test_uneven_boxes_cover_every_pixel_and_round_half_up(jobs):
    # GIVEN 3 pixels shrunk to 2: boxes are [10] and [20, 31] (mean 25.5)
    thumbnail = jobs.box_downscale(bytes([10, 20, 31]), 3, 1, 2, 1)

    assert list(thumbnail) == [10, 26]


def test_box_averaging_refuses_to_enlarge(jobs):
    with pytest.raises(ValueError, match="cannot shrink 2x2 to 3x2"):
        jobs.box_downscale(bytes(4), 2, 2, 3, 2)


def test_mean_brightness_is_read_from_the_histogram(jobs):
    assert jobs.mean_brightness(bytes([0, 255, 255, 0, 10, 10])) == pytest.approx(530 / 6)


def test_thumbnail_of_a_job_has_the_thumbnail_size_and_the_source_mean(jobs, a_job):
    job = jobs.parse_job(body(a_job(width=8, height=4, pixels=bytes(range(32)), max_size=4)))

    thumbnail = jobs.thumbnail_of(job)

    assert (thumbnail.width, thumbnail.height) == (4, 2)
    assert len(thumbnail.pixels) == 8
    assert thumbnail.mean == pytest.approx(15.5)


# --- validation: one rule per test ----------------------------------------------------------


def test_reads_a_valid_job(jobs, a_job):
    job = jobs.parse_job(body(a_job("scan_42-b", width=3, height=1, pixels=b"\x01\x02\x03")))

    assert job == jobs.Job(
        job_id="scan_42-b", width=3, height=1, pixels=b"\x01\x02\x03", max_size=2
    )


def envelope(message) -> str:
    """An SQS body from a topic subscription without raw message delivery."""
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "0f4e6c52-5b8a-4d37-9d5e-2d1f0b1a9c11",
            "TopicArn": "arn:aws:sns:eu-west-1:123456789012:image-jobs",
            "Message": message,
        }
    )


def test_reads_a_job_inside_an_sns_envelope(jobs, a_job):
    job = a_job("scan-7")

    assert jobs.parse_job(envelope(json.dumps(job))) == jobs.parse_job(body(job))


def test_rejects_an_sns_envelope_whose_message_is_not_json(jobs):
    with pytest.raises(jobs.InvalidJob, match="the SNS envelope's Message is not JSON"):
        jobs.parse_job(envelope("<job id='scan-7'/>"))


def test_rejects_an_sns_envelope_without_a_message_string(jobs, a_job):
    expected = r"the SNS envelope's Message is \{.*; expected a string of JSON"
    with pytest.raises(jobs.InvalidJob, match=expected):
        jobs.parse_job(envelope(a_job()))


def test_rejects_a_body_that_is_not_json(jobs):
    with pytest.raises(jobs.InvalidJob, match="the body is not JSON"):
        jobs.parse_job("scan-1 640x480")


def test_rejects_json_that_is_not_an_object(jobs):
    with pytest.raises(jobs.InvalidJob, match="the job is a JSON list, not an object"):
        jobs.parse_job("[1, 2]")


@pytest.mark.parametrize("job_id", ["", "a" * 65, "scan 1", "scan/1", "scän", 42, None])
def test_rejects_a_job_id_that_is_not_1_to_64_safe_characters(jobs, a_job, job_id):
    with pytest.raises(jobs.InvalidJob, match=r"job_id is .*; expected 1 to 64 characters"):
        jobs.parse_job(body(a_job(job_id=job_id)))


def test_accepts_a_job_id_of_64_characters(jobs, a_job):
    assert jobs.parse_job(body(a_job("a" * 64))).job_id == "a" * 64


@pytest.mark.parametrize("side", ["width", "height"])
@pytest.mark.parametrize("value", [0, 4097, -1, 2.5, "4", True])
def test_rejects_a_side_outside_1_to_4096(jobs, a_job, side, value):
    with pytest.raises(jobs.InvalidJob, match=f"{side} is .*; expected an integer from 1 to 4096"):
        jobs.parse_job(body(a_job(pixels=bytes(8), **{side: value})))


def test_accepts_sides_of_4096(jobs, a_job):
    job = jobs.parse_job(body(a_job(width=4096, height=1, max_size=1)))

    assert (job.width, job.height) == (4096, 1)


@pytest.mark.parametrize("max_size", [0, 1025, None])
def test_rejects_a_max_size_outside_1_to_1024(jobs, a_job, max_size):
    expected = r"max_size is .*; expected an integer from 1 to 1024$"
    with pytest.raises(jobs.InvalidJob, match=expected):
        jobs.parse_job(body(a_job(max_size=max_size)))


def test_rejects_pixels_whose_count_is_not_width_times_height(jobs, a_job):
    job = a_job(width=4, height=2, pixels=bytes(7))

    with pytest.raises(jobs.InvalidJob, match=r"pixels holds 7 bytes; expected width\*height = 8"):
        jobs.parse_job(body(job))


def test_rejects_pixels_that_are_not_base64(jobs, a_job):
    with pytest.raises(jobs.InvalidJob, match="pixels is not valid base64"):
        jobs.parse_job(body(a_job(pixels="not base64!")))


def test_rejects_missing_pixels(jobs, a_job):
    job = a_job()
    del job["pixels"]

    with pytest.raises(jobs.InvalidJob, match="pixels is missing"):
        jobs.parse_job(body(job))


def test_names_every_broken_rule_at_once(jobs, a_job):
    job = a_job("bad id", width=0, max_size=2000)

    with pytest.raises(jobs.InvalidJob) as raised:
        jobs.parse_job(body(job))

    assert [problem.split(" is ")[0] for problem in raised.value.problems] == [
        "job_id",
        "width",
        "max_size",
    ]


def test_a_long_value_is_shown_cut_short(jobs, a_job):
    with pytest.raises(jobs.InvalidJob, match=r"job_id is 'xxx.*\.\.\.; expected") as raised:
        jobs.parse_job(body(a_job("x" * 500)))

    assert len(str(raised.value)) < 120
