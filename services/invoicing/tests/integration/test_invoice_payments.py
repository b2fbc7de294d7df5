"""Payments mark invoices paid once; the overdue scan marks unpaid ones overdue and says so once."""

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from tally_contracts.accounts import BillingMode
from tally_contracts.topics import INVOICE_EVENTS
from tally_invoicing.config import InvoicingSettings
from tally_testkit import new_sid, wait_committed

from .conftest import SERVICE_TOKEN
from .month_close_support import (
    MovableClock,
    billing_run,
    client,
    feed,
    invoice,
    invoices_of,
    started,
    state,
    usage,
)

OCTOBER = datetime(2026, 10, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
async def api(closing_settings: InvoicingSettings, clock: MovableClock) -> AsyncIterator[Any]:
    async for app in started(closing_settings, clock):
        async for http in client(app, SERVICE_TOKEN):
            yield http


@pytest.fixture
def consumed_by_service(
    kafka_bootstrap: str, closing_settings: InvoicingSettings
) -> Callable[[Any], Awaitable[None]]:
    return lambda sent: wait_committed(kafka_bootstrap, closing_settings.consumer_group, sent)


async def invoiced_october(
    api: httpx.AsyncClient, publish: Any, consumed: Any, mode: BillingMode = BillingMode.INVOICED
) -> tuple[str, dict[str, Any]]:
    """An account of `mode` with 1,000 outbound SMS (7.90) in October, October billed."""
    sid = new_sid()
    await feed(publish, consumed, state(sid, 1, mode, net_terms_days=15))
    await feed(publish, consumed, usage(sid, "sms-outbound", "1000", OCTOBER))
    await billing_run(api, "2026-10")
    [summary] = await invoices_of(api, sid, "2026-10")
    return sid, summary


async def pay(
    api: httpx.AsyncClient, invoice_id: str, amount: str, reference: str
) -> httpx.Response:
    return await api.post(
        "/ops/payments", json={"invoice_id": invoice_id, "amount": amount, "reference": reference}
    )


async def test_given_an_invoice_when_paid_in_two_parts_then_paid_once_and_announced_once(
    api: httpx.AsyncClient,
    publish: Callable[..., Awaitable[Any]],
    consumed_by_service: Callable[[Any], Awaitable[None]],
    tail: Callable[[str], Awaitable[Any]],
) -> None:
    # given an issued invoice of 7.90 due
    reader = await tail(INVOICE_EVENTS)
    sid, summary = await invoiced_october(api, publish, consumed_by_service)
    assert (summary["status"], summary["amount_due"]) == ("issued", "7.90")

    # when 5.00 is paid, the same payment is sent again, then 2.90 is paid
    first = await pay(api, summary["invoice_id"], "5.00", "wire-1")
    repeat = await pay(api, summary["invoice_id"], "5.00", "wire-1")
    rest = await pay(api, summary["invoice_id"], "2.90", "wire-2")

    # then the first leaves it issued, the repeat changes nothing, the rest makes it paid
    assert first.status_code == repeat.status_code == rest.status_code == 200
    assert first.json()["status"] == repeat.json()["status"] == "issued"
    assert rest.json()["status"] == "paid"
    assert (await invoices_of(api, sid))[0]["status"] == "paid"
    # and a reused reference with another amount is refused, as is paying a paid invoice
    assert (await pay(api, summary["invoice_id"], "1.00", "wire-1")).status_code == 409
    assert (await pay(api, summary["invoice_id"], "1.00", "wire-3")).status_code == 409
    # and the payment was announced once
    # (by event id, as consumers tell copies apart: the shared broker may carry others')
    events = {json.loads(v)["event_id"]: json.loads(v) for v in await _read(reader, sid)}
    assert [e["type"] for e in events.values()].count("invoice.paid") == 1


async def test_given_a_prepaid_invoice_then_a_payment_is_refused_and_an_unknown_one_is_404(
    api: httpx.AsyncClient,
    publish: Callable[..., Awaitable[Any]],
    consumed_by_service: Callable[[Any], Awaitable[None]],
) -> None:
    # given a pay-as-you-go account's October invoice: no balance due
    _, summary = await invoiced_october(
        api, publish, consumed_by_service, BillingMode.PAY_AS_YOU_GO
    )
    assert summary["no_balance_due"] is True and summary["amount_due"] == "0.00"
    # then paying it is refused, an unknown invoice is 404, and so is another account's
    assert (await pay(api, summary["invoice_id"], "1.00", "x-1")).status_code == 409
    assert (await pay(api, "IN-nope", "1.00", "x-2")).status_code == 404
    other = await api.get(f"/accounts/{new_sid()}/invoices/{summary['invoice_id']}")
    assert other.status_code == 404


async def test_given_an_unpaid_invoice_past_its_due_date_then_the_scan_marks_it_overdue_once(
    api: httpx.AsyncClient,
    publish: Callable[..., Awaitable[Any]],
    consumed_by_service: Callable[[Any], Awaitable[None]],
    tail: Callable[[str], Awaitable[Any]],
) -> None:
    # given an invoice issued on 2 November with net 15 days: due 17 November (Chicago)
    reader = await tail(INVOICE_EVENTS)
    sid, summary = await invoiced_october(api, publish, consumed_by_service)
    assert summary["due_date"] == "2026-11-17"

    # when scanned on its due date (late evening, Chicago), then it is not overdue yet
    on_due_date = datetime(2026, 11, 18, 5, 0, tzinfo=UTC)  # 23:00 on the 17th in Chicago
    first = await api.post("/ops/overdue-scans", json={"as_of": on_due_date.isoformat()})
    assert first.status_code == 200
    assert (await invoices_of(api, sid))[0]["status"] == "issued"

    # when scanned the day after, twice
    after = datetime(2026, 11, 18, 7, 0, tzinfo=UTC)  # 01:00 on the 18th in Chicago
    second = await api.post("/ops/overdue-scans", json={"as_of": after.isoformat()})
    third = await api.post("/ops/overdue-scans", json={"as_of": after.isoformat()})

    # then it is overdue, marked by the first of the two scans, and announced once
    assert second.status_code == third.status_code == 200
    # (counts are of the whole database, where the shared broker may bring others' accounts)
    assert second.json()["overdue"] >= 1
    assert third.json()["overdue"] == 0
    assert (await invoices_of(api, sid))[0]["status"] == "overdue"
    events = {json.loads(v)["event_id"]: json.loads(v) for v in await _read(reader, sid)}
    overdue = [e for e in events.values() if e["type"] == "invoice.overdue"]
    assert len(overdue) == 1
    assert (overdue[0]["amount_due"], overdue[0]["due_date"]) == ("7.90", "2026-11-17")
    # and the invoice keeps its money
    found = await invoice(api, sid, summary["invoice_id"])
    assert (found["status"], found["total"], found["amount_due"]) == ("overdue", "7.90", "7.90")


async def _read(reader: Any, sid: str) -> list[bytes]:
    found: list[bytes] = []
    for _ in range(6):
        batches = await reader.getmany(timeout_ms=500)
        for records in batches.values():
            found += [r.value for r in records if r.key == sid.encode()]
    return found
