"""The gateway's use cases: open an account, prove who calls, read an account, forward usage."""

import asyncio
from datetime import datetime

import asyncpg
from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker
from tally_contracts.errors import FieldError
from tally_contracts.topics import USAGE_EVENTS
from tally_contracts.usage import UsageEvent
from tally_runtime.problems import ProblemError

from tally_gateway import repository
from tally_gateway.accounts_client import AccountsClient, UpstreamAccount
from tally_gateway.domain import (
    BasicCredentials,
    ValidatedUsage,
    encode_usage_event,
    hash_token,
    is_account_sid,
    new_auth_token,
    token_matches,
    validate_usage,
)
from tally_gateway.schemas import AccountCreate, AccountCreated

_JSON_HEADERS = {"content-type": "application/json"}


async def create_account(
    request: AccountCreate, *, accounts: AccountsClient, pool: asyncpg.Pool, pepper: bytes
) -> AccountCreated:
    """Open an account and give it an auth token; only the token's hash is kept."""
    account = await accounts.create(request)
    token = new_auth_token()
    await repository.save_auth_token_hash(pool, account.sid, hash_token(pepper, token))
    return AccountCreated(**account.model_dump(), auth_token=token)


async def authenticate(
    credentials: BasicCredentials, *, pool: asyncpg.Pool, pepper: bytes
) -> str | None:
    """The account SID these credentials prove, or None."""
    if not is_account_sid(credentials.username):
        return None  # API keys (`SK...:secret`) will be checked here
    stored = await repository.fetch_auth_token_hash(pool, credentials.username)
    # Compare even for an unknown SID: no early return, so known and unknown take the same path.
    matches = token_matches(pepper, credentials.password, stored or b"")
    return credentials.username if stored is not None and matches else None


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
    raw_events: list[object], *, account_sid: str, broker: KafkaBroker, now: datetime
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
        await _publish_all(broker, account_sid, usage.accepted)
    except KafkaError as error:
        raise ProblemError(
            503,
            "Usage not accepted",
            detail=f"Kafka did not acknowledge ({type(error).__name__}); send the same events"
            " again: their event ids make a retry safe",
        ) from error
    return usage


async def _publish_all(broker: KafkaBroker, account_sid: str, events: list[UsageEvent]) -> None:
    key = account_sid.encode()
    # Queue every send first, then wait: one round of acks for the whole request, not one each.
    pending = [
        await broker.publish(
            encode_usage_event(event),
            topic=USAGE_EVENTS,
            key=key,
            headers=dict(_JSON_HEADERS),
            no_confirm=True,
        )
        for event in events
    ]
    await asyncio.gather(*pending)
