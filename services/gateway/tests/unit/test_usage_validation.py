"""Which usage events of a request go on to Kafka, and what is said about the others."""

from datetime import UTC, datetime, timedelta
from typing import Any

from tally_contracts.usage import UsageEvent
from tally_gateway.domain import Rejection, encode_usage_event, validate_usage

SID = "AC" + "1" * 32
OTHER_SID = "AC" + "2" * 32
NOW = datetime(2026, 10, 15, 12, 0, tzinfo=UTC)


def _event(**overrides: Any) -> dict[str, Any]:
    event = {
        "event_id": "call-1",
        "category": "calls-outbound",
        "quantity": "2.5",
        "occurred_at": "2026-10-15T06:59:00-05:00",
    }
    return event | overrides


def test_given_events_without_account_sid_then_they_belong_to_the_account_in_the_path() -> None:
    usage = validate_usage([_event(), _event(event_id="call-2")], account_sid=SID, now=NOW)
    assert [event.account_sid for event in usage.accepted] == [SID, SID]
    assert usage.rejected == []


def test_given_the_same_account_sid_as_the_path_then_the_event_is_accepted() -> None:
    usage = validate_usage([_event(account_sid=SID)], account_sid=SID, now=NOW)
    assert len(usage.accepted) == 1


def test_given_another_account_sid_than_the_path_then_the_event_is_rejected_naming_it() -> None:
    usage = validate_usage([_event(account_sid=OTHER_SID)], account_sid=SID, now=NOW)
    assert usage.accepted == []
    assert [(r.index, r.field) for r in usage.rejected] == [(0, "account_sid")]


def test_given_bad_events_among_good_ones_then_each_rule_broken_is_listed_by_index() -> None:
    usage = validate_usage(
        [_event(), _event(quantity="-1"), "not an event", _event(colour="red", event_id="a b")],
        account_sid=SID,
        now=NOW,
    )
    assert len(usage.accepted) == 1
    assert sorted((r.index, r.field) for r in usage.rejected) == [
        (1, "quantity"),
        (2, "(event)"),
        (3, "colour"),
        (3, "event_id"),
    ]
    assert Rejection(1, "quantity", "must be at least 0") in usage.rejected


def test_given_a_rejection_then_its_path_names_the_field_in_the_request_body() -> None:
    assert Rejection(3, "quantity", "x").path == "events[3].quantity"
    assert Rejection(3, "attributes.k", "x").path == "events[3].attributes.k"
    assert Rejection(2, "(event)", "x").path == "events[2]"


def test_given_an_event_far_in_the_future_of_the_clock_then_it_is_rejected() -> None:
    late = (NOW + timedelta(minutes=6)).isoformat()
    usage = validate_usage([_event(occurred_at=late)], account_sid=SID, now=NOW)
    assert [(r.field, r.reason) for r in usage.rejected] == [
        ("occurred_at", "must not be more than 5 minutes in the future")
    ]


def test_given_an_accepted_event_then_it_is_forwarded_as_the_producer_contract_says() -> None:
    [event] = validate_usage([_event(quantity="100.000")], account_sid=SID, now=NOW).accepted
    wire = encode_usage_event(event)
    assert wire == (
        b'{"event_id":"call-1","account_sid":"' + SID.encode() + b'","category":"calls-outbound",'
        b'"quantity":"100","occurred_at":"2026-10-15T11:59:00Z","attributes":{}}'
    )
    assert UsageEvent.model_validate_json(wire, context={"now": NOW}) == event


def test_given_a_number_event_then_the_number_and_its_type_are_forwarded() -> None:
    raw = _event(
        category="phone-numbers",
        quantity=1,
        phone_number="+13125550100",
        number_type="promo",
        attributes={"campaign": "fall"},
    )
    [event] = validate_usage([raw], account_sid=SID, now=NOW).accepted
    assert UsageEvent.model_validate_json(encode_usage_event(event), context={"now": NOW}) == event
