"""SQL of rating: month-to-date quantities, closed periods and exposure; no decisions."""

from collections.abc import Mapping, Sequence
from decimal import Decimal

from tally_runtime.database import Connection

from tally_invoicing.domain import PeriodCategory


async def lock_running_quantities(
    conn: Connection, scopes: Sequence[PeriodCategory]
) -> dict[PeriodCategory, Decimal]:
    """The month-to-date quantity of each (account, period, category), rows locked."""
    rows = await conn.fetch(
        """
        SELECT account_sid, period, category, quantity FROM period_quantities
        WHERE (account_sid, period, category) IN (
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))
        ORDER BY account_sid, period, category
        FOR UPDATE
        """,
        [s[0] for s in scopes],
        [s[1] for s in scopes],
        [s[2].value for s in scopes],
    )
    found = {(r["account_sid"], r["period"], r["category"]): r["quantity"] for r in rows}
    return {
        scope: found[(scope[0], scope[1], scope[2].value)]
        for scope in scopes
        if (scope[0], scope[1], scope[2].value) in found
    }


async def store_running_quantities(
    conn: Connection, totals: Mapping[PeriodCategory, tuple[Decimal, Decimal]]
) -> None:
    """Set each scope's month-to-date (quantity, exact amount)."""
    scopes = sorted(totals, key=lambda s: (s[0], s[1], s[2].value))
    await conn.execute(
        """
        INSERT INTO period_quantities (account_sid, period, category, quantity, amount)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::numeric[])
        ON CONFLICT (account_sid, period, category) DO UPDATE
            SET quantity = EXCLUDED.quantity, amount = EXCLUDED.amount
        """,
        [s[0] for s in scopes],
        [s[1] for s in scopes],
        [s[2].value for s in scopes],
        [totals[s][0] for s in scopes],
        [totals[s][1] for s in scopes],
    )


async def closed_periods(
    conn: Connection, pairs: Sequence[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which (account, period) pairs month close has closed (none before it keeps the table)."""
    if not pairs or await conn.fetchval("SELECT to_regclass('closed_periods')") is None:
        return set()
    rows = await conn.fetch(
        """
        SELECT account_sid, period FROM closed_periods
        WHERE (account_sid, period) IN (SELECT * FROM unnest($1::text[], $2::text[]))
        """,
        [p[0] for p in pairs],
        [p[1] for p in pairs],
    )
    return {(row["account_sid"], row["period"]) for row in rows}


async def exposures(conn: Connection, account_sids: Sequence[str]) -> dict[str, Decimal]:
    """Each account's unbilled invoiced charges of open periods, plus its unpaid invoices."""
    closed = await conn.fetchval("SELECT to_regclass('closed_periods')") is not None
    invoices = await conn.fetchval("SELECT to_regclass('invoices')") is not None
    unbilled = """
        SELECT c.account_sid, sum(c.amount) AS amount FROM charges c
        WHERE c.account_sid = ANY($1::text[]) AND NOT c.prepaid
    """
    if closed:
        # Month close's tables (migration 0005): a closed period's charges are invoiced, but
        # its late charges only once an invoice adjusted them.
        unbilled += """
          AND (NOT EXISTS (SELECT 1 FROM closed_periods p
                           WHERE p.account_sid = c.account_sid AND p.period = c.period)
               OR (c.late AND c.adjusted_in IS NULL))
        """
    unbilled += " GROUP BY c.account_sid"
    rows = await conn.fetch(unbilled, list(set(account_sids)))
    total = {row["account_sid"]: row["amount"] for row in rows}
    if invoices:
        due = await conn.fetch(
            """
            SELECT account_sid, sum(amount_due - paid_amount) AS amount FROM invoices
            WHERE account_sid = ANY($1::text[]) AND status IN ('issued', 'overdue')
            GROUP BY account_sid
            """,
            list(set(account_sids)),
        )
        for row in due:
            total[row["account_sid"]] = total.get(row["account_sid"], Decimal(0)) + row["amount"]
    return total


async def set_exposure_alerted(conn: Connection, levels: Mapping[str, int]) -> None:
    """Keep the share of the credit limit each account was last alerted at."""
    sids = sorted(levels)
    await conn.execute(
        """
        UPDATE balances SET exposure_alerted = u.level
        FROM unnest($1::text[], $2::int[]) AS u(account_sid, level)
        WHERE balances.account_sid = u.account_sid
        """,
        sids,
        [levels[sid] for sid in sids],
    )
