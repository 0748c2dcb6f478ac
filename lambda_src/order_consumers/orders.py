"""The "order placed" event every consumer reads: a typed model and its parser.

An SQS record's body is either the order itself (raw message delivery) or the SNS envelope
whose ``Message`` is the order as a JSON string; both parse to the same ``Order``. A body that
is not JSON, is not shaped like an order, or breaks a rule raises ``InvalidOrder`` naming
every problem found, so a poison record is explained in one log line.

Amounts are ``Decimal`` end to end: JSON numbers are read as ``Decimal``, never ``float``, so
``19.99`` and ``"19.99"`` are the same price and the total is compared exactly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NoReturn

ORDER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
CURRENCY = re.compile(r"[A-Z]{3}")
DECIMAL_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")
SHOWN_VALUE_LENGTH = 40

_MISSING: Any = object()


class InvalidOrder(ValueError):
    """A record that no retry can fix; ``reason`` says why, in words fit for a log line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return self.quantity * self.unit_price


@dataclass(frozen=True, slots=True)
class Order:
    """A placed order whose rules all hold; built by ``parse_order`` or ``Order.from_dict``."""

    order_id: str
    customer_id: str
    currency: str
    lines: tuple[OrderLine, ...]
    total: Decimal

    @property
    def pk(self) -> str:
        """Partition key of the order's items in the orders table."""
        return f"ORDER#{self.order_id}"

    @classmethod
    def from_dict(cls, data: object) -> Order:
        """The order in decoded JSON; raises ``InvalidOrder`` naming every broken rule."""
        if not isinstance(data, Mapping):
            raise InvalidOrder(f"the order must be a JSON object, got {_json_type(data)}")
        problems: list[str] = []
        order_id = _text(
            data.get("order_id", _MISSING),
            ORDER_ID,
            "order_id must be 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-'",
            problems,
        )
        customer_id = _text(
            data.get("customer_id", _MISSING),
            None,
            "customer_id must be a non-empty string",
            problems,
        )
        currency = _text(
            data.get("currency", _MISSING),
            CURRENCY,
            "currency must be 3 uppercase letters (an ISO 4217 code)",
            problems,
        )
        lines = _lines(data.get("lines", _MISSING), problems)
        total = _amount(data.get("total", _MISSING), "total", problems)
        if lines is not None and total is not None:
            lines_sum = sum((line.amount for line in lines), Decimal(0))
            if total != lines_sum:
                problems.append(
                    f"total {total} does not equal the sum of quantity * unit_price over the "
                    f"lines, {lines_sum}"
                )
        if (
            problems
            or order_id is None
            or customer_id is None
            or currency is None
            or lines is None
            or total is None
        ):
            raise InvalidOrder("; ".join(problems))
        return cls(order_id, customer_id, currency, lines, total)


def parse_order(body: str) -> Order:
    """The order in an SQS record body, delivered raw or inside an SNS envelope."""
    document = _load_json(body, "the record body")
    if isinstance(document, Mapping) and document.get("Type") == "Notification":
        message = document.get("Message", _MISSING)
        if not isinstance(message, str):
            raise InvalidOrder(
                f"the SNS envelope's Message must be a string of JSON, got {_show(message)}"
            )
        document = _load_json(message, "the SNS envelope's Message")
    return Order.from_dict(document)


def _load_json(text: str, what: str) -> Any:
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise InvalidOrder(f"{what} is not JSON ({error})") from None
    except RecursionError:
        raise InvalidOrder(f"{what} is JSON nested too deeply to read") from None


def _reject_constant(name: str) -> NoReturn:
    raise InvalidOrder(f"{name} is not a number an order can hold")


def _text(
    value: object, pattern: re.Pattern[str] | None, rule: str, problems: list[str]
) -> str | None:
    if isinstance(value, str) and (
        pattern.fullmatch(value) if pattern is not None else value.strip()
    ):
        return value
    problems.append(f"{rule}, got {_show(value)}")
    return None


def _lines(value: object, problems: list[str]) -> tuple[OrderLine, ...] | None:
    if not isinstance(value, list) or not value:
        problems.append(f"lines must be a non-empty list, got {_show(value)}")
        return None
    lines: list[OrderLine] = []
    for index, line in enumerate(value):
        where = f"lines[{index}]"
        if not isinstance(line, Mapping):
            problems.append(f"{where} must be an object, got {_json_type(line)}")
            continue
        sku = _text(
            line.get("sku", _MISSING), None, f"{where}.sku must be a non-empty string", problems
        )
        quantity = _quantity(line.get("quantity", _MISSING), f"{where}.quantity", problems)
        unit_price = _amount(line.get("unit_price", _MISSING), f"{where}.unit_price", problems)
        if sku is not None and quantity is not None and unit_price is not None:
            lines.append(OrderLine(sku, quantity, unit_price))
    return tuple(lines) if len(lines) == len(value) else None


def _quantity(value: object, name: str, problems: list[str]) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    problems.append(f"{name} must be an integer >= 1, got {_show(value)}")
    return None


def _amount(value: object, name: str, problems: list[str]) -> Decimal | None:
    """A finite amount >= 0, given as a JSON number or as a string of decimal digits."""
    amount = _as_decimal(value)
    if amount is not None and amount.is_finite() and amount >= 0:
        return amount
    problems.append(
        f"{name} must be a number >= 0 (a JSON number or a decimal string), got {_show(value)}"
    )
    return None


def _as_decimal(value: object) -> Decimal | None:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str):
        return Decimal(value) if DECIMAL_TEXT.fullmatch(value) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return None


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def _show(value: object) -> str:
    """``value`` as it appeared in the JSON, cut short so that a log line stays a line."""
    if value is _MISSING:
        return "nothing"
    if value is None:
        return "null"
    shown = str(value) if isinstance(value, Decimal) else repr(value)
    if len(shown) > SHOWN_VALUE_LENGTH:
        shown = shown[: SHOWN_VALUE_LENGTH - 3] + "..."
    return shown
