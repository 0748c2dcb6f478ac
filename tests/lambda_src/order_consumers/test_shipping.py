"""shipping.handler: one shipment per order, listing what to ship."""

from __future__ import annotations

from sqs_events import POISON_BODIES, an_order, poison_record

from constructs_lib.testing import lambda_event

TWO_LINES = [
    {"sku": "SKU-1", "quantity": 2, "unit_price": "19.99"},
    {"sku": "SKU-2", "quantity": 1, "unit_price": 5},
]


def test_creates_a_shipment_listing_sku_and_quantity_of_each_line(shipping, fanout, context, table):
    # GIVEN an order of two lines, delivered in its SNS envelope
    fanout.publish(an_order("o-1", lines=TWO_LINES, total="44.98"))

    # WHEN shipping handles the batch
    response = shipping.handler(lambda_event(fanout.receive("envelope")), context)

    # THEN one shipment lists both lines under the order
    assert response == {"batchItemFailures": []}
    [shipment] = table.items("SHIPMENT#")
    assert shipment["pk"] == "ORDER#o-1"
    assert shipment["sk"] == f"SHIPMENT#{shipment['shipment_id']}"
    assert [(line["M"]["sku"]["S"], line["M"]["quantity"]["N"]) for line in shipment["lines"]] == [
        ("SKU-1", "2"),
        ("SKU-2", "1"),
    ]


def test_duplicate_deliveries_create_one_shipment(shipping, fanout, context, table):
    # GIVEN the same order twice in one batch, then its message delivered again later
    fanout.publish(an_order("o-1"))
    fanout.publish(an_order("o-1"))
    first = fanout.receive("raw")
    shipping.handler(lambda_event(first), context)
    fanout.make_visible_again("raw", first[:1])

    # WHEN shipping handles the later batch
    response = shipping.handler(lambda_event(fanout.receive("raw")), context)

    # THEN nothing failed and one shipment exists
    assert response == {"batchItemFailures": []}
    assert len(table.items("SHIPMENT#")) == 1


def test_reports_exactly_the_poison_records_as_batch_item_failures(
    shipping, fanout, context, table
):
    # GIVEN a valid order between two poison records
    fanout.publish(an_order("o-1"))
    queue_arn = fanout.queues["envelope"].arn
    not_json = poison_record(POISON_BODIES["not JSON"], queue_arn, fanout.region)
    garbage = poison_record(POISON_BODIES["envelope with garbage Message"], queue_arn, "eu-west-1")

    # WHEN shipping handles the batch
    records = [not_json, *fanout.receive("envelope"), garbage]
    response = shipping.handler(lambda_event(records), context)

    # THEN the two poison records fail and the order ships
    assert response == {
        "batchItemFailures": [
            {"itemIdentifier": not_json["messageId"]},
            {"itemIdentifier": garbage["messageId"]},
        ]
    }
    assert [item["order_id"] for item in table.items("SHIPMENT#")] == ["o-1"]
