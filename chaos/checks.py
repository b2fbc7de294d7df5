"""Offline checkers: the generator's history against what the services stored.

Each checker reads the services' databases (and only reads them) once the system has
settled, and returns a `Check`: exact figures, and one failure per broken rule. The rules
(QUALITY.md, Reliability):

- lost: an acknowledged event that is not stored;
- phantom: a stored event nobody sent;
- overwritten: a stored event whose payload is not the first acknowledged one (a conflict
  applied);
- counted twice: aggregates, charges or ledger entries counting an event more than once;
- totals: every account's usage per category, and its charges per billing month and
  category, equal to the generator's own arithmetic (exact, so to the cent too), and its
  prepaid ledger drawing exactly its prepaid charges;
- conflicts: every acknowledged repeat with another payload recorded as a conflict;
- notifications: nothing of the five prepaid-only kinds sent under `invoiced`; no new
  decision or delivery after a replay.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chaos.history import Events, History, Key, Payload
from chaos.report import ScenarioResult
from chaos.stack import Stack

PREPAID_ONLY = (
    "recharge_reminder",
    "card_charged",
    "card_declined",
    "suspension_warning",
    "account_suspended",
)
EXAMPLES = 3
"""How many examples a failure names."""


@dataclass
class Check:
    """A checker's outcome: exact figures and the rules it found broken."""

    figures: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def require(self, ok: bool, failure: str) -> None:
        if not ok:
            self.failures.append(failure)

    def into(self, result: ScenarioResult) -> None:
        result.figures.update(self.figures)
        result.failures.extend(self.failures)


def examples(items: Any) -> str:
    return ", ".join(str(item) for item in list(items)[:EXAMPLES])


async def stored_usage(stack: Stack, sids: list[str]) -> dict[Key, dict[str, Any]]:
    """Every event usage stored for the accounts, by identity."""
    conn = await stack.connect("usage")
    try:
        rows = await conn.fetch(
            "SELECT account_sid, event_id, category, quantity FROM usage_events"
            " WHERE account_sid = ANY($1::text[])",
            sids,
        )
    finally:
        await conn.close()
    return {
        (r["account_sid"], r["event_id"]): {
            "account_sid": r["account_sid"],
            "event_id": r["event_id"],
            "category": r["category"],
            "quantity": Decimal(r["quantity"]),
        }
        for r in rows
    }


def same_payload(stored: dict[str, Any], sent: Payload) -> bool:
    return bool(stored["category"] == sent.category and stored["quantity"] == sent.amount)


@dataclass
class UsageCheck(Check):
    """`check_usage`'s outcome, with the events that count (for the rating checker)."""

    counted: Events = field(default_factory=dict)


async def check_usage(stack: Stack, history: History) -> UsageCheck:
    """Lost, phantom, overwritten, and the usage aggregates against the generator's sums."""
    sids = sorted(history.accounts())
    stored = await stored_usage(stack, sids)
    check = UsageCheck()
    lost = [key for key in history.acknowledged if key not in stored]
    phantom = [
        key
        for key in stored
        if key not in history.acknowledged and key not in history.indeterminate
    ]
    overwritten = [
        key
        for key, event in history.acknowledged.items()
        if key in stored and not same_payload(stored[key], event)
    ]
    # An indeterminate send that was stored counts, with the payload it was stored with.
    taken = {
        key: history.indeterminate[key][0]._replace(
            category=stored[key]["category"], quantity=str(stored[key]["quantity"])
        )
        for key in history.indeterminate
        if key in stored and key not in history.acknowledged
    }
    check.counted = history.counted(taken)
    check.figures |= {
        "stored_events": len(stored),
        "lost": len(lost),
        "phantom": len(phantom),
        "overwritten": len(overwritten),
        "indeterminate_stored": len(taken),
    }
    check.require(not lost, f"{len(lost)} acknowledged events lost, e.g. {examples(lost)}")
    check.require(not phantom, f"{len(phantom)} stored events never sent: {examples(phantom)}")
    check.require(
        not overwritten,
        f"{len(overwritten)} events stored with another payload than the first acknowledged:"
        f" {examples(overwritten)}",
    )
    await _check_usage_aggregates(stack, history, sids, check)
    return check


async def _check_usage_aggregates(
    stack: Stack, history: History, sids: list[str], check: UsageCheck
) -> None:
    expected = history.quantities(check.counted)
    conn = await stack.connect("usage")
    try:
        rows = await conn.fetch(
            "SELECT account_sid, category, sum(events) AS events, sum(quantity) AS quantity"
            " FROM usage_daily WHERE account_sid = ANY($1::text[]) GROUP BY 1, 2",
            sids,
        )
    finally:
        await conn.close()
    found = {(r["account_sid"], r["category"]): (int(r["events"]), r["quantity"]) for r in rows}
    twice = [k for k in found if found[k][0] > expected.get(k, (0, Decimal(0)))[0]]
    off = [k for k in set(found) | set(expected) if found.get(k) != expected.get(k)]
    check.figures |= {
        "usage_aggregates_counted_twice": len(twice),
        "usage_totals_off": len(off),
    }
    check.require(not twice, f"usage aggregates count events twice for {examples(twice)}")
    check.require(
        not off,
        f"{len(off)} (account, category) usage totals differ from the generator's, e.g. "
        + examples(f"{k}: stored {found.get(k)} expected {expected.get(k)}" for k in off),
    )


