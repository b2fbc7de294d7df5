"""The OpenAPI document is complete enough to generate a client from it.

Walks `/openapi.json` as served: every operation documents its success with a schema and each
problem it can answer as `application/problem+json`; every creating or money-moving POST
documents `Idempotency-Key`. A new route is held to the same rules without a change here.
"""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from tally_gateway.app import create_app
from tally_gateway.config import Settings

PROBLEM = {"$ref": "#/components/schemas/Problem"}
EVERY_ROUTE_ANSWERS = {"400", "401", "413", "422", "429", "500"}
NOT_CREATING_POSTS = {
    "/v1/Accounts/{sid}/Usage/Receipts": "a read: it asks what became of events",
    "/v1/Ops/ParkedRecords/{service}/{parked_id}/Replay": "once only: a repeat is a 409",
}
"""POSTs without Idempotency-Key, and why they need none."""


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # Served without its lifespan: the document needs no database, Kafka or service; spans go
    # to a file, not to a collector that is not there.
    settings = Settings(trace_dir=tmp_path_factory.mktemp("traces"))
    response = TestClient(create_app(settings)).get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        if path.startswith("/v1/")
        for method, operation in item.items()
    ]


def test_the_document_has_every_public_route(document: dict[str, Any]) -> None:
    assert len(operations(document)) >= 35


def test_every_success_has_a_schema(document: dict[str, Any]) -> None:
    missing = []
    for method, path, operation in operations(document):
        successes = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
        if not successes:
            missing.append(f"{method} {path}: no 2xx response")
        for status, response in successes.items():
            if status == "204":
                continue
            schemas = [m.get("schema") for m in response.get("content", {}).values()]
            if not schemas or not all(schemas):
                missing.append(f"{method} {path} {status}: no schema")
    assert not missing, "\n".join(missing)


def test_every_problem_is_documented_as_a_problem_document(document: dict[str, Any]) -> None:
    wrong = []
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if status[0] in "45":
                content = response.get("content", {})
                if content.get("application/problem+json", {}).get("schema") != PROBLEM:
                    wrong.append(f"{method} {path} {status}")
    assert not wrong, "\n".join(wrong)


def test_every_operation_documents_the_problems_it_can_answer(document: dict[str, Any]) -> None:
    missing = []
    for method, path, operation in operations(document):
        expected = set(EVERY_ROUTE_ANSWERS)
        if _names_anything(operation):
            expected.add("404")  # what the path names may not exist (or not be the caller's)
        if _header(operation, "Idempotency-Key"):
            expected.add("409")  # the key used with another body
        if not expected <= set(operation["responses"]):
            missing.append(f"{method} {path}: {sorted(expected - set(operation['responses']))}")
        if "Retry-After" not in operation["responses"].get("429", {}).get("headers", {}):
            missing.append(f"{method} {path}: 429 without Retry-After")
        if not operation.get("security"):
            missing.append(f"{method} {path}: no security scheme")
    assert not missing, "\n".join(missing)


def test_every_creating_post_takes_an_idempotency_key(document: dict[str, Any]) -> None:
    without = [
        path
        for method, path, operation in operations(document)
        if method == "POST"
        and path not in NOT_CREATING_POSTS
        and not _header(operation, "Idempotency-Key")
    ]
    assert not without, without


def _header(operation: dict[str, Any], name: str) -> bool:
    return any(p["in"] == "header" and p["name"] == name for p in operation.get("parameters", []))


def _names_anything(operation: dict[str, Any]) -> bool:
    """Whether a path parameter is free text or a number, not one of a few names (an enum)."""
    return any(
        p["in"] == "path" and "$ref" not in p["schema"] and "enum" not in p["schema"]
        for p in operation.get("parameters", [])
    )
