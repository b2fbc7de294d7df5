"""Deciding about one trigger: deferred unless fresh, then the policy, then the messages."""

from datetime import UTC, datetime
from decimal import Decimal

from tally_contracts.accounts import AccountStatus, AccountSuspended, BillingMode, SuspensionReason
from tally_contracts.balances import BalanceCrossed, BalanceCrossing
from tally_contracts.invoices import InvoiceIssued
from tally_contracts.topics import ACCOUNT_LIFECYCLE, BALANCE_ALERTS, INVOICE_EVENTS
from tally_notifications.domain import AccountView, Outcome, decide, decision_id_for
from tally_notifications.policy import Channel, Kind
from tally_notifications.triggers import Trigger, trigger_from

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SID = "AC" + "0123456789abcdef" * 2


def crossed(crossing: BalanceCrossing, *, auto_recharge: bool = False) -> Trigger:
    event = BalanceCrossed(
        event_id=f"crossing:{SID}:{crossing}",
        occurred_at=datetime(2026, 11, 21, 3, 0, tzinfo=UTC),  # the 20th in Chicago
        account_sid=SID,
        crossing=crossing,
        balance=Decimal("4.395"),
        threshold=Decimal("10"),
        auto_recharge=auto_recharge,
    )
    trigger = trigger_from(BALANCE_ALERTS, event)
    assert trigger is not None
    return trigger


def account(mode: BillingMode, **changes: object) -> AccountView:
    fields: dict[str, object] = {
        "account_sid": SID,
        "version": 3,
        "billing_mode": mode,
        "status": AccountStatus.ACTIVE,
        "time_zone": "America/Chicago",
        "contact_email": "billing@acme.example",
        "webhook_url": "https://acme.example/hooks",
    } | changes
    return AccountView(**fields)  # type: ignore[arg-type]


def test_given_a_low_crossing_of_a_pay_as_you_go_account_then_sent_by_mail_and_webhook() -> None:
    decided = decide(
        crossed(BalanceCrossing.LOW),
        account(BillingMode.PAY_AS_YOU_GO),
        fresh=None,
        ops_emails=(),
        now=NOW,
    )
    assert decided.outcome is Outcome.SENT
    assert decided.billing_mode is BillingMode.PAY_AS_YOU_GO
    assert decided.channels == (Channel.EMAIL, Channel.WEBHOOK)
    assert [d.recipient for d in decided.deliveries] == [
        "billing@acme.example",
        "https://acme.example/hooks",
    ]
    mail = decided.deliveries[0]
    assert mail.subject == "Your Tally balance is low: 4.40 USD"
    assert mail.body["balance"] == "4.40"
    assert mail.body["threshold"] == "10.00"
    assert mail.body["currency"] == "USD"
    assert mail.body["as_of"] == "2026-11-20"  # the local date in Chicago, not UTC's 21st


def test_given_an_invoiced_account_then_the_low_crossing_is_suppressed_naming_the_rule() -> None:
    decided = decide(
        crossed(BalanceCrossing.LOW),
        account(BillingMode.INVOICED),
        fresh=None,
        ops_emails=(),
        now=NOW,
    )
    assert decided.outcome is Outcome.SUPPRESSED
    assert decided.reason.startswith("prepaid_only:")
    assert decided.billing_mode is BillingMode.INVOICED
    assert decided.deliveries == ()


def test_given_a_state_not_proven_fresh_then_deferred_whatever_the_mode() -> None:
    for mode in BillingMode:
        decided = decide(
            crossed(BalanceCrossing.DEPLETED),
            account(mode),
            fresh="the projection is behind",
            ops_emails=(),
            now=NOW,
        )
        assert (decided.outcome, decided.reason) == (Outcome.DEFERRED, "the projection is behind")
        assert decided.billing_mode is None


def test_given_no_state_known_then_deferred() -> None:
    decided = decide(crossed(BalanceCrossing.LOW), None, fresh=None, ops_emails=(), now=NOW)
    assert decided.outcome is Outcome.DEFERRED


def test_given_auto_recharge_on_then_the_low_crossing_is_suppressed_for_the_card_notice() -> None:
    decided = decide(
        crossed(BalanceCrossing.LOW, auto_recharge=True),
        account(BillingMode.PAY_AS_YOU_GO),
        fresh=None,
        ops_emails=(),
        now=NOW,
    )
    assert decided.outcome is Outcome.SUPPRESSED
    assert decided.reason.startswith("auto_recharge_on:")


