"""inventory.handler: stock reserved once per order, line by line, all or nothing."""

from __future__ import annotations

from sqs_events import POISON_BODIES, an_order, poison_record

from constructs_lib.testing import lambda_event


def line(sku, quantity, unit_price="1.00"):
    return {"sku": sku, "quantity": quantity, "unit_price": unit_price}


def test_reserves_the_quantity_of_each_line(inventory, fanout, context, table):
    # GIVEN an order of three of SKU-1 and one of SKU-2
    fanout.publish(an_order("o-1", lines=[line("SKU-1", 3), line("SKU-2", 1)], total="4.00"))

    # WHEN inventory handles the batch
    response = inventory.handler(lambda_event(fanout.receive("raw")), context)

    # THEN each SKU's reserved stock grows by its quantity
    assert response == {"batchItemFailures": []}
    assert (table.reserved("SKU-1"), table.reserved("SKU-2")) == (3, 1)


def test_records_what_the_order_reserved(inventory, fanout, context, table):
    # GIVEN an order of three of SKU-1
    fanout.publish(an_order("o-1", lines=[line("SKU-1", 3)], total="3.00"))

    # WHEN inventory handles the batch
    inventory.handler(lambda_event(fanout.receive("envelope")), context)

    # THEN the order's reservation item says so
    [reservation] = table.items("RESERVATION")
    assert reservation["pk"] == "ORDER#o-1"
    assert reservation["reserved"] == {"SKU-1": {"N": "3"}}


def test_adds_up_lines_of_the_same_sku(inventory, fanout, context, table):
    # GIVEN an order listing SKU-1 on two lines
    fanout.publish(an_order("o-1", lines=[line("SKU-1", 2), line("SKU-1", 5)], total="7.00"))

    # WHEN inventory handles the batch
    response = inventory.handler(lambda_event(fanout.receive("raw")), context)

    # THEN both quantities are reserved
    assert response == {"batchItemFailures": []}
    assert table.reserved("SKU-1") == 7


def test_reservations_of_different_orders_add_up(inventory, fanout, context, table):
    # GIVEN two orders of SKU-1
    fanout.publish(an_order("o-1", lines=[line("SKU-1", 2)], total="2.00"))
    fanout.publish(an_order("o-2", lines=[line("SKU-1", 3)], total="3.00"))

    # WHEN inventory handles the batch
    inventory.handler(lambda_event(fanout.receive("raw")), context)

    # THEN the stock reserved is the sum
    assert table.reserved("SKU-1") == 5


def test_duplicate_deliveries_reserve_stock_once(inventory, fanout, context, table):
    # GIVEN the same order twice in one batch, then its message delivered again later
    fanout.publish(an_order("o-1"))
    fanout.publish(an_order("o-1"))
    first = fanout.receive("envelope")
    inventory.handler(lambda_event(first), context)
    fanout.make_visible_again("envelope", first)

    # WHEN inventory handles the later batch
    response = inventory.handler(lambda_event(fanout.receive("envelope")), context)

    # THEN the order's two units are reserved once
    assert response == {"batchItemFailures": []}
    assert table.reserved("SKU-1") == 2


def test_order_back_after_its_idempotency_record_expired_is_not_reserved_again(
    inventory, fanout, context, table, account, output
):
    # GIVEN an order reserved, whose idempotency record has since expired and gone
    fanout.publish(an_order("o-1"))
    first = fanout.receive("raw")
    inventory.handler(lambda_event(first), context)
    account.empty_idempotency_table()
    fanout.make_visible_again("raw", first)
    output()

    # WHEN the message is delivered again
    response = inventory.handler(lambda_event(fanout.receive("raw")), context)

    # THEN it succeeds without reserving again, and a warning says why
    assert response == {"batchItemFailures": []}
    assert table.reserved("SKU-1") == 2
    [warning] = output().at("WARNING")
    assert "reserved by an earlier delivery" in warning["message"]


def test_order_of_more_skus_than_one_transaction_holds_is_rejected(
    inventory, fanout, context, table, output
):
    # GIVEN an order of 100 distinct SKUs
    lines = [line(f"SKU-{n}", 1) for n in range(100)]
    fanout.publish(an_order("o-big", lines=lines, total="100.00"))
    [record] = fanout.receive("raw")

    # WHEN inventory handles it
    response = inventory.handler(lambda_event([record]), context)

    # THEN the record fails as invalid, says why, and reserves nothing
    assert response == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    [error] = output().at("ERROR")
    assert "100 distinct SKUs" in error["reason"]
    assert table.reserved("SKU-0") == 0


def test_reports_exactly_the_poison_records_as_batch_item_failures(
    inventory, fanout, context, table
):
    # GIVEN a valid order and a record whose total is not the sum of its lines
    fanout.publish(an_order("o-1"))
    mismatch = poison_record(POISON_BODIES["total mismatch"], fanout.queues["raw"].arn, "eu-west-1")

    # WHEN inventory handles the batch
    response = inventory.handler(lambda_event([*fanout.receive("raw"), mismatch]), context)

    # THEN only that record fails, and only the valid order's stock is reserved
    assert response == {"batchItemFailures": [{"itemIdentifier": mismatch["messageId"]}]}
    assert table.reserved("SKU-1") == 2
