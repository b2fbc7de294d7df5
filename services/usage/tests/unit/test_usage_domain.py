"""The pure usage rules: validation of raw messages, canonical payloads, dedupe, receipts."""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from tally_contracts.decimals import plain_decimal
from tally_contracts.errors import FieldError
from tally_contracts.usage import UsageEvent, UsageRecorded
from tally_usage.domain import (
    AcceptedUsage,
    InvalidUsage,
    Outcome,
    RawUsageMessage,
    StoredUsage,
    canonical_payload,
    classify_repeat,
    payload_hash,
    sort_batch,
    validate_usage,
)
from tally_usage.published import dead_letter, usage_recorded
from tally_usage.receipts import (
    EventHistory,
    ReceiptStatus,
    receipt_errors,
    receipt_status,
)

SID = "AC" + "0123456789abcdef" * 2
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def event_fields(**changes: Any) -> dict[str, Any]:
    fields = {
        "event_id": "call-1",
        "account_sid": SID,
        "category": "calls-outbound",
        "quantity": "1.5",
        "occurred_at": "2026-11-21T11:00:00Z",
    }
    return fields | changes


def message(value: bytes, key: bytes | None = SID.encode()) -> RawUsageMessage:
    return RawUsageMessage(topic="usage.events.v1", partition=3, offset=42, key=key, value=value)


def valid_event(**changes: Any) -> UsageEvent:
    verdict = validate_usage(message(json.dumps(event_fields(**changes)).encode()), NOW)
    assert isinstance(verdict, UsageEvent)
    return verdict


def test_given_a_record_then_its_letter_id_follows_its_position_and_bytes() -> None:
    letter_id = message(b"{}").letter_id

    assert letter_id == message(b"{}").letter_id  # the same record delivered again
    assert letter_id.startswith("DL") and len(letter_id) == 34
    assert letter_id != message(b"{ }").letter_id  # other bytes at the same position
    moved = RawUsageMessage(topic="usage.events.v1", partition=3, offset=43, key=None, value=b"{}")
    assert letter_id != moved.letter_id


def test_given_a_valid_event_keyed_by_its_account_then_it_is_accepted() -> None:
    event = valid_event()
    assert (event.account_sid, event.event_id, event.quantity) == (SID, "call-1", Decimal("1.5"))


def test_given_bad_json_then_the_body_is_named_and_the_key_identifies_the_account() -> None:
    verdict = validate_usage(message(b'{"event_id": "half a json'), NOW)

    assert isinstance(verdict, InvalidUsage)
    assert verdict.errors[0].field == "(body)"
    assert "json" in verdict.errors[0].reason.lower()
    assert (verdict.account_sid, verdict.event_id) == (SID, None)


def test_given_a_broken_rule_then_the_field_is_named_and_the_event_still_identified() -> None:
    raw = json.dumps(event_fields(quantity="-3")).encode()

    verdict = validate_usage(message(raw), NOW)

    assert verdict == InvalidUsage(
        [FieldError(field="quantity", reason="must be at least 0")], SID, "call-1"
    )


def test_given_an_event_from_the_future_of_the_clock_then_it_is_refused() -> None:
    raw = json.dumps(event_fields(occurred_at="2026-11-21T12:06:00Z")).encode()

    verdict = validate_usage(message(raw), NOW)

    assert isinstance(verdict, InvalidUsage)
    assert [error.field for error in verdict.errors] == ["occurred_at"]


def test_given_a_key_that_is_not_the_events_account_then_account_sid_is_named() -> None:
    other = "AC" + "f" * 32
    raw = json.dumps(event_fields()).encode()

    verdict = validate_usage(message(raw, key=other.encode()), NOW)

    assert isinstance(verdict, InvalidUsage)
    assert [error.field for error in verdict.errors] == ["account_sid"]
    assert "differs from the message key" in verdict.errors[0].reason
    assert (verdict.account_sid, verdict.event_id) == (SID, "call-1")


def test_given_no_key_then_account_sid_is_named() -> None:
    verdict = validate_usage(message(json.dumps(event_fields()).encode(), key=None), NOW)

    assert isinstance(verdict, InvalidUsage)
    assert "no key" in verdict.errors[0].reason


def test_given_a_json_array_then_it_is_refused_without_identity() -> None:
    verdict = validate_usage(message(b"[1, 2]", key=None), NOW)

    assert isinstance(verdict, InvalidUsage)
    assert (verdict.account_sid, verdict.event_id) == (None, None)


def test_given_the_same_quantity_as_number_or_padded_string_then_the_payload_is_the_same() -> None:
    as_number = valid_event(quantity=1.5)
    as_padded_string = valid_event(quantity="1.50")

    assert canonical_payload(as_number) == canonical_payload(as_padded_string)
    assert payload_hash(as_number) == payload_hash(as_padded_string)


def test_given_the_same_instant_in_another_offset_then_the_payload_is_the_same() -> None:
    in_utc = valid_event(occurred_at="2026-11-21T11:00:00Z")
    in_paris = valid_event(occurred_at="2026-11-21T12:00:00+01:00")

    assert payload_hash(in_utc) == payload_hash(in_paris)


def test_given_attributes_in_another_order_then_the_payload_is_the_same() -> None:
    one_way = valid_event(attributes={"a": "1", "b": "2"})
    other_way = valid_event(attributes={"b": "2", "a": "1"})

    assert payload_hash(one_way) == payload_hash(other_way)


def test_given_another_quantity_then_the_payload_differs() -> None:
    assert payload_hash(valid_event(quantity="1.5")) != payload_hash(valid_event(quantity="2"))


