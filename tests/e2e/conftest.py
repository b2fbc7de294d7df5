"""Fixtures for end-to-end tests: the whole system running as processes, and ways to drive it.

Kafka's `producer` (standing in for a customer's usage producer) and `tail` come from the
tally_testkit plugin.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from tally_runtime.http import SERVICE_TOKEN_HEADER
from tally_testkit import move_groups_to_end
from tally_testkit.plugin import NewDatabase

from tests.e2e.system import OPS_KEY, SERVICE_TOKEN, SERVICES, System, free_port
from tests.e2e.zipkin import Zipkin


@pytest.fixture(scope="session")
def zipkin(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Zipkin]:
    """The session's tracing dashboard (tests/e2e/zipkin.py): started at once, in the background,
    when the session runs the tracing tests; else only if a test waits for it."""
    server = Zipkin(port=free_port(), run_dir=tmp_path_factory.mktemp("zipkin"))
    if any(item.path.name.startswith("test_tracing") for item in request.session.items):
        server.start_in_background()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def system(
    kafka_bootstrap: str,
    new_database: NewDatabase,
    tmp_path_factory: pytest.TempPathFactory,
    zipkin: Zipkin,
) -> AsyncIterator[System]:
    """Every service as its own process, each with a fresh database of its own."""
    run_dir = tmp_path_factory.mktemp("system")
    databases = {service: await new_database(service) for service in SERVICES}
    running = System(
        kafka_bootstrap=kafka_bootstrap,
        databases=databases,
        trace_dir=run_dir / "traces",
        log_dir=run_dir,
        run_id=uuid.uuid4().hex[:8],
        zipkin_endpoint=zipkin.spans_endpoint,
    )
    await running.start_consumer_groups_at_end()
    try:
        for service in SERVICES:
            running.start(service)
        yield running
    finally:
        running.stop_all()
        # What this run's groups did not read is no backlog for anyone (see tally_testkit.kafka).
        await move_groups_to_end(kafka_bootstrap, [running.consumer_group(s) for s in SERVICES])


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    # With the service token: tests read the internal APIs too (the gateway ignores it).
    service_token = {SERVICE_TOKEN_HEADER: SERVICE_TOKEN}
    async with httpx.AsyncClient(timeout=10, headers=service_token) as client:
        yield client


@pytest.fixture
def create_account(
    system: System, http: httpx.AsyncClient
) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Create an account through the gateway with the ops key; returns its SID and token."""

    async def create(**overrides: Any) -> dict[str, Any]:
        body = {
            "owner": "e2e-customer",
            "friendly_name": "e2e",
            "time_zone": "America/Chicago",
            "contact_email": "billing@e2e.example",  # required since issue 7 (CONTRACTS.md §3)
        }
        response = await http.post(
            f"{system.url('gateway')}/v1/Accounts",
            json=body | overrides,
            headers={"Authorization": f"Bearer {OPS_KEY}"},
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    return create
