"""`make demo` prints, per consumer, what the order fanout did with the sample orders."""

from __future__ import annotations

import io
import re

import docs_pages
import pytest
from aws_cdk import cx_api

from constructs_lib.testing import demo


@pytest.fixture(scope="module")
def printed(demo_assembly: cx_api.CloudAssembly) -> tuple[list[demo.ConsumerReport], str]:
    """Both acts: the order fanout, then push (the assembly holds both stacks, as the app's)."""
    out = io.StringIO()
    reports = demo.run(demo_assembly, out)
    return reports, out.getvalue()


def test_each_consumer_gets_its_share_and_the_malformed_order_is_dead_lettered(
    printed: tuple[list[demo.ConsumerReport], str],
) -> None:
    reports, _ = printed
    rows = {
        r.consumer: (r.delivered, r.filtered_out, r.processed, r.dead_lettered) for r in reports
    }
    assert rows == {
        "Billing": (6, 0, 5, 1),
        "Shipping": (6, 0, 5, 1),
        "Inventory": (6, 0, 5, 1),
        "Analytics": (2, 4, 2, 0),
        "CustomerNotifications": (3, 3, 3, 0),
    }
    orders = {r.consumer: r.orders for r in reports if r.orders}
    assert orders == {
        "Analytics": ["o-1002", "o-1004"],
        "CustomerNotifications": ["o-1001", "o-1002", "o-1004"],
    }


def test_the_operator_command_lists_the_dead_letter_queues_at_the_end(
    printed: tuple[list[demo.ConsumerReport], str],
) -> None:
    _, text = printed
    dlq_part = text.split("$ fanout dlq list", 1)[1]
    depths = re.findall(
        r"OrderFanout-OrderPlaced-(\w+)-[0-9A-F]{8}-dlq\s+processing\s+(\d+)", dlq_part
    )
    assert dict(depths) == {
        "Analytics": "0",
        "Billing": "1",
        "CustomerNotifications": "0",
        "Inventory": "1",
        "Shipping": "1",
    }


@pytest.mark.parametrize(
    ("heading", "opening"),
    [("consumer", "\n\nconsumer "), ("device", "\ndevice ")],
    ids=["the consumers of the first act", "the devices of the second act"],
)
def test_the_readme_shows_the_table_the_demo_prints(
    printed: tuple[list[demo.ConsumerReport], str], heading: str, opening: str
) -> None:
    _, text = printed
    table = text.split(opening, 1)[1].split("\n\n", 1)[0]
    assert f"{heading} {table}" in docs_pages.text()


def test_the_second_act_delivers_by_segment_and_retires_the_disabled_device(
    printed: tuple[list[demo.ConsumerReport], str],
) -> None:
    _, text = printed
    act = text.split("\ndevice ", 1)[1]
    rows = {line.split()[0]: line for line in act.splitlines()[1:4]}
    assert rows["phone"].split("  ")[-1].strip() == "kept"
    assert "Sale starts now; Try the new checkout; Last day of the sale" in rows["phone"]
    assert "Sale starts now; Try the new checkout; Last day of the sale" in rows["watch"]
    tablet = re.split(r"\s{2,}", rows["tablet"])
    assert tablet[-2:] == ["Sale starts now", "deleted by feedback"]
