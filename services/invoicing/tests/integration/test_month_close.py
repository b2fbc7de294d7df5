"""Month close on the real broker and database: one invoice per account and month, in local time."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from tally_contracts.accounts import BillingMode
from tally_contracts.topics import ACCOUNT_STATE, INVOICE_EVENTS, MONTH_CLOSED, USAGE_RECORDED
from tally_invoicing import close_month
from tally_invoicing.config import InvoicingSettings
from tally_testkit import eventually, new_sid, wait_committed

from .conftest import SERVICE_TOKEN
from .month_close_support import (
    MovableClock,
    billing_run,
    client,
    connected,
    feed,
    invoice,
    invoices_of,
    running,
    started,
    state,
    usage,
)

OCTOBER = datetime(2026, 10, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
async def service(
    closing_settings: InvoicingSettings, clock: MovableClock
) -> AsyncIterator[FastAPI]:
    async for app in started(closing_settings, clock):
        yield app


@pytest.fixture
async def api(service: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async for http in client(service, SERVICE_TOKEN):
        yield http


@pytest.fixture
def consumed_by_service(
    kafka_bootstrap: str, closing_settings: InvoicingSettings
) -> Callable[[Any], Awaitable[None]]:
    return lambda sent: wait_committed(kafka_bootstrap, closing_settings.consumer_group, sent)


async def test_given_eight_billing_runs_at_once_and_one_cancelled_then_one_invoice_each(
    service: FastAPI,
    api: httpx.AsyncClient,
    publish: Callable[..., Awaitable[Any]],
    consumed_by_service: Callable[[Any], Awaitable[None]],
    closing_settings: InvoicingSettings,
    clock: MovableClock,
) -> None:
    # given six accounts with October usage, closed in chunks of one account
    sids = sorted(new_sid() for _ in range(6))
    for sid in sids:
        await feed(publish, consumed_by_service, state(sid, 1, BillingMode.PAY_AS_YOU_GO))
        await feed(publish, consumed_by_service, usage(sid, "sms-outbound", "100", OCTOBER))
    pool: asyncpg.Pool = service.state.pool

    # when a run is cancelled while it waits on the fourth account (its row held elsewhere)
    async with pool.acquire() as holder, holder.transaction():
        await holder.execute("SELECT 1 FROM balances WHERE account_sid = $1 FOR UPDATE", sids[3])
        run = asyncio.create_task(
            close_month.close_month(
                pool, "2026-10", now=clock.now, grace=timedelta(0), chunk_size=1
            )
        )
        await _until(lambda: _invoice_count(pool, sids), lambda count: count >= 3)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
    # then what it committed stands, and the rest is not issued
    assert await _invoice_count(pool, sids) == 3

    # when eight runs then race over the month
    runs = await asyncio.gather(*(billing_run(api, "2026-10") for _ in range(8)))

    # then every account has exactly one October invoice, the runs issuing the three left
    # (the shared broker may bring other tests' accounts into the database: only ours count)
    assert sum(r["invoices_issued"] for r in runs) >= 3
    per_account = [await invoices_of(api, sid, "2026-10") for sid in sids]
    assert [len(found) for found in per_account] == [1] * 6
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT account_sid, count(*) AS n FROM invoices WHERE account_sid = ANY($1::text[])"
            " GROUP BY account_sid",
            sids,
        )
    assert {row["account_sid"]: row["n"] for row in rows} == dict.fromkeys(sids, 1)
    # and a run after that issues nothing more for them
    again = await billing_run(api, "2026-10")
    assert again["already_issued"] >= 6
    assert await _invoice_count(pool, sids) == 6


async def test_given_zones_on_both_sides_of_the_date_line_then_each_closes_at_its_own_month_end(
    api: httpx.AsyncClient,
    publish: Callable[..., Awaitable[Any]],
    consumed_by_service: Callable[[Any], Awaitable[None]],
    clock: MovableClock,
    tail: Callable[[str], Awaitable[Any]],
) -> None:
    # given Apia (UTC+13), Honolulu (UTC-10) and Paris (summer time ends 25 October) accounts,
    # each with usage in the last local hour of October and the first of November
    zones = {"apia": "Pacific/Apia", "honolulu": "Pacific/Honolulu", "paris": "Europe/Paris"}
    sids = {name: new_sid() for name in zones}
    closed_reader = await tail(MONTH_CLOSED)
    for name, zone in zones.items():
        sid = sids[name]
        tz = ZoneInfo(zone)
        last_october = datetime(2026, 10, 31, 23, 30, tzinfo=tz).astimezone(UTC)
        first_november = datetime(2026, 11, 1, 0, 30, tzinfo=tz).astimezone(UTC)
        await feed(publish, consumed_by_service, state(sid, 1, BillingMode.PAY_AS_YOU_GO, zone))
        await feed(
            publish,
            consumed_by_service,
            usage(sid, "calls-inbound", "100", last_october, zone),
            usage(sid, "calls-inbound", "7", first_november, zone),
        )

    # when October is billed at midnight UTC on 1 November: Apia's and Paris's Octobers have
    # ended (11:00 and 23:00 UTC on the 31st), Honolulu's has not (10:00 UTC on the 1st)
    clock.now = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    first = await billing_run(api, "2026-10")

    # then only Apia and Paris are invoiced, with their own local months
    assert first["invoices_issued"] >= 2 and first["not_concluded"] >= 1
    assert len(await invoices_of(api, sids["apia"])) == len(await invoices_of(api, sids["paris"]))
    assert len(await invoices_of(api, sids["apia"])) == 1
    assert await invoices_of(api, sids["honolulu"]) == []
    paris = await invoice(
        api, sids["paris"], (await invoices_of(api, sids["paris"]))[0]["invoice_id"]
    )
    assert paris["period"] == {"start": "2026-09-30T22:00:00Z", "end": "2026-10-31T23:00:00Z"}
    assert paris["time_zone"] == "Europe/Paris"
    assert [(line["category"], line["quantity"], line["amount"]) for line in paris["lines"]] == [
        ("calls-inbound", "100", "0.85")
    ]
    apia_list = await invoices_of(api, sids["apia"])
    apia = await invoice(api, sids["apia"], apia_list[0]["invoice_id"])
    assert apia["period"] == {"start": "2026-09-30T11:00:00Z", "end": "2026-10-31T11:00:00Z"}
    assert apia["no_balance_due"] is True and apia["amount_due"] == "0.00"

    # when billed again once Honolulu's October has ended
    clock.now = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    second = await billing_run(api, "2026-10")

    # then Honolulu is invoiced for its October alone, the others are not issued twice
    assert second["invoices_issued"] >= 1 and second["already_issued"] >= 2
    for name in zones:
        assert len(await invoices_of(api, sids[name], "2026-10")) == 1
    honolulu_list = await invoices_of(api, sids["honolulu"])
    honolulu = await invoice(api, sids["honolulu"], honolulu_list[0]["invoice_id"])
    assert honolulu["period"] == {"start": "2026-10-01T10:00:00Z", "end": "2026-11-01T10:00:00Z"}
    assert honolulu["total"] == "0.85"
    # and each account's close was announced once, with its period key
    # (by event id, as consumers tell copies apart: the shared broker may carry others' copies)
    announced = await _read_keys(closed_reader, set(sids.values()), 3)
    by_id = {json.loads(v)["event_id"]: json.loads(v) for v in announced}
    assert sorted(event["period"] for event in by_id.values()) == [
        "2026-10@Europe/Paris",
        "2026-10@Pacific/Apia",
        "2026-10@Pacific/Honolulu",
    ]


async def test_given_a_switch_to_invoiced_mid_month_then_prepaid_is_applied_and_the_rest_due(
    api: httpx.AsyncClient,
    publish: Callable[..., Awaitable[Any]],
    consumed_by_service: Callable[[Any], Awaitable[None]],
    tail: Callable[[str], Awaitable[Any]],
) -> None:
    # given a trial account (15.00 credit) that used 1,000 outbound minutes (14.00), switched
    # to invoiced (1.00 left on its balance, frozen), then used 1,000 minutes more
    sid = new_sid()
    events_reader = await tail(INVOICE_EVENTS)
    await feed(publish, consumed_by_service, state(sid, 1, BillingMode.TRIAL))
    await feed(publish, consumed_by_service, usage(sid, "calls-outbound", "1000", OCTOBER))
    await feed(publish, consumed_by_service, state(sid, 2, BillingMode.INVOICED))
    later = OCTOBER + timedelta(days=5)
    await feed(publish, consumed_by_service, usage(sid, "calls-outbound", "1000", later))

    # when October is billed (on 2 November)
    run = await billing_run(api, "2026-10")
    assert run["invoices_issued"] >= 1

    # then the invoice is an invoiced one: 28.00 of usage, the 1.00 credit, 14.00 paid by the
    # balance, 13.00 due in 15 days, with its PO number, address and recipients
    [summary] = await invoices_of(api, sid)
    found = await invoice(api, sid, summary["invoice_id"])
    assert found["billing_mode"] == "invoiced"
    assert [(line["kind"], line["amount"]) for line in found["lines"]] == [
        ("usage", "28.00"),
        ("adjustment", "-1.00"),
    ]
    assert found["lines"][0]["unit_price"] == "0.014"
    assert (found["total"], found["prepaid_applied"], found["amount_due"]) == (
        "27.00",
        "14.00",
        "13.00",
    )
    assert found["no_balance_due"] is False
    assert found["due_date"] == "2026-11-17"
    assert found["po_number"] == "PO-42"
    assert found["billing_address"]["city"] == "Springfield"
    assert found["recipients"] == ["ap@example.com"]
    # and its issue was announced with the amount due
    issued = {
        json.loads(v)["event_id"]: json.loads(v) for v in await _read_keys(events_reader, {sid}, 1)
    }
    assert [(e["type"], e["amount_due"]) for e in issued.values()] == [("invoice.issued", "13.00")]


async def test_given_late_usage_after_the_close_then_it_is_adjusted_on_the_next_invoice(
    api: httpx.AsyncClient,
    publish: Callable[..., Awaitable[Any]],
    consumed_by_service: Callable[[Any], Awaitable[None]],
    clock: MovableClock,
) -> None:
    # given an invoiced account whose October is invoiced
    sid = new_sid()
    await feed(publish, consumed_by_service, state(sid, 1, BillingMode.INVOICED))
    await feed(publish, consumed_by_service, usage(sid, "sms-outbound", "1000", OCTOBER))
    await billing_run(api, "2026-10")
    [october] = await invoices_of(api, sid, "2026-10")
    before = await invoice(api, sid, october["invoice_id"])

    # when October usage arrives late, and November is billed
    await feed(publish, consumed_by_service, usage(sid, "sms-outbound", "500", OCTOBER))
    clock.now = datetime(2027, 1, 2, 12, 0, tzinfo=UTC)
    await billing_run(api, "2026-11")
    again = await billing_run(api, "2026-12")

    # then October's invoice is unchanged and November's has one adjustment line for it
    assert await invoice(api, sid, october["invoice_id"]) == before
    assert before["total"] == "7.90"
    [november] = await invoices_of(api, sid, "2026-11")
    adjusted = await invoice(api, sid, november["invoice_id"])
    assert [(line["kind"], line["quantity"], line["amount"]) for line in adjusted["lines"]] == [
        ("adjustment", "500", "3.95")
    ]
    assert adjusted["total"] == "3.95"
    # and the late charge is adjusted once: the concluded December has nothing to invoice
    assert again["invoices_issued"] == 0
    assert await invoices_of(api, sid, "2026-12") == []


async def _invoice_count(pool: asyncpg.Pool, sids: list[str]) -> int:
    async with pool.acquire() as conn:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM invoices WHERE account_sid = ANY($1::text[])", sids
            )
        )


async def _until(probe: Callable[[], Awaitable[int]], done: Callable[[int], bool]) -> None:
    await eventually(probe, done)


async def _read_keys(reader: Any, keys: set[str], count: int) -> list[bytes]:
    """Read until `count` records keyed by one of `keys` arrived (or 30 s passed)."""
    found: list[bytes] = []
    deadline = asyncio.get_running_loop().time() + 30
    while len(found) < count and asyncio.get_running_loop().time() < deadline:
        batches = await reader.getmany(timeout_ms=500)
        for records in batches.values():
            found += [r.value for r in records if r.key.decode() in keys]
    # a moment more: a duplicate would show up here
    batches = await reader.getmany(timeout_ms=1000)
    for records in batches.values():
        found += [r.value for r in records if r.key.decode() in keys]
    return found


async def test_given_the_scheduler_when_a_month_and_its_grace_window_end_then_it_closes_it(
    settings: InvoicingSettings,
    publish: Callable[..., Awaitable[Any]],
    kafka_bootstrap: str,
) -> None:
    # given two replicas with the scheduler on, an hour of grace, ticking fast; it is
    # 00:30 UTC on 1 November: Paris's October ended 90 minutes ago, Chicago's has not
    clock = MovableClock(datetime(2026, 11, 1, 0, 30, tzinfo=UTC))
    scheduled = settings.model_copy(
        update={
            "scheduler_enabled": True,
            "month_close_grace": timedelta(hours=1),
            "month_close_every": timedelta(seconds=0.2),
            "overdue_scan_every": timedelta(seconds=0.2),
        }
    )
    paris, chicago = new_sid(), new_sid()
    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(running(scheduled, clock))
        await stack.enter_async_context(running(scheduled, clock))
        http = await stack.enter_async_context(connected(first, SERVICE_TOKEN))
        for sid, zone in ((paris, "Europe/Paris"), (chicago, "America/Chicago")):
            for event in (
                state(sid, 1, BillingMode.PAY_AS_YOU_GO, zone),
                usage(sid, "sms-inbound", "10", OCTOBER, zone),
            ):
                topic = ACCOUNT_STATE if event.type == "account.state" else USAGE_RECORDED
                sent = await publish(topic, event)
                await wait_committed(kafka_bootstrap, scheduled.consumer_group, sent)

        # then Paris's October is invoiced by itself, once, and Chicago's is not
        await eventually(lambda: invoices_of(http, paris), lambda found: len(found) == 1)
        assert await invoices_of(http, chicago) == []

        # when Chicago's October and its grace window have ended too
        clock.now = datetime(2026, 11, 1, 7, 0, tzinfo=UTC)

        # then it is invoiced by itself, and Paris still has exactly one invoice
        await eventually(lambda: invoices_of(http, chicago), lambda found: len(found) == 1)
        assert len(await invoices_of(http, paris)) == 1


async def test_given_an_issued_invoice_then_its_money_and_lines_cannot_be_changed(
    service: FastAPI,
    api: httpx.AsyncClient,
    publish: Callable[..., Awaitable[Any]],
    consumed_by_service: Callable[[Any], Awaitable[None]],
) -> None:
    # given an issued October invoice
    sid = new_sid()
    await feed(publish, consumed_by_service, state(sid, 1, BillingMode.INVOICED))
    await feed(publish, consumed_by_service, usage(sid, "sms-inbound", "100", OCTOBER))
    await billing_run(api, "2026-10")
    [summary] = await invoices_of(api, sid)
    pool: asyncpg.Pool = service.state.pool

    # when anything tries to change its total or a line, or delete it, then the database refuses
    async with pool.acquire() as conn:
        for statement in (
            "UPDATE invoices SET total = 0 WHERE invoice_id = $1",
            "UPDATE invoice_lines SET amount = 0 WHERE invoice_id = $1",
            "DELETE FROM invoice_lines WHERE invoice_id = $1",
        ):
            with pytest.raises(asyncpg.RaiseError, match="immutable"):
                await conn.execute(statement, summary["invoice_id"])
    assert (await invoice(api, sid, summary["invoice_id"]))["total"] == "0.79"


async def test_given_rated_events_then_the_invoice_is_their_rating_to_the_cent(
    api: httpx.AsyncClient,
    publish: Callable[..., Awaitable[Any]],
    consumed_by_service: Callable[[Any], Awaitable[None]],
) -> None:
    # given an invoiced account with outbound SMS negotiated at 0.0050 and a 10 % discount,
    # whose October events cross the outbound-call tier (10,000 minutes) in the middle
    sid = new_sid()
    await feed(
        publish,
        consumed_by_service,
        state(
            sid, 1, BillingMode.INVOICED, discount="10", rates={"sms-outbound": Decimal("0.005")}
        ),
    )
    events = [
        ("calls-outbound", "6000"),
        ("sms-outbound", "1001"),
        ("calls-outbound", "5000.5"),
        ("calls-inbound", "1234.5"),
        ("phone-numbers", "31"),
    ]
    for category, quantity in events:
        await feed(publish, consumed_by_service, usage(sid, category, quantity, OCTOBER))

    # when October is billed
    await billing_run(api, "2026-10")

    # then, by CONTRACTS.md §2: calls-outbound 10,000 x 0.0140 + 1,000.5 x 0.0130 = 153.0065
    # -> 153.01 (average 0.013909 a minute); SMS 1,001 x 0.0050 = 5.005 -> 5.00 (half-even);
    # inbound 1,234.5 x 0.0085 = 10.49325 -> 10.49; numbers 31 x 0.04 = 1.24; the discount
    # -round(169.74 x 10 %) = -16.97; total 152.77
    [summary] = await invoices_of(api, sid)
    found = await invoice(api, sid, summary["invoice_id"])
    assert [
        (line["kind"], line["category"], line["quantity"], line["unit_price"], line["amount"])
        for line in found["lines"]
    ] == [
        ("usage", "calls-inbound", "1234.5", "0.0085", "10.49"),
        ("usage", "calls-outbound", "11000.5", "0.013909", "153.01"),
        ("usage", "sms-outbound", "1001", "0.005", "5.00"),
        ("usage", "phone-numbers", "31", "0.04", "1.24"),
        ("discount", None, None, None, "-16.97"),
    ]
    assert (found["subtotal"], found["total"], found["amount_due"]) == (
        "169.74",
        "152.77",
        "152.77",
    )


async def test_given_a_charge_being_rated_while_the_month_closes_then_it_is_on_the_invoice(
    service: FastAPI,
    api: httpx.AsyncClient,
    publish: Callable[..., Awaitable[Any]],
    consumed_by_service: Callable[[Any], Awaitable[None]],
    clock: MovableClock,
) -> None:
    # given an account with October usage, and a rating transaction in flight that holds the
    # account's balance row (as rating does first) and has written one more October charge
    sid = new_sid()
    await feed(publish, consumed_by_service, state(sid, 1, BillingMode.INVOICED))
    await feed(publish, consumed_by_service, usage(sid, "sms-inbound", "100", OCTOBER))
    pool: asyncpg.Pool = service.state.pool
    async with pool.acquire() as rating:
        transaction = rating.transaction()
        await transaction.start()
        await rating.execute("SELECT 1 FROM balances WHERE account_sid = $1 FOR UPDATE", sid)
        await rating.execute(
            """
            INSERT INTO charges (charge_id, account_sid, usage_event_id, category, quantity,
                                 unit_price, amount, currency, usage_occurred_at, charged_at,
                                 period, local_date, late, prepaid)
            VALUES ($1, $2, 'in-flight', 'sms-inbound', 50, 0.0079, 0.395, 'USD', $3, $3,
                    '2026-10@America/Chicago', '2026-10-15', false, false)
            """,
            f"CH-in-flight-{sid}",
            sid,
            OCTOBER,
        )

        # when the month close starts meanwhile, and waits for that row
        run = asyncio.create_task(
            close_month.close_month(pool, "2026-10", now=clock.now, grace=timedelta(0))
        )
        await eventually(
            lambda: _waiting_on_locks(pool), lambda waiting: waiting >= 1 or run.done()
        )
        await transaction.commit()
        await run

    # then the charge committed by rating is on the invoice, not lost between the two
    [summary] = await invoices_of(api, sid)
    found = await invoice(api, sid, summary["invoice_id"])
    # (150 x 0.0079 = 1.185 -> 1.18, half-even)
    assert [(line["quantity"], line["amount"]) for line in found["lines"]] == [("150", "1.18")]


async def _waiting_on_locks(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
