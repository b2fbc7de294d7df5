"""The billing-mode race soak on the real stack (issue 9; QUALITY.md, billing-mode race).

Accounts are opened through the gateway (trial, 15.00 credit, threshold 10.00) and driven
across low and to depleted by usage posted through the gateway while, for a random half, ops
switch them to invoiced through the invoicing-request flow; some are pay as you go with
auto-recharge first, so a card charge races the switch too. Then, through the gateway's
notifications and the facts on Kafka (`accounts.lifecycle.v1`, `balances.alerts.v1`):

- no prepaid-only kind is decided `sent` for an account under `invoiced`, nor decided after
  its switch was published;
- no card is charged under a charge lease that outlived the account's switch (the leases are
  read from accounts' database: no API shows them);
- at least 99.9 % of the alerts of accounts that stayed prepaid are decided `sent` within 60 s.

`TALLY_SOAK_ACCOUNTS` sets the size (30 by default; `make chaos` runs 10,000). The counts are
printed (`-s`) and written to `billing_mode_soak.json` in the system's run directory.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import httpx
from tally_contracts.topics import ACCOUNT_LIFECYCLE, BALANCE_ALERTS
from tally_testkit import Tail

from tests.e2e.soak import (
    ACCOUNTS,
    IN_FLIGHT,
    SEED,
    Raced,
    charge_leases,
    charged_not_credited,
    counted,
    diagnosis,
    follow,
    race,
    read_decisions,
    skipped_recharges,
)
from tests.e2e.soak_requests import RETRIED
from tests.e2e.system import System


async def test_given_switches_to_invoiced_racing_crossings_then_no_forbidden_alert_or_charge(
    system: System,
    http: httpx.AsyncClient,
    tail: Tail,
) -> None:
    # Given readers of the switches and the balance alerts, from now on
    gateway, invoicing = system.url("gateway"), system.url("invoicing")
    chance = random.Random(SEED)
    accounts: dict[str, Raced] = {}
    unclaimed: dict[str, list[Any]] = defaultdict(list)  # records of accounts not opened yet

    def on_record(record: Any) -> None:
        event = json.loads(record.value)
        sid = event.get("account_sid", "")
        if sid not in accounts:
            unclaimed[sid].append(record)
            return
        account = accounts[sid]
        if event["type"] == "accounts.billing_mode_changed" and event["billing_mode"] == "invoiced":
            account.switch_published = datetime.fromtimestamp(record.timestamp / 1000, UTC)
        elif record.topic == BALANCE_ALERTS:
            account.triggers[event["event_id"]] = event

    readers = [await tail(ACCOUNT_LIFECYCLE), await tail(BALANCE_ALERTS)]
    followers = [asyncio.create_task(follow(reader, on_record)) for reader in readers]
    started = time.monotonic()
    try:
        # When N accounts are driven across low and depleted, half of them switched meanwhile
        slots = asyncio.Semaphore(IN_FLIGHT)

        async def one(index: int) -> None:
            async with slots:
                account = await race(
                    http, gateway, invoicing, index, random.Random(chance.random())
                )
            accounts[account.sid] = account
            for record in unclaimed.pop(account.sid, []):
                on_record(record)

        await asyncio.gather(*(one(index) for index in range(ACCOUNTS)))
        raced_s = time.monotonic() - started

        # Then, once every alert is decided (bounded), ...
        deadline = time.monotonic() + 60 + ACCOUNTS / 50
        waiting = list(accounts.values())
        reads = asyncio.Semaphore(IN_FLIGHT)

        async def refresh(account: Raced) -> None:
            async with reads:
                await read_decisions(http, gateway, account)

        while waiting and time.monotonic() < deadline:
            await asyncio.gather(*(refresh(account) for account in waiting))
            waiting = [account for account in waiting if not account.settled()]
            if waiting:
                await asyncio.sleep(1)
    finally:
        for follower in followers:
            follower.cancel()
        await asyncio.gather(*followers, return_exceptions=True)

    raced = list(accounts.values())
    switched_sids = [a.sid for a in raced if a.switched]
    leases = await charge_leases(system, switched_sids)
    skipped = await skipped_recharges(system, switched_sids)
    figures: dict[str, Any] = {
        "accounts": len(raced),
        "seed": SEED,
        "switched": sum(a.switched for a in raced),
        "auto_recharge": sum(a.auto_recharge for a in raced),
        "raced_s": round(raced_s, 1),
        "total_s": round(time.monotonic() - started, 1),
        "not_settled": len(waiting),
        "card_charged_not_credited": charged_not_credited(leases, skipped),
        "requests_retried": dict(RETRIED),
    } | counted(raced, leases)
    unsettled = [await diagnosis(http, system, account) for account in waiting[:5]]
    report = system.log_dir / "billing_mode_soak.json"
    report.write_text(json.dumps(figures | {"unsettled": unsettled}, indent=2, sort_keys=True))
    print(f"\nbilling-mode soak ({report}):\n{json.dumps(figures, indent=2, sort_keys=True)}")

    # ... nothing prepaid-only was sent to an invoiced account, no invoiced card was charged,
    assert figures["forbidden_sent"] == 0, figures
    assert figures["card_charges_of_invoiced"] == 0, figures
    # and the alerts of the accounts that stayed prepaid were sent, nearly all within 60 s.
    assert figures["legitimate_alerts"] > 0, figures
    ratio = figures["legitimate_sent_within_60s_ratio"]
    assert ratio >= 0.999, f"{figures}; {len(waiting)} not settled, e.g. {unsettled}"
