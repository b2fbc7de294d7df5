"""Credit-check data: sealed at rest, never in a log, an event or a span, every read audited."""

import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr
from tally_accounts.app import create_app
from tally_accounts.config import Settings
from tally_contracts.topics import ACCOUNT_STATE, ALL_TOPICS
from tally_runtime.http import SERVICE_TOKEN_HEADER
from tally_testkit import NewDatabase, Tail

SERVICE_TOKEN = "credit-check-tests-token"
CALLER = "ops-key:fedcba987654"
NOW = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
PRICING = {"rates": {}, "discount_percent": "0", "net_terms_days": 30, "by": "ana"}
FIRST: dict[str, Any] = {
    "legal_company_name": "Zyxwv Holdings Ltd",
    "primary_account_sid": "AC" + "7a" * 16,
    "accounting_contact": {"full_name": "Qwerty Uiop", "email": "qwerty.uiop@zyxwv.test"},
    "duns_number": "918273645",
}
SECOND: dict[str, Any] = {
    "accounting_contact": {"phone": "+44 20 7946 0958"},
    "funding_information": "Series Q from Plughfund 7731",
    "financial_statements": ["vault://statements/zyxwv-2025.pdf"],
    "service_address": {
        "line1": "17 Plover Mews",
        "city": "Quillsby",
        "postal_code": "QX1 9ZZ",
        "country": "GB",
    },
    "additional_information": {"bank_reference": "Pelican Trust 5501"},
}
# Sent in a body the API refuses: the 422 must name the fields, never echo the values.
REFUSED = {
    "duns_number": "91827364X",
    "accounting_contact": {"phone": "call-gorlbax-after-six"},
    "tax_id": "TIN-55-8812-vorpal",
    "by": "bo",
}
SENSITIVE = [
    "Zyxwv",
    "7a7a7a7a7a7a",
    "Qwerty Uiop",
    "qwerty.uiop",
    "918273645",
    "7946 0958",
    "Plughfund",
    "zyxwv-2025",
    "Plover Mews",
    "Quillsby",
    "QX1 9ZZ",
    "Pelican Trust",
    "91827364X",
    "gorlbax",
    "TIN-55-8812-vorpal",
]


def settings_of(database_url: str, kafka_bootstrap: str, keys: str, trace_dir: Path) -> Settings:
    return Settings(
        environment="test",
        kafka_bootstrap=kafka_bootstrap,
        database_url=database_url,
        consumer_group=f"test-accounts-{uuid.uuid4().hex[:8]}",
        service_token=SecretStr(SERVICE_TOKEN),
        credit_check_keys=SecretStr(keys),
        trace_dir=trace_dir,
    )


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the accounts service started with `settings`, its clock fixed at NOW."""
    app = create_app(settings, clock=lambda: NOW)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app),
            base_url="http://accounts",
            headers={SERVICE_TOKEN_HEADER: SERVICE_TOKEN},
        ) as client,
    ):
        yield client


async def new_request(http: httpx.AsyncClient) -> tuple[str, str]:
    """A trial account and its invoicing request, priced; (SID, request id)."""
    account = await http.post(
        "/accounts",
        json={
            "owner": "zz-owner",
            "friendly_name": "Main",
            "time_zone": "Europe/London",
            "contact_email": "owner@example.test",
        },
    )
    assert account.status_code == 201, account.text
    sid = account.json()["sid"]
    body = {"account_sid": sid, "committed_annual_spend": "15000.00", "contact_email": "a@b.test"}
    created = await http.post("/invoicing-requests", json=body, params={"caller": CALLER})
    request_id = created.json()["request_id"]
    assert (await http.post(f"/invoicing-requests/{request_id}/pricing", json=PRICING)).is_success
    return sid, request_id


async def post_credit_check(http: httpx.AsyncClient, request_id: str, data: dict[str, Any]) -> None:
    response = await http.post(f"/invoicing-requests/{request_id}/credit-check", json=data)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "credit_check"


async def read_all(readers: list[AIOKafkaConsumer], until_key: str) -> list[bytes]:
    """Keys, values and headers of every record read, once one keyed `until_key` has come."""
    seen: list[bytes] = []
    for _ in range(60):
        for reader in readers:
            batches = await reader.getmany(timeout_ms=250)
            for record in (r for records in batches.values() for r in records):
                seen += [record.key or b"", record.value or b""]
                seen += [value for _, value in record.headers]
                if record.topic == ACCOUNT_STATE and record.key == until_key.encode():
                    return seen + await read_all_left(readers)
    raise AssertionError(f"the activation's state of {until_key} never arrived")


async def read_all_left(readers: list[AIOKafkaConsumer]) -> list[bytes]:
    left: list[bytes] = []
    for reader in readers:
        batches = await reader.getmany(timeout_ms=500)
        left += [r.value or b"" for records in batches.values() for r in records]
    return left


def spans_text(trace_dir: Path) -> str:
    """Every span the services wrote to `trace_dir`."""
    return "".join(path.read_text() for path in trace_dir.glob("*.jsonl"))


async def database_text(database_url: str) -> str:
    """Every row of every table of the service's database, as text."""
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        rows = [
            await conn.fetchval(f'SELECT string_agg(t::text, chr(10)) FROM "{table}" t')  # noqa: S608
            for (table,) in tables
        ]
    finally:
        await conn.close()
    return "\n".join(row for row in rows if row)


