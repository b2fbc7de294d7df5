"""`UsageClient`: usage over the gateway's HTTP API (CONTRACTS.md §3, Usage and reports).

async with UsageClient("https://tally.example", "AC…", auth_token="…") as tally:
    acks = await tally.send(events)
    receipts = await tally.receipts([ack.event_id for ack in acks])
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from tally_contracts.errors import FieldError

from tally_sdk.acks import Ack, AckStatus
from tally_sdk.errors import TallyApiError, TallyUnavailable
from tally_sdk.events import EventInput, batches, check_events, encode_event
from tally_sdk.retry import RetryPolicy
from tally_sdk.transport import Gateway, GatewayClient

MAX_EVENTS_PER_REQUEST = 1000
"""CONTRACTS.md §3: `POST /v1/Accounts/{sid}/Usage` takes 1 to 1,000 events (more is a 413)."""

_EVENT_PATH = re.compile(r"events\[(\d+)\]\.?(.*)")


@dataclass(frozen=True)
class Receipt:
    """What became of one event id (`recorded`, `rejected` or `unknown`)."""

    event_id: str
    status: str
    duplicates: int
    conflicts: int
    field: str | None = None
    reason: str | None = None


class UsageClient(GatewayClient):
    """Sends an account's usage over HTTP and reads back what became of it.

    Authenticate with the account's auth token, or with one of its API keys
    (`api_key_sid="SK…"`, `auth_token=<the key's secret>`). Use it as an async context manager,
    or call `aclose()`.
    """

    def __init__(
        self,
        base_url: str,
        account_sid: str,
        *,
        auth_token: str,
        api_key_sid: str | None = None,
        batch_size: int = MAX_EVENTS_PER_REQUEST,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not 1 <= batch_size <= MAX_EVENTS_PER_REQUEST:
            raise ValueError(f"batch_size must be 1 to {MAX_EVENTS_PER_REQUEST}")
        self.account_sid = account_sid
        self.batch_size = batch_size
        self._gateway = Gateway(
            base_url,
            auth=httpx.BasicAuth(api_key_sid or account_sid, auth_token),
            retry=retry,
            timeout=timeout,
            transport=transport,
        )

    @property
    def _account(self) -> str:
        return f"/v1/Accounts/{self.account_sid}"

    async def send(
        self,
        events: Iterable[EventInput],
        *,
        now: datetime | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> list[Ack]:
        """Validate, then send the valid events in batches; one Ack per event, in input order.

        Invalid events are never sent (`invalid`, with the field). Each batch is answered once
        Tally has its events durably (`accepted`) or refused some (`rejected`, with the field); a
        batch still unanswered after the retries is `failed`, and sending those events again is
        safe. `on_batch(n)` is called after each batch with how many inputs it settled.
        Credentials the gateway refuses raise TallyApiError (401) before anything is accepted.
        """
        checked = check_events(events, account_sid=self.account_sid, now=now)
        acks = [
            Ack(index, error.event_id, AckStatus.INVALID, tuple(error.errors))
            for index, error in checked.invalid
        ]
        if on_batch and checked.invalid:
            on_batch(len(checked.invalid))
        for batch in batches(checked.valid, self.batch_size):
            acks.extend(await self._send_batch(batch))
            if on_batch:
                on_batch(len(batch))
        return sorted(acks, key=lambda ack: ack.index)

    async def _send_batch(self, batch: list[Any]) -> list[Ack]:
        body = b'{"events":[' + b",".join(encode_event(event) for _, event in batch) + b"]}"
        try:
            response = await self._gateway.call("POST", f"{self._account}/Usage", content=body)
        except TallyApiError as error:
            if error.status == httpx.codes.UNPROCESSABLE_ENTITY:  # none of them was valid
                whole = [FieldError(field="(event)", reason=str(error))]
                return _refused(batch, _errors_by_position(error.errors), default=whole)
            if error.status in (429, 502, 503, 504):
                return _failed(batch, str(error))
            raise  # 401, 404, 413...: the call itself is wrong, not these events
        except TallyUnavailable as error:
            return _failed(batch, str(error))
        rejected = _errors_by_position(response.json().get("rejected") or [])
        return _refused(batch, rejected)

    async def receipts(self, event_ids: Iterable[str]) -> list[Receipt]:
        """What became of each event id, in the order asked (asked 1,000 at a time)."""
        found: list[Receipt] = []
        for chunk in batches(list(event_ids), MAX_EVENTS_PER_REQUEST):
            response = await self._gateway.call(
                "POST", f"{self._account}/Usage/Receipts", json_body={"event_ids": chunk}
            )
            found.extend(Receipt(**receipt) for receipt in response.json()["receipts"])
        return found

    async def notifications(self) -> list[dict[str, Any]]:
        """The account's notification decisions, newest first."""
        response = await self._gateway.call("GET", f"{self._account}/Notifications")
        notifications: list[dict[str, Any]] = response.json()["notifications"]
        return notifications

    async def billing(self, month: str | None = None) -> dict[str, Any]:
        """The billing page's data for `month` (`YYYY-MM`, default the current local month)."""
        params = {"month": month} if month else None
        response = await self._gateway.call("GET", f"{self._account}/Billing", params=params)
        billing: dict[str, Any] = response.json()
        return billing


def _errors_by_position(items: list[Any]) -> dict[int, list[FieldError]]:
    """Rejections by position in the request: `{index, field, reason}` items of a 202, or the
    `events[3].quantity` fields of a 422's errors."""
    found: dict[int, list[FieldError]] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        if "index" in item:
            position, field = int(item["index"]), str(item.get("field"))
        else:
            match = _EVENT_PATH.fullmatch(str(item.get("field", "")))
            if match is None:
                continue
            position, field = int(match[1]), match[2] or "(event)"
        found.setdefault(position, []).append(
            FieldError(field=field, reason=str(item.get("reason")))
        )
    return found


def _refused(
    batch: list[Any],
    rejected: dict[int, list[FieldError]],
    *,
    default: list[FieldError] | None = None,
) -> list[Ack]:
    """The batch's acks: rejected where the answer named the event, else `default`'s."""
    acks = []
    for position, (index, event) in enumerate(batch):
        errors = rejected.get(position) or default
        status = AckStatus.REJECTED if errors else AckStatus.ACCEPTED
        acks.append(Ack(index, event.event_id, status, tuple(errors or ())))
    return acks


def _failed(batch: list[Any], why: str) -> list[Ack]:
    error = (FieldError(field="(request)", reason=why),)
    return [Ack(index, event.event_id, AckStatus.FAILED, error) for index, event in batch]
