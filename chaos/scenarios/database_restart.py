"""PostgreSQL restarted while events flow: every service's pool and consumer ride it out.

The chaos infra's PostgreSQL server (all five services' databases) is stopped in fast mode
(scripts/postgres.sh stop: open transactions rolled back, clients disconnected), kept down,
and started again while a producer publishes at a steady rate. No service is touched: their
pools must reconnect, their consumers apply the interrupted batches again and their outbox
relays resume. Once the system settles, the checkers compare the history with what the
services stored, and the services must be the same processes as before.
"""

from __future__ import annotations

from chaos.faults import Plan, restarts_under_load
from chaos.report import ScenarioResult

NAME = "database_restart"
BAR = "0 lost, 0 duplicated; consumers resume by themselves (PostgreSQL restart during load)"

FULL = Plan(accounts=100, rate=1_000, outages=3, down_s=15.0, between_s=30.0, after_s=30.0)
SHORT = Plan(accounts=10, rate=300, outages=1, down_s=3.0, between_s=5.0, after_s=5.0)


async def run(short: bool) -> ScenarioResult:
    return await restarts_under_load(NAME, BAR, "postgres", SHORT if short else FULL, short)
