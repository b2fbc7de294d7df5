"""The billing-mode race soak's accounts, how it drives them and how it counts (its test is
`test_billing_mode_soak.py`)."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer

from tests.e2e.soak_requests import call, open_account, switch_to_invoiced, usage
from tests.e2e.system import System

ACCOUNTS = int(os.environ.get("TALLY_SOAK_ACCOUNTS", "30"))
SEED = int(os.environ.get("TALLY_SOAK_SEED", str(random.SystemRandom().randrange(1 << 30))))
IN_FLIGHT = 48  # accounts raced at once: enough to overlap, few enough for the gateway
PREPAID_ONLY = {
    "recharge_reminder",
    "card_charged",
    "card_declined",
    "suspension_warning",
    "account_suspended",
}
LEGITIMATE_WITHIN = timedelta(seconds=60)
FIGURES = (
    "forbidden_sent",
    "sent_before_switch",
    "card_charges",
    "card_charges_of_invoiced",
    "legitimate_alerts",
    "legitimate_sent_within_60s",
    "legitimate_alerts_missing",
)
ADDRESS = {"line1": "1 Soak St", "city": "Austin", "postal_code": "78701", "country": "US"}


@dataclass
class Raced:
    """One account of the soak: how it was driven, and what was seen of it."""

    sid: str
    token: str
    switched: bool
    auto_recharge: bool
    switch_published: datetime | None = None  # the BillingModeChanged record's Kafka time
    triggers: dict[str, dict[str, Any]] = field(default_factory=dict)  # event id -> alert
    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)  # trigger id -> decision

    def legitimate(self) -> list[dict[str, Any]]:
        """The alerts a prepaid account must hear of (a low crossing with auto-recharge on
        is announced by the card charge instead)."""
        if self.switched:
            return []
        return [
            alert
            for alert in self.triggers.values()
            if alert["type"] in ("card.charged", "card.declined")
            or (alert["type"] == "balance.crossed" and alert["crossing"] == "depleted")
            or (
                alert["type"] == "balance.crossed"
                and alert["crossing"] == "low"
                and not alert["auto_recharge"]
            )
        ]

    def missing(self) -> int:
        """Alerts a prepaid account must have had that never came: low and depleted (trial),
        a card charge (auto-recharge)."""
        if self.switched:
            return 0
        seen = {(a["type"], a.get("crossing")) for a in self.triggers.values()}
        if self.auto_recharge:
            return int(("card.charged", None) not in seen)
        return len({("balance.crossed", "low"), ("balance.crossed", "depleted")} - seen)

    def settled(self) -> bool:
        """Everything the soak waits for has been seen and decided."""
        if (self.switched and self.switch_published is None) or self.missing():
            return False
        return all(
            self.decisions.get(event_id, {}).get("decision") not in (None, "deferred")
            for event_id, alert in self.triggers.items()
            if alert.get("crossing") != "recovered"
        )


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def follow(reader: AIOKafkaConsumer, on_record: Callable[[Any], None]) -> None:
    """Hand every record of `reader` to `on_record` until cancelled."""
    while True:
        batches = await reader.getmany(timeout_ms=500, max_records=5000)
        for records in batches.values():
            for record in records:
                on_record(record)


async def known_to_invoicing(
    http: httpx.AsyncClient, invoicing: str, sid: str, mode: str, within: float = 60.0
) -> None:
    """Wait until invoicing rates the account in `mode` (its credit and auto-recharge known).

    Usage that overtakes a new account's first state is drawn from a balance of 0 (a false
    `depleted`, the trial credit after it): not the race this soak is about (see the report).
    """
    deadline = time.monotonic() + within
    while True:
        answer = await http.get(f"{invoicing}/accounts/{sid}")
        if answer.status_code == 200 and answer.json()["billing_mode"] == mode:
            return
        assert time.monotonic() < deadline, (
            f"invoicing does not rate {sid} as {mode}: {answer.text}"
        )
        await asyncio.sleep(0.2)


async def race(
    http: httpx.AsyncClient,
    gateway: str,
    invoicing: str,
    index: int,
    chance: random.Random,
) -> Raced:
    """Open one account, then drive its balance down while (maybe) switching it."""
    opened = await open_account(http, gateway, index)
    account = Raced(
        opened["sid"],
        opened["auth_token"],
        switched=chance.random() < 0.5,
        auto_recharge=chance.random() < 0.25,
    )
    sid, auth = account.sid, (account.sid, account.token)
    if account.auto_recharge:
        upgrade = {
            "method": "pay_as_you_go",
            "address": ADDRESS,
            "auto_recharge": {"threshold": "10.00", "amount": "20.00", "card_token": "tok_visa"},
        }
        await call(
            http, "POST", f"{gateway}/v1/Accounts/{sid}/Upgrade", 200, json=upgrade, auth=auth
        )
    await known_to_invoicing(
        http, invoicing, sid, "pay_as_you_go" if account.auto_recharge else "trial"
    )
    delays = [chance.uniform(0, 0.4) for _ in range(3)]

    async def spend() -> None:
        await asyncio.sleep(delays[0])
        url = f"{gateway}/v1/Accounts/{sid}/Usage"
        await call(http, "POST", url, 202, json=usage(400), auth=auth)  # 15.00 -> 9.40: low
        await asyncio.sleep(delays[1])
        await call(http, "POST", url, 202, json=usage(700), auth=auth)  # -> -0.40: depleted

    async def switch() -> None:
        await asyncio.sleep(delays[2])
        await switch_to_invoiced(http, gateway, sid)

    await asyncio.gather(spend(), *([switch()] if account.switched else []))
    return account


async def read_decisions(http: httpx.AsyncClient, gateway: str, account: Raced) -> None:
    """The account's decisions through its own credentials, by trigger."""
    url = f"{gateway}/v1/Accounts/{account.sid}/Notifications"
    found = await call(http, "GET", url, 200, auth=(account.sid, account.token))
    account.decisions = {d["trigger_event_id"]: d for d in found["notifications"]}


