"""The generator's history: every usage event sent, and what its producer was told.

Jepsen-style: an event is *acknowledged* when Kafka acked its record (acks=all) or the gateway
answered 202 without listing it as rejected; a send that failed or timed out is
*indeterminate* (it may or may not have been stored, and the checkers accept either). The
history also does the generator's own arithmetic: what each account's totals must be, from
the acknowledged events alone, with Decimal.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import httpx
from aiokafka import AIOKafkaProducer
from tally_contracts.topics import USAGE_EVENTS

Key = tuple[str, str]
"""(account SID, event id): the identity of a usage event (CONTRACTS.md §1)."""

HEADERS = [("content-type", b"application/json")]
IDENTITY = ("account_sid", "event_id")


class Payload(NamedTuple):
    """What an event says besides its identity; compact, since a history holds millions."""

    category: str
    quantity: str
    occurred_at: str
    rest: str = ""
    """The other fields (phone number, attributes, ...) as sorted JSON; "" when none."""

    @classmethod
    def of(cls, event: dict[str, Any]) -> Payload:
        known = {"category", "quantity", "occurred_at", *IDENTITY}
        rest = {k: v for k, v in event.items() if k not in known}
        return cls(
            str(event.get("category")),
            str(event.get("quantity")),
            str(event.get("occurred_at")),
            json.dumps(rest, sort_keys=True) if rest else "",
        )

    @property
    def amount(self) -> Decimal:
        return Decimal(self.quantity)


Events = dict[Key, Payload]

# The default rate card (CONTRACTS.md §2), written out again on purpose: the checkers compare
# the services' prices with the contract's, not with the services' own code.
TIERS: dict[str, tuple[tuple[Decimal, Decimal], ...]] = {
    "calls-inbound": ((Decimal(0), Decimal("0.0085")),),
    "calls-outbound": ((Decimal(0), Decimal("0.0140")), (Decimal(10_000), Decimal("0.0130"))),
    "sms-inbound": ((Decimal(0), Decimal("0.0079")),),
    "sms-outbound": ((Decimal(0), Decimal("0.0079")),),
    "phone-numbers": ((Decimal(0), Decimal("0.0400")),),
}


def price(category: str, quantity: Decimal) -> Decimal:
    """The exact price of a month's `quantity` of `category`: graduated tiers."""
    tiers = TIERS[category]
    total = Decimal(0)
    for index, (above, unit_price) in enumerate(tiers):
        upper = tiers[index + 1][0] if index + 1 < len(tiers) else None
        if quantity <= above:
            break
        units = (min(quantity, upper) if upper is not None else quantity) - above
        total += units * unit_price
    return total


def period_of(occurred_at: str, time_zone: str) -> str:
    """The billing period key (`YYYY-MM@Zone`) of an instant in the account's zone."""
    local = datetime.fromisoformat(occurred_at.replace("Z", "+00:00")).astimezone(
        ZoneInfo(time_zone)
    )
    return f"{local.year:04d}-{local.month:02d}@{time_zone}"


