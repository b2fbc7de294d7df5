"""Idempotency-Key on every creating or money-moving POST (CONTRACTS.md §3), one mechanism.

A route opts in with `AccountIdempotency` or `OpsIdempotency`, which run once the caller is
proven, so keys are scoped per caller (the account, or the ops key) and a stranger never
learns anything from one. Under a key the gateway has not seen, the request is claimed and
runs; `StoreIdempotentResponses` then keeps its response, whatever it was (a problem
included), unless it is a 5xx, which leaves no trace so that the retry runs again. A repeat with
the same key and body gets the stored response (with `Idempotent-Replayed: true`); the same key
with another body, or on another route, is a `409`, and so is a repeat while the first is still
running. Responses are kept sealed (an API key's secret is in one) for `RETRY_WINDOW`.

Opening an account has a mechanism of its own (`handlers.open_account`): it must survive the
gateway failing between recording the token and opening the account, which replaying a stored
response cannot do.
"""

import base64
import contextlib
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

import asyncpg
from cryptography.fernet import Fernet
from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tally_runtime.http import DatabasePool
from tally_runtime.problems import ProblemError

from tally_gateway import repository
from tally_gateway.dependencies import OPS_CALLER, OwnAccountSid, RequestClock, SettingsDep
from tally_gateway.dependencies import ops_caller as _ops_caller
from tally_gateway.domain import RETRY_WINDOW

log = logging.getLogger(__name__)

CLAIM_TIMEOUT = timedelta(minutes=15)
"""After this a claim never answered (its gateway died) may be taken again: above the longest
wait of any route, a billing run's ten minutes."""
REPLAYED_HEADER = "Idempotent-Replayed"
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="any unique text, e.g. a UUID; a retry with the same key is safe",
    ),
]
_CLAIM = "idempotency_claim"


def request_fingerprint(method: str, path: str, body: bytes) -> bytes:
    """What tells two requests apart under one key: route and body (JSON compared as data)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).digest()


def sealer(pepper: bytes) -> Fernet:
    """The key stored responses are sealed with: derived from the pepper, used for nothing else."""
    key = hmac.new(pepper, b"tally idempotent responses", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


@dataclass
class Claim:
    """A request running under a key no one used before: its response is stored once known."""

    pool: asyncpg.Pool
    seal: Fernet
    scope: str
    key: str
    done: bool = False

    async def settle(self, status: int, media_type: str, body: bytes) -> None:
        self.done = True
        if status >= 500:
            await repository.release_idempotency_key(self.pool, self.scope, self.key)
            return
        sealed = self.seal.encrypt(body)
        await repository.settle_idempotent_request(
            self.pool, self.scope, self.key, status=status, media_type=media_type, sealed=sealed
        )

    async def release(self) -> None:
        self.done = True
        await repository.release_idempotency_key(self.pool, self.scope, self.key)


class _Replay(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


async def _claim_or_replay(
    request: Request, scope: str, key: str | None, pool: asyncpg.Pool, pepper: bytes, now: datetime
) -> None:
    if key is None:
        return
    fingerprint = request_fingerprint(request.method, request.url.path, await request.body())
    stored = await repository.claim_idempotency_key(
        pool,
        scope,
        key,
        fingerprint,
        now=now,
        expired_before=now - RETRY_WINDOW,
        stale_before=now - CLAIM_TIMEOUT,
    )
    if stored is None:  # claimed: the request runs, its response is stored by the middleware
        setattr(request.state, _CLAIM, Claim(pool, sealer(pepper), scope, key))
        return
    if stored.fingerprint != fingerprint:
        raise ProblemError(
            409,
            "Idempotency-Key already used",
            detail="another request was sent with this Idempotency-Key; use a new key",
        )
    if stored.status is None:
        raise ProblemError(
            409,
            "Request in progress",
            detail="a request with this Idempotency-Key is still being answered; retry shortly",
        )
    body = sealer(pepper).decrypt(stored.sealed_body or b"")
    raise _Replay(
        Response(
            body,
            status_code=stored.status,
            media_type=stored.media_type,
            headers={REPLAYED_HEADER: "true"},
        )
    )


async def _account_idempotency(
    sid: OwnAccountSid,
    request: Request,
    pool: DatabasePool,
    settings: SettingsDep,
    clock: RequestClock,
    idempotency_key: IdempotencyKey = None,
) -> None:
    pepper = settings.token_pepper.get_secret_value().encode()
    await _claim_or_replay(request, sid, idempotency_key, pool, pepper, clock())


async def _ops_idempotency(
    _: Annotated[None, Depends(_ops_caller)],
    request: Request,
    pool: DatabasePool,
    settings: SettingsDep,
    clock: RequestClock,
    idempotency_key: IdempotencyKey = None,
) -> None:
    pepper = settings.token_pepper.get_secret_value().encode()
    await _claim_or_replay(request, OPS_CALLER, idempotency_key, pool, pepper, clock())


AccountIdempotency = Depends(_account_idempotency)
"""Honour `Idempotency-Key` on an account's route, keys scoped to the account."""
OpsIdempotency = Depends(_ops_idempotency)
"""Honour `Idempotency-Key` on an ops route, keys scoped to the ops key."""


class StoreIdempotentResponses:
    """Stores the response of a claimed request before the client sees it (a 5xx releases it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body = bytearray()

        async def send_storing(message: Message) -> None:
            nonlocal start
            claim: Claim | None = scope.get("state", {}).get(_CLAIM)
            if claim is None or claim.done:
                await send(message)
            elif message["type"] == "http.response.start":
                start = message  # held back until the response is stored
            elif message["type"] == "http.response.body" and start is not None:
                body.extend(message.get("body", b""))
                if message.get("more_body", False):
                    return
                await _settle(claim, start, bytes(body))
                await send(start)
                await send({"type": "http.response.body", "body": bytes(body)})

        try:
            await self.app(scope, receive, send_storing)
        finally:
            claim = scope.get("state", {}).get(_CLAIM)
            if claim is not None and not claim.done:
                await claim.release()


async def _settle(claim: Claim, start: Message, body: bytes) -> None:
    headers = {name.decode().lower(): value.decode() for name, value in start["headers"]}
    try:
        await claim.settle(start["status"], headers.get("content-type", ""), body)
    except Exception:  # the answer still goes out; a retry runs again (or, failing that, waits)
        log.exception("could not store the response under an Idempotency-Key")
        with contextlib.suppress(Exception):
            await repository.release_idempotency_key(claim.pool, claim.scope, claim.key)


async def _replay(_: Request, error: Exception) -> Response:
    assert isinstance(error, _Replay)
    return error.response


def install_idempotency(app: FastAPI) -> None:
    """Answer repeats from stored responses, and store the responses of claimed requests."""
    app.add_exception_handler(_Replay, _replay)
    app.add_middleware(StoreIdempotentResponses)
