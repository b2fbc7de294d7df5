"""The month close's SQL: what a chunk of accounts owes for a month, and the invoices it issues.

Set-based: every function handles a whole chunk of accounts in one statement.
"""

import json
from collections import defaultdict
from collections.abc import Sequence

from tally_contracts.usage import UsageCategory
from tally_runtime.database import Connection

from tally_invoicing.closing import (
    CARRIED_CREDIT_PREFIX,
    Invoice,
    LateCharge,
    MonthUsage,
    Remainder,
)


async def candidate_accounts(conn: Connection, month: str, after: str, limit: int) -> list[str]:
    """The next `limit` accounts after `after` (SID order) with usage or adjustments pending."""
    rows = await conn.fetch(
        """
        (SELECT DISTINCT account_sid FROM period_quantities
         WHERE left(period, 7) = $1 AND account_sid > $2 ORDER BY account_sid LIMIT $3)
        UNION
        (SELECT DISTINCT account_sid FROM charges
         WHERE late AND adjusted_in IS NULL AND left(period, 7) < $1 AND account_sid > $2
         ORDER BY account_sid LIMIT $3)
        UNION
        (SELECT DISTINCT account_sid FROM frozen_balances
         WHERE invoiced_in IS NULL AND account_sid > $2 ORDER BY account_sid LIMIT $3)
        ORDER BY account_sid LIMIT $3
        """,
        month,
        after,
        limit,
    )
    return [row["account_sid"] for row in rows]


async def hold_accounts(conn: Connection, sids: Sequence[str]) -> None:
    """Share-lock the accounts' balance rows until the chunk commits.

    Rating locks the same row (FOR UPDATE) before it asks whether a period is closed, so a
    charge is either rated before the close reads the month (and is on the invoice) or after
    the period is closed (and is late): never lost in between. The same holds for a freeze.
    """
    await conn.execute(
        "SELECT 1 FROM balances WHERE account_sid = ANY($1::text[]) ORDER BY account_sid FOR SHARE",
        sorted(sids),
    )


async def invoiced_among(conn: Connection, month: str, sids: Sequence[str]) -> set[str]:
    """Which of `sids` already have their invoice for `month`."""
    rows = await conn.fetch(
        "SELECT account_sid FROM invoices WHERE month = $1 AND account_sid = ANY($2::text[])",
        month,
        list(sids),
    )
    return {row["account_sid"] for row in rows}


async def month_usage(
    conn: Connection, periods: dict[str, str]
) -> dict[str, dict[UsageCategory, MonthUsage]]:
    """Each account's on-time usage in its period, per category, with what the balance paid."""
    sids = sorted(periods)
    rows = await conn.fetch(
        """
        SELECT c.account_sid, c.category, sum(c.quantity) AS quantity,
               coalesce(sum(c.amount) FILTER (WHERE c.prepaid), 0) AS prepaid
        FROM charges c
        JOIN unnest($1::text[], $2::text[]) AS p(account_sid, period)
            ON c.account_sid = p.account_sid AND c.period = p.period
        WHERE NOT c.late
        GROUP BY c.account_sid, c.category
        """,
        sids,
        [periods[sid] for sid in sids],
    )
    usage: dict[str, dict[UsageCategory, MonthUsage]] = defaultdict(dict)
    for row in rows:
        category = UsageCategory(row["category"])
        usage[row["account_sid"]][category] = MonthUsage(
            category=category, quantity=row["quantity"], prepaid_amount=row["prepaid"]
        )
    return usage


async def late_charges(
    conn: Connection, month: str, sids: Sequence[str]
) -> dict[str, list[LateCharge]]:
    """Late charges of months before `month` no invoice has adjusted yet, per account."""
    rows = await conn.fetch(
        """
        SELECT charge_id, account_sid, period, category, quantity, amount, prepaid
        FROM charges
        WHERE account_sid = ANY($1::text[]) AND late AND adjusted_in IS NULL
          AND left(period, 7) < $2
        """,
        list(sids),
        month,
    )
    late: dict[str, list[LateCharge]] = defaultdict(list)
    for row in rows:
        late[row["account_sid"]].append(
            LateCharge(
                charge_id=row["charge_id"],
                period=row["period"],
                category=UsageCategory(row["category"]),
                quantity=row["quantity"],
                amount=row["amount"],
                prepaid=row["prepaid"],
            )
        )
    return late


async def open_remainders(conn: Connection, sids: Sequence[str]) -> dict[str, list[Remainder]]:
    """Frozen balances and carried credits no invoice has settled yet, per account."""
    rows = await conn.fetch(
        """
        SELECT freeze_id, account_sid, remainder FROM frozen_balances
        WHERE account_sid = ANY($1::text[]) AND invoiced_in IS NULL
        ORDER BY frozen_at, freeze_id
        """,
        list(sids),
    )
    remainders: dict[str, list[Remainder]] = defaultdict(list)
    for row in rows:
        remainders[row["account_sid"]].append(
            Remainder(freeze_id=row["freeze_id"], remainder=row["remainder"])
        )
    return remainders


