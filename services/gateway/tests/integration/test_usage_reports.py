"""The number usage report and usage snapshots through the public API.

The gateway talks to a real usage service; the rows it reads are written into its database
where a test needs exact local dates (the write path that stores them has tests of its own).
"""

import base64
import csv
import io
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from tally_gateway.config import Settings as GatewaySettings

CreateAccount = Callable[[], Awaitable[dict[str, Any]]]


def basic(account: dict[str, Any]) -> dict[str, str]:
    pair = f"{account['sid']}:{account['auth_token']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


UsageSql = Callable[..., Awaitable[None]]
OPS_KEY_HEADER = {"Authorization": "Bearer integration-ops-key"}


async def test_given_numbers_used_this_month_then_the_report_reads_the_same_as_json_and_csv(
    gateway_with_usage: httpx.AsyncClient,
    open_usage_account: CreateAccount,
    usage_sql: UsageSql,
) -> None:
    # Given an account (America/Chicago) that used a promo and a local number this month
    account = await open_usage_account()
    sid = account["sid"]
    today = datetime.now(ZoneInfo("America/Chicago")).date()
    month = today.strftime("%Y-%m")
    period = f"{month}@America/Chicago"
    for number, number_type, held, calls in (
        ("+15550002001", "promo", True, 2),
        ("+15550002002", "local", False, 1),
    ):
        await usage_sql(
            "INSERT INTO number_usage_daily (account_sid, period, phone_number, local_date,"
            " number_type, calls, minutes, held) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            sid,
            period,
            number,
            today,
            number_type,
            calls,
            Decimal("1.5") * calls,
            held,
        )
    path = f"/v1/Accounts/{sid}/NumberUsageReport"

    # When the report is asked for as JSON (the current month by default) and as CSV
    as_json = await gateway_with_usage.get(path, headers=basic(account))
    as_csv = await gateway_with_usage.get(
        path, params={"month": month, "format": "csv"}, headers=basic(account)
    )

    # Then both list the same numbers with the same figures
    assert as_json.status_code == 200, as_json.text
    report = as_json.json()
    assert (report["month"], report["time_zone"]) == (month, "America/Chicago")
    assert report["numbers"] == [
        {
            "phone_number": "+15550002001",
            "number_type": "promo",
            "promo": True,
            "first_used": today.isoformat(),
            "last_used": today.isoformat(),
            "days_used": 1,
            "calls": 2,
            "minutes": "3",
            "in_use": True,
        },
        {
            "phone_number": "+15550002002",
            "number_type": "local",
            "promo": False,
            "first_used": today.isoformat(),
            "last_used": today.isoformat(),
            "days_used": 1,
            "calls": 1,
            "minutes": "1.5",
            "in_use": False,
        },
    ]
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert rows == [
        {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in number.items()}
        for number in report["numbers"]
    ]


async def test_given_a_report_asked_badly_or_for_another_account_then_a_problem_answers(
    gateway_with_usage: httpx.AsyncClient, open_usage_account: CreateAccount
) -> None:
    mine, theirs = await open_usage_account(), await open_usage_account()

    bad_month = await gateway_with_usage.get(
        f"/v1/Accounts/{mine['sid']}/NumberUsageReport",
        params={"month": "2026-13"},
        headers=basic(mine),
    )
    foreign = await gateway_with_usage.get(
        f"/v1/Accounts/{theirs['sid']}/NumberUsageReport", headers=basic(mine)
    )

    assert bad_month.status_code == 422
    assert [error["field"] for error in bad_month.json()["errors"]] == ["month"]
    assert foreign.status_code == 404


async def test_given_the_ops_key_then_usage_snapshots_are_taken_once_per_account_and_day(
    gateway_with_usage: httpx.AsyncClient,
    open_usage_account: CreateAccount,
    usage_sql: UsageSql,
    usage_url: str,
    gateway_settings: GatewaySettings,
) -> None:
    # Given an account with 4 minutes on 19 November 2026, local
    account = await open_usage_account()
    sid = account["sid"]
    await usage_sql(
        "INSERT INTO usage_daily (account_sid, period, local_date, category, late, quantity,"
        " events) VALUES ($1, '2026-11@America/Chicago', $2, 'calls-inbound', false, 4, 1)",
        sid,
        date(2026, 11, 19),
    )
    as_of = {"as_of": "2026-11-21T04:00:00-06:00"}  # 04:00 on the 21st in Chicago

    # When ops asks twice for the snapshots at that instant, and a stranger once
    first = await gateway_with_usage.post(
        "/v1/Ops/UsageSnapshots", json=as_of, headers=OPS_KEY_HEADER
    )
    again = await gateway_with_usage.post(
        "/v1/Ops/UsageSnapshots", json=as_of, headers=OPS_KEY_HEADER
    )
    stranger = await gateway_with_usage.post(
        "/v1/Ops/UsageSnapshots", json=as_of, headers=basic(account)
    )
    naive = await gateway_with_usage.post(
        "/v1/Ops/UsageSnapshots", json={"as_of": "2026-11-21T04:00:00"}, headers=OPS_KEY_HEADER
    )

    # Then the first took every account's snapshot, the second none, and the account's runs
    # through the 20th
    assert first.status_code == 200, first.text
    assert first.json()["snapshots"] >= 1
    assert again.json() == {"snapshots": 0}
    assert stranger.status_code == 401
    assert naive.status_code == 422
    async with httpx.AsyncClient(
        base_url=usage_url,
        headers={"X-Tally-Service-Token": gateway_settings.service_token.get_secret_value()},
    ) as usage:
        page = (await usage.get(f"/accounts/{sid}/snapshots", params={"month": "2026-11"})).json()
    assert page["snapshot"]["through"] == "2026-11-20"
    assert page["usage"][0] == {"category": "calls-inbound", "unit": "minutes", "quantity": "4"}
