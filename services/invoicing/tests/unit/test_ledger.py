"""The prepaid ledger's rules: the balance is the sum of the entries; each crossing once."""

import itertools
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from tally_contracts.accounts import BillingMode
from tally_contracts.balances import BalanceCrossing
from tally_invoicing import ledger
from tally_invoicing.ledger import Entry, EntryKind, LedgerAccount

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SID = "AC" + "0123456789abcdef" * 2


def account(
    balance: str = "15", mode: BillingMode | None = BillingMode.PAY_AS_YOU_GO, **kw: object
) -> LedgerAccount:
    fields: dict[str, object] = {
        "account_sid": SID,
        "balance": Decimal(balance),
        "billing_mode": mode,
        "mode_version": 1,
        "threshold": Decimal("10.00"),
        "auto_recharge": False,
        "recharge_amount": None,
        "alerted": "ok",
    }
    fields.update(kw)
    return LedgerAccount(**fields)  # type: ignore[arg-type]


def entries(*amounts: str) -> list[Entry]:
    return [Entry(f"e{n}", SID, EntryKind.DRAWDOWN, Decimal(a), NOW) for n, a in enumerate(amounts)]


def crossings(posted: ledger.Posted) -> list[tuple[BalanceCrossing, str]]:
    return [(c.crossing, c.event_id) for c in posted.crossings]


def test_given_many_drawdowns_below_the_threshold_then_low_is_crossed_once() -> None:
    # given 15.00, when six 1.00 charges draw it to 9.00, then one low crossing, at 10.00
    posted = ledger.post(account(), entries(*["-1"] * 6))
    assert crossings(posted) == [(BalanceCrossing.LOW, "crossed:low:e4")]
    assert posted.balance == Decimal(9)
    # and more charges in a later batch cross nothing more
    again = ledger.post(account("9", alerted=posted.alerted), entries("-1", "-1"))
    assert crossings(again) == []


def test_given_a_balance_that_recovers_and_falls_again_then_each_fall_is_a_new_crossing() -> None:
    posted = ledger.post(account(), entries("-6", "+20", "-20", "-10"))
    assert [c for c, _ in crossings(posted)] == [
        BalanceCrossing.LOW,
        BalanceCrossing.RECOVERED,
        BalanceCrossing.LOW,
        BalanceCrossing.DEPLETED,
    ]
    assert len({e for _, e in crossings(posted)}) == 4


def test_given_a_depleted_balance_topped_up_only_to_low_then_it_has_not_recovered() -> None:
    # given a depleted balance, when a top-up leaves it low and charges deplete it again
    posted = ledger.post(account("-1", alerted="depleted"), entries("+5", "-10", "+20"))
    # then the only crossing is the recovery above the threshold
    assert [c for c, _ in crossings(posted)] == [BalanceCrossing.RECOVERED]


def test_given_an_invoiced_account_then_no_crossing_is_ever_alerted() -> None:
    posted = ledger.post(account(mode=BillingMode.INVOICED), entries("-100"))
    assert crossings(posted) == []


def test_given_auto_recharge_on_then_a_fall_asks_for_a_recharge_keyed_by_the_crossing() -> None:
    on = account(auto_recharge=True, recharge_amount=Decimal(25))
    [crossed] = ledger.post(on, entries("-6")).crossings
    assert ledger.needs_recharge(on, crossed)
    assert ledger.recharge_id_for(crossed) == "recharge:crossed:low:e0"
    trial = account(mode=BillingMode.TRIAL, auto_recharge=True, recharge_amount=Decimal(25))
    assert not ledger.needs_recharge(trial, ledger.post(trial, entries("-6")).crossings[0])


amounts = st.lists(
    st.decimals(min_value=-50, max_value=50, places=12, allow_nan=False), min_size=1, max_size=60
)


@settings(max_examples=300, deadline=None)
@given(amounts=amounts, opening=st.decimals(min_value=-20, max_value=40, places=2))
def test_given_any_entries_then_the_balance_is_their_sum_and_crossings_alternate(
    amounts: list[Decimal], opening: Decimal
) -> None:
    start = account(str(opening), alerted=ledger.state_of(opening, Decimal(10)))
    posted = ledger.post(start, entries(*(str(a) for a in amounts)))
    assert posted.balance == opening + sum(amounts, Decimal(0))
    for (_, before), (entry, after) in zip(
        [(None, opening), *posted.entries[:-1]], posted.entries, strict=True
    ):
        assert after == before + entry.amount
    # never the same crossing twice in a row: once per crossing, not once per entry
    kinds = [c.crossing for c in posted.crossings]
    assert all(a != b for a, b in itertools.pairwise(kinds))


def test_given_exposure_then_its_level_is_the_share_of_the_limit_reached() -> None:
    limit = Decimal(1000)
    assert ledger.exposure_level(Decimal("799.99"), limit) == 0
    assert ledger.exposure_level(Decimal(800), limit) == 80
    assert ledger.exposure_level(Decimal(1000), limit) == 100
    assert ledger.exposure_level(Decimal(5000), None) == 0
