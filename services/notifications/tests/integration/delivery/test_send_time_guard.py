"""The send-time guard on a real database and SMTP server: right before a prepaid-only kind is
sent, the worker asks the accounts service's internal `GET /accounts/{sid}` for the account's
committed billing mode. The real accounts service where an account is switched; a local HTTP
server standing in for it where a mode it cannot easily reach (pay as you go) is wanted."""

from datetime import timedelta

import asyncpg
from tally_notifications.delivery.worker import deliver_due, delivery_config

from services.notifications.tests.integration.delivery.support import (
    AccountsStandIn,
    Mailbox,
    ManualClock,
    RealAccounts,
    add_delivery,
    delivery_row,
    delivery_settings,
    free_port,
)

INVOICE_BODY = {
    "kind": "invoice_issued",
    "time_zone": "America/Chicago",
    "invoice_id": "IN0001",
    "month": "2026-10",
    "billing_mode": "invoiced",
    "no_balance_due": False,
    "total": "120.00",
    "amount_due": "120.00",
    "due_date": "2026-12-28",
    "issued_on": "2026-11-28",
    "currency": "USD",
}


async def decision_of(pool: asyncpg.Pool, decision_id: str) -> asyncpg.Record:
    row = await pool.fetchrow(
        "SELECT outcome, reason, billing_mode FROM decisions WHERE decision_id = $1", decision_id
    )
    assert row is not None
    return row


async def test_given_an_account_now_invoiced_then_its_decided_reminder_is_withheld(
    pool: asyncpg.Pool,
    database_url: str,
    mailbox: Mailbox,
    real_accounts: RealAccounts,
    clock: ManualClock,
) -> None:
    # given a trial account's recharge reminder, decided 'sent'
    sid = await real_accounts.open_trial()
    settings = delivery_settings(database_url, mailbox.port, accounts_url=real_accounts.url)
    config = delivery_config(settings)
    _, decision_id, delivery_id = await add_delivery(
        pool, channel="email", recipient="owner@example.test", account_sid=sid
    )
    # and the account switched to invoiced in the accounts service since
    await real_accounts.switch_to_invoiced(sid)

    # when the worker runs
    await deliver_due(pool, config, clock)

    # then nothing reached the SMTP server: the delivery is withheld, and support sees why
    assert mailbox.received() == []
    assert (await delivery_row(pool, delivery_id))["status"] == "withheld"
    decision = await decision_of(pool, decision_id)
    assert decision["outcome"] == "suppressed"
    assert decision["billing_mode"] == "invoiced"
    assert decision["reason"].startswith("prepaid_only: recharge_reminder")
    assert "switched to invoiced before delivery" in decision["reason"]

    # and a later run, however much later, does not send it either
    clock.advance(timedelta(hours=2))
    assert await deliver_due(pool, config, clock) == 0
    assert mailbox.received() == []


async def test_given_a_trial_account_then_its_reminder_is_sent(
    pool: asyncpg.Pool,
    database_url: str,
    mailbox: Mailbox,
    real_accounts: RealAccounts,
    clock: ManualClock,
) -> None:
    # given a recharge reminder of an account the accounts service has on trial
    sid = await real_accounts.open_trial()
    settings = delivery_settings(database_url, mailbox.port, accounts_url=real_accounts.url)
    _, decision_id, delivery_id = await add_delivery(
        pool, channel="email", recipient="owner@example.test", account_sid=sid
    )

    # when the worker runs
    await deliver_due(pool, delivery_config(settings), clock)

    # then the e-mail arrived and the decision stays 'sent'
    assert [recipients for recipients, _ in mailbox.received()] == [["owner@example.test"]]
    assert (await delivery_row(pool, delivery_id))["status"] == "delivered"
    assert (await decision_of(pool, decision_id))["outcome"] == "sent"


async def test_given_a_pay_as_you_go_account_then_its_reminder_is_sent(
    pool: asyncpg.Pool,
    database_url: str,
    mailbox: Mailbox,
    accounts: AccountsStandIn,
    clock: ManualClock,
) -> None:
    # given a recharge reminder, and the accounts service saying the account pays as it goes
    config = delivery_config(delivery_settings(database_url, mailbox.port))
    sid, decision_id, delivery_id = await add_delivery(
        pool, channel="email", recipient="owner@example.test"
    )
    accounts.modes[sid] = "pay_as_you_go"

    # when the worker runs
    await deliver_due(pool, config, clock)

    # then the e-mail arrived and the decision stays 'sent'
    received = mailbox.received()
    assert [recipients for recipients, _ in received] == [["owner@example.test"]]
    assert "4.20 USD" in received[0][1].get_content()
    assert (await delivery_row(pool, delivery_id))["status"] == "delivered"
    assert (await decision_of(pool, decision_id))["outcome"] == "sent"
    assert accounts.asked == [sid]


async def test_given_accounts_unreachable_then_the_reminder_waits_and_goes_once_it_answers(
    pool: asyncpg.Pool,
    database_url: str,
    mailbox: Mailbox,
    accounts: AccountsStandIn,
    clock: ManualClock,
) -> None:
    # given a recharge reminder, and nothing listening where the accounts service should be
    settings = delivery_settings(database_url, mailbox.port)
    unreachable = settings.model_copy(update={"accounts_url": f"http://127.0.0.1:{free_port()}"})
    sid, decision_id, delivery_id = await add_delivery(
        pool, channel="email", recipient="owner@example.test"
    )

    # when the worker runs
    await deliver_due(pool, delivery_config(unreachable), clock)

    # then nothing is sent, and the delivery waits, no attempt used up, saying why
    assert mailbox.received() == []
    row = await delivery_row(pool, delivery_id)
    assert (row["status"], row["attempts"]) == ("pending", 0)
    assert "accounts service did not answer" in row["last_error"]
    assert (await decision_of(pool, decision_id))["outcome"] == "sent"

    # when the accounts service answers again (pay as you go) and the delivery is due
    clock.advance(timedelta(minutes=1))
    await deliver_due(pool, delivery_config(settings), clock)

    # then the reminder is sent, once
    assert [recipients for recipients, _ in mailbox.received()] == [["owner@example.test"]]
    row = await delivery_row(pool, delivery_id)
    assert (row["status"], row["attempts"]) == ("delivered", 1)
    assert accounts.asked == [sid]


async def test_given_an_invoice_issued_then_it_is_sent_without_asking_accounts(
    pool: asyncpg.Pool,
    database_url: str,
    mailbox: Mailbox,
    accounts: AccountsStandIn,
    clock: ManualClock,
) -> None:
    # given an invoiced account's invoice_issued, and the accounts service unreachable
    settings = delivery_settings(database_url, mailbox.port)
    unreachable = settings.model_copy(update={"accounts_url": f"http://127.0.0.1:{free_port()}"})
    sid, decision_id, delivery_id = await add_delivery(
        pool,
        channel="email",
        recipient="ap@example.test",
        kind="invoice_issued",
        body=INVOICE_BODY,
        subject="",
    )
    accounts.modes[sid] = "invoiced"

    # when the worker runs
    await deliver_due(pool, delivery_config(unreachable), clock)

    # then the invoice e-mail arrived: invoices are not gated on the billing mode
    received = mailbox.received()
    assert [recipients for recipients, _ in received] == [["ap@example.test"]]
    text = received[0][1].get_content()
    assert "120.00 USD" in text and "due on 2026-12-28" in text
    assert (await delivery_row(pool, delivery_id))["status"] == "delivered"
    assert (await decision_of(pool, decision_id))["outcome"] == "sent"
