"""Which answers are retried, and when: never a request the gateway refused on its merits."""

from datetime import UTC, datetime

import pytest
from tally_sdk.retry import RetryPolicy, parse_retry_after

POLICY = RetryPolicy(attempts=4, base_delay=0.5, max_delay=10.0)


@pytest.mark.parametrize("status", [429, 502, 503, 504, None])
def test_not_now_answers_and_no_answer_are_retried(status: int | None) -> None:
    delay = POLICY.delay_after(1, status)
    assert delay is not None and 0.25 <= delay <= 0.5


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 415, 422, 500])
def test_refusals_are_never_retried(status: int) -> None:
    assert POLICY.delay_after(1, status) is None
    assert POLICY.delay_after(1, status, "1") is None


def test_retry_after_is_honoured_and_a_too_long_one_gives_up() -> None:
    assert POLICY.delay_after(1, 429, "3") == 3.0
    assert POLICY.delay_after(1, 503, "0") == 0.0
    assert POLICY.delay_after(1, 429, "60") is None


def test_the_backoff_grows_and_is_capped() -> None:
    assert 2.0 <= POLICY.backoff(4) <= 4.0
    assert 5.0 <= POLICY.backoff(20) <= 10.0


def test_attempts_run_out() -> None:
    assert POLICY.delay_after(3, 503) is not None
    assert POLICY.delay_after(4, 503) is None
    assert RetryPolicy(attempts=1).delay_after(1, 503) is None


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Sun, 29 Nov 2026 12:00:07 GMT", now=now) == 7.0
    assert parse_retry_after("Sun, 29 Nov 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None
