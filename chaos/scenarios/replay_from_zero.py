"""Replay every consumer group from offset 0: 0 changes to any total, 0 new notifications.

Accounts are opened through the gateway, some switched to invoiced by the ops flow, and usage
is published for all of them (trial accounts cross low and depleted, so notifications are
decided and sent). Once settled, every total is read; then accounts, usage, invoicing and
notifications are stopped, their groups moved back to where this run began (offset 0 on a
fresh infra: the chaos infra's topics also hold earlier scenarios' records, which this run's
services never saw) and started again. They consume the whole run a second time; every total
and the notification log must be exactly as before.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from decimal import Decimal

from chaos.checks import (
    check_forbidden_notifications,
    check_no_new_notifications,
    check_rating,
    check_unchanged,
    check_usage,
    notification_counts,
    services_alive,
    totals,
)
from chaos.generator import Generator
from chaos.history import History, send_to_kafka
from chaos.report import ScenarioResult, seeded
from chaos.stack import Stack, chaos_stack
from tests.e2e.soak import known_to_invoicing
from tests.e2e.soak_requests import switch_to_invoiced

NAME = "replay_from_zero"
BAR = "0 changes to any total, 0 new notifications"


@dataclass(frozen=True)
class Sizes:
    accounts: int
    invoiced: int
    events: int


NEGOTIATED = {"calls-outbound": Decimal("0.0120")}
"""The rates `soak_requests.switch_to_invoiced` agrees (the rest: the default card)."""

FULL = Sizes(accounts=100, invoiced=20, events=200_000)
SHORT = Sizes(accounts=10, invoiced=3, events=5_000)


async def switch(stack: Stack, sids: list[str]) -> None:
    slots = asyncio.Semaphore(4)

    async def one(sid: str) -> None:
        async with slots:
            await switch_to_invoiced(stack.http, stack.url("gateway"), sid)
            # Usage rated before invoicing saw the switch would be priced by the card.
            await known_to_invoicing(stack.http, stack.url("invoicing"), sid, "invoiced")

    await asyncio.gather(*(one(sid) for sid in sids))


async def run(short: bool) -> ScenarioResult:
    sizes = SHORT if short else FULL
    result, seed = seeded(NAME, BAR, short)
    result.notes.append("offset 0 = where this run's groups began (the infra is shared by runs)")
    async with chaos_stack(NAME) as stack:
        accounts = await stack.open_accounts(sizes.accounts)
        sids = [a.sid for a in accounts]
        await switch(stack, sids[: sizes.invoiced])
        history = History()
        for sid in sids[: sizes.invoiced]:
            history.negotiated[sid] = dict(NEGOTIATED)
        generator = Generator(sids, f"replay-{uuid.uuid4().hex[:8]}", seed)
        for chunk in generator.chunks(sizes.events, 10_000):
            await send_to_kafka(stack.producer, history, chunk)
        await stack.settled()
        before, notified = await totals(stack), await notification_counts(stack)

        await stack.rewind()
        replayed_s = await stack.settled()

        after, notified_again = await totals(stack), await notification_counts(stack)
        result.figures |= {
            "accounts": len(accounts),
            "invoiced_accounts": sizes.invoiced,
            "replayed_s": round(replayed_s, 1),
            "decisions_before": int(before["decisions"]),
            "deliveries_before": int(before["deliveries"]),
        } | history.figures()
        result.require(int(before["deliveries"]) > 0, "nothing was sent: the replay tests nothing")
        check_unchanged(before, after).into(result)
        check_no_new_notifications(notified, notified_again).into(result)
        usage = await check_usage(stack, history)
        usage.into(result)
        (await check_rating(stack, history, usage.counted)).into(result)
        (await check_forbidden_notifications(stack)).into(result)
        (await services_alive(stack)).into(result)
    return result