async def check_rating(stack: Stack, history: History, counted: Events) -> Check:
    """Charges per account, month and category = the contract's price of the generator's
    quantity (exact); one charge per counted event; the prepaid ledger draws exactly the
    prepaid charges, one entry each."""
    sids = sorted(history.accounts())
    expected = history.charges(counted)
    events_per_account: dict[str, int] = defaultdict(int)
    for sid, _ in counted:
        events_per_account[sid] += 1
    conn = await stack.connect("invoicing")
    try:
        charges = await conn.fetch(
            "SELECT account_sid, period, category, count(*) AS n, sum(amount) AS amount"
            " FROM charges WHERE account_sid = ANY($1::text[]) GROUP BY 1, 2, 3",
            sids,
        )
        prepaid = await conn.fetch(
            "SELECT account_sid, count(*) AS n, sum(amount) AS amount FROM charges"
            " WHERE account_sid = ANY($1::text[]) AND prepaid GROUP BY 1",
            sids,
        )
        drawn = await conn.fetch(
            "SELECT account_sid, count(*) AS n, sum(amount) AS amount FROM ledger_entries"
            " WHERE account_sid = ANY($1::text[]) AND kind = 'drawdown' GROUP BY 1",
            sids,
        )
    finally:
        await conn.close()
    found = {(r["account_sid"], r["period"], r["category"]): Decimal(r["amount"]) for r in charges}
    charged: dict[str, int] = defaultdict(int)
    for r in charges:
        charged[r["account_sid"]] += int(r["n"])
    off = [k for k in set(found) | set(expected) if found.get(k) != expected.get(k)]
    cents = Decimal("0.01")
    off_by_a_cent = [
        k
        for k in off
        if found.get(k, Decimal(0)).quantize(cents) != expected.get(k, Decimal(0)).quantize(cents)
    ]
    twice = [sid for sid in charged if charged[sid] > events_per_account.get(sid, 0)]
    missing = [sid for sid in events_per_account if charged.get(sid, 0) < events_per_account[sid]]
    prepaid_by = {r["account_sid"]: (int(r["n"]), Decimal(r["amount"])) for r in prepaid}
    drawn_by = {r["account_sid"]: (int(r["n"]), -Decimal(r["amount"])) for r in drawn}
    ledger_off = [
        sid for sid in set(prepaid_by) | set(drawn_by) if prepaid_by.get(sid) != drawn_by.get(sid)
    ]
    check = Check(
        figures={
            "charges": sum(charged.values()),
            "charged_total": str(sum(found.values(), Decimal(0))),
            "expected_total": str(sum(expected.values(), Decimal(0))),
            "charge_totals_off": len(off),
            "charge_totals_off_by_a_cent_or_more": len(off_by_a_cent),
            "accounts_charged_twice": len(twice),
            "accounts_missing_charges": len(missing),
            "ledger_accounts_off": len(ledger_off),
        }
    )
    check.require(
        not off,
        f"{len(off)} (account, month, category) charge totals differ from the contract's price"
        " of the generator's quantity, e.g. "
        + examples(f"{k}: charged {found.get(k)} expected {expected.get(k)}" for k in off),
    )
    check.require(not twice, f"{len(twice)} accounts charged more than once per event")
    check.require(not missing, f"{len(missing)} accounts with events never charged")
    check.require(
        not ledger_off,
        f"{len(ledger_off)} prepaid ledgers differ from their prepaid charges, e.g. "
        + examples(f"{s}: charges {prepaid_by.get(s)} drawn {drawn_by.get(s)}" for s in ledger_off),
    )
    return check


async def check_conflicts(stack: Stack, history: History) -> Check:
    """Every acknowledged repeat with another payload is recorded as a conflict (one row per
    such send) and was never applied (`check_usage`'s `overwritten` covers the latter)."""
    sids = sorted({sid for sid, _ in history.conflicts})
    conn = await stack.connect("usage")
    try:
        rows = await conn.fetch(
            "SELECT account_sid, event_id, count(*) AS n FROM usage_conflicts"
            " WHERE account_sid = ANY($1::text[]) GROUP BY 1, 2",
            sids,
        )
    finally:
        await conn.close()
    recorded = {(r["account_sid"], r["event_id"]): int(r["n"]) for r in rows}
    sent = {key: len(events) for key, events in history.conflicts.items()}
    unrecorded = [key for key in sent if recorded.get(key, 0) < sent[key]]
    over = [key for key in recorded if recorded[key] > sent.get(key, 0)]
    check = Check(
        figures={
            "conflicts_sent": sum(sent.values()),
            "conflicts_recorded": sum(recorded.values()),
            "conflicts_unrecorded": sum(sent[k] - recorded.get(k, 0) for k in unrecorded),
        }
    )
    check.require(
        not unrecorded, f"{len(unrecorded)} conflicts not recorded: {examples(unrecorded)}"
    )
    check.require(not over, f"{len(over)} event ids with more conflicts recorded than sent")
    return check


