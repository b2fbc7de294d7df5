"""tally_testkit.eventually: poll until a condition holds, or fail with the last result."""

import re

import pytest
from tally_testkit import eventually, new_sid


async def test_given_a_probe_that_comes_true_then_eventually_returns_its_result() -> None:
    calls: list[int] = []

    async def probe() -> int:
        calls.append(len(calls))
        return len(calls)

    assert await eventually(probe, lambda count: count >= 3, within=5) == 3
    assert len(calls) == 3


async def test_given_a_probe_that_never_comes_true_then_eventually_fails_with_the_last() -> None:
    async def probe() -> str:
        return "still waiting"

    with pytest.raises(AssertionError, match="last result: 'still waiting'"):
        await eventually(probe, lambda result: result == "done", within=0.3)


def test_given_new_sids_then_each_is_an_account_sid_and_unique() -> None:
    sids = {new_sid() for _ in range(3)}
    assert len(sids) == 3
    assert all(re.fullmatch(r"AC[0-9a-f]{32}", sid) for sid in sids)