def encoded(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


@dataclass
class History:
    """Everything the generator sent, by identity, with the producers' answers."""

    time_zones: dict[str, str] = field(default_factory=dict)
    """Account SID -> time zone (for billing periods); America/Chicago unless told."""
    negotiated: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    """Account SID -> category -> flat unit price agreed by an activated invoicing request:
    it replaces the default card's price for that category (CONTRACTS.md §2)."""
    acknowledged: Events = field(default_factory=dict)
    """The first acknowledged payload of each identity: the one that must count."""
    repeats: Counter[Key] = field(default_factory=Counter)
    """Acknowledged repeats of the same payload (duplicates, to be ignored)."""
    conflicts: dict[Key, list[Payload]] = field(default_factory=lambda: defaultdict(list))
    """Acknowledged repeats with another payload (to be rejected and recorded)."""
    indeterminate: dict[Key, list[Payload]] = field(default_factory=lambda: defaultdict(list))
    """Sends whose outcome is unknown (failed, timed out)."""
    sends: int = 0

    def record(self, event: dict[str, Any], acked: bool) -> None:
        """One send of `event` (which names its account), and whether it was acknowledged."""
        self.sends += 1
        key = (event["account_sid"], event["event_id"])
        payload = Payload.of(event)
        if not acked:
            self.indeterminate[key].append(payload)
        elif key not in self.acknowledged:
            self.acknowledged[key] = payload
        elif self.acknowledged[key] == payload:
            self.repeats[key] += 1
        else:
            self.conflicts[key].append(payload)

    def accounts(self) -> set[str]:
        return {sid for sid, _ in self.acknowledged} | {sid for sid, _ in self.indeterminate}

    def zone(self, sid: str) -> str:
        return self.time_zones.get(sid, "America/Chicago")

    def figures(self) -> dict[str, int]:
        return {
            "sends": self.sends,
            "acknowledged_ids": len(self.acknowledged),
            "acknowledged_repeats": sum(self.repeats.values()),
            "acknowledged_conflicts": sum(len(v) for v in self.conflicts.values()),
            "indeterminate_sends": sum(len(v) for v in self.indeterminate.values()),
        }

    # The generator's arithmetic ------------------------------------------------------
    def counted(self, taken: Events | None = None) -> Events:
        """The events that must count: the acknowledged ones, plus `taken` (indeterminate
        sends the store shows were taken, with the payload it holds)."""
        return self.acknowledged | (taken or {})

    @staticmethod
    def quantities(events: Events) -> dict[tuple[str, str], tuple[int, Decimal]]:
        """(account, category) -> (events, summed quantity)."""
        found: dict[tuple[str, str], tuple[int, Decimal]] = {}
        for (sid, _), payload in events.items():
            key = (sid, payload.category)
            count, total = found.get(key, (0, Decimal(0)))
            found[key] = (count + 1, total + payload.amount)
        return found

    def charges(self, events: Events) -> dict[tuple[str, str, str], Decimal]:
        """(account, period, category) -> the exact price of that month's quantity."""
        quantity: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
        for (sid, _), payload in events.items():
            period = period_of(payload.occurred_at, self.zone(sid))
            quantity[(sid, period, payload.category)] += payload.amount
        return {
            (sid, period, category): self.price(sid, category, total)
            for (sid, period, category), total in quantity.items()
        }

    def price(self, sid: str, category: str, quantity: Decimal) -> Decimal:
        """The account's price of a month's quantity: its agreed flat price, else the card."""
        agreed = self.negotiated.get(sid, {}).get(category)
        return quantity * agreed if agreed is not None else price(category, quantity)


async def send_to_kafka(
    producer: AIOKafkaProducer,
    history: History,
    events: list[dict[str, Any]],
    payloads: list[bytes] | None = None,
    ack_within: float = 60.0,
) -> int:
    """Publish `events` (keyed by their account, as CONTRACTS.md §1 says), wait for every ack,
    record each outcome in `history`; returns how many were acknowledged.

    `payloads`, when given, are the bytes to send for each event (same order)."""
    pending = []
    for index, event in enumerate(events):
        value = payloads[index] if payloads is not None else encoded(event)
        try:
            pending.append(
                await producer.send(
                    USAGE_EVENTS, value, key=event["account_sid"].encode(), headers=HEADERS
                )
            )
        except Exception:
            pending.append(None)
    acked = 0
    for event, future in zip(events, pending, strict=True):
        ok = False
        if future is not None:
            try:
                await asyncio.wait_for(future, ack_within)
                ok = True
            except Exception:
                ok = False
        history.record(event, ok)
        acked += ok
    return acked


async def send_to_gateway(
    http: httpx.AsyncClient,
    gateway: str,
    auth: tuple[str, str],
    history: History,
    events: list[dict[str, Any]],
) -> httpx.Response | None:
    """POST the events to `/v1/Accounts/{sid}/Usage` with the account's credentials and record
    each outcome (`post_to_gateway`). Returns the last answer (None when no answer came)."""
    answer, acked = await post_to_gateway(http, gateway, auth, events)
    for event, ok in zip(events, acked, strict=True):
        if ok is not None:
            history.record(event, acked=ok)
    return answer


async def post_to_gateway(
    http: httpx.AsyncClient, gateway: str, auth: tuple[str, str], events: list[dict[str, Any]]
) -> tuple[httpx.Response | None, list[bool | None]]:
    """POST the events to `/v1/Accounts/{sid}/Usage`, retrying 429; each event's outcome:
    True when a 202 did not list it as rejected; False (indeterminate) on a 5xx, a 429 to the
    end or a broken connection; None when refused (a 4xx, or listed as rejected: not stored)."""
    url = f"{gateway}/v1/Accounts/{auth[0]}/Usage"
    answer: httpx.Response | None = None
    for _ in range(60):
        try:
            answer = await http.post(url, json={"events": events}, auth=auth)
        except httpx.TransportError:
            answer = None
            break
        if answer.status_code != 429:
            break
        await asyncio.sleep(float(answer.headers.get("Retry-After", "0.5")))
    if answer is None or answer.status_code >= 500 or answer.status_code == 429:
        return answer, [False] * len(events)
    if answer.status_code != 202:
        return answer, [None] * len(events)
    refused = {int(item["index"]) for item in answer.json().get("rejected", [])}
    return answer, [None if index in refused else True for index in range(len(events))]
