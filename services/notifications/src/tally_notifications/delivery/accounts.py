"""The send-time question to the accounts service: each account's committed billing mode."""

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx
from tally_runtime.http import SERVICE_TOKEN_HEADER


@dataclass(frozen=True)
class AccountsApi:
    """Where the accounts service's internal API is, and how to ask it."""

    url: str
    service_token: str
    timeout_seconds: float = 2.0


@dataclass
class BillingModes:
    """What accounts answered: each account's mode, or why there is none."""

    modes: dict[str, str] = field(default_factory=dict)
    unanswered: dict[str, str] = field(default_factory=dict)


async def _mode_of(client: httpx.AsyncClient, sid: str) -> str:
    response = await client.get(f"/accounts/{sid}")
    if response.status_code != 200:
        raise LookupError(f"the accounts service answered {response.status_code} for {sid}")
    mode = response.json().get("billing_mode")
    if not isinstance(mode, str):
        raise LookupError(f"the accounts service gave no billing mode for {sid}")
    return mode


async def billing_modes(api: AccountsApi, accounts: Iterable[str]) -> BillingModes:
    """Ask accounts, concurrently and once per account, for each one's committed billing mode.

    `GET /accounts/{sid}` reads accounts' own database, so a switch committed there but not yet
    published is seen. Any failure (refusal, transport error, timeout) is an unanswered
    account, never a guess.
    """
    answers = BillingModes()
    unique = sorted(set(accounts))
    if not unique:
        return answers
    async with httpx.AsyncClient(
        base_url=api.url,
        headers={SERVICE_TOKEN_HEADER: api.service_token},
        timeout=api.timeout_seconds,
    ) as client:
        try:
            async with asyncio.timeout(api.timeout_seconds * 2):
                results = await asyncio.gather(
                    *(_mode_of(client, sid) for sid in unique), return_exceptions=True
                )
        except TimeoutError:
            results = [TimeoutError("no answer in time")] * len(unique)
    for sid, result in zip(unique, results, strict=True):
        if isinstance(result, BaseException):
            described = str(result) or type(result).__name__
            answers.unanswered[sid] = f"the accounts service did not answer: {described}"
        else:
            answers.modes[sid] = result
    return answers
