"""Receipts in the contract's words, from the usage service's: pure, no I/O."""

from tally_gateway.schemas_usage import UpstreamError, UpstreamReceipt
from tally_gateway.usage_reads import public_receipt


def upstream(status: str, **changes: object) -> UpstreamReceipt:
    fields: dict[str, object] = {
        "event_id": "e-1",
        "status": status,
        "duplicates": 0,
        "conflicts": 0,
        "errors": [],
    }
    return UpstreamReceipt.model_validate(fields | changes)


def test_given_a_conflict_then_it_is_recorded_with_the_refused_repeats_counted() -> None:
    conflict = upstream(
        "conflict",
        duplicates=2,
        conflicts=1,
        errors=[UpstreamError(field="event_id", reason="already recorded with another payload")],
    )

    receipt = public_receipt(conflict)

    assert receipt.model_dump(exclude_none=True) == {
        "event_id": "e-1",
        "status": "recorded",
        "duplicates": 2,
        "conflicts": 1,
    }


def test_given_a_rejection_then_the_first_broken_rule_is_named() -> None:
    rejected = upstream(
        "rejected",
        errors=[
            UpstreamError(field="quantity", reason="must be at least 0"),
            UpstreamError(field="occurred_at", reason="must not be in the future"),
        ],
    )

    receipt = public_receipt(rejected)

    assert (receipt.status, receipt.field, receipt.reason) == (
        "rejected",
        "quantity",
        "must be at least 0",
    )


def test_given_nothing_stored_then_the_receipt_is_unknown_without_a_reason() -> None:
    receipt = public_receipt(upstream("unknown"))

    assert receipt.model_dump(exclude_none=True) == {
        "event_id": "e-1",
        "status": "unknown",
        "duplicates": 0,
        "conflicts": 0,
    }