async def test_given_a_whole_credit_check_then_no_log_event_span_or_row_holds_its_values(
    kafka_bootstrap: str,
    new_database: NewDatabase,
    tail: Tail,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    readers = [await tail(spec.name) for spec in ALL_TOPICS]
    key = Fernet.generate_key()
    settings = settings_of(await new_database("accounts"), kafka_bootstrap, key.decode(), tmp_path)
    async with running(settings) as http:
        sid, request_id = await new_request(http)
        base = f"/invoicing-requests/{request_id}"
        await post_credit_check(http, request_id, FIRST | {"by": "bo"})
        refused = await http.post(f"{base}/credit-check", json=REFUSED)
        await post_credit_check(http, request_id, SECOND | {"by": "bo"})
        asked = await http.post(f"{base}/information-requests", json={"items": ["IDs"], "by": "bo"})
        read = await http.get(f"{base}/credit-check", params={"caller": CALLER, "by": "cy"})
        approval = {"approved": True, "credit_limit": "3000.00", "by": "cy"}
        assert (await http.post(f"{base}/decision", json=approval)).is_success
        assert (await http.post(f"{base}/activation", json={"by": "di"})).is_success
        published = await read_all(readers, until_key=sid)

    assert refused.status_code == 422
    assert sorted(e["field"] for e in refused.json()["errors"]) == [
        "accounting_contact.phone",
        "duns_number",
        "tax_id",
    ]
    assert asked.status_code == 200
    assert read.status_code == 200
    assert read.json() == {
        "request_id": request_id,
        **FIRST,
        **SECOND,
        "accounting_contact": FIRST["accounting_contact"] | SECOND["accounting_contact"],
        "service_address": SECOND["service_address"] | {"line2": None, "region": None},
    }
    logged = caplog.text + "".join(f"{r.msg!r}{r.args!r}" for r in caplog.records)
    spans = spans_text(tmp_path)
    stored = await database_text(settings.database_url)
    # Each net does catch things: DEBUG records, the request's own fact, spans and rows.
    assert any(record.levelno == logging.DEBUG for record in caplog.records)
    assert any(request_id.encode() in field for field in published)
    assert request_id in spans and request_id in stored
    for value in SENSITIVE:
        assert value not in refused.text, f"the 422 echoed {value!r}"
        assert value not in logged, f"{value!r} was logged"
        assert all(value.encode() not in field for field in published), f"{value!r} published"
        assert value not in spans, f"{value!r} is in a span"
        assert value not in stored, f"{value!r} is stored in clear"

    conn = await asyncpg.connect(settings.database_url)
    try:
        sealed = await conn.fetchval(
            "SELECT sealed FROM credit_checks WHERE request_id = $1", request_id
        )
    finally:
        await conn.close()
    assert json.loads(Fernet(key).decrypt(sealed))["duns_number"] == "918273645"


async def test_given_reads_of_credit_check_data_then_each_is_in_the_audit_trail(
    kafka_bootstrap: str, new_database: NewDatabase, tmp_path: Path
) -> None:
    keys = Fernet.generate_key().decode()
    settings = settings_of(await new_database("accounts"), kafka_bootstrap, keys, tmp_path)
    async with running(settings) as http:
        _, request_id = await new_request(http)
        _, other_id = await new_request(http)
        await post_credit_check(http, request_id, FIRST | {"by": "bo"})
        path = f"/invoicing-requests/{request_id}/credit-check"
        first = await http.get(path, params={"caller": CALLER, "by": "cy"})
        second = await http.get(path, params={"caller": "ops-key:000000000000"})
        empty = await http.get(
            f"/invoicing-requests/{other_id}/credit-check", params={"caller": CALLER}
        )
        unknown = await http.get(
            f"/invoicing-requests/IR{'0' * 32}/credit-check", params={"caller": CALLER}
        )
        anonymous = await http.get(path)

    assert (first.status_code, second.status_code, empty.status_code) == (200, 200, 200)
    assert first.json()["duns_number"] == "918273645"
    assert empty.json()["duns_number"] is None
    assert (unknown.status_code, anonymous.status_code) == (404, 422)
    assert [e["field"] for e in anonymous.json()["errors"]] == ["caller"]
    conn = await asyncpg.connect(settings.database_url)
    try:
        reads = await conn.fetch(
            "SELECT request_id, caller, read_by, read_at FROM credit_check_reads ORDER BY read_id"
        )
    finally:
        await conn.close()
    assert [tuple(read) for read in reads] == [
        (request_id, CALLER, "cy", NOW),
        (request_id, "ops-key:000000000000", None, NOW),
        (other_id, CALLER, None, NOW),
    ]


async def test_given_a_new_key_put_first_then_old_data_opens_and_new_writes_use_the_new_key(
    kafka_bootstrap: str, new_database: NewDatabase, tmp_path: Path
) -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    database_url = await new_database("accounts")

    async def sealed_of(request_id: str) -> bytes:
        conn = await asyncpg.connect(database_url)
        try:
            sealed: bytes = await conn.fetchval(
                "SELECT sealed FROM credit_checks WHERE request_id = $1", request_id
            )
        finally:
            await conn.close()
        return sealed

    async with running(settings_of(database_url, kafka_bootstrap, old.decode(), tmp_path)) as http:
        _, request_id = await new_request(http)
        await post_credit_check(http, request_id, FIRST | {"by": "bo"})
    assert Fernet(old).decrypt(await sealed_of(request_id))

    rotated = f"{new.decode()},{old.decode()}"
    async with running(settings_of(database_url, kafka_bootstrap, rotated, tmp_path)) as http:
        path = f"/invoicing-requests/{request_id}/credit-check"
        before = await http.get(path, params={"caller": CALLER})
        assert before.json()["legal_company_name"] == "Zyxwv Holdings Ltd"
        await post_credit_check(http, request_id, SECOND | {"by": "bo"})
    sealed = await sealed_of(request_id)
    assert json.loads(Fernet(new).decrypt(sealed))["funding_information"].startswith("Series Q")
    with pytest.raises(InvalidToken):
        Fernet(old).decrypt(sealed)

    async with running(settings_of(database_url, kafka_bootstrap, new.decode(), tmp_path)) as http:
        after = await http.get(
            f"/invoicing-requests/{request_id}/credit-check", params={"caller": CALLER}
        )
    assert after.json()["duns_number"] == "918273645"
