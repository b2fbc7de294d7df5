"""SQL of notifications' account-state projection and of how far it has read; no decisions."""

from collections.abc import Iterable, Sequence

from tally_contracts.accounts import AccountState, AccountStatus, BillingMode
from tally_runtime.database import Connection

from tally_notifications.domain import AccountView


async def upsert_states(conn: Connection, states: Sequence[AccountState]) -> None:
    """Keep each state unless a newer version of the account is kept already."""
    await conn.execute(
        """
        INSERT INTO account_views (account_sid, version, billing_mode, status, time_zone,
                                   contact_email, webhook_url, invoice_recipients)
        SELECT sid, version, mode, status, zone, email, url,
               CASE WHEN recipients = '' THEN '{}'::text[]
                    ELSE string_to_array(recipients, E'\\n') END
        FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[],
                    $7::text[], $8::text[])
            AS u(sid, version, mode, status, zone, email, url, recipients)
        ON CONFLICT (account_sid) DO UPDATE
            SET version = EXCLUDED.version, billing_mode = EXCLUDED.billing_mode,
                status = EXCLUDED.status, time_zone = EXCLUDED.time_zone,
                contact_email = EXCLUDED.contact_email, webhook_url = EXCLUDED.webhook_url,
                invoice_recipients = EXCLUDED.invoice_recipients
            WHERE account_views.version < EXCLUDED.version
        """,
        [s.account_sid for s in states],
        [s.version for s in states],
        [s.billing_mode.value for s in states],
        [s.status.value for s in states],
        [s.time_zone for s in states],
        [s.contact_email for s in states],
        [s.webhook_url for s in states],
        ["\n".join(s.billing.invoice_recipients) for s in states],
    )


async def advance_progress(conn: Connection, next_offsets: dict[int, int]) -> None:
    """Record that every record before `next_offsets[partition]` has been applied."""
    await conn.execute(
        """
        INSERT INTO account_state_progress (partition, next_offset)
        SELECT * FROM unnest($1::int[], $2::bigint[])
        ON CONFLICT (partition) DO UPDATE
            SET next_offset = GREATEST(account_state_progress.next_offset, EXCLUDED.next_offset)
        """,
        list(next_offsets),
        list(next_offsets.values()),
    )


async def applied_offsets(conn: Connection, partitions: Iterable[int]) -> dict[int, int]:
    """How far the projection has applied each of `partitions` (absent: not at all)."""
    rows = await conn.fetch(
        "SELECT partition, next_offset FROM account_state_progress"
        " WHERE partition = ANY($1::int[])",
        list(partitions),
    )
    return {row["partition"]: row["next_offset"] for row in rows}


async def account_views(conn: Connection, sids: Iterable[str]) -> dict[str, AccountView]:
    """The newest state kept of each of `sids` that has one."""
    rows = await conn.fetch(
        "SELECT * FROM account_views WHERE account_sid = ANY($1::text[])", list(set(sids))
    )
    return {
        row["account_sid"]: AccountView(
            account_sid=row["account_sid"],
            version=row["version"],
            billing_mode=BillingMode(row["billing_mode"]),
            status=AccountStatus(row["status"]),
            time_zone=row["time_zone"],
            contact_email=row["contact_email"],
            webhook_url=row["webhook_url"],
            invoice_recipients=tuple(row["invoice_recipients"]),
        )
        for row in rows
    }
