"""HTTP ingest through the gateway: 500-event batches from several concurrent clients.

Each client gets an account of its own, created with the ops key (`POST /v1/Accounts`), and
posts `POST /v1/Accounts/{sid}/Usage` with HTTP Basic `sid:auth_token` in a loop. The gateway
answers `202` only once every accepted event is acknowledged by Kafka, so accepted events per
second of wall time is the ingest rate.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from bench.load import CATEGORIES

BATCH = 500
MAX_RETRY_AFTER_S = 1.0


@dataclass
class Ingest:
    clients: int
    accepted: int = 0
    seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    events_per_s: float | None = None
    reason: str | None = None


async def create_account(client: httpx.AsyncClient, gateway: str, ops_key: str) -> tuple[str, str]:
    """A new account through the public API; -> (sid, auth token)."""
    body: dict[str, object] = {
        "owner": "bench",
        "friendly_name": "bench",
        "time_zone": "America/Chicago",
        "contact_email": "bench@example.com",
    }
    headers = {"Authorization": f"Bearer {ops_key}", "Idempotency-Key": uuid.uuid4().hex}
    response = await client.post(f"{gateway}/v1/Accounts", json=body, headers=headers)
    if response.status_code == 422 and "contact_email" in response.text:
        # A gateway that does not take the contact address yet refuses the unknown field.
        del body["contact_email"]
        response = await client.post(f"{gateway}/v1/Accounts", json=body, headers=headers)
    if response.status_code != 201:
        raise RuntimeError(f"POST /v1/Accounts answered {response.status_code}: {response.text}")
    created = response.json()
    return str(created["sid"]), str(created["auth_token"])


def batch_body(sid: str, prefix: str, first: int, occurred_at: str) -> bytes:
    """One request body of `BATCH` distinct valid events, serialised by hand (cheap)."""
    events = []
    for n in range(first, first + BATCH):
        category, quantity = CATEGORIES[n % len(CATEGORIES)]
        events.append(
            f'{{"event_id":"{prefix}-{n}","account_sid":"{sid}","category":"{category}",'
            f'"quantity":"{quantity}","occurred_at":"{occurred_at}"}}'
        )
    return ('{"events":[' + ",".join(events) + "]}").encode()


async def measure(gateway: str, ops_key: str, run_tag: str, clients: int, seconds: float) -> Ingest:
    """Post batches from `clients` concurrent clients for `seconds`; -> accepted events/s."""
    result = Ingest(clients=clients)
    statuses: Counter[str] = Counter()
    occurred = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    occurred_at = occurred.isoformat().replace("+00:00", "Z")
    limits = httpx.Limits(max_connections=clients * 2)
    async with httpx.AsyncClient(timeout=30, limits=limits) as setup:
        accounts = [await create_account(setup, gateway, ops_key) for _ in range(clients)]

    async def client(index: int, sid: str, token: str, stop_at: float) -> None:
        async with httpx.AsyncClient(timeout=30, auth=(sid, token)) as http:
            url = f"{gateway}/v1/Accounts/{sid}/Usage"
            sent = 0
            while time.monotonic() < stop_at:
                body = batch_body(sid, f"h-{run_tag}-{index}", sent, occurred_at)
                sent += BATCH
                response = await http.post(
                    url, content=body, headers={"content-type": "application/json"}
                )
                statuses[str(response.status_code)] += 1
                if response.status_code == 202:
                    result.accepted += int(response.json()["accepted"])
                elif response.status_code in (429, 503):
                    retry_after = float(response.headers.get("retry-after", "0.1") or 0.1)
                    await asyncio.sleep(min(MAX_RETRY_AFTER_S, retry_after))

    began = time.monotonic()
    stop_at = began + seconds
    await asyncio.wait_for(
        asyncio.gather(
            *(client(i, sid, token, stop_at) for i, (sid, token) in enumerate(accounts))
        ),
        timeout=seconds + 60,
    )
    result.seconds = round(time.monotonic() - began, 2)
    result.statuses = dict(statuses)
    if result.accepted == 0:
        result.reason = f"no event accepted; answers by status: {result.statuses}"
    else:
        result.events_per_s = round(result.accepted / result.seconds, 1)
    return result
