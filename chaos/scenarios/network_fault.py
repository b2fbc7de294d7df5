"""A network fault between the usage service and its database, while events flow.

Usage reaches PostgreSQL through a Toxiproxy proxy of this run (chaos/proxy.py), set up
before any load. Each round cuts the link (every open connection closed mid-whatever, new
ones refused), then restores it with heavy latency on every packet both ways, then heals it.
No service is restarted: usage's pool must reconnect and its consumer apply the interrupted
batches again, exactly once. Once the system settles, the checkers compare the history with
what the services stored, and the services must be the same processes as before.

Why the database and not the broker: a Kafka client reaches the broker through whatever
address the broker advertises (127.0.0.1:<its port>), so a proxy in front of the bootstrap
address carries only the first metadata request; cutting it would not cut the consumer.
Proxying Kafka needs a listener that advertises the proxy, which the single-broker infra
does not have (see docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from chaos.faults import check_after_faults, processes
from chaos.generator import Generator
from chaos.load import caught_up, progress, steady_load
from chaos.proxy import Proxy, toxiproxy
from chaos.report import ScenarioResult, seeded
from chaos.stack import Stack, chaos_stack, log_dir_of

NAME = "network_fault"
BAR = (
    "0 lost, 0 duplicated; consumers resume by themselves"
    " (usage's link to PostgreSQL cut, then slowed, during load)"
)
VICTIM = "usage"


@dataclass(frozen=True)
class Plan:
    accounts: int
    rate: int
    rounds: int
    cut_s: float
    slow_s: float
    latency_ms: int
    jitter_ms: int
    between_s: float
    """Load before the first round and between two rounds."""
    after_s: float


FULL = Plan(
    accounts=100,
    rate=1_000,
    rounds=3,
    cut_s=20.0,
    slow_s=30.0,
    latency_ms=200,
    jitter_ms=100,
    between_s=20.0,
    after_s=30.0,
)
SHORT = Plan(
    accounts=10,
    rate=300,
    rounds=1,
    cut_s=5.0,
    slow_s=5.0,
    latency_ms=100,
    jitter_ms=50,
    between_s=5.0,
    after_s=5.0,
)


def through(url: str, listen: str) -> str:
    """`url` with its host and port replaced by the proxy's `listen` address."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{credentials}@{listen}" if credentials else listen))


async def route_through_proxy(stack: Stack, proxy: Proxy) -> None:
    """Start the victim again with its database URL pointing at the proxy (before any load)."""
    stack.system.stop(VICTIM)
    url = through(stack.database(VICTIM), proxy.listen)
    await asyncio.to_thread(stack.restart, VICTIM, database_url=url)


def transient_retries(stack: Stack) -> int:
    """How often the victim's engine waited out a transient failure (its log says so)."""
    log = (log_dir_of(stack) / f"{VICTIM}.log").read_text(errors="replace")
    return sum(1 for line in log.splitlines() if "tally_runtime" in line and "Retrying" in line)


async def fault_round(proxy: Proxy, plan: Plan) -> None:
    progress(f"cutting {VICTIM}'s link to PostgreSQL for {plan.cut_s:.0f} s")
    await proxy.cut()
    await asyncio.sleep(plan.cut_s)
    await proxy.restore()
    progress(f"slowing it by {plan.latency_ms} ± {plan.jitter_ms} ms for {plan.slow_s:.0f} s")
    await proxy.slow(plan.latency_ms, plan.jitter_ms)
    await asyncio.sleep(plan.slow_s)
    await proxy.restore()
    progress("link healed")


async def run(short: bool) -> ScenarioResult:
    plan = SHORT if short else FULL
    result, seed = seeded(NAME, BAR, short)
    async with (
        chaos_stack(NAME) as stack,
        toxiproxy(log_dir_of(stack) / "toxiproxy.log") as proxies,
    ):
        upstream = f"127.0.0.1:{stack.infra.pg_port}"
        proxy = await proxies.proxy(f"{VICTIM}-postgres", upstream)
        await route_through_proxy(stack, proxy)
        accounts = await stack.open_accounts(plan.accounts)
        generator = Generator([a.sid for a in accounts], f"net-{uuid.uuid4().hex[:8]}", seed)
        before = processes(stack)
        resumed: list[float] = []
        async with steady_load(
            stack, generator, plan.rate, warm_up_s=plan.between_s, after_s=plan.after_s
        ) as load:
            for index in range(plan.rounds):
                if index:
                    await asyncio.sleep(plan.between_s)
                await fault_round(proxy, plan)
                resumed.append(await caught_up(stack, load.history))
                progress(f"usage caught up {resumed[-1]:.1f} s after the link healed")
        result.figures |= {
            "accounts": len(accounts),
            "rounds": plan.rounds,
            "cut_s": plan.cut_s,
            "slowed_s": plan.slow_s,
            "latency_ms": f"{plan.latency_ms} ± {plan.jitter_ms}",
            "longest_resume_s": round(max(resumed), 1),
            "victim_transient_retries_logged": transient_retries(stack),
        }
        result.require(
            result.figures["victim_transient_retries_logged"] > 0,
            f"{VICTIM} logged no retry: the fault never reached it, the scenario tested nothing",
        )
        await check_after_faults(stack, load, result, before)
    return result