def test_given_a_recovery_then_it_is_no_trigger() -> None:
    event = BalanceCrossed(
        event_id="crossing:r",
        occurred_at=NOW,
        account_sid=SID,
        crossing=BalanceCrossing.RECOVERED,
        balance=Decimal(20),
        threshold=Decimal(10),
        auto_recharge=False,
    )
    assert trigger_from(BALANCE_ALERTS, event) is None


def test_given_the_depleted_crossing_then_it_is_a_suspension_warning() -> None:
    assert crossed(BalanceCrossing.DEPLETED).kind is Kind.SUSPENSION_WARNING


def test_given_no_address_nor_webhook_then_suppressed_for_want_of_a_recipient() -> None:
    decided = decide(
        crossed(BalanceCrossing.LOW),
        account(BillingMode.TRIAL, contact_email=None, webhook_url=None),
        fresh=None,
        ops_emails=(),
        now=NOW,
    )
    assert decided.outcome is Outcome.SUPPRESSED
    assert decided.reason.startswith("no_recipient:")


def test_given_an_invoice_then_it_goes_to_its_recipients_with_the_month() -> None:
    event = InvoiceIssued(
        event_id="invoice:IN1",
        occurred_at=NOW,
        account_sid=SID,
        invoice_id="IN1",
        period="2026-10@America/Chicago",
        billing_mode="invoiced",
        total=Decimal("120.5"),
        amount_due=Decimal("120.5"),
        due_date=datetime(2026, 12, 21, tzinfo=UTC).date(),
        no_balance_due=False,
        recipients=["ap@acme.example", "cfo@acme.example"],
    )
    trigger = trigger_from(INVOICE_EVENTS, event)
    assert trigger is not None
    decided = decide(trigger, account(BillingMode.INVOICED), fresh=None, ops_emails=(), now=NOW)
    assert decided.outcome is Outcome.SENT
    emails = [d.recipient for d in decided.deliveries if d.channel is Channel.EMAIL]
    assert emails == ["ap@acme.example", "cfo@acme.example"]
    assert decided.deliveries[0].body["month"] == "2026-10"
    assert decided.deliveries[0].body["total"] == "120.50"
    assert decided.deliveries[0].body["due_date"] == "2026-12-21"


def test_given_the_same_trigger_twice_then_the_same_decision_and_delivery_ids() -> None:
    first = decide(
        crossed(BalanceCrossing.LOW), account(BillingMode.TRIAL), fresh=None, ops_emails=(), now=NOW
    )
    again = decide(
        crossed(BalanceCrossing.LOW), account(BillingMode.TRIAL), fresh=None, ops_emails=(), now=NOW
    )
    assert first.decision_id == again.decision_id == decision_id_for(f"crossing:{SID}:low")
    assert [d.delivery_id for d in first.deliveries] == [d.delivery_id for d in again.deliveries]
    assert len({d.delivery_id for d in first.deliveries}) == 2


def test_given_an_invoiced_account_with_auto_recharge_then_the_mode_rule_is_the_reason() -> None:
    decided = decide(
        crossed(BalanceCrossing.LOW, auto_recharge=True),
        account(BillingMode.INVOICED),
        fresh=None,
        ops_emails=(),
        now=NOW,
    )
    assert decided.outcome is Outcome.SUPPRESSED
    assert decided.reason.startswith("prepaid_only:")


def test_given_a_lifecycle_fact_newer_than_the_state_known_then_deferred_until_it_is() -> None:
    suspended = AccountSuspended(
        event_id="suspended:4",
        occurred_at=NOW,
        account_sid=SID,
        version=4,
        reason=SuspensionReason.BALANCE_DEPLETED,
    )
    trigger = trigger_from(ACCOUNT_LIFECYCLE, suspended)
    assert trigger is not None
    older = account(BillingMode.PAY_AS_YOU_GO, version=3, status=AccountStatus.ACTIVE)
    newer = account(BillingMode.PAY_AS_YOU_GO, version=4, status=AccountStatus.SUSPENDED)

    waiting = decide(trigger, older, fresh=None, ops_emails=(), now=NOW)
    assert waiting.outcome is Outcome.DEFERRED
    assert "version 4" in waiting.reason
    assert decide(trigger, newer, fresh=None, ops_emails=(), now=NOW).outcome is Outcome.SENT
