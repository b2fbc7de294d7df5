"""Delivery's SQL and row mapping: claiming due deliveries, recording how each attempt ended.

No decisions here: what to admit, when to retry and when to give up come from `policy`.
"""

import json
from collections.abc import Sequence
from datetime import datetime

import asyncpg
from tally_runtime.database import Connection

from tally_notifications.delivery.policy import Bucket, Delivery


def _delivery(row: asyncpg.Record) -> Delivery:
    body = row["body"]
    return Delivery(
        delivery_id=row["delivery_id"],
        decision_id=row["decision_id"],
        account_sid=row["account_sid"],
        channel=row["channel"],
        recipient=row["recipient"],
        kind=row["kind"],
        subject=row["subject"] or "",
        body=json.loads(body) if isinstance(body, str) else dict(body or {}),
        attempts=row["attempts"],
        created_at=row["created_at"],
    )


async def lock_due(conn: Connection, now: datetime, limit: int) -> list[Delivery]:
    """Lock up to `limit` pending deliveries that are due, oldest first, skipping locked ones.

    SKIP LOCKED: replicas claiming at once each get other rows instead of waiting on the
    same ones. The caller's transaction holds the locks until it records the claim.
    """
    rows = await conn.fetch(
        """
        SELECT delivery_id, decision_id, account_sid, channel, recipient, kind, subject, body,
               attempts, created_at
        FROM deliveries
        WHERE status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= $1)
        ORDER BY next_attempt_at NULLS FIRST, created_at, delivery_id
        LIMIT $2
        FOR UPDATE SKIP LOCKED
        """,
        now,
        limit,
    )
    return [_delivery(row) for row in rows]


async def lock_buckets(
    conn: Connection, keys: Sequence[tuple[str, str]], full: Bucket
) -> dict[tuple[str, str], Bucket]:
    """The rate-limit buckets of these (account, channel) pairs, locked; new ones start full.

    Locked in key order, so two claimers wanting the same accounts never deadlock; a claimer
    waits for another's bucket only while that one records its claim.
    """
    ordered = sorted(set(keys))
    accounts, channels = [key[0] for key in ordered], [key[1] for key in ordered]
    await conn.execute(
        """
        INSERT INTO delivery_rate_limits (account_sid, channel, tokens, refilled_at)
        SELECT account_sid, channel, $3, $4
        FROM unnest($1::text[], $2::text[]) AS u(account_sid, channel)
        ORDER BY account_sid, channel
        ON CONFLICT DO NOTHING
        """,
        accounts,
        channels,
        full.tokens,
        full.refilled_at,
    )
    rows = await conn.fetch(
        """
        SELECT r.account_sid, r.channel, r.tokens, r.refilled_at
        FROM delivery_rate_limits r
        JOIN unnest($1::text[], $2::text[]) AS u(account_sid, channel) USING (account_sid, channel)
        ORDER BY r.account_sid, r.channel
        FOR UPDATE OF r
        """,
        accounts,
        channels,
    )
    return {
        (row["account_sid"], row["channel"]): Bucket(row["tokens"], row["refilled_at"])
        for row in rows
    }


async def save_buckets(conn: Connection, buckets: dict[tuple[str, str], Bucket]) -> None:
    """Store what is left in each bucket."""
    keys = list(buckets)
    await conn.execute(
        """
        UPDATE delivery_rate_limits r SET tokens = u.tokens, refilled_at = u.refilled_at
        FROM unnest($1::text[], $2::text[], $3::float8[], $4::timestamptz[])
            AS u(account_sid, channel, tokens, refilled_at)
        WHERE r.account_sid = u.account_sid AND r.channel = u.channel
        """,
        [key[0] for key in keys],
        [key[1] for key in keys],
        [buckets[key].tokens for key in keys],
        [buckets[key].refilled_at for key in keys],
    )


async def claim(conn: Connection, delivery_ids: Sequence[str], lease_until: datetime) -> None:
    """Count an attempt for each delivery and hide it from other claimers until `lease_until`."""
    await conn.execute(
        """
        UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = $2
        WHERE delivery_id = ANY($1::text[])
        """,
        list(delivery_ids),
        lease_until,
    )


async def postpone(conn: Connection, until: dict[str, datetime]) -> None:
    """Leave deliveries pending, not counting an attempt, until the given instants."""
    await conn.execute(
        """
        UPDATE deliveries d SET next_attempt_at = u.next_attempt_at
        FROM unnest($1::text[], $2::timestamptz[]) AS u(delivery_id, next_attempt_at)
        WHERE d.delivery_id = u.delivery_id
        """,
        list(until),
        list(until.values()),
    )


async def mark_delivered(
    conn: Connection, attempts: dict[str, int], delivered_at: datetime
) -> set[str]:
    """Mark deliveries delivered, each only if still pending at the attempt this worker made.

    Returns the ids marked now: a delivery another worker took over (its lease ran out) or
    marked already is left as it is, so a repeat changes nothing.
    """
    rows = await conn.fetch(
        """
        UPDATE deliveries d
        SET status = 'delivered', delivered_at = $3, next_attempt_at = NULL, last_error = NULL
        FROM unnest($1::text[], $2::int[]) AS u(delivery_id, attempts)
        WHERE d.delivery_id = u.delivery_id AND d.attempts = u.attempts AND d.status = 'pending'
        RETURNING d.delivery_id
        """,
        list(attempts),
        list(attempts.values()),
        delivered_at,
    )
    return {row["delivery_id"] for row in rows}


