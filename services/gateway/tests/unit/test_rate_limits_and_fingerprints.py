"""The rules under rate limits and Idempotency-Keys: who is counted, what counts as the same."""

import pytest
from starlette.exceptions import HTTPException
from tally_gateway.idempotency import request_fingerprint, sealer
from tally_gateway.rate_limits import RateLimits


async def test_given_a_limit_when_a_caller_passes_it_then_429_with_retry_after() -> None:
    limits = RateLimits("3/minute")
    for _ in range(3):
        await limits.admit("AC1")

    with pytest.raises(HTTPException) as refused:
        await limits.admit("AC1")

    assert refused.value.status_code == 429
    assert refused.value.headers is not None
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 60
    await limits.admit("AC2")  # another caller has its own allowance


def test_given_an_unparseable_limit_then_settings_refuse_it() -> None:
    from pydantic import ValidationError
    from tally_gateway.config import Settings

    with pytest.raises(ValidationError, match="rate_limit"):
        Settings(rate_limit="lots")


def test_given_the_same_json_in_another_order_then_the_fingerprint_is_the_same() -> None:
    one = request_fingerprint("POST", "/v1/x", b'{"a": 1, "b": [1, 2]}')
    other = request_fingerprint("POST", "/v1/x", b'{"b":[1,2],"a":1}')

    assert one == other
    assert one != request_fingerprint("POST", "/v1/x", b'{"a": 2, "b": [1, 2]}')
    assert one != request_fingerprint("POST", "/v1/y", b'{"a": 1, "b": [1, 2]}')
    assert request_fingerprint("POST", "/v1/x", b"not json") != request_fingerprint(
        "POST", "/v1/x", b"not json either"
    )


def test_given_a_sealed_response_then_only_the_same_pepper_opens_it() -> None:
    sealed = sealer(b"pepper").encrypt(b'{"secret": "s3cr3t"}')

    assert b"s3cr3t" not in sealed
    assert sealer(b"pepper").decrypt(sealed) == b'{"secret": "s3cr3t"}'
    with pytest.raises(Exception, match=""):
        sealer(b"another pepper").decrypt(sealed)
