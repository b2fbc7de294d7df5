"""Tenant isolation: no account reaches another's data, through any route of the public API.

Two accounts, A with data (usage, an invoice, an API key, an address, billing preferences) and B.
Every account-scoped operation of the gateway's own OpenAPI document is called on A's
resources with B's auth token and with B's API key: each answer must be the very `404` an
account that does not exist gets, so it holds nothing of A's. The routes are read from
`/openapi.json`: a new one is covered without a change here, and one that is neither
account-scoped nor listed below as an ops route fails the test.
"""

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from tally_testkit import eventually

from tests.e2e.system import OPS_KEY, System

ACCOUNT_SCOPED = "/v1/Accounts/{sid}"
OPS_ROUTES = {
    "/v1/Accounts",
    "/v1/InvoicingRequests",
    "/v1/InvoicingRequests/{request_id}",
    "/v1/InvoicingRequests/{request_id}/Pricing",
    "/v1/InvoicingRequests/{request_id}/CreditCheck",
    "/v1/InvoicingRequests/{request_id}/InformationRequests",
    "/v1/InvoicingRequests/{request_id}/Decision",
    "/v1/InvoicingRequests/{request_id}/Activation",
    "/v1/Ops/UsageSnapshots",
    "/v1/Ops/BillingRuns",
    "/v1/Ops/OverdueScans",
    "/v1/Ops/Payments",
    "/v1/Ops/ParkedRecords/{service}",
    "/v1/Ops/ParkedRecords/{service}/{parked_id}/Replay",
}
"""Routes of the ops key only: not account-scoped; an account's credentials get a 401."""
OPS = {"Authorization": f"Bearer {OPS_KEY}"}
CHICAGO = ZoneInfo("America/Chicago")
ADDRESS = {"line1": "1 Main St", "city": "Chicago", "postal_code": "60601", "country": "US"}
CARD = "tok_visa"
BODIES: dict[tuple[str, str], Any] = {
    ("PATCH", ACCOUNT_SCOPED): {"friendly_name": "taken over"},
    ("PATCH", f"{ACCOUNT_SCOPED}/BillingPreferences"): {"po_number": "taken over"},
    ("PUT", f"{ACCOUNT_SCOPED}/AutoRecharge"): {
        "enabled": True,
        "threshold": "10.00",
        "amount": "20.00",
        "card_token": CARD,
    },
    ("POST", f"{ACCOUNT_SCOPED}/Balance/TopUps"): {"amount": "50.00", "card_token": CARD},
    ("POST", f"{ACCOUNT_SCOPED}/Upgrade"): {
        "method": "pay_as_you_go",
        "address": ADDRESS,
        "top_up": {"amount": "25.00", "card_token": CARD},
    },
}
"""What a request would need to succeed, were the caller A: the test is of who, not of what."""


def noon(day: date) -> str:
    return datetime(day.year, day.month, day.day, 12, tzinfo=CHICAGO).isoformat()


async def test_given_another_accounts_credentials_then_every_account_route_is_404_with_nothing(
    system: System, http: httpx.AsyncClient, create_account: Any
) -> None:
    gateway = system.url("gateway")
    a = await create_account(address=ADDRESS, webhook_url="https://a.example/hooks")
    b = await create_account()
    a_auth = (a["sid"], a["auth_token"])
    a_data = await _give_data(http, system, a, a_auth)
    b_key = (
        await http.post(f"{gateway}/v1/Accounts/{b['sid']}/Keys", auth=(b["sid"], b["auth_token"]))
    ).json()
    strangers = {
        "B's auth token": (b["sid"], b["auth_token"]),
        "B's API key": (b_key["key_sid"], b_key["secret"]),
    }
    document = (await http.get(f"{gateway}/openapi.json")).json()
    operations = [
        (method.upper(), path)
        for path, item in document["paths"].items()
        if path.startswith("/v1/")
        for method in item
    ]
    unlisted = [
        f"{m} {p}"
        for m, p in operations
        if not p.startswith(ACCOUNT_SCOPED) and p not in OPS_ROUTES
    ]
    assert not unlisted, f"neither account-scoped nor an ops route: {unlisted}"

    cells, leaks = 0, []
    for method, path in operations:
        if not path.startswith(ACCOUNT_SCOPED):
            refused = await _call(http, gateway, method, path, a_data, a_auth)
            assert refused.status_code == 401, f"{method} {path} with A's token: {refused.text}"
            continue
        for who, credentials in strangers.items():
            cells += 1
            answer = await _call(http, gateway, method, path, a_data, credentials)
            expected = {
                "type": "about:blank",
                "title": "Account not found",
                "status": 404,
                "detail": f"no account {a['sid']}",
            }
            if answer.status_code != 404 or answer.json() != expected:
                leaks.append(f"{method} {path} with {who}: {answer.status_code} {answer.text}")
    scoped = sum(1 for _, p in operations if p.startswith(ACCOUNT_SCOPED))
    print(f"tenant isolation matrix: {scoped} account-scoped operations x 2 credentials = {cells}")
    assert not leaks, "\n".join(leaks)
    assert scoped >= 20

    # And nothing B tried changed A: its name, its key, its balance are as they were.
    account = await http.get(f"{gateway}/v1/Accounts/{a['sid']}", auth=a_auth)
    assert account.json()["friendly_name"] == a["friendly_name"]
    assert account.json()["billing_mode"] == "trial"
    key_auth = (a_data["key_sid"], a_data["key_secret"])
    assert (await http.get(f"{gateway}/v1/Accounts/{a['sid']}", auth=key_auth)).status_code == 200
    balance = await http.get(f"{gateway}/v1/Accounts/{a['sid']}/Balance", auth=a_auth)
    assert balance.json()["balance"] == a_data["balance"]


