"""The gateway's use cases: open an account, prove who calls, read an account, forward usage."""

import logging
import uuid
from datetime import datetime, timedelta

import asyncpg
from tally_contracts.errors import FieldError
from tally_runtime.problems import ProblemError

from tally_gateway import repository
from tally_gateway.accounts_client import AccountsClient, UpstreamAccount
from tally_gateway.domain import (
    RETRY_WINDOW,
    BasicCredentials,
    ValidatedUsage,
    auth_token_from,
    encode_usage_event,
    hash_token,
    is_account_sid,
    is_key_sid,
    new_api_key,
    new_opening,
    token_matches,
    validate_usage,
)
from tally_gateway.schemas import AccountCreate, AccountCreated, AccountPublic, ApiKeyCreated
from tally_gateway.upstream import ServiceUnavailable
from tally_gateway.usage_producer import NotAcknowledged, UsagePublisher

log = logging.getLogger(__name__)


async def open_account(
    request: AccountCreate,
    *,
    idempotency_key: str | None,
    accounts: AccountsClient,
    pool: asyncpg.Pool,
    pepper: bytes,
    now: datetime,
) -> AccountCreated:
    """Open an account with its auth token, so that no account ever exists without credentials.

    The opening (SID and token seed) and the token's hash are stored first, under the request's
    Idempotency-Key; only then is the accounts service asked to open that SID, which it does
    once however often it is asked. Whatever fails, the same request with the same key opens
    or finds the same account and answers with the same token.
    """
    key = idempotency_key or str(uuid.uuid4())
    planned = new_opening(key, request.model_dump(), now=now)
    async with pool.acquire() as conn, conn.transaction():
        await repository.forget_token_seeds(conn, opened_before=now - RETRY_WINDOW)
        opening = await repository.record_opening(conn, planned)
        if opening.request_hash != planned.request_hash:
            raise ProblemError(
                409,
                "Idempotency-Key already used",
                detail="another request was sent with this Idempotency-Key; use a new key",
            )
        if opening.token_seed is None:
            raise ProblemError(
                409,
                "Idempotency-Key expired",
                detail=f"this Idempotency-Key was first used more than"
                f" {RETRY_WINDOW // timedelta(hours=1)} hours ago; its token is shown no more",
            )
        token = auth_token_from(pepper, opening.token_seed)
        await repository.save_auth_token_hash(conn, opening.account_sid, hash_token(pepper, token))
    try:
        account = await accounts.open(request, sid=opening.account_sid)
    except ServiceUnavailable as error:
        raise ServiceUnavailable(
            "accounts",
            f"{error.problem.detail}. The account may be half open: send the same request"
            f" again with the header `Idempotency-Key: {key}` to finish opening it",
        ) from error
    return AccountCreated(**public_account(account).model_dump(), auth_token=token)


def public_account(account: UpstreamAccount) -> AccountPublic:
    """The public face of the accounts service's account (CONTRACTS.md §3)."""
    fields = account.model_dump(include=set(AccountPublic.model_fields) - {"date_created"})
    return AccountPublic(**fields, date_created=account.created_at)


async def authenticate(
    credentials: BasicCredentials, *, pool: asyncpg.Pool, pepper: bytes
) -> str | None:
    """The account SID these credentials prove (`AccountSid:AuthToken` or `APIKeySid:secret`)."""
    if is_key_sid(credentials.username):
        key = await repository.fetch_api_key(pool, credentials.username)
        # Compare even for an unknown or revoked key: both take the same path as a known one.
        matches = token_matches(pepper, credentials.password, key[1] if key else b"")
        return key[0] if key is not None and matches else None
    if not is_account_sid(credentials.username):
        return None
    stored = await repository.fetch_auth_token_hash(pool, credentials.username)
    # Compare even for an unknown SID: no early return, so known and unknown take the same path.
    matches = token_matches(pepper, credentials.password, stored or b"")
    return credentials.username if stored is not None and matches else None


async def create_api_key(
    account_sid: str, *, pool: asyncpg.Pool, pepper: bytes, now: datetime
) -> ApiKeyCreated:
    """A new API key of the account; its secret is in this answer only, stored hashed."""
    key = new_api_key()
    await repository.save_api_key(
        pool, key.key_sid, account_sid, hash_token(pepper, key.secret), now=now
    )
    return ApiKeyCreated(key_sid=key.key_sid, secret=key.secret)


async def revoke_api_key(
    account_sid: str, key_sid: str, *, pool: asyncpg.Pool, now: datetime
) -> None:
    """Revoke one of the account's keys; another account's key is not found, like none."""
    if not is_key_sid(key_sid) or not await repository.revoke_api_key(
        pool, account_sid, key_sid, now=now
    ):
        raise ProblemError(404, "API key not found", detail=f"no API key {key_sid}")


def account_not_found(sid: str) -> ProblemError:
    """The one answer for an account that is missing or not the caller's: they look alike."""
    return ProblemError(404, "Account not found", detail=f"no account {sid}")


async def read_account(sid: str, *, accounts: AccountsClient) -> UpstreamAccount:
    """The account, as the accounts service knows it now."""
    account = await accounts.find(sid)
    if account is None:
        raise account_not_found(sid)
    return account


async def forward_usage(
    raw_events: list[object], *, account_sid: str, publisher: UsagePublisher, now: datetime
) -> ValidatedUsage:
    """Publish the valid events to `usage.events.v1` and return once Kafka acknowledged all."""
    usage = validate_usage(raw_events, account_sid=account_sid, now=now)
    if not usage.accepted:
        errors = [FieldError(field=r.path, reason=r.reason) for r in usage.rejected]
        raise ProblemError(
            422,
            "No valid usage event",
            detail=f"none of the {len(raw_events)} events meets the usage contract",
            errors=errors,
        )
    try:
        await publisher.publish(account_sid, [encode_usage_event(e) for e in usage.accepted])
    except NotAcknowledged:
        log.warning("usage of %s not acknowledged by Kafka", account_sid, exc_info=True)
        raise ProblemError(
            503,
            "Usage not accepted",
            detail="Kafka did not acknowledge the events in time; send the same events again:"
            " their event ids make a retry safe",
        ) from None
    return usage