async def schedule_retries(
    conn: Connection,
    attempts: dict[str, int],
    retry_at: dict[str, datetime],
    errors: dict[str, str],
) -> None:
    """Keep failed deliveries pending until their retry, with the error that made them fail."""
    ids = list(retry_at)
    await conn.execute(
        """
        UPDATE deliveries d SET next_attempt_at = u.next_attempt_at, last_error = u.error
        FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::text[])
            AS u(delivery_id, attempts, next_attempt_at, error)
        WHERE d.delivery_id = u.delivery_id AND d.attempts = u.attempts AND d.status = 'pending'
        """,
        ids,
        [attempts[i] for i in ids],
        [retry_at[i] for i in ids],
        [errors[i] for i in ids],
    )


async def mark_failed(
    conn: Connection, attempts: dict[str, int], errors: dict[str, str], reasons: dict[str, str]
) -> set[str]:
    """Fail deliveries for good, and their decisions with `reasons`; the ids failed now."""
    ids = list(errors)
    rows = await conn.fetch(
        """
        UPDATE deliveries d SET status = 'failed', next_attempt_at = NULL, last_error = u.error
        FROM unnest($1::text[], $2::int[], $3::text[]) AS u(delivery_id, attempts, error)
        WHERE d.delivery_id = u.delivery_id AND d.attempts = u.attempts AND d.status = 'pending'
        RETURNING d.delivery_id, d.decision_id
        """,
        ids,
        [attempts[i] for i in ids],
        [errors[i] for i in ids],
    )
    failed = {row["delivery_id"]: row["decision_id"] for row in rows}
    await conn.execute(
        """
        UPDATE decisions d SET outcome = 'failed', reason = u.reason
        FROM unnest($1::text[], $2::text[]) AS u(decision_id, reason)
        WHERE d.decision_id = u.decision_id
        """,
        list(failed.values()),
        [reasons[delivery_id] for delivery_id in failed],
    )
    return set(failed)


async def fetch_webhook_secrets(conn: Connection, accounts: Sequence[str]) -> dict[str, bytes]:
    """The sealed webhook secret of each of `accounts` that has one."""
    rows = await conn.fetch(
        "SELECT account_sid, sealed_secret FROM webhook_secrets"
        " WHERE account_sid = ANY($1::text[])",
        list(accounts),
    )
    return {row["account_sid"]: bytes(row["sealed_secret"]) for row in rows}


async def insert_webhook_secrets(conn: Connection, sealed: dict[str, bytes]) -> None:
    """Store new sealed secrets; where a racing caller stored one first, theirs is kept."""
    await conn.execute(
        """
        INSERT INTO webhook_secrets (account_sid, sealed_secret)
        SELECT * FROM unnest($1::text[], $2::bytea[]) ORDER BY 1
        ON CONFLICT DO NOTHING
        """,
        list(sealed),
        list(sealed.values()),
    )


async def withhold(conn: Connection, attempts: dict[str, int], reasons: dict[str, str]) -> set[str]:
    """Withhold deliveries (never sent) and suppress their decisions, as invoiced, with `reasons`.

    Only where still pending at the attempt this worker claimed; the ids withheld now.
    """
    ids = list(reasons)
    rows = await conn.fetch(
        """
        UPDATE deliveries d SET status = 'withheld', next_attempt_at = NULL, last_error = u.reason
        FROM unnest($1::text[], $2::int[], $3::text[]) AS u(delivery_id, attempts, reason)
        WHERE d.delivery_id = u.delivery_id AND d.attempts = u.attempts AND d.status = 'pending'
        RETURNING d.delivery_id, d.decision_id, u.reason
        """,
        ids,
        [attempts[i] for i in ids],
        [reasons[i] for i in ids],
    )
    decisions = {row["decision_id"]: row["reason"] for row in rows}
    await conn.execute(
        """
        UPDATE decisions d SET outcome = 'suppressed', reason = u.reason, billing_mode = 'invoiced'
        FROM unnest($1::text[], $2::text[]) AS u(decision_id, reason)
        WHERE d.decision_id = u.decision_id
        """,
        list(decisions),
        list(decisions.values()),
    )
    return {row["delivery_id"] for row in rows}


async def release(
    conn: Connection, attempts: dict[str, int], until: datetime, errors: dict[str, str]
) -> None:
    """Give claimed deliveries back, their attempt not counted, to be tried from `until`."""
    ids = list(errors)
    await conn.execute(
        """
        UPDATE deliveries d
        SET attempts = d.attempts - 1, next_attempt_at = $3, last_error = u.error
        FROM unnest($1::text[], $2::int[], $4::text[]) AS u(delivery_id, attempts, error)
        WHERE d.delivery_id = u.delivery_id AND d.attempts = u.attempts AND d.status = 'pending'
        """,
        ids,
        [attempts[i] for i in ids],
        until,
        [errors[i] for i in ids],
    )