async def _give_data(
    http: httpx.AsyncClient, system: System, account: dict[str, Any], auth: tuple[str, str]
) -> dict[str, str]:
    """Usage last month and invoiced, a key, preferences: what a stranger must not see."""
    gateway = system.url("gateway")
    sid = account["sid"]
    today = datetime.now(CHICAGO).date()
    previous_month_day = today.replace(day=1) - timedelta(days=10)
    event_id = f"iso-{uuid.uuid4().hex}"
    event = {
        "event_id": event_id,
        "category": "calls-outbound",
        "quantity": "30",
        "occurred_at": noon(previous_month_day),
        "phone_number": "+13125550142",
    }

    async def billing() -> httpx.Response:
        return await http.get(f"{gateway}/v1/Accounts/{sid}/Billing", auth=auth)

    await eventually(billing, lambda r: r.status_code == 200)
    posted = await http.post(
        f"{gateway}/v1/Accounts/{sid}/Usage", json={"events": [event]}, auth=auth
    )
    assert posted.status_code == 202, posted.text

    async def charges() -> httpx.Response:
        return await http.get(f"{system.url('invoicing')}/accounts/{sid}/charges")

    await eventually(charges, lambda r: r.status_code == 200 and r.json()["count"] == 1)
    balance = await http.get(f"{gateway}/v1/Accounts/{sid}/Balance", auth=auth)
    month = previous_month_day.strftime("%Y-%m")
    run = await http.post(f"{gateway}/v1/Ops/BillingRuns", json={"month": month}, headers=OPS)
    assert run.status_code == 200, run.text
    invoices = (await http.get(f"{gateway}/v1/Accounts/{sid}/Invoices", auth=auth)).json()
    assert invoices["invoices"], "A has an invoice"
    key = (await http.post(f"{gateway}/v1/Accounts/{sid}/Keys", auth=auth)).json()
    preferences = await http.patch(
        f"{gateway}/v1/Accounts/{sid}/BillingPreferences",
        json={"po_number": "PO-A-1", "invoice_recipients": ["ap@a.example"]},
        auth=auth,
    )
    assert preferences.status_code == 200, preferences.text
    return {
        "sid": sid,
        "key_sid": key["key_sid"],
        "key_secret": key["secret"],
        "invoice_id": invoices["invoices"][0]["invoice_id"],
        "event_id": event_id,
        "month": month,
        "balance": balance.json()["balance"],
    }


async def _call(
    http: httpx.AsyncClient,
    gateway: str,
    method: str,
    path: str,
    a_data: dict[str, str],
    credentials: tuple[str, str],
) -> httpx.Response:
    """One request on A's resource named by `path`, with a body that would do something."""
    url = gateway + path.format(
        sid=a_data["sid"],
        key_sid=a_data["key_sid"],
        invoice_id=a_data["invoice_id"],
        request_id="IR" + "0" * 32,
        service="usage",
        parked_id=1,
    )
    body = BODIES.get((method, path))
    if body is None and path.endswith("/Usage"):
        body = {
            "events": [
                {"event_id": a_data["event_id"], "category": "sms-outbound", "quantity": "1"}
            ]
        }
    if body is None and path.endswith("/Receipts"):
        body = {"event_ids": [a_data["event_id"]]}
    params = {"month": a_data["month"]} if method == "GET" else None
    return await http.request(method, url, json=body, params=params, auth=credentials)
