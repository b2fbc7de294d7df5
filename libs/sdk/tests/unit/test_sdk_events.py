"""The SDK refuses what the contract refuses, naming the field, and encodes as the gateway does."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from tally_contracts.usage import UsageEvent
from tally_gateway.domain import encode_usage_event
from tally_sdk.events import InvalidUsageEvent, batches, check_events, encode_event, validate_event

SID = "AC" + "a" * 32
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def event(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "event_id": "e-1",
        "account_sid": SID,
        "category": "sms-outbound",
        "quantity": "3",
        "occurred_at": "2026-11-29T10:00:00Z",
    }
    return base | overrides


def test_a_valid_event_becomes_the_contract_model() -> None:
    valid = validate_event(event(quantity=Decimal("1.5")), now=NOW)
    assert isinstance(valid, UsageEvent)
    assert valid.quantity == Decimal("1.5")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"quantity": "1.0000001"}, "quantity"),
        ({"category": "fax"}, "category"),
        ({"occurred_at": "2026-11-29T13:00:00Z"}, "occurred_at"),  # an hour in the future
        ({"event_id": "has space"}, "event_id"),
        ({"colour": "red"}, "colour"),
        ({"category": "phone-numbers", "number_type": "local"}, "phone_number"),
    ],
)
def test_an_invalid_event_is_refused_naming_its_field(
    overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidUsageEvent) as refused:
        validate_event(event(**overrides), now=NOW)
    assert [e.field for e in refused.value.errors] == [field]
    assert field in str(refused.value)
    assert refused.value.event_id == overrides.get("event_id", "e-1")


def test_the_account_fills_in_a_missing_sid_and_refuses_another() -> None:
    without_sid = event()
    del without_sid["account_sid"]
    assert validate_event(without_sid, account_sid=SID, now=NOW).account_sid == SID
    with pytest.raises(InvalidUsageEvent) as refused:
        validate_event(event(account_sid="AC" + "b" * 32), account_sid=SID, now=NOW)
    assert refused.value.errors[0].field == "account_sid"


def test_a_model_is_checked_again_like_a_mapping() -> None:
    model = validate_event(event(), now=NOW)
    assert validate_event(model, now=NOW) == model
    with pytest.raises(InvalidUsageEvent):
        validate_event(model, account_sid="AC" + "b" * 32, now=NOW)


def test_check_events_keeps_every_index_valid_or_invalid() -> None:
    checked = check_events(
        [event(event_id="a"), event(event_id="b", quantity="-1"), event(event_id="c")], now=NOW
    )
    assert [index for index, _ in checked.valid] == [0, 2]
    assert [(index, e.errors[0].field) for index, e in checked.invalid] == [(1, "quantity")]


def test_the_bytes_are_the_gateways_and_the_same_each_time() -> None:
    valid = validate_event(event(quantity=Decimal("100.000")), now=NOW)
    assert encode_event(valid) == encode_usage_event(valid)
    assert encode_event(validate_event(event(quantity="100"), now=NOW)) == encode_event(valid)
    assert b'"quantity":"100"' in encode_event(valid)


def test_batches_split_in_order_with_a_shorter_last() -> None:
    assert batches(list(range(2500)), 1000) == [
        list(range(1000)),
        list(range(1000, 2000)),
        list(range(2000, 2500)),
    ]
    assert batches([], 1000) == []
    with pytest.raises(ValueError):
        batches([1], 0)
