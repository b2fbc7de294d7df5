"""The billing-mode race soak's requests to the gateway, each one safe to send again, and how
often they had to be (`RETRIED`)."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.e2e.system import OPS_KEY

OPS = {"Authorization": f"Bearer {OPS_KEY}"}

RETRIED = {"after_timeout": 0, "after_429": 0, "after_503": 0, "while_in_progress": 0}
"""Requests the soak sent again, by why: a loaded 2-core machine answers some late."""


async def call(
    http: httpx.AsyncClient, method: str, url: str, expect: int | set[int], **kwargs: Any
) -> dict[str, Any]:
    """One request, retried on 429, 503 and no answer in time (the soak loads the gateway);
    `expect` or fail.

    Every request of the soak is safe to send again: openings and invoicing requests carry an
    Idempotency-Key, usage its event ids, and the flow's steps refuse a repeat with `409`. So a
    step retried after a 503 or a timeout may have been taken by the attempt that failed: its
    `409` counts as done, and the flow checks the outcome itself.
    """
    retried = False
    for _ in range(40):
        try:
            response = await http.request(method, url, **kwargs)
        except httpx.TimeoutException:
            RETRIED["after_timeout"] += 1
            retried = True
            continue
        if in_progress(response):  # the attempt that timed out is still being answered
            RETRIED["while_in_progress"] += 1
            await asyncio.sleep(0.5)
            continue
        if response.status_code not in (429, 503):
            break
        RETRIED[f"after_{response.status_code}"] += 1
        retried = retried or response.status_code == 503
        await asyncio.sleep(float(response.headers.get("Retry-After", "0.5")))
    else:
        raise AssertionError(f"{method} {url}: 40 tries, none answered (429, 503, 409 in progress)")
    if retried and response.status_code == 409:
        return {}
    expected = expect if isinstance(expect, set) else {expect}
    assert response.status_code in expected, f"{method} {url}: {response.text}"
    return dict(response.json())


def in_progress(response: httpx.Response) -> bool:
    """The gateway's answer to a repeated Idempotency-Key while the first request runs."""
    return response.status_code == 409 and response.json().get("title") == "Request in progress"


async def open_account(http: httpx.AsyncClient, gateway: str, index: int) -> dict[str, Any]:
    """A trial account opened with the ops key; a retry finishes a half-open one (its key)."""
    body = {
        "owner": f"soak-{index}",
        "friendly_name": "soak",
        "time_zone": "America/Chicago",
        "contact_email": f"soak+{index}@e2e.example",
    }
    headers = OPS | {"Idempotency-Key": f"soak-{random.getrandbits(64):016x}"}
    return await call(
        http, "POST", f"{gateway}/v1/Accounts", {200, 201}, json=body, headers=headers
    )


def usage(minutes: int) -> dict[str, Any]:
    return {
        "events": [
            {
                "event_id": f"soak-{random.getrandbits(64):016x}",
                "category": "calls-outbound",
                "quantity": str(minutes),
                "occurred_at": datetime.now(UTC).isoformat(),
            }
        ]
    }


async def switch_to_invoiced(http: httpx.AsyncClient, gateway: str, sid: str) -> None:
    """The ops flow: request, pricing, decision approved, activation."""
    base = f"{gateway}/v1/InvoicingRequests"
    body = {"account_sid": sid, "committed_annual_spend": "24000.00", "contact_email": "o@e.x"}
    key = {"Idempotency-Key": f"soak-{random.getrandbits(64):016x}"}
    request = await call(http, "POST", base, 201, json=body, headers=OPS | key)
    one = f"{base}/{request['request_id']}"
    pricing = {"rates": {"calls-outbound": "0.0120"}, "discount_percent": "0", "by": "soak"}
    await call(
        http, "POST", f"{one}/Pricing", 200, json=pricing | {"net_terms_days": 30}, headers=OPS
    )
    decision = {"approved": True, "credit_limit": "5000.00", "by": "soak"}
    await call(http, "POST", f"{one}/Decision", 200, json=decision, headers=OPS)
    await call(http, "POST", f"{one}/Activation", 200, json={"by": "soak"}, headers=OPS)
    assert (await call(http, "GET", one, 200, headers=OPS))["state"] == "activated"