async def diagnosis(http: httpx.AsyncClient, system: System, account: Raced) -> dict[str, Any]:
    """What the services say of an account the soak waited for in vain."""
    found: dict[str, Any] = {
        "sid": account.sid,
        "switched": account.switched,
        "auto_recharge": account.auto_recharge,
        "switch_published": str(account.switch_published),
        "alerts": list(account.triggers.values()),
        "decisions": list(account.decisions.values()),
    }
    views = {"invoicing": ("", "/balance", "/charges"), "accounts": ("",)}
    for service, paths in views.items():
        for path in paths:
            answer = await http.get(f"{system.url(service)}/accounts/{account.sid}{path}")
            found[f"{service}{path}"] = answer.json()
    return found


async def charge_leases(system: System, sids: list[str]) -> dict[str, list[asyncpg.Record]]:
    """Accounts' charge leases by account: when each card charge's lease ended."""
    conn = await asyncpg.connect(system.databases["accounts"])
    try:
        rows = await conn.fetch(
            "SELECT lease_id, account_sid, least(released_at, expires_at) AS ended"
            " FROM charge_leases WHERE account_sid = ANY($1::text[])",
            sids,
        )
    finally:
        await conn.close()
    leases: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for row in rows:
        leases[row["account_sid"]].append(row)
    return leases


async def skipped_recharges(system: System, sids: list[str]) -> set[str]:
    """Invoicing's recharges it dropped as the account became invoiced: never to be credited."""
    conn = await asyncpg.connect(system.databases["invoicing"])
    try:
        rows = await conn.fetch(
            "SELECT recharge_id FROM recharges WHERE account_sid = ANY($1::text[])"
            " AND state = 'skipped'",
            sids,
        )
    finally:
        await conn.close()
    return {row["recharge_id"] for row in rows}


def charged_not_credited(leases: dict[str, list[asyncpg.Record]], skipped: set[str]) -> int:
    """Recharges whose card was charged under a lease (the development provider approves
    `tok_visa`) but which invoicing then skipped: the customer paid and got no credit."""
    leased = {lease["lease_id"].rsplit(":", 1)[0] for rows in leases.values() for lease in rows}
    return len(skipped & leased)


def counted(accounts: list[Raced], leases: dict[str, list[asyncpg.Record]]) -> dict[str, Any]:
    """The soak's figures: forbidden sends and charges, and the legitimate alerts' timeliness."""
    figures: dict[str, Any] = defaultdict(int)
    for key in FIGURES:
        figures[key] = 0
    slowest = timedelta(0)
    for account in accounts:
        for decision in account.decisions.values():
            if decision["kind"] not in PREPAID_ONLY or decision["decision"] == "deferred":
                continue
            figures[f"prepaid_only_{decision['decision']}"] += 1
            if not account.switched or decision["decision"] not in ("sent", "failed"):
                continue
            switched = account.switch_published
            late = switched is not None and instant(decision["decided_at"]) > switched
            if decision["billing_mode"] == "invoiced" or late:
                figures["forbidden_sent"] += 1
            else:
                figures["sent_before_switch"] += 1
        figures["legitimate_alerts_missing"] += account.missing()
        figures["legitimate_alerts"] += account.missing()  # never came: never sent in time
        for alert in account.legitimate():
            figures["legitimate_alerts"] += 1
            answer = account.decisions.get(alert["event_id"])
            if answer is None or answer["decision"] != "sent":
                continue
            took = instant(answer["decided_at"]) - instant(alert["occurred_at"])
            slowest = max(slowest, took)
            figures["legitimate_sent_within_60s"] += took <= LEGITIMATE_WITHIN
        charged = [a for a in account.triggers.values() if a["type"] == "card.charged"]
        figures["card_charges"] += len(charged)
        if account.switched and account.switch_published is not None:
            for alert in charged:
                ends = [
                    lease["ended"]
                    for lease in leases[account.sid]
                    if lease["lease_id"].startswith(f"{alert['recharge_id']}:")
                ]
                if not ends or max(ends) > account.switch_published:
                    figures["card_charges_of_invoiced"] += 1
    legitimate = figures["legitimate_alerts"]
    figures["legitimate_sent_within_60s_ratio"] = (
        figures["legitimate_sent_within_60s"] / legitimate if legitimate else None
    )
    figures["legitimate_slowest_s"] = round(slowest.total_seconds(), 3)
    return dict(figures)