async def notification_counts(stack: Stack) -> dict[str, int]:
    """Decisions by outcome and deliveries: compared before and after a replay."""
    conn = await stack.connect("notifications")
    try:
        decisions = await conn.fetch("SELECT outcome, count(*) AS n FROM decisions GROUP BY 1")
        deliveries = int(await conn.fetchval("SELECT count(*) FROM deliveries"))
    finally:
        await conn.close()
    counts = {f"decisions_{r['outcome']}": int(r["n"]) for r in decisions}
    return counts | {"deliveries": deliveries}


async def check_forbidden_notifications(stack: Stack) -> Check:
    """No prepaid-only kind decided `sent` (or delivered) under `invoiced`."""
    conn = await stack.connect("notifications")
    try:
        forbidden = await conn.fetch(
            "SELECT account_sid, kind, trigger_event_id FROM decisions"
            " WHERE kind = ANY($1::text[]) AND outcome IN ('sent', 'failed')"
            " AND billing_mode = 'invoiced'",
            list(PREPAID_ONLY),
        )
    finally:
        await conn.close()
    check = Check(figures={"forbidden_notifications": len(forbidden)})
    check.require(
        not forbidden,
        f"{len(forbidden)} prepaid-only notifications sent under invoiced: "
        + examples(dict(r) for r in forbidden),
    )
    return check


def check_no_new_notifications(before: dict[str, int], after: dict[str, int]) -> Check:
    changed = {k: (before.get(k, 0), after.get(k, 0)) for k in set(before) | set(after)}
    changed = {k: v for k, v in changed.items() if v[0] != v[1]}
    check = Check(
        figures={
            "new_decisions": sum(
                after.get(k, 0) - before.get(k, 0) for k in after if k.startswith("decisions_")
            ),
            "new_deliveries": after.get("deliveries", 0) - before.get("deliveries", 0),
        }
    )
    check.require(not changed, f"notifications changed by the replay: {changed}")
    return check


async def services_alive(stack: Stack) -> Check:
    """Every service still running and answering /health: 0 crashes."""
    alive = stack.alive()
    healthy = await stack.healthy()
    dead = sorted(s for s, ok in alive.items() if not ok)
    sick = sorted(s for s, ok in healthy.items() if not ok)
    check = Check(figures={"crashed_services": len(dead), "unhealthy_services": len(sick)})
    check.require(not dead, f"services crashed: {dead}")
    check.require(not sick, f"services not answering /health: {sick}")
    return check


TOTALS = (
    ("usage", "usage_events", "SELECT count(*) FROM usage_events"),
    ("usage", "usage_quantity", "SELECT coalesce(sum(quantity), 0) FROM usage_events"),
    ("usage", "usage_daily_events", "SELECT coalesce(sum(events), 0) FROM usage_daily"),
    ("usage", "usage_daily_quantity", "SELECT coalesce(sum(quantity), 0) FROM usage_daily"),
    ("usage", "usage_duplicates", "SELECT count(*) FROM usage_duplicates"),
    ("usage", "usage_conflicts", "SELECT count(*) FROM usage_conflicts"),
    ("usage", "usage_rejections", "SELECT count(*) FROM usage_rejections"),
    ("invoicing", "charges", "SELECT count(*) FROM charges"),
    ("invoicing", "charged", "SELECT coalesce(sum(amount), 0) FROM charges"),
    ("invoicing", "ledger_entries", "SELECT count(*) FROM ledger_entries"),
    ("invoicing", "ledger_sum", "SELECT coalesce(sum(amount), 0) FROM ledger_entries"),
    ("invoicing", "balances_sum", "SELECT coalesce(sum(balance), 0) FROM balances"),
    ("invoicing", "recharges", "SELECT count(*) FROM recharges"),
    ("invoicing", "invoices", "SELECT count(*) FROM invoices"),
    ("notifications", "decisions", "SELECT count(*) FROM decisions"),
    ("notifications", "deliveries", "SELECT count(*) FROM deliveries"),
    ("accounts", "account_versions", "SELECT coalesce(sum(version), 0) FROM accounts"),
)
"""Every total a replay must leave as it was: (service, name, SQL giving one value)."""


async def totals(stack: Stack) -> dict[str, str]:
    """The `TOTALS` now, as exact strings."""
    found: dict[str, str] = {}
    for service in dict.fromkeys(service for service, _, _ in TOTALS):
        conn = await stack.connect(service)
        try:
            for owner, name, sql in TOTALS:
                if owner == service:
                    found[name] = str(await conn.fetchval(sql))
        finally:
            await conn.close()
    return found


def check_unchanged(before: dict[str, str], after: dict[str, str]) -> Check:
    """A replay changed nothing: every total equal, to the last digit."""
    changed = {k: f"{before.get(k)} -> {after.get(k)}" for k in before if before[k] != after.get(k)}
    check = Check(figures={"totals_compared": len(before), "totals_changed": len(changed)})
    check.require(not changed, f"totals changed by the replay: {changed}")
    return check
