"""orders: the order contract, as parsed from an SQS record body (no AWS involved)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqs_events import an_order


def envelope(message: object) -> str:
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "5f1f2c3e-0000-4000-8000-000000000000",
            "TopicArn": "arn:aws:sns:eu-west-1:123456789012:order-placed",
            "Message": message,
            "Timestamp": "2026-11-22T04:45:47.490Z",
        }
    )


def body(**changes: object) -> str:
    return json.dumps({**an_order("o-123"), **changes})


def test_reads_an_order_delivered_raw(orders):
    order = orders.parse_order(body())

    assert order == orders.Order(
        order_id="o-123",
        customer_id="c-9",
        currency="EUR",
        lines=(orders.OrderLine(sku="SKU-1", quantity=2, unit_price=Decimal("19.99")),),
        total=Decimal("39.98"),
    )


def test_reads_the_same_order_from_its_sns_envelope(orders):
    assert orders.parse_order(envelope(body())) == orders.parse_order(body())


def test_reads_prices_given_as_json_numbers_exactly(orders):
    raw = '{"order_id": "o-1", "customer_id": "c-9", "currency": "EUR", "total": 0.3,'
    raw += ' "lines": [{"sku": "A", "quantity": 3, "unit_price": 0.1}]}'

    order = orders.parse_order(raw)

    assert order.lines[0].unit_price == Decimal("0.1")
    assert order.total == Decimal("0.3")


def test_reads_whole_number_prices(orders):
    order = orders.parse_order(
        body(lines=[{"sku": "SKU-1", "quantity": 2, "unit_price": 20}], total=40)
    )

    assert (order.lines[0].unit_price, order.total) == (Decimal(20), Decimal(40))


def test_compares_the_total_as_a_decimal_number(orders):
    assert orders.parse_order(body(total="39.980")).total == Decimal("39.98")


def test_accepts_a_line_given_away_free(orders):
    lines = [
        {"sku": "SKU-1", "quantity": 2, "unit_price": "19.99"},
        {"sku": "SAMPLE", "quantity": 1, "unit_price": "0"},
    ]

    assert len(orders.parse_order(body(lines=lines)).lines) == 2


def test_ignores_fields_it_does_not_know(orders):
    order = orders.parse_order(body(customer_contact="email", placed_at="2026-11-22"))

    assert order.order_id == "o-123"


def test_accepts_an_order_id_of_64_characters(orders):
    assert orders.parse_order(body(order_id="a" * 64)).order_id == "a" * 64


def test_keys_the_order_items_by_order_id(orders):
    assert orders.parse_order(body()).pk == "ORDER#o-123"


def test_rejects_a_body_that_is_not_json(orders):
    with pytest.raises(orders.InvalidOrder, match=r"^the record body is not JSON \(Expecting"):
        orders.parse_order("order o-1: 2 x SKU-1")


@pytest.mark.parametrize("document", [[], "o-123", 42, None])
def test_rejects_json_that_is_not_an_object(orders, document):
    with pytest.raises(orders.InvalidOrder, match=r"^the order must be a JSON object, got "):
        orders.parse_order(json.dumps(document))


def test_rejects_an_envelope_whose_message_is_not_json(orders):
    with pytest.raises(orders.InvalidOrder, match=r"^the SNS envelope's Message is not JSON"):
        orders.parse_order(envelope("<order id='o-1'/>"))


def test_rejects_an_envelope_whose_message_is_not_a_string(orders):
    with pytest.raises(orders.InvalidOrder, match=r"Message must be a string of JSON, got "):
        orders.parse_order(envelope(an_order()))


@pytest.mark.parametrize("order_id", ["", "a" * 65, "o 123", "o/123", "ordér", 123, None], ids=repr)
def test_rejects_an_order_id_outside_64_letters_digits_underscores_or_hyphens(orders, order_id):
    with pytest.raises(orders.InvalidOrder, match=r"^order_id must be 1 to 64 characters of"):
        orders.parse_order(body(order_id=order_id))


def test_rejects_an_order_without_order_id(orders):
    order = an_order()
    del order["order_id"]

    with pytest.raises(orders.InvalidOrder, match=r"order_id must be .*, got nothing$"):
        orders.parse_order(json.dumps(order))


@pytest.mark.parametrize("customer_id", ["", "   ", None, 9], ids=repr)
def test_rejects_an_empty_customer_id(orders, customer_id):
    with pytest.raises(orders.InvalidOrder, match=r"^customer_id must be a non-empty string"):
        orders.parse_order(body(customer_id=customer_id))


@pytest.mark.parametrize("currency", ["eur", "EURO", "E1R", "", 978], ids=repr)
def test_rejects_a_currency_that_is_not_three_uppercase_letters(orders, currency):
    with pytest.raises(orders.InvalidOrder, match=r"^currency must be 3 uppercase letters"):
        orders.parse_order(body(currency=currency))


@pytest.mark.parametrize("lines", [[], None, {"sku": "SKU-1"}], ids=repr)
def test_rejects_an_order_without_lines(orders, lines):
    with pytest.raises(orders.InvalidOrder, match=r"^lines must be a non-empty list"):
        orders.parse_order(body(lines=lines, total="0"))


def test_rejects_a_line_that_is_not_an_object(orders):
    with pytest.raises(orders.InvalidOrder, match=r"^lines\[0\] must be an object, got a string"):
        orders.parse_order(body(lines=["SKU-1 x 2"]))


@pytest.mark.parametrize("sku", ["", " ", None], ids=repr)
def test_rejects_a_line_without_sku(orders, sku):
    lines = [{"sku": sku, "quantity": 2, "unit_price": "19.99"}]

    with pytest.raises(orders.InvalidOrder, match=r"^lines\[0\]\.sku must be a non-empty"):
        orders.parse_order(body(lines=lines))


@pytest.mark.parametrize("quantity", [0, -1, 2.5, "2", True, None], ids=repr)
def test_rejects_a_quantity_that_is_not_a_whole_number_of_at_least_one(orders, quantity):
    lines = [{"sku": "SKU-1", "quantity": quantity, "unit_price": "19.99"}]

    with pytest.raises(orders.InvalidOrder, match=r"^lines\[0\]\.quantity must be an integer"):
        orders.parse_order(body(lines=lines, total="19.99"))


@pytest.mark.parametrize("unit_price", ["-1.00", -1, "19,99", "1e3", "", True, None], ids=repr)
def test_rejects_a_unit_price_that_is_not_a_number_of_at_least_zero(orders, unit_price):
    lines = [{"sku": "SKU-1", "quantity": 1, "unit_price": unit_price}]

    with pytest.raises(orders.InvalidOrder, match=r"^lines\[0\]\.unit_price must be a number"):
        orders.parse_order(body(lines=lines))


@pytest.mark.parametrize("total", ["about 40", "", None, [39.98]], ids=repr)
def test_rejects_a_total_that_is_not_a_number(orders, total):
    with pytest.raises(orders.InvalidOrder, match=r"^total must be a number >= 0"):
        orders.parse_order(body(total=total))


def test_rejects_a_total_that_is_not_the_sum_of_the_lines(orders):
    with pytest.raises(
        orders.InvalidOrder,
        match=r"^total 40\.00 does not equal the sum of quantity \* unit_price over the lines, "
        r"39\.98$",
    ):
        orders.parse_order(body(total="40.00"))


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_rejects_amounts_that_are_not_finite(orders, constant):
    raw = body().replace('"39.98"', constant)

    with pytest.raises(orders.InvalidOrder, match=f"^{constant} is not a number an order can"):
        orders.parse_order(raw)


def test_names_every_problem_in_one_reason(orders):
    with pytest.raises(orders.InvalidOrder) as raised:
        orders.parse_order(body(order_id="", currency="eur", lines=[]))

    assert raised.value.reason.split("; ") == [
        "order_id must be 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-', got ''",
        "currency must be 3 uppercase letters (an ISO 4217 code), got 'eur'",
        "lines must be a non-empty list, got []",
    ]


def test_cuts_long_values_short_in_the_reason(orders):
    with pytest.raises(orders.InvalidOrder) as raised:
        orders.parse_order(body(customer_id=7, currency="X" * 10_000))

    assert len(raised.value.reason) < 200
    assert raised.value.reason.endswith("...")
