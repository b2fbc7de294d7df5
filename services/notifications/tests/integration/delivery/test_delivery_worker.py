"""The delivery worker on a real database, SMTP server and webhook receiver, with a clock the
test moves: retries and the rate limit are shown without waiting for them."""

import asyncio
import hashlib
import hmac
import json
from datetime import timedelta

import asyncpg
import pytest
from tally_notifications.delivery import handlers
from tally_notifications.delivery.worker import deliver_due, delivery_config
from tally_runtime.database import create_pool
from tally_testkit import new_sid

from services.notifications.tests.integration.delivery.support import (
    Mailbox,
    ManualClock,
    Receiver,
    add_delivery,
    delivery_row,
    delivery_settings,
)


def verified(secret: str, headers: dict[str, str], body: bytes) -> int:
    """The timestamp of a `Tally-Signature` checked as a customer would; fails if it is wrong."""
    fields = dict(part.split("=", 1) for part in headers["tally-signature"].split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(fields["v1"], expected.hexdigest()), "the signature does not match"
    return int(fields["t"])


async def test_given_a_receiver_failing_twice_then_it_is_retried_after_backoff_and_delivered_once(
    pool: asyncpg.Pool, database_url: str, mailbox: Mailbox, receiver: Receiver, clock: ManualClock
) -> None:
    # given a webhook delivery, and a receiver that answers 500 twice before it accepts
    config = delivery_config(delivery_settings(database_url, mailbox.port))
    sid, _, delivery_id = await add_delivery(pool, channel="webhook", recipient=receiver.url)
    receiver.statuses = [500, 500]

    # when the worker runs, and runs again at the same instant
    await deliver_due(pool, config, clock)
    await deliver_due(pool, config, clock)

    # then it was tried once: the retry waits for its backoff
    assert len(receiver.requests) == 1
    first = await delivery_row(pool, delivery_id)
    assert (first["status"], first["attempts"]) == ("pending", 1)
    assert "500" in first["last_error"]
    assert first["next_attempt_at"] >= clock() + timedelta(seconds=30), "at least half of 60 s"

    # when the time of each retry comes
    for _ in range(2):
        clock.now = (await delivery_row(pool, delivery_id))["next_attempt_at"]
        await deliver_due(pool, config, clock)

    # then the third attempt was accepted, and it is delivered
    row = await delivery_row(pool, delivery_id)
    assert (row["status"], row["attempts"], row["last_error"]) == ("delivered", 3, None)
    assert len(receiver.requests) == 3

    # and nothing is sent again, however often the worker runs later
    clock.advance(timedelta(days=1))
    assert await deliver_due(pool, config, clock) == 0
    assert len(receiver.requests) == 3

    # and every attempt was signed with the account's secret, over the exact body it carried
    async with pool.acquire() as conn:
        secret = (await handlers.webhook_secrets(conn, [sid], config.cipher))[sid]
    for request in receiver.requests:
        verified(secret, request.headers, request.body)
        assert request.headers["tally-delivery-id"] == delivery_id
        document = json.loads(request.body)
        assert document["kind"] == "recharge_reminder"
        assert document["data"]["balance"] == "4.20" and document["data"]["currency"] == "USD"
    signed_at = [verified(secret, r.headers, r.body) for r in receiver.requests]
    assert signed_at == sorted(signed_at) and signed_at[0] < signed_at[-1]


async def test_given_a_receiver_that_always_fails_then_the_delivery_and_its_decision_fail(
    pool: asyncpg.Pool, database_url: str, mailbox: Mailbox, receiver: Receiver, clock: ManualClock
) -> None:
    # given a webhook whose receiver answers 500 to everything, and three attempts allowed
    config = delivery_config(delivery_settings(database_url, mailbox.port))
    _, decision_id, delivery_id = await add_delivery(
        pool, channel="webhook", recipient=receiver.url
    )
    receiver.statuses = [500] * 10

    # when every attempt's time comes
    for _ in range(5):
        await deliver_due(pool, config, clock)
        clock.advance(timedelta(hours=1))

    # then it was tried three times and failed for good, saying why
    assert len(receiver.requests) == 3
    row = await delivery_row(pool, delivery_id)
    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert "answered 500" in row["last_error"]
    # and support sees the decision failed, with the delivery error as its reason
    decision = await pool.fetchrow(
        "SELECT outcome, reason FROM decisions WHERE decision_id = $1", decision_id
    )
    assert decision["outcome"] == "failed"
    assert "webhook delivery" in decision["reason"] and "answered 500" in decision["reason"]


async def test_given_an_email_no_template_can_word_then_it_fails_at_once(
    pool: asyncpg.Pool, database_url: str, mailbox: Mailbox, clock: ManualClock
) -> None:
    # given an e-mail delivery whose variables lack the balance its template shows
    config = delivery_config(delivery_settings(database_url, mailbox.port))
    _, decision_id, delivery_id = await add_delivery(
        pool, channel="email", recipient="owner@example.test", body={"currency": "USD"}
    )

    # when the worker runs
    await deliver_due(pool, config, clock)

    # then no retry could help: it failed on the first attempt, naming the variable
    row = await delivery_row(pool, delivery_id)
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert "balance" in row["last_error"]
    assert mailbox.received() == []
    outcome = await pool.fetchval(
        "SELECT outcome FROM decisions WHERE decision_id = $1", decision_id
    )
    assert outcome == "failed"


async def test_given_two_workers_racing_then_each_delivery_is_sent_once(
    pool: asyncpg.Pool, database_url: str, mailbox: Mailbox, clock: ManualClock
) -> None:
    # given 40 e-mails to 8 accounts, and two workers of small batches, each with its own pool
    settings = delivery_settings(database_url, mailbox.port, delivery_batch_size=3)
    config = delivery_config(settings)
    ids = []
    for index in range(40):
        sid = f"AC{index % 8:032x}"
        ids.append(
            (
                await add_delivery(
                    pool, channel="email", recipient="a@example.test", account_sid=sid
                )
            )[2]
        )
    other = await create_pool(database_url)

    # when both run at once
    try:
        claimed = await asyncio.gather(
            deliver_due(pool, config, clock), deliver_due(other, config, clock)
        )
    finally:
        await other.close()

    # then every delivery was claimed once, sent once and marked delivered after one attempt
    assert sum(claimed) == 40
    message_ids = [message["Message-ID"] for _, message in mailbox.received()]
    assert sorted(message_ids) == sorted(f"<{i}@tally.notifications>" for i in ids)
    rows = await pool.fetch("SELECT status, attempts FROM deliveries")
    assert {(row["status"], row["attempts"]) for row in rows} == {("delivered", 1)}


async def test_given_more_than_the_rate_limit_then_the_excess_waits_and_none_is_dropped(
    pool: asyncpg.Pool, database_url: str, mailbox: Mailbox, clock: ManualClock
) -> None:
    # given an account allowed 2 e-mails an hour, and 5 to send, and another account with 1
    config = delivery_config(
        delivery_settings(database_url, mailbox.port, notifications_per_hour=2)
    )
    sid, other = new_sid(), new_sid()
    for _ in range(5):
        await add_delivery(pool, channel="email", recipient="flapping@ex.test", account_sid=sid)
    await add_delivery(pool, channel="email", recipient="calm@example.test", account_sid=other)

    # when the worker runs
    await deliver_due(pool, config, clock)

    # then two of the five went out, and the other account was not held up by it
    recipients = [to for to, _ in mailbox.received()]
    assert recipients.count(["flapping@ex.test"]) == 2
    assert recipients.count(["calm@example.test"]) == 1
    # the three others wait, pending, their attempts not spent, until the next token
    waiting = await pool.fetch(
        "SELECT attempts, next_attempt_at FROM deliveries WHERE account_sid = $1"
        " AND status = 'pending'",
        sid,
    )
    assert len(waiting) == 3
    assert {row["attempts"] for row in waiting} == {0}
    assert {row["next_attempt_at"] for row in waiting} == {clock() + timedelta(minutes=30)}

    # when half an hour has passed, one more goes; a day later, the rest
    clock.advance(timedelta(minutes=30))
    await deliver_due(pool, config, clock)
    assert [to for to, _ in mailbox.received()].count(["flapping@ex.test"]) == 3
    clock.advance(timedelta(days=1))
    await deliver_due(pool, config, clock)
    assert [to for to, _ in mailbox.received()].count(["flapping@ex.test"]) == 5
    statuses = await pool.fetch("SELECT DISTINCT status FROM deliveries")
    assert [row["status"] for row in statuses] == ["delivered"]


@pytest.mark.parametrize("channel", ["email", "webhook"])
async def test_given_a_delivery_without_recipient_then_it_fails_saying_so(
    pool: asyncpg.Pool, database_url: str, mailbox: Mailbox, clock: ManualClock, channel: str
) -> None:
    config = delivery_config(delivery_settings(database_url, mailbox.port))
    _, _, delivery_id = await add_delivery(pool, channel=channel, recipient="")

    await deliver_due(pool, config, clock)

    row = await delivery_row(pool, delivery_id)
    assert (row["status"], row["last_error"]) == ("failed", f"no {channel} recipient")
