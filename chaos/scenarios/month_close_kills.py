"""Month close by 8 concurrent workers, one SIGKILLed mid-run.

Accounts opened through the gateway get usage dated in the previous month (backfill is
allowed), rated by the pipeline. Then 8 extra invoicing processes (same database, small
chunks so a run has many transactions) are each asked for the billing run of that month at
once (`POST /ops/billing-runs`, what the gateway's `POST /v1/Ops/BillingRuns` calls), and one
is SIGKILLed while they run. Checked against the generator's own arithmetic: exactly one
invoice per account and month; each usage line = the contract's price of the month's
quantity rounded half-even to the cent; invoice total = sum of its lines = rated usage.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import httpx

from chaos.checks import Check, check_rating, check_usage, services_alive
from chaos.generator import Generator
from chaos.history import History, price, send_to_kafka
from chaos.report import ScenarioResult, seeded
from chaos.stack import Stack, chaos_stack

NAME = "month_close_kills"
BAR = "exactly one invoice per account and month; invoice total = sum of its lines = rated usage"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Sizes:
    accounts: int
    events_per_account: int
    workers: int
    chunk: int
    """Accounts per month-close transaction."""


FULL = Sizes(accounts=1_000, events_per_account=10, workers=8, chunk=25)
SHORT = Sizes(accounts=60, events_per_account=5, workers=4, chunk=2)


def previous_month() -> tuple[str, str]:
    """(`YYYY-MM`, an instant mid-month) of the month before this one, in UTC."""
    first = datetime.now(UTC).replace(day=1, hour=12, minute=0, second=0, microsecond=0)
    middle = (first - timedelta(days=1)).replace(day=15)
    return f"{middle.year:04d}-{middle.month:02d}", middle.isoformat().replace("+00:00", "Z")


async def billing_run(stack: Stack, url: str, month: str) -> dict[str, Any] | str:
    """One worker's billing run: its answer, or what broke (the killed one's connection)."""
    try:
        answer = await stack.http.post(
            f"{url}/ops/billing-runs", json={"month": month}, timeout=600
        )
    except httpx.HTTPError as error:
        return f"{type(error).__name__}"
    if answer.status_code != 200:
        return f"{answer.status_code} {answer.text[:200]}"
    return dict(answer.json())


async def kill_one_mid_run(
    stack: Stack, runs: dict[str, asyncio.Task[Any]], month: str, chance: random.Random
) -> str | None:
    """SIGKILL one worker while its run is under way: once the first invoices of `month` are
    written, one whose run has not answered yet. None if every run answered first.

    A fixed delay instead would kill after the runs had ended on a fast, idle machine."""
    conn = await stack.connect("invoicing")
    try:
        while not all(run.done() for run in runs.values()):
            started = await conn.fetchval("SELECT count(*) FROM invoices WHERE month = $1", month)
            running = [name for name, run in runs.items() if not run.done()]
            if started and running:
                victim = chance.choice(running)
                stack.system.extras[victim].kill()
                return victim
            await asyncio.sleep(0.005)
    finally:
        await conn.close()
    return None


async def check_invoices(
    stack: Stack, history: History, month: str, counted: dict[Any, Any]
) -> Check:
    """One invoice per account with usage; lines = rounded prices; total = lines = usage."""
    quantities: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for (sid, _), payload in counted.items():
        quantities[sid][payload.category] += payload.amount
    conn = await stack.connect("invoicing")
    try:
        invoices = await conn.fetch(
            "SELECT invoice_id, account_sid, total FROM invoices"
            " WHERE month = $1 AND account_sid = ANY($2::text[])",
            month,
            list(quantities),
        )
        lines = await conn.fetch(
            "SELECT l.invoice_id, l.kind, l.category, l.quantity, l.amount FROM invoice_lines l"
            " JOIN invoices i USING (invoice_id) WHERE i.month = $1"
            " AND i.account_sid = ANY($2::text[])",
            month,
            list(quantities),
        )
    finally:
        await conn.close()
    per_account: dict[str, list[Any]] = defaultdict(list)
    for invoice in invoices:
        per_account[invoice["account_sid"]].append(invoice)
    lines_of: dict[str, list[Any]] = defaultdict(list)
    for line in lines:
        lines_of[line["invoice_id"]].append(line)
    missing = [sid for sid in quantities if not per_account.get(sid)]
    doubled = [sid for sid, found in per_account.items() if len(found) > 1]
    not_summing, off = [], []
    for sid, found in per_account.items():
        for invoice in found:
            its_lines = lines_of[invoice["invoice_id"]]
            if sum((Decimal(line["amount"]) for line in its_lines), Decimal(0)) != invoice["total"]:
                not_summing.append(invoice["invoice_id"])
            usage = {
                line["category"]: (Decimal(line["quantity"]), Decimal(line["amount"]))
                for line in its_lines
                if line["kind"] == "usage"
            }
            expected = {
                category: (quantity, price(category, quantity).quantize(CENT, ROUND_HALF_EVEN))
                for category, quantity in quantities[sid].items()
            }
            total = sum((amount for _, amount in expected.values()), Decimal(0))
            if usage != expected or invoice["total"] != total:
                off.append(f"{sid}: lines {usage} total {invoice['total']}; expected {expected}")
    check = Check(
        figures={
            "accounts_with_usage": len(quantities),
            "invoices": len(invoices),
            "accounts_without_invoice": len(missing),
            "accounts_with_two_invoices": len(doubled),
            "invoices_not_summing": len(not_summing),
            "invoices_off_from_usage": len(off),
        }
    )
    check.require(not missing, f"{len(missing)} accounts with usage and no invoice")
    check.require(not doubled, f"{len(doubled)} accounts with more than one invoice for {month}")
    check.require(not not_summing, f"{len(not_summing)} invoices whose total != sum of lines")
    check.require(not off, f"{len(off)} invoices differ from rated usage, e.g. {off[:2]}")
    return check


async def run(short: bool) -> ScenarioResult:
    sizes = SHORT if short else FULL
    result, seed = seeded(NAME, BAR, short)
    chance = random.Random(seed)
    month, mid_month = previous_month()
    async with chaos_stack(NAME) as stack:
        accounts = await stack.open_accounts(sizes.accounts)
        history = History()
        generator = Generator([a.sid for a in accounts], f"close-{uuid.uuid4().hex[:8]}", seed)
        generator.occurred_at = mid_month
        await send_to_kafka(
            stack.producer,
            history,
            list(generator.events(sizes.accounts * sizes.events_per_account)),
        )
        await stack.settled()
        names = [f"invoicing-worker-{i}" for i in range(sizes.workers)]
        urls = await asyncio.gather(
            *(
                asyncio.to_thread(
                    stack.system.start_extra, name, "invoicing", month_close_chunk=str(sizes.chunk)
                )
                for name in names
            )
        )
        runs = {
            name: asyncio.create_task(billing_run(stack, url, month))
            for name, url in zip(names, urls, strict=True)
        }
        victim = await kill_one_mid_run(stack, runs, month, chance)
        still_running = sum(not run.done() for run in runs.values())
        answers = await asyncio.gather(*runs.values())
        await stack.settled()
        issued = [a for a in answers if isinstance(a, dict)]
        result.figures |= {
            "month": month,
            "workers": sizes.workers,
            "runs_still_running_at_kill": still_running,
            "runs_completed": len(issued),
            "invoices_issued_by_runs": sum(int(a["invoices_issued"]) for a in issued),
        } | history.figures()
        result.notes.append(f"killed {victim}; answers: {answers}")
        result.require(
            victim is not None, "every run had finished before the kill: nothing killed mid-run"
        )
        usage = await check_usage(stack, history)
        usage.into(result)
        (await check_rating(stack, history, usage.counted)).into(result)
        (await check_invoices(stack, history, month, usage.counted)).into(result)
        (await services_alive(stack)).into(result)
    return result
