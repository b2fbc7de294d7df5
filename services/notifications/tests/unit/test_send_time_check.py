"""The send-time guard's pure split: which claimed deliveries go, are withheld, or wait."""

from datetime import UTC, datetime

from tally_notifications.delivery.policy import Delivery, check_at_send, gated
from tally_notifications.policy import PREPAID_ONLY

NOW = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)


def delivery(delivery_id: str, account_sid: str, kind: str) -> Delivery:
    return Delivery(
        delivery_id=delivery_id,
        decision_id=f"decision-{delivery_id}",
        account_sid=account_sid,
        channel="email",
        recipient="owner@example.test",
        kind=kind,
        subject="",
        body={},
        attempts=1,
        created_at=NOW,
    )


def test_the_five_prepaid_only_kinds_and_only_they_are_gated() -> None:
    assert {kind for kind in PREPAID_ONLY if gated(kind)} == {
        "recharge_reminder",
        "card_charged",
        "card_declined",
        "suspension_warning",
        "account_suspended",
    }
    assert not gated("invoice_issued") and not gated("credit_exposure")


def test_given_answers_then_invoiced_is_withheld_others_sent_and_the_unanswered_wait() -> None:
    claimed = [
        delivery("d1", "AC-invoiced", "card_declined"),
        delivery("d2", "AC-payg", "recharge_reminder"),
        delivery("d3", "AC-trial", "suspension_warning"),
        delivery("d4", "AC-silent", "account_suspended"),
        delivery("d5", "AC-invoiced", "invoice_issued"),
        delivery("d6", "AC-silent", "invoice_overdue"),
    ]
    modes = {"AC-invoiced": "invoiced", "AC-payg": "pay_as_you_go", "AC-trial": "trial"}

    check = check_at_send(claimed, modes, {"AC-silent": "the accounts service did not answer: 503"})

    assert [d.delivery_id for d in check.send] == ["d2", "d3", "d5", "d6"]
    assert list(check.withheld) == ["d1"]
    assert check.withheld["d1"].startswith("prepaid_only: card_declined")
    assert "switched to invoiced before delivery" in check.withheld["d1"]
    assert check.postponed == {"d4": "the accounts service did not answer: 503"}
