"""Schemathesis against the gateway's own OpenAPI document: every operation, valid credentials.

Each operation gets generated requests, valid ones (positive) and ones that break the schema
(negative), sent with the credentials it asks for: a real account's `AccountSid:AuthToken` for
`/v1/Accounts/{sid}/...` (its own SID in the path), the ops key for the rest. No answer may be a
server error, and every answer must match the document: its status, its media type, its schema.

`TALLY_FUZZ_EXAMPLES` sets the examples per operation and mode (a few in `make test`, many more
in `make chaos`).
"""

import asyncio
import base64
import os
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.system import OPS_KEY, System

EXAMPLES = int(os.environ.get("TALLY_FUZZ_EXAMPLES", "6"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ACCOUNT_ROUTES = "/v1/Accounts/{sid}"


async def test_given_valid_credentials_when_fuzzing_every_operation_then_no_error_breaks_the_schema(
    system: System, create_account: Callable[..., Any]
) -> None:
    gateway = system.url("gateway")
    account = await create_account()
    async with httpx.AsyncClient() as http:
        document = (await http.get(f"{gateway}/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    failures: list[str] = []
    succeeded = 0
    for operation in operations:
        statuses: Counter[int] = Counter()
        failure = await asyncio.to_thread(_fuzz, operation, gateway, account, statuses)
        if failure:
            failures.append(f"{operation.method.upper()} {operation.path}: {failure}")
        succeeded += any(200 <= status < 300 for status in statuses)
        print(f"{operation.method.upper()} {operation.path}: {dict(sorted(statuses.items()))}")
    print(
        f"fuzzed {len(operations)} operations, {EXAMPLES} examples per operation and mode;"
        f" {succeeded} answered a 2xx at least once"
    )
    assert not failures, "\n\n".join(failures)
    assert len(operations) >= 30  # the whole document, not a part of it
    assert succeeded >= 15  # the credentials work: not every request was turned away


def _fuzz(
    operation: Any, gateway: str, account: dict[str, Any], statuses: Counter[int]
) -> str | None:
    """The first failure of one operation's examples, or None; counts the statuses seen."""
    session = requests.Session()
    if operation.path.startswith(ACCOUNT_ROUTES):
        pair = f"{account['sid']}:{account['auth_token']}".encode()
        credentials = {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}
        path_parameters = {"sid": account["sid"]}
    else:
        credentials = {"Authorization": f"Bearer {OPS_KEY}"}
        path_parameters = {}
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        # Fixed, so that no example replaces the credentials with generated ones.
        strategy = operation.as_strategy(mode, path_parameters=path_parameters, headers=credentials)

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=EXAMPLES <= 20,  # the same examples in every `make test`
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call_and_validate(base_url=gateway, session=session, checks=CHECKS)
            statuses[response.status_code] += 1

        try:
            run()
        except Unsatisfiable:
            continue  # nothing to break: an operation without parameters or body has no negative
        # Schemathesis' failures: AssertionErrors, or a group of them (a BaseExceptionGroup).
        except (Exception, BaseExceptionGroup) as failure:
            return _described(failure)
    return None


def _described(failure: BaseException) -> str:
    """What a failure says, its sub-failures' too, short enough to read many of."""
    parts = [f"{type(failure).__name__}: {failure}"]
    parts += [f"  {type(e).__name__}: {e}" for e in getattr(failure, "exceptions", ())]
    return "\n".join(parts)[:3000]


# A long `make fuzz` has no time limit; the few examples of `make test` take a few minutes.
pytestmark = pytest.mark.timeout(600 if EXAMPLES <= 20 else 0)
