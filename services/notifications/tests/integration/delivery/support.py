"""Delivery tests' helpers: the SMTP server's mailbox, a webhook receiver, rows as the decision
side writes them, and a clock the test moves."""

import email
import email.policy
import json
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import asyncpg
import httpx
from aiosmtpd.smtp import SMTP, Envelope, Session
from pydantic import SecretStr
from tally_notifications.config import NotificationsSettings
from tally_testkit import new_sid

SERVICE_TOKEN = "notifications-tests-service-token"
WEBHOOK_SECRET_KEYS = "RhuNHUtsWaRBrbk56PYuViKf1g-9sHdPlrvcOlPCVyk="  # a Fernet key, tests only


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Mailbox:
    """What the SMTP server received: each message with the recipients it was sent to."""

    port: int
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:  # the server runs in a thread of its own
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def received(self) -> list[tuple[list[str], EmailMessage]]:
        with self._lock:
            return list(self.messages)

    async def arrived(self) -> list[tuple[list[str], EmailMessage]]:
        """`received()`, for `eventually`."""
        return self.received()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver: answers with `statuses` in turn (then 200), keeps every request."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)

    async def arrived(self) -> list[Received]:
        """What it has received so far, for `eventually`."""
        return list(self.requests)


@dataclass
class AccountsStandIn:
    """The accounts service's `GET /accounts/{sid}`, as a local HTTP server: each account's
    committed billing mode (`pay_as_you_go` unless the test says otherwise), and who asked."""

    token: str
    url: str = ""
    modes: dict[str, str] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)


@dataclass
class RealAccounts:
    """The real accounts service, served over HTTP as the worker reaches it in production."""

    url: str
    http: httpx.AsyncClient

    async def open_trial(self) -> str:
        """A new trial account; its SID."""
        body = {
            "owner": f"delivery-{uuid.uuid4().hex[:8]}",
            "friendly_name": "Acme",
            "time_zone": "America/Chicago",
            "contact_email": "owner@acme.test",
        }
        response = await self.http.post("/accounts", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["sid"])

    async def switch_to_invoiced(self, sid: str) -> None:
        """Take the account through an invoicing request to activation, as ops would."""
        created = await self.http.post(
            "/invoicing-requests",
            params={"caller": "ops-key:delivery-tests"},
            json={
                "account_sid": sid,
                "committed_annual_spend": "24000.00",
                "contact_email": "ap@acme.test",
            },
        )
        assert created.status_code == 201, created.text
        steps = {
            "pricing": {
                "rates": {"calls-outbound": "0.0110"},
                "discount_percent": "5",
                "net_terms_days": 30,
                "by": "sales@tally",
            },
            "decision": {"approved": True, "credit_limit": "5000.00", "by": "credit@tally"},
            "activation": {"by": "ops@tally"},
        }
        for step, body in steps.items():
            request_id = created.json()["request_id"]
            done = await self.http.post(f"/invoicing-requests/{request_id}/{step}", json=body)
            assert done.status_code == 200, done.text
        account = (await self.http.get(f"/accounts/{sid}")).json()
        assert account["billing_mode"] == "invoiced"


def delivery_settings(database_url: str, smtp_port: int, **overrides: Any) -> NotificationsSettings:
    """Settings of a notifications service sending to the test's SMTP server."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "service_token": SecretStr(SERVICE_TOKEN),
        "webhook_secret_keys": SecretStr(WEBHOOK_SECRET_KEYS),
        "smtp_port": smtp_port,
        "delivery_backoff_initial_seconds": 60.0,
        "delivery_backoff_max_seconds": 600.0,
        "delivery_max_attempts": 3,
        "webhook_timeout_seconds": 5.0,
        "smtp_timeout_seconds": 5.0,
    }
    return NotificationsSettings(**(values | overrides))


class ManualClock:
    """A clock the test moves: retries and the rate limit are shown without waiting."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


RECHARGE_BODY = {
    "kind": "recharge_reminder",
    "time_zone": "America/Chicago",
    "balance": "4.20",
    "threshold": "5.00",
    "currency": "USD",
    "as_of": "2026-11-28",
}


async def add_delivery(
    conn: asyncpg.Pool | asyncpg.Connection,
    *,
    channel: str,
    recipient: str,
    account_sid: str | None = None,
    kind: str = "recharge_reminder",
    body: dict[str, Any] | None = None,
    subject: str = "Your Tally balance is low: 4.20 USD",
) -> tuple[str, str, str]:
    """A 'sent' decision and its pending delivery, as the decision side writes them.

    Returns (account SID, decision id, delivery id).
    """
    sid = account_sid or new_sid()
    decision_id = f"DN{uuid.uuid4().hex}"
    delivery_id = f"DL{uuid.uuid4().hex}"
    await conn.execute(
        """
        INSERT INTO decisions (decision_id, trigger_event_id, account_sid, event_type, outcome,
                               reason, decided_at, kind, billing_mode, channels)
        VALUES ($1, $2, $3, 'balance.crossed', 'sent', 'pay as you go: sent', now(), $4,
                'pay_as_you_go', ARRAY[$5])
        """,
        decision_id,
        f"trigger-{decision_id}",
        sid,
        kind,
        channel,
    )
    await conn.execute(
        """
        INSERT INTO deliveries (delivery_id, decision_id, account_sid, channel, recipient, kind,
                                subject, body, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, now())
        """,
        delivery_id,
        decision_id,
        sid,
        channel,
        recipient,
        kind,
        subject,
        json.dumps(body if body is not None else RECHARGE_BODY),
    )
    return sid, decision_id, delivery_id


async def delivery_row(conn: asyncpg.Pool, delivery_id: str) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM deliveries WHERE delivery_id = $1", delivery_id)
    assert row is not None
    return row
