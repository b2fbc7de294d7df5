"""The billing page in a real browser: headless Chromium (Debian's), driven by Playwright.

The whole system runs as processes (the `system` fixture). A new Chicago account gets usage
in the previous local month (backfilled, which producers may do) and in this one; ops take
the snapshots and close the previous month, as the nightly jobs would. Then a person signs
in, reads this month, picks the previous one, opens its invoice's PDF, downloads the number
usage report and upgrades the trial account to pay as you go. Screenshots at a desktop and a
phone width go to `.run/artifacts/billing-page/`; axe-core (tests/browser, from npm) checks
every page for serious or critical accessibility violations.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import ConsoleMessage, Page, async_playwright, expect
from tally_testkit import eventually

from tests.e2e.system import OPS_KEY, System

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parents[1] / "browser" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(__file__).resolve().parents[2] / ".run" / "artifacts" / "billing-page"
CHICAGO = ZoneInfo("America/Chicago")
OPS = {"Authorization": f"Bearer {OPS_KEY}"}
INSTALLED = CHROMIUM.exists() and AXE.exists()
PROMO_NUMBER = "+13125550100"
LOCAL_NUMBER = "+13125550111"


def month_of(day: date) -> str:
    return day.strftime("%Y-%m")


def noon(day: date) -> str:
    """Midday of a Chicago local date, as an RFC 3339 instant."""
    return datetime(day.year, day.month, day.day, 12, tzinfo=CHICAGO).isoformat()


def event(event_id: str, category: str, quantity: str, day: date, **extra: str) -> dict[str, Any]:
    """One usage event at midday of a Chicago local date."""
    return {
        "event_id": event_id,
        "category": category,
        "quantity": quantity,
        "occurred_at": noon(day),
        **extra,
    }


def usage_events(previous: date, current: date | None) -> list[dict[str, Any]]:
    """Calls, texts and two numbers (one promo) in the previous month; a call in this one.

    Priced by CONTRACTS.md §2: 120 x 0.0140 = 1.68; 30 x 0.0085 = 0.255 -> 0.26 (half-even);
    40 x 0.0079 = 0.316 -> 0.32; 2 number-days x 0.0400 = 0.08; 2.34 in all.
    """
    local, promo = {"phone_number": LOCAL_NUMBER}, {"phone_number": PROMO_NUMBER}
    events = [
        event("prev-out", "calls-outbound", "120", previous, **local),
        event("prev-in", "calls-inbound", "30", previous + timedelta(days=1), **promo),
        event("prev-sms", "sms-outbound", "40", previous + timedelta(days=2)),
        event("prev-promo", "phone-numbers", "1", previous, **promo, number_type="promo"),
        event("prev-local", "phone-numbers", "1", previous, **local, number_type="local"),
    ]
    if current is not None:
        events.append(event("now-out", "calls-outbound", "15", current, **local))
    return events


async def prepare_account(
    system: System,
    http: httpx.AsyncClient,
    create_account: Callable[..., Awaitable[dict[str, Any]]],
    today: date,
) -> tuple[dict[str, Any], str]:
    """A trial account with usage, its months snapshotted and the previous one invoiced."""
    gateway = system.url("gateway")
    account = await create_account(time_zone="America/Chicago")
    sid = account["sid"]
    auth = (sid, account["auth_token"])
    first_of_month = today.replace(day=1)
    previous_day = (first_of_month - timedelta(days=1)).replace(day=3)
    previous_month = month_of(previous_day)
    # Usage this month only on a day already past, so the snapshot through yesterday holds it.
    current_day = first_of_month if today.day > 1 else None

    async def billing() -> httpx.Response:
        return await http.get(f"{gateway}/v1/Accounts/{sid}/Billing", auth=auth)

    await eventually(billing, lambda r: r.status_code == 200)
    events = usage_events(previous_day, current_day)
    posted = await http.post(
        f"{gateway}/v1/Accounts/{sid}/Usage", json={"events": events}, auth=auth
    )
    assert posted.status_code == 202, posted.text
    assert posted.json()["accepted"] == len(events)

    async def receipts() -> httpx.Response:
        ids = {"event_ids": [event["event_id"] for event in events]}
        return await http.post(f"{gateway}/v1/Accounts/{sid}/Usage/Receipts", json=ids, auth=auth)

    async def charges() -> httpx.Response:
        return await http.get(f"{system.url('invoicing')}/accounts/{sid}/charges")

    await eventually(
        receipts, lambda r: {x["status"] for x in r.json()["receipts"]} == {"recorded"}
    )
    await eventually(charges, lambda r: r.status_code == 200 and r.json()["count"] == len(events))
    for as_of in (noon(first_of_month), datetime.now(CHICAGO).isoformat()):
        taken = await http.post(
            f"{gateway}/v1/Ops/UsageSnapshots", json={"as_of": as_of}, headers=OPS
        )
        assert taken.status_code == 200, taken.text
    run = await http.post(
        f"{gateway}/v1/Ops/BillingRuns", json={"month": previous_month}, headers=OPS
    )
    assert run.status_code == 200, run.text
    assert run.json()["invoices_issued"] >= 1
    return account, previous_month


async def axe_violations(page: Page) -> list[str]:
    """Serious and critical accessibility violations axe-core finds on the page as it is."""
    await page.add_script_tag(path=str(AXE))
    found = await page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']}"
        for violation in found
        if violation["impact"] in {"serious", "critical"}
    ]


async def test_a_person_reads_billing_opens_an_invoice_downloads_numbers_and_upgrades(
    system: System,
    http: httpx.AsyncClient,
    create_account: Callable[..., Awaitable[dict[str, Any]]],
) -> None:
    # Not a skip: `make setup` installs both, and a browser test that never runs proves nothing
    assert INSTALLED, "run `make setup`: it installs Chromium and tests/browser's axe-core"
    # Given a trial account in Chicago with usage last month and this month, last month invoiced
    today = datetime.now(CHICAGO).date()
    account, previous_month = await prepare_account(system, http, create_account, today)
    yesterday = (today - timedelta(days=1)).isoformat()
    current_month = month_of(today)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text}")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        # bypass_csp: the page's policy forbids inline scripts, which is how axe is injected.
        context = await browser.new_context(
            viewport={"width": 1280, "height": 900}, accept_downloads=True, bypass_csp=True
        )
        page = await context.new_page()
        page.on("console", console)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        try:
            # When they open the billing page, they are asked to sign in first
            await page.goto(f"{system.url('gateway')}/billing")
            await expect(page.get_by_role("heading", name="Sign in to billing")).to_be_visible()
            assert await axe_violations(page) == []
            await page.get_by_label("Account SID").fill(account["sid"])
            await page.get_by_label("Auth token").fill("not-the-token")
            await page.get_by_role("button", name="Sign in").click()
            await expect(page.get_by_role("alert")).to_contain_text("do not match an account")
            await page.get_by_label("Auth token").fill(account["auth_token"])
            await page.get_by_role("button", name="Sign in").click()

            # Then the current month shows, with the nightly snapshot's date
            await expect(page.get_by_label("Billing month")).to_have_value(current_month)
            usage = page.locator("section", has=page.locator("#usage-heading"))
            if today.day > 1:
                await expect(usage).to_contain_text(f"Updated nightly, through {yesterday}")
                await expect(usage.locator("figure.chart")).to_have_count(1)  # calls-outbound
            await expect(page.get_by_role("heading", name="Balance")).to_be_visible()
            assert await axe_violations(page) == []
            await page.screenshot(path=ARTIFACTS / "current-month-desktop.png", full_page=True)

            # When they pick the previous month
            await page.get_by_label("Billing month").select_option(previous_month)
            await page.get_by_role("button", name="Show").click()
            await expect(page).to_have_url(
                f"{system.url('gateway')}/billing?month={previous_month}"
            )

            # Then its usage is through its last day, and its invoice shows with its lines
            last_day = date.fromisoformat(f"{current_month}-01") - timedelta(days=1)
            await expect(usage).to_contain_text(f"Updated nightly, through {last_day.isoformat()}")
            invoice = page.locator("section", has=page.locator("#invoice-heading"))
            await expect(usage.locator("figure.chart")).to_have_count(4)  # a chart per category
            await expect(invoice).to_contain_text("no balance due")
            await expect(invoice.locator("table tfoot")).to_contain_text("$2.34")
            pdf_link = invoice.get_by_role("link", name="(PDF)")
            href = await pdf_link.get_attribute("href")
            assert href is not None
            await page.screenshot(path=ARTIFACTS / "previous-month-desktop.png", full_page=True)
            assert await axe_violations(page) == []

            # And its PDF opens, through the session (no Basic auth)
            async with context.expect_page() as opened:
                await pdf_link.click()
            pdf_page = await opened.value
            pdf = await pdf_page.request.get(f"{system.url('gateway')}{href}")
            assert pdf.status == 200
            assert pdf.headers["content-type"] == "application/pdf"
            assert (await pdf.body()).startswith(b"%PDF")
            await pdf_page.close()
            # An invoice that is not the session's is not found, whoever's it may be
            foreign = await page.request.get(f"{system.url('gateway')}/billing/invoices/IN0.pdf")
            assert foreign.status == 404

            # And the number usage report downloads as CSV, the promo number marked
            numbers = page.locator("section", has=page.locator("#numbers-heading"))
            await expect(numbers.locator("tr.promo")).to_contain_text(PROMO_NUMBER)
            async with page.expect_download() as downloading:
                await numbers.get_by_role("link", name="Download the report (CSV)").click()
            download = await downloading.value
            text = await asyncio.to_thread(Path(await download.path()).read_text)
            rows = list(csv.DictReader(io.StringIO(text)))
            assert {row["phone_number"]: row["promo"] for row in rows} == {
                LOCAL_NUMBER: "false",
                PROMO_NUMBER: "true",
            }

            # And at a phone's width the page fits the screen
            await page.set_viewport_size({"width": 375, "height": 812})
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0
            await page.screenshot(path=ARTIFACTS / "previous-month-phone.png", full_page=True)
            await page.set_viewport_size({"width": 1280, "height": 900})

            # When they upgrade: eligibility, an address entered by hand, pay as you go, a top-up
            await page.get_by_role("link", name="Upgrade", exact=True).click()
            await expect(page.get_by_role("heading", name="Eligibility")).to_be_visible()
            await expect(page.locator("main")).to_contain_text("Pay by invoice is not available")
            await expect(page.get_by_label("Pay by invoice (not available)")).to_be_disabled()
            assert await axe_violations(page) == []
            await page.screenshot(path=ARTIFACTS / "upgrade-desktop.png", full_page=True)
            await page.get_by_label("Enter manually (pay as you go)").check()
            await page.get_by_label("Address line 1").fill("1 Main Street")
            await page.get_by_label("City", exact=True).fill("Chicago")
            await page.get_by_label("Postal code").fill("60601")
            await page.get_by_label("Country (2 letters)").fill("US")
            await page.get_by_label("Pay as you go", exact=True).check()
            await page.get_by_label("Card token", exact=True).fill("tok_visa")
            await page.get_by_label("Top-up amount (USD)").fill("20.00")
            await page.get_by_role("button", name="Complete the upgrade").click()

            # Then the account is pay as you go, and the page says so
            await expect(page.get_by_role("status")).to_have_text("Your account was upgraded.")
            await expect(page.locator("header")).to_contain_text("pay as you go")
            await page.set_viewport_size({"width": 375, "height": 812})
            await page.screenshot(path=ARTIFACTS / "upgraded-phone.png", full_page=True)
        finally:
            await context.close()
            await browser.close()

    upgraded = await http.get(
        f"{system.url('gateway')}/v1/Accounts/{account['sid']}",
        auth=(account["sid"], account["auth_token"]),
    )
    assert upgraded.json()["billing_mode"] == "pay_as_you_go"
    assert problems == []
