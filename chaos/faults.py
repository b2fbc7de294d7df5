"""Infrastructure faults and what the fault scenarios share: the chaos infra's Kafka broker or
PostgreSQL server stopped with its own script (scripts/kafka.sh, scripts/postgres.sh), kept
down, started again while events flow and the services run on (`restarts_under_load`, the body
of broker_restart and database_restart); and the checks after a fault, including the proof that
no service was restarted meanwhile.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from chaos.checks import check_rating, check_usage, services_alive
from chaos.generator import Generator
from chaos.infra import ChaosInfra
from chaos.load import RetryingLoad, caught_up, progress, steady_load
from chaos.report import ScenarioResult, seeded
from chaos.stack import Stack, chaos_stack

Component = Literal["kafka", "postgres"]


@dataclass(frozen=True)
class Outage:
    """One stop and start of a component, timed from outside."""

    component: Component
    stopping_s: float
    """How long the script took to stop it (a clean Kafka shutdown flushes its logs)."""
    down_s: float
    """From stopped to the start script returning: the server is ready to serve again."""


def _scripts(infra: ChaosInfra, component: Component) -> tuple[Callable[[], None], ...]:
    if component == "kafka":
        return infra.stop_kafka, infra.start_kafka
    return infra.stop_postgres, infra.start_postgres


async def outage(infra: ChaosInfra, component: Component, down_for: float) -> Outage:
    """Stop `component`, keep it down `down_for` seconds, start it again and wait for it."""
    stop, start = _scripts(infra, component)
    progress(f"stopping {component}")
    began = time.monotonic()
    await asyncio.to_thread(stop)
    stopped = time.monotonic()
    await asyncio.sleep(down_for)
    progress(f"starting {component}")
    await asyncio.to_thread(start)
    done = Outage(component, stopped - began, time.monotonic() - stopped)
    progress(f"{component} back after {done.down_s:.1f} s down")
    return done


@dataclass(frozen=True)
class Plan:
    """How hard a restart scenario pushes: its load and its outages."""

    accounts: int
    rate: int
    """Events per second the producer publishes, retries aside."""
    outages: int
    down_s: float
    """How long the component stays stopped each time."""
    between_s: float
    """Load before the first outage and between two of them."""
    after_s: float
    """Load after the last outage: proof that the pipeline runs again, not merely drains."""


async def restarts_under_load(
    name: str, bar: str, component: Component, plan: Plan, short: bool
) -> ScenarioResult:
    """The broker- or database-restart scenario: `component` stopped and started
    `plan.outages` times while events flow, no service touched, then every check."""
    result, seed = seeded(name, bar, short)
    async with chaos_stack(name) as stack:
        accounts = await stack.open_accounts(plan.accounts)
        generator = Generator([a.sid for a in accounts], f"{name}-{uuid.uuid4().hex[:8]}", seed)
        before = processes(stack)
        outages: list[Outage] = []
        resumed: list[float] = []
        # A fifth of the accounts send through the gateway, whose own producer rides it too.
        through_gateway = {a.sid: a.auth for a in accounts[::5]}
        async with steady_load(
            stack,
            generator,
            plan.rate,
            warm_up_s=plan.between_s,
            after_s=plan.after_s,
            through_gateway=through_gateway,
        ) as load:
            for index in range(plan.outages):
                if index:
                    await asyncio.sleep(plan.between_s)
                outages.append(await outage(stack.infra, component, plan.down_s))
                resumed.append(await caught_up(stack, load.history))
                progress(f"usage caught up {resumed[-1]:.1f} s after {component} came back")
            acknowledged_before_last = len(load.history.acknowledged)
            through_gateway_before_last = load.gateway_acknowledged
        after_last = len(load.history.acknowledged) - acknowledged_before_last
        gateway_after_last = load.gateway_acknowledged - through_gateway_before_last
        result.figures |= {"accounts": len(accounts)} | outage_figures(outages, resumed)
        result.figures["acknowledged_after_last_outage"] = after_last
        result.figures["acknowledged_through_gateway_after_last_outage"] = gateway_after_last
        result.require(after_last > 0, "no event was acknowledged after the last outage")
        result.require(
            gateway_after_last > 0, "the gateway acknowledged no event after the last outage"
        )
        result.require(load.gateway_refused == 0, "the gateway refused valid events")
        await check_after_faults(stack, load, result, before)
    return result


def outage_figures(outages: list[Outage], resumed: list[float]) -> dict[str, Any]:
    """The worst of each: how long stopping took, how long it was down, and how long the
    pipeline took to store every event acknowledged before the server came back."""
    return {
        "outages": len(outages),
        "longest_stopping_s": round(max(o.stopping_s for o in outages), 1),
        "longest_down_s": round(max(o.down_s for o in outages), 1),
        "longest_resume_s": round(max(resumed), 1),
    }


def processes(stack: Stack) -> dict[str, int]:
    """Each service's process id: the same ids after a fault mean nobody restarted it."""
    return {service: process.pid for service, process in stack.system.processes.items()}


def require_no_restart(result: ScenarioResult, stack: Stack, before: dict[str, int]) -> None:
    """The services resumed by themselves: the same processes as before, all still running."""
    after = processes(stack)
    alive = stack.alive()
    replaced = sorted(s for s in before if after.get(s) != before[s] or not alive.get(s, False))
    result.figures["services_restarted_or_dead"] = len(replaced)
    result.require(not replaced, f"services restarted or dead after the fault: {replaced}")


async def settled(stack: Stack, tries: int = 3) -> float:
    """`stack.settled()`, tried again when aiokafka's reader raises a CancelledError of its own.

    A consumer without a group stopped before its internal task first ran re-raises that
    task's cancellation from `stop()` (aiokafka's NoGroupCoordinator.close); seen right after
    a broker restart. A cancellation of this task itself is passed on.
    """
    for _ in range(tries - 1):
        try:
            return await stack.settled(within=600.0)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
    return await stack.settled(within=600.0)


async def check_after_faults(
    stack: Stack, load: RetryingLoad, result: ScenarioResult, before: dict[str, int]
) -> None:
    """Once the system settles: nothing acknowledged lost, nothing counted twice, every total
    the generator's, and the same service processes as before the faults, all healthy."""
    progress("load done; waiting for the system to settle")
    result.figures["settled_s"] = round(await settled(stack), 1)
    result.figures |= load.history.figures() | load.figures()
    usage = await check_usage(stack, load.history)
    usage.into(result)
    (await check_rating(stack, load.history, usage.counted)).into(result)
    (await services_alive(stack)).into(result)
    require_no_restart(result, stack, before)
