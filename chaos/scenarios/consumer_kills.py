"""SIGKILL of the usage and invoicing consumers every 5-30 s while events flow.

A producer publishes valid events for accounts opened through the gateway (each ack recorded
in the history) while a killer SIGKILLs usage or invoicing at random intervals and starts it
again. Once the publishing is done and the pipeline settled, the checkers compare the
history with usage's events and aggregates and invoicing's charges and ledger.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass

from chaos.checks import check_rating, check_usage, services_alive
from chaos.generator import Generator
from chaos.history import History, send_to_kafka
from chaos.report import ScenarioResult, seeded
from chaos.stack import Stack, chaos_stack

NAME = "consumer_kills"
BAR = "0 lost, 0 counted twice: every account's totals equal the generator's"
VICTIMS = ("usage", "invoicing")


@dataclass(frozen=True)
class Sizes:
    events: int
    accounts: int
    chunk: int
    """Events published per batch of acks."""
    pause: tuple[float, float]
    """Seconds between two kills (uniform)."""


FULL = Sizes(events=1_000_000, accounts=200, chunk=20_000, pause=(5.0, 30.0))
SHORT = Sizes(events=20_000, accounts=20, chunk=2_000, pause=(2.0, 5.0))


async def kill_repeatedly(
    stack: Stack, chance: random.Random, pause: tuple[float, float], stop: asyncio.Event
) -> None:
    """SIGKILL a victim every `pause` seconds (uniform), restart it at once, until `stop`."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=chance.uniform(*pause))
            return
        except TimeoutError:
            pass
        victim = chance.choice(VICTIMS)
        stack.kill(victim)
        await asyncio.to_thread(stack.restart, victim)


async def publish(stack: Stack, history: History, generator: Generator, sizes: Sizes) -> None:
    for chunk in generator.chunks(sizes.events, sizes.chunk):
        await send_to_kafka(stack.producer, history, chunk)


async def run(short: bool) -> ScenarioResult:
    sizes = SHORT if short else FULL
    result, seed = seeded(NAME, BAR, short)
    chance = random.Random(seed)
    async with chaos_stack(NAME) as stack:
        accounts = await stack.open_accounts(sizes.accounts)
        history = History()
        generator = Generator([a.sid for a in accounts], f"kill-{uuid.uuid4().hex[:8]}", seed)
        stop = asyncio.Event()
        started = time.monotonic()
        killer = asyncio.create_task(kill_repeatedly(stack, chance, sizes.pause, stop))
        try:
            await publish(stack, history, generator, sizes)
            published_s = time.monotonic() - started
            # Keep killing while the backlog drains: most of the work happens after publishing.
            while not killer.done():
                if sum((await stack.lags()).values()) == 0:
                    break
                await asyncio.sleep(1)
        finally:
            stop.set()
            await killer
        settled_s = await stack.settled()
        result.figures |= {
            "accounts": len(accounts),
            "kills_usage": stack.kills.get("usage", 0),
            "kills_invoicing": stack.kills.get("invoicing", 0),
            "published_s": round(published_s, 1),
            "drained_s": round(time.monotonic() - started, 1),
            "settled_after_kills_s": round(settled_s, 1),
        } | history.figures()
        usage = await check_usage(stack, history)
        usage.into(result)
        (await check_rating(stack, history, usage.counted)).into(result)
        (await services_alive(stack)).into(result)
        result.require(
            sum(stack.kills.values()) > 0, "no consumer was killed: the scenario tested nothing"
        )
    return result
