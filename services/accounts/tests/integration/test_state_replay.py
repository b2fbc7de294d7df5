"""The account-state topic replayed from its start rebuilds every account's mode and version."""

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
from pydantic import SecretStr
from tally_runtime.account_states import (
    ACCOUNT_STATE_MIGRATIONS,
    ACCOUNT_STATES,
    known_accounts,
)
from tally_runtime.database import apply_migrations
from tally_runtime.lifecycle import running_engine
from tally_runtime.settings import ServiceSettings
from tally_testkit import NewDatabase, eventually

OpenAccount = Callable[..., Awaitable[dict[str, Any]]]
ReadKeyed = Callable[[str, int], Awaitable[list[dict[str, Any]]]]


async def test_given_changed_accounts_when_a_fresh_projection_reads_from_the_start_then_it_agrees(
    accounts: httpx.AsyncClient,
    open_account: OpenAccount,
    approve_owner: Callable[[str], Awaitable[str]],
    account_states: ReadKeyed,
    new_database: NewDatabase,
    kafka_bootstrap: str,
    tmp_path: Any,
) -> None:
    # given accounts in every mode, some changed several times
    first = await open_account(
        address={"line1": "1 Main", "city": "Chicago", "postal_code": "60601", "country": "US"}
    )
    await approve_owner(first["sid"])
    invoiced, prepaid, renamed = await open_account(), await open_account(), await open_account()
    [address] = (await accounts.get(f"/accounts/{invoiced['sid']}/upgrade")).json()["addresses"]
    await accounts.post(
        f"/accounts/{invoiced['sid']}/upgrade",
        json={"method": "pay_by_invoice", "address_id": address["address_id"]},
    )
    await accounts.post(
        f"/accounts/{prepaid['sid']}/upgrade",
        json={
            "method": "pay_as_you_go",
            "address_id": address["address_id"],
            "auto_recharge": {"threshold": "5", "amount": "20", "card_token": "tok_visa"},
        },
    )
    for name in ("One", "Two", "Three"):
        await accounts.patch(f"/accounts/{renamed['sid']}", json={"friendly_name": name})
    sids = [a["sid"] for a in (first, invoiced, prepaid, renamed)]
    current = {
        sid: (body["billing_mode"], body["version"])
        for sid in sids
        for body in [(await accounts.get(f"/accounts/{sid}")).json()]
    }
    assert current[renamed["sid"]] == ("trial", 4)
    await account_states(renamed["sid"], 4)  # all published

    # when a new service's projection consumes the topic from its start
    settings = ServiceSettings(
        environment="test",
        kafka_bootstrap=kafka_bootstrap,
        database_url=await new_database("replay"),
        consumer_group=f"test-replay-{uuid.uuid4().hex}",
        service_token=SecretStr("replay-tests"),
    )
    (tmp_path / "0001.nothing.sql").write_text("SELECT 1;")
    await apply_migrations(settings.database_url, tmp_path, projections=[ACCOUNT_STATE_MIGRATIONS])
    async with (
        asyncpg.create_pool(settings.database_url) as pool,
        running_engine("replay-test", settings, pool, [ACCOUNT_STATES]),
    ):
        # then it knows exactly each account's current mode and version
        def rebuilt(known: dict[str, Any]) -> dict[str, tuple[str, int]]:
            return {sid: (k.billing_mode.value, k.version) for sid, k in known.items()}

        known = await eventually(
            lambda: known_accounts(pool, sids), lambda k: rebuilt(k) == current, within=120
        )
    assert rebuilt(known) == {
        first["sid"]: ("trial", 1),
        invoiced["sid"]: ("invoiced", 2),
        prepaid["sid"]: ("pay_as_you_go", 2),
        renamed["sid"]: ("trial", 4),
    }
