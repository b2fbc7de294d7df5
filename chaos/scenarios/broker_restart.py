"""The Kafka broker restarted while events flow: producers retry, the services ride it out.

The chaos infra's only broker is stopped cleanly (scripts/kafka.sh stop), kept down, and
started again while a producer publishes at a steady rate, sending every unacknowledged
event again with the same id. No service is touched: their consumers, outbox relays and
producers must reconnect and rejoin their groups by themselves. Once the system settles, the
checkers compare the history with usage's events and aggregates and invoicing's charges and
ledger, and the services must be the same processes as before.
"""

from __future__ import annotations

from chaos.faults import Plan, restarts_under_load
from chaos.report import ScenarioResult

NAME = "broker_restart"
BAR = "0 lost, 0 duplicated; consumers resume by themselves (broker restart during load)"

FULL = Plan(accounts=100, rate=1_000, outages=3, down_s=15.0, between_s=30.0, after_s=30.0)
SHORT = Plan(accounts=10, rate=300, outages=1, down_s=3.0, between_s=5.0, after_s=5.0)


async def run(short: bool) -> ScenarioResult:
    return await restarts_under_load(NAME, BAR, "kafka", SHORT if short else FULL, short)