async def insert_invoices(conn: Connection, invoices: Sequence[Invoice]) -> set[str]:
    """Store the invoices not stored yet (by id and by account and month); the ids stored now."""
    ordered = sorted(invoices, key=lambda i: i.account_sid)  # fixed order: no deadlocks
    rows = await conn.fetch(
        """
        INSERT INTO invoices (invoice_id, account_sid, month, period, time_zone, period_start,
                              period_end, billing_mode, issued_at, subtotal, total,
                              prepaid_applied, amount_due, no_balance_due, due_date,
                              po_number, billing_address, recipients)
        SELECT u.id, u.sid, u.month, u.period, u.tz, u.ps, u.pe, u.mode, u.issued, u.subtotal,
               u.total, u.prepaid, u.due, u.nbd, u.due_date, u.po, u.address::jsonb,
               ARRAY(SELECT jsonb_array_elements_text(u.recipients::jsonb))
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                    $6::timestamptz[], $7::timestamptz[], $8::text[], $9::timestamptz[],
                    $10::numeric[], $11::numeric[], $12::numeric[], $13::numeric[],
                    $14::boolean[], $15::date[], $16::text[], $17::text[], $18::text[])
            WITH ORDINALITY AS u(id, sid, month, period, tz, ps, pe, mode, issued, subtotal,
                                 total, prepaid, due, nbd, due_date, po, address, recipients, n)
        ORDER BY u.n
        ON CONFLICT DO NOTHING
        RETURNING invoice_id
        """,
        [i.invoice_id for i in ordered],
        [i.account_sid for i in ordered],
        [i.month for i in ordered],
        [i.period for i in ordered],
        [i.time_zone for i in ordered],
        [i.period_start for i in ordered],
        [i.period_end for i in ordered],
        [i.billing_mode.value for i in ordered],
        [i.issued_at for i in ordered],
        [i.subtotal for i in ordered],
        [i.total for i in ordered],
        [i.prepaid_applied for i in ordered],
        [i.amount_due for i in ordered],
        [i.no_balance_due for i in ordered],
        [i.due_date for i in ordered],
        [i.po_number for i in ordered],
        [i.billing_address.model_dump_json() if i.billing_address else None for i in ordered],
        [json.dumps(list(i.recipients)) for i in ordered],
    )
    return {row["invoice_id"] for row in rows}


async def insert_lines(conn: Connection, invoices: Sequence[Invoice]) -> None:
    """Store the lines of newly issued invoices, in one COPY."""
    records = [
        (
            invoice.invoice_id,
            number,
            line.kind,
            line.category,
            line.description,
            line.quantity,
            line.unit,
            line.unit_price,
            line.amount,
        )
        for invoice in invoices
        for number, line in enumerate(invoice.lines, start=1)
    ]
    await conn.copy_records_to_table(
        "invoice_lines",
        records=records,
        columns=[
            "invoice_id",
            "line_no",
            "kind",
            "category",
            "description",
            "quantity",
            "unit",
            "unit_price",
            "amount",
        ],
    )


async def settle(conn: Connection, invoices: Sequence[Invoice]) -> tuple[int, int]:
    """Close the periods, mark late charges and remainders as on these invoices, carry credits.

    Returns how many late charges and remainders were marked, for the caller to check that
    no other invoice took any of them in the meantime.
    """
    await conn.execute(
        """
        INSERT INTO closed_periods (account_sid, period, closed_at, invoice_id)
        SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[])
        ON CONFLICT (account_sid, period) DO UPDATE SET invoice_id = EXCLUDED.invoice_id
        """,
        [i.account_sid for i in invoices],
        [i.period for i in invoices],
        [i.issued_at for i in invoices],
        [i.invoice_id for i in invoices],
    )
    charges = [(c, i.invoice_id) for i in invoices for c in i.adjusted_charges]
    adjusted = await conn.fetchval(
        """
        WITH marked AS (
            UPDATE charges c SET adjusted_in = u.invoice_id
            FROM unnest($1::text[], $2::text[]) AS u(charge_id, invoice_id)
            WHERE c.charge_id = u.charge_id AND c.adjusted_in IS NULL
            RETURNING 1)
        SELECT count(*) FROM marked
        """,
        [c for c, _ in charges],
        [i for _, i in charges],
    )
    remainders = [(r, i.invoice_id) for i in invoices for r in i.settled_remainders]
    settled = await conn.fetchval(
        """
        WITH marked AS (
            UPDATE frozen_balances f SET invoiced_in = u.invoice_id
            FROM unnest($1::text[], $2::text[]) AS u(freeze_id, invoice_id)
            WHERE f.freeze_id = u.freeze_id AND f.invoiced_in IS NULL
            RETURNING 1)
        SELECT count(*) FROM marked
        """,
        [r for r, _ in remainders],
        [i for _, i in remainders],
    )
    carried = [i for i in invoices if i.carried_credit > 0]
    await conn.execute(
        """
        INSERT INTO frozen_balances (freeze_id, account_sid, remainder, frozen_at)
        SELECT * FROM unnest($1::text[], $2::text[], $3::numeric[], $4::timestamptz[])
        ON CONFLICT (freeze_id) DO NOTHING
        """,
        [f"{CARRIED_CREDIT_PREFIX}{i.invoice_id}" for i in carried],
        [i.account_sid for i in carried],
        [i.carried_credit for i in carried],
        [i.issued_at for i in carried],
    )
    return int(adjusted), int(settled)


async def count_invoices(conn: Connection, month: str) -> int:
    """How many invoices `month` has."""
    return int(await conn.fetchval("SELECT count(*) FROM invoices WHERE month = $1", month))