def test_canonical_payload_lists_the_fields_normalised_in_a_fixed_order() -> None:
    event = valid_event(
        quantity="100.000", occurred_at="2026-11-21T12:00:00+01:00", attributes={"b": "2", "a": "1"}
    )

    assert json.loads(canonical_payload(event)) == [
        "call-1",
        SID,
        "calls-outbound",
        "100",
        "2026-11-21T11:00:00+00:00",
        None,
        None,
        [["a", "1"], ["b", "2"]],
    ]


def accepted_at(offset: int, **changes: Any) -> AcceptedUsage:
    event = valid_event(**changes)
    raw = RawUsageMessage(topic="usage.events.v1", partition=3, offset=offset, key=None, value=b"")
    return AcceptedUsage(raw, event, payload_hash(event))


@pytest.mark.parametrize(
    ("same_payload", "position", "expected"),
    [
        (True, (3, 42), Outcome.REDELIVERED),  # the very record that stored it, again
        (True, (3, 7), Outcome.DUPLICATE),
        (False, (3, 7), Outcome.CONFLICT),
        (True, (None, None), Outcome.DUPLICATE),  # stored before positions were kept
    ],
)
def test_given_what_is_stored_under_the_id_then_a_repeat_is_classified(
    same_payload: bool, position: tuple[int | None, int | None], expected: Outcome
) -> None:
    accepted = accepted_at(42)
    stored_hash = accepted.payload_hash if same_payload else "another payload"

    assert classify_repeat(accepted, StoredUsage(stored_hash, *position)) is expected


def test_given_one_id_twice_in_a_batch_then_the_first_stands_and_the_second_is_a_repeat() -> None:
    first = json.dumps(event_fields(quantity="1")).encode()
    second = json.dumps(event_fields(quantity="2")).encode()
    broken = json.dumps(event_fields(quantity="-1")).encode()

    batch = sort_batch([message(first), message(broken), message(second)], NOW)

    assert [a.event.quantity for a in batch.firsts] == [Decimal(1)]
    assert [a.event.quantity for a in batch.repeats_in_batch] == [Decimal(2)]
    assert [bad.errors[0].field for _, bad in batch.invalid] == ["quantity"]


def test_given_an_accepted_event_then_usage_recorded_is_deterministic_and_stamped_now() -> None:
    event = valid_event(quantity="2.500")

    recorded = usage_recorded(event, NOW)

    assert recorded == usage_recorded(event, NOW)
    assert recorded.event_id == f"usage:{SID}:call-1"
    assert recorded.occurred_at == NOW
    assert recorded.usage_occurred_at == datetime(2026, 11, 21, 11, 0, tzinfo=UTC)
    assert recorded.quantity == Decimal("2.5")


def test_given_an_accepted_event_then_usage_recorded_is_what_validating_its_json_gives() -> None:
    # usage_recorded skips pydantic's construction for speed: it must build the same model.
    event = valid_event(quantity="2.500")

    recorded = usage_recorded(event, NOW, local_date=date(2026, 11, 21), period="2026-11@UTC")

    again = UsageRecorded.model_validate_json(recorded.model_dump_json())
    assert again == recorded
    assert again.model_dump_json() == recorded.model_dump_json()
    assert recorded.model_fields_set == set(UsageRecorded.model_fields)
    assert list(recorded.model_dump()) == list(UsageRecorded.model_fields)


def test_given_undecodable_bytes_then_the_dead_letter_keeps_them_readable_and_says_where() -> None:
    raw = message(b"\xff not json", key=None)

    letter = dead_letter(raw, [FieldError(field="(body)", reason="bad")], NOW)

    assert letter.original == "\ufffd not json"
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == (
        "usage.events.v1",
        3,
        42,
    )
    assert (letter.key, letter.reason, letter.rejected_at) == (None, "invalid", NOW)


RECORDED_AT = NOW - timedelta(hours=1)
REASON = [FieldError(field="quantity", reason="must be at least 0")]


@pytest.mark.parametrize(
    ("history", "status"),
    [
        (EventHistory(), ReceiptStatus.UNKNOWN),
        (EventHistory(recorded_at=RECORDED_AT), ReceiptStatus.RECORDED),
        (EventHistory(recorded_at=RECORDED_AT, duplicates=2), ReceiptStatus.RECORDED),
        (EventHistory(recorded_at=RECORDED_AT, conflicts=1), ReceiptStatus.CONFLICT),
        (EventHistory(last_rejection=REASON, rejections=1), ReceiptStatus.REJECTED),
        (
            EventHistory(recorded_at=RECORDED_AT, last_rejection=REASON, rejections=1),
            ReceiptStatus.RECORDED,
        ),
    ],
)
def test_given_an_event_history_then_the_receipt_says_whether_it_counts(
    history: EventHistory, status: ReceiptStatus
) -> None:
    assert receipt_status(history) is status


def test_given_a_conflict_or_rejection_then_the_receipt_says_why() -> None:
    conflicted = EventHistory(recorded_at=RECORDED_AT, conflicts=1)
    rejected = EventHistory(last_rejection=REASON, rejections=1)

    assert [error.field for error in receipt_errors("call-1", conflicted)] == ["event_id"]
    assert receipt_errors("call-1", rejected) == REASON
    assert receipt_errors("call-1", EventHistory(recorded_at=RECORDED_AT)) == []


@pytest.mark.parametrize(
    ("total", "text"), [("12.500000", "12.5"), ("1E+2", "100"), ("0.000", "0"), ("7", "7")]
)
def test_quantities_read_as_plain_decimal_strings(total: str, text: str) -> None:
    assert plain_decimal(Decimal(total)) == text
