"""Every rule of the producer contract `usage.events.v1` (CONTRACTS.md §1), broken one at a time.

Given a valid event, when one field breaks its rule, then validation fails naming that field.
"""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from tally_contracts.errors import FieldError, field_errors
from tally_contracts.usage import UsageCategory, UsageEvent, parse_usage_event

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SID = "AC" + "0123456789abcdef" * 2


def valid_event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": "call-42.a:b_c-d",
        "account_sid": SID,
        "category": "calls-outbound",
        "quantity": "12.5",
        "occurred_at": "2026-11-21T05:30:00-06:00",
        "phone_number": "+14155550100",
        "number_type": "promo",
        "attributes": {"campaign": "spring"},
    }
    event.update(changes)
    return {key: value for key, value in event.items() if value is not ...}


def parse(event: dict[str, Any] | str) -> UsageEvent:
    raw = event if isinstance(event, str) else json.dumps(event)
    return parse_usage_event(raw.encode(), now=NOW)


def errors_of(event: dict[str, Any] | str) -> list[FieldError]:
    with pytest.raises(ValidationError) as caught:
        parse(event)
    return field_errors(caught.value)


def test_given_a_valid_event_then_it_parses_with_decimal_quantity_and_utc_time() -> None:
    event = parse(valid_event())
    assert event.quantity == Decimal("12.5")
    assert event.occurred_at == datetime(2026, 11, 21, 11, 30, tzinfo=UTC)
    assert event.category is UsageCategory.CALLS_OUTBOUND


@pytest.mark.parametrize(
    ("field", "bad_value"),
    [
        ("event_id", ""),
        ("event_id", "x" * 129),
        ("event_id", "has space"),
        ("event_id", "slash/not-allowed"),
        ("event_id", 42),
        ("event_id", "trailing-newline\n"),
        ("account_sid", "AC123"),
        ("account_sid", "AC" + "0123456789ABCDEF" * 2),
        ("account_sid", "XX" + "0" * 32),
        ("account_sid", SID + "\n"),
        ("category", "calls-sideways"),
        ("quantity", "-1"),
        ("quantity", -0.5),
        ("quantity", "1000000000.000001"),
        ("quantity", "1.0000001"),
        ("quantity", "NaN"),
        ("quantity", "Infinity"),
        ("quantity", "twelve"),
        ("quantity", True),
        ("quantity", None),
        ("quantity", "1_000"),
        ("quantity", " 5 "),
        ("quantity", "+5"),
        ("quantity", "1e3"),
        ("quantity", "100000000.000000000000000000001"),
        ("occurred_at", "2026-11-21T06:30:00"),
        ("occurred_at", "2026-11-21"),
        ("occurred_at", "21/11/2026 06:30"),
        ("occurred_at", 1763700000),
        ("occurred_at", "2026-13-40T06:30:00Z"),
        ("occurred_at", (NOW + timedelta(minutes=5, seconds=1)).isoformat()),
        ("phone_number", "14155550100"),
        ("phone_number", "+1415"),
        ("phone_number", "+1234567890123456"),
        ("phone_number", "+14155550100\n"),
        ("number_type", "landline"),
        ("attributes", {f"k{i}": "v" for i in range(21)}),
        ("attributes", {"count": 3}),
    ],
)
def test_given_a_broken_rule_then_the_error_names_the_field(field: str, bad_value: Any) -> None:
    fields = {error.field.split(".")[0] for error in errors_of(valid_event(**{field: bad_value}))}
    assert fields == {field}


@pytest.mark.parametrize(
    "required", ["event_id", "account_sid", "category", "quantity", "occurred_at"]
)
def test_given_a_missing_required_field_then_the_error_names_it(required: str) -> None:
    assert [error.field for error in errors_of(valid_event(**{required: ...}))] == [required]


def test_given_phone_numbers_usage_without_a_number_then_phone_number_is_named() -> None:
    errors = errors_of(valid_event(category="phone-numbers", phone_number=...))
    assert [(e.field, e.reason) for e in errors] == [
        ("phone_number", "is required for category phone-numbers")
    ]


def test_given_phone_numbers_usage_without_a_number_type_then_number_type_is_named() -> None:
    errors = errors_of(valid_event(category="phone-numbers", number_type=...))
    assert [(e.field, e.reason) for e in errors] == [
        ("number_type", "is required for category phone-numbers")
    ]


def test_given_an_unknown_top_level_field_then_it_is_rejected_by_name() -> None:
    assert [error.field for error in errors_of(valid_event(price="0.01"))] == ["price"]


def test_given_malformed_json_then_the_error_names_the_body() -> None:
    assert [error.field for error in errors_of('{"event_id": ')] == ["(body)"]


def test_given_bytes_that_are_not_utf8_then_the_error_names_the_body() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_usage_event(b'{"event_id": "\xff"}', now=NOW)
    assert [error.field for error in field_errors(caught.value)] == ["(body)"]


def test_given_a_json_array_instead_of_an_object_then_it_is_rejected() -> None:
    assert errors_of("[1, 2]")[0].field == "(body)"


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (0, "0"),
        ("0.000001", "0.000001"),
        (1e9, "1000000000"),
        ("1.50", "1.5"),
        (999999999.999999, "999999999.999999"),
    ],
)
def test_given_quantity_at_the_limits_then_it_is_kept_exactly(quantity: Any, expected: str) -> None:
    event = parse(valid_event(quantity=quantity))
    assert event.wire_quantity() == expected
    assert json.loads(event.model_dump_json())["quantity"] == expected  # as forwarded


@pytest.mark.parametrize("number", ["1.0000000000000000001", "100000000.000000000000000000001"])
def test_given_a_json_number_with_too_many_decimals_then_it_is_not_rounded_away(
    number: str,
) -> None:
    raw = json.dumps(valid_event(quantity=0)).replace('"quantity": 0', f'"quantity": {number}')
    assert [error.field for error in errors_of(raw)] == ["quantity"]


def test_given_nan_as_a_json_constant_then_quantity_is_named() -> None:
    raw = json.dumps(valid_event(quantity=0)).replace('"quantity": 0', '"quantity": NaN')
    assert [error.field for error in errors_of(raw)] == ["quantity"]


def test_given_an_event_5_minutes_ahead_or_in_an_odd_offset_then_it_is_accepted() -> None:
    ahead = parse(valid_event(occurred_at=(NOW + timedelta(minutes=5)).isoformat()))
    nepal = parse(valid_event(occurred_at="2026-11-21T17:45:00+05:45"))
    assert ahead.occurred_at == NOW + timedelta(minutes=5)
    assert nepal.occurred_at == NOW


def test_given_optional_fields_omitted_then_a_minimal_event_is_valid() -> None:
    minimal = valid_event(phone_number=..., number_type=..., attributes=...)
    assert parse(minimal).attributes == {}
