"""An account opening: the SID and token seed a retry under the same Idempotency-Key reuses."""

import re
from datetime import UTC, datetime

from tally_gateway.domain import auth_token_from, new_opening, request_hash

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
REQUEST = {"owner": "acme", "friendly_name": "Acme", "time_zone": "UTC", "flex": False}


def test_given_a_new_opening_then_it_has_a_fresh_sid_and_seed_which_repr_hides() -> None:
    first, second = new_opening("key-1", REQUEST, now=NOW), new_opening("key-1", REQUEST, now=NOW)
    assert re.fullmatch(r"AC[0-9a-f]{32}", first.account_sid)
    assert first.account_sid != second.account_sid
    assert first.token_seed != second.token_seed
    assert first.token_seed is not None and first.token_seed.hex() not in repr(first)
    assert (first.idempotency_key, first.opened_at) == ("key-1", NOW)


def test_given_the_same_seed_and_pepper_then_the_same_token_and_otherwise_another() -> None:
    seed = bytes(range(16))
    token = auth_token_from(b"pepper", seed)
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert auth_token_from(b"pepper", seed) == token
    assert auth_token_from(b"another pepper", seed) != token
    assert auth_token_from(b"pepper", bytes(range(1, 17))) != token
    assert seed.hex()[:32] != token


def test_given_the_same_fields_in_another_order_then_the_request_is_the_same() -> None:
    reordered = dict(reversed(list(REQUEST.items())))
    assert request_hash(reordered) == request_hash(REQUEST)


def test_given_any_field_changed_then_the_request_is_another() -> None:
    changed = [REQUEST | {"flex": True}, REQUEST | {"owner": "acme "}, REQUEST | {"x": None}]
    assert len({request_hash(request) for request in [REQUEST, *changed]}) == 4
