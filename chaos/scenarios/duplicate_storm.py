"""The duplicate storm: 20 % of events re-sent, one id sent 1,000 times concurrently, 1,000
same-id-different-payload events.

Distinct events go to Kafka; a fifth of them are sent again (same bytes; some through the
gateway's API, which must count them as the same event); one event is sent 1,000 times at
once (most on Kafka, some through the API); 1,000 acknowledged events are sent again with
another quantity. Checked: each id stored and charged once with its first payload, every
conflict recorded, the storm's receipt counting its repeats.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chaos.checks import check_conflicts, check_rating, check_usage, services_alive
from chaos.generator import Generator
from chaos.history import History, send_to_gateway, send_to_kafka
from chaos.report import ScenarioResult, seeded
from chaos.stack import Account, Stack, chaos_stack

NAME = "duplicate_storm"
BAR = "each id counted once; every conflict rejected and recorded"
API_BATCH = 100


@dataclass(frozen=True)
class Sizes:
    accounts: int
    events: int
    storm: int
    """Sends of the one storm id, all at once."""
    storm_via_api: int
    """Of which through the gateway."""
    conflicts: int
    resent_via_api: int
    """Of the re-sent fifth, how many through the gateway."""


FULL = Sizes(
    accounts=50,
    events=100_000,
    storm=1_000,
    storm_via_api=100,
    conflicts=1_000,
    resent_via_api=2_000,
)
SHORT = Sizes(
    accounts=10, events=5_000, storm=1_000, storm_via_api=50, conflicts=200, resent_via_api=200
)


async def storm(stack: Stack, history: History, account: Account, sizes: Sizes) -> int:
    """One event sent `sizes.storm` times concurrently; returns its acknowledged sends."""
    event = {
        "event_id": f"storm-{uuid.uuid4().hex}",
        "account_sid": account.sid,
        "category": "sms-outbound",
        "quantity": "1",
        "occurred_at": Generator([account.sid], "x", 0).occurred_at,
    }
    on_kafka = sizes.storm - sizes.storm_via_api
    gateway = stack.url("gateway")
    sends: list[Coroutine[Any, Any, object]] = [
        send_to_kafka(stack.producer, history, [event] * on_kafka)
    ]
    sends += [
        send_to_gateway(stack.http, gateway, account.auth, history, [event])
        for _ in range(sizes.storm_via_api)
    ]
    await asyncio.gather(*sends)
    key = (account.sid, event["event_id"])
    return history.repeats[key] + (key in history.acknowledged)


def other_quantity(quantity: str) -> str:
    return str(Decimal(quantity) + Decimal("1.5"))


async def storm_receipt(stack: Stack, sid: str, event_id: str) -> dict[str, object]:
    answer = await stack.request(
        "POST", f"{stack.url('usage')}/accounts/{sid}/receipts", json={"event_ids": [event_id]}
    )
    answer.raise_for_status()
    return dict(answer.json()["receipts"][0])


async def run(short: bool) -> ScenarioResult:
    sizes = SHORT if short else FULL
    result, seed = seeded(NAME, BAR, short)
    chance = random.Random(seed)
    async with chaos_stack(NAME) as stack:
        accounts = await stack.open_accounts(sizes.accounts)
        by_sid = {a.sid: a for a in accounts}
        history = History()
        generator = Generator(list(by_sid), f"dup-{uuid.uuid4().hex[:8]}", seed)
        originals = list(generator.events(sizes.events))
        await send_to_kafka(stack.producer, history, originals)

        # 20 % re-sent: the same bytes on Kafka, or the same event through the API.
        resent = chance.sample(originals, sizes.events // 5)
        via_api, on_kafka = resent[: sizes.resent_via_api], resent[sizes.resent_via_api :]
        await send_to_kafka(stack.producer, history, on_kafka)
        slots = asyncio.Semaphore(8)

        async def post(sid: str, events: list[dict[str, object]]) -> None:
            async with slots:
                await send_to_gateway(
                    stack.http, stack.url("gateway"), by_sid[sid].auth, history, events
                )

        per_account: dict[str, list[dict[str, object]]] = {}
        for event in via_api:
            per_account.setdefault(str(event["account_sid"]), []).append(event)
        await asyncio.gather(
            *(
                post(sid, events[i : i + API_BATCH])
                for sid, events in per_account.items()
                for i in range(0, len(events), API_BATCH)
            )
        )

        # One id, 1,000 times at once.
        stormed = accounts[0]
        storm_acked = await storm(stack, history, stormed, sizes)
        storm_key = next(k for k in history.acknowledged if k[1].startswith("storm-"))

        # Same id, another payload: after the original's ack, so the original is the first.
        changed = [
            event | {"quantity": other_quantity(str(event["quantity"]))}
            for event in chance.sample(originals, sizes.conflicts)
        ]
        await send_to_kafka(stack.producer, history, changed)

        result.figures |= {"settled_s": round(await stack.settled(), 1)} | history.figures()
        receipt = await storm_receipt(stack, *storm_key)
        result.figures |= {
            "storm_sends_acknowledged": storm_acked,
            "storm_receipt_duplicates": receipt.get("duplicates"),
        }
        # Repeats whose send was not acknowledged may have been stored too: between the two.
        counted_repeats = int(str(receipt.get("duplicates", -1)))
        result.require(
            receipt.get("status") == "recorded"
            and storm_acked - 1 <= counted_repeats <= sizes.storm - 1,
            f"the storm id's receipt {receipt} does not count its {storm_acked - 1} repeats",
        )
        usage = await check_usage(stack, history)
        usage.into(result)
        (await check_rating(stack, history, usage.counted)).into(result)
        (await check_conflicts(stack, history)).into(result)
        (await services_alive(stack)).into(result)
    return result
