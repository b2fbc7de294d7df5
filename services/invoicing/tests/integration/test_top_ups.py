"""Top-ups move a balance once per id, publish one balance change each, never for invoiced."""

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from tally_contracts.accounts import AutoRecharge, BillingMode
from tally_contracts.topics import ACCOUNT_STATE, BALANCE_CHANGED
from tally_testkit import Publish, Tail, account_state, eventually, new_sid

WaitConsumed = Callable[[Any], Awaitable[None]]


def top_up_body(
    amount: str = "20.00", card: str = "tok_visa", top_up_id: str = ""
) -> dict[str, str]:
    return {
        "top_up_id": top_up_id or f"TU{uuid.uuid4().hex}",
        "amount": amount,
        "card_token": card,
    }


async def balance_of(http: httpx.AsyncClient, sid: str) -> dict[str, Any]:
    response = await http.get(f"/accounts/{sid}/balance")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def balance_events_until(
    reader: AIOKafkaConsumer, sid: str, last: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """The balance changes of `sid` read from `reader`, up to the one `last` recognises."""
    found: list[dict[str, Any]] = []

    async def read() -> list[dict[str, Any]]:
        batches = await reader.getmany(timeout_ms=500)
        for records in batches.values():
            found.extend(json.loads(r.value) for r in records if r.key == sid.encode())
        return found

    return await eventually(read, lambda events: any(last(e) for e in events))


async def test_given_a_top_up_repeated_concurrently_and_after_then_the_balance_moves_once(
    http: httpx.AsyncClient, tail: Tail
) -> None:
    # given a pay-as-you-go account invoicing has not seen charged, and a reader of balances
    sid = new_sid()
    balances = await tail(BALANCE_CHANGED)
    body = top_up_body("20.00")

    # when the same top-up is sent five times at once, then once more
    together = await asyncio.gather(
        *(http.post(f"/accounts/{sid}/top-ups", json=body) for _ in range(5))
    )
    again = await http.post(f"/accounts/{sid}/top-ups", json=body)

    # then every answer is the same, and the balance moved by 20.00 once
    first = together[0]
    assert first.status_code == 201, first.text
    assert first.json() == {"top_up_id": body["top_up_id"], "amount": "20.00", "balance": "20.00"}
    assert [(r.status_code, r.json()) for r in (*together, again)] == [(201, first.json())] * 6
    balance = await balance_of(http, sid)
    assert (balance["balance"], balance["state"], balance["currency"]) == ("20.00", "ok", "USD")

    # and exactly one balance change was published for it, before the next top-up's
    marker = top_up_body("5.00")
    assert (await http.post(f"/accounts/{sid}/top-ups", json=marker)).status_code == 201
    events = await balance_events_until(
        balances, sid, lambda e: e.get("top_up_id") == marker["top_up_id"]
    )
    for_body = [e for e in events if e.get("top_up_id") == body["top_up_id"]]
    assert len(for_body) == 1
    assert for_body[0]["event_id"] == f"top_up:{body['top_up_id']}"
    assert (for_body[0]["cause"], Decimal(for_body[0]["amount"])) == ("top_up", Decimal(20))
    assert [Decimal(e["balance"]) for e in events] == [Decimal(20), Decimal(25)]


async def test_given_a_top_up_id_reused_with_another_body_then_409_and_the_balance_is_unchanged(
    http: httpx.AsyncClient,
) -> None:
    # given a top-up of 20.00
    sid = new_sid()
    body = top_up_body("20.00")
    assert (await http.post(f"/accounts/{sid}/top-ups", json=body)).status_code == 201

    # when its id is sent again with another amount, and with another card
    other_amount = await http.post(f"/accounts/{sid}/top-ups", json={**body, "amount": "30.00"})
    other_card = await http.post(f"/accounts/{sid}/top-ups", json={**body, "card_token": "tok_b"})

    # then both are conflicts, and the balance holds the first top-up only
    for response in (other_amount, other_card):
        assert response.status_code == 409, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert body["top_up_id"] in response.json()["detail"]
    assert (await balance_of(http, sid))["balance"] == "20.00"


async def test_given_a_declined_card_then_402_and_nothing_changes(
    http: httpx.AsyncClient, tail: Tail
) -> None:
    # given an account with 20.00, and a reader of balances
    sid = new_sid()
    balances = await tail(BALANCE_CHANGED)
    assert (await http.post(f"/accounts/{sid}/top-ups", json=top_up_body("20.00"))).is_success

    # when a top-up with the declined test card is asked for
    declined = top_up_body("50.00", card="tok_decline")
    response = await http.post(f"/accounts/{sid}/top-ups", json=declined)

    # then it is a 402 problem naming the card, and the balance did not move
    assert response.status_code == 402, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["type"], problem["title"]) == (
        "urn:tally:problem:card-declined",
        "Card declined",
    )
    assert [error["field"] for error in problem["errors"]] == ["card_token"]
    assert (await balance_of(http, sid))["balance"] == "20.00"

    # and its id is still free: the same top-up with a good card goes through
    retried = await http.post(f"/accounts/{sid}/top-ups", json={**declined, "card_token": "tok_ok"})
    assert retried.status_code == 201, retried.text
    assert retried.json()["balance"] == "70.00"

    # and no balance change was published for the declined attempt
    events = await balance_events_until(
        balances, sid, lambda e: e.get("top_up_id") == declined["top_up_id"]
    )
    assert [(e["cause"], Decimal(e["amount"])) for e in events] == [
        ("top_up", Decimal(20)),
        ("top_up", Decimal(50)),
    ]


async def test_given_bad_top_up_bodies_then_422_names_the_field_and_nothing_changes(
    http: httpx.AsyncClient,
) -> None:
    sid = new_sid()
    cases = [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5.00"}, "amount"),
        ({"amount": "10.001"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "100000.01"}, "amount"),
        ({"card_token": "4242424242424242"}, "card_token"),  # not a token: refused as invalid
        ({"top_up_id": "has spaces"}, "top_up_id"),
        ({"balance": "1000000"}, "balance"),  # unknown fields are refused
    ]
    for change, field in cases:
        response = await http.post(f"/accounts/{sid}/top-ups", json={**top_up_body(), **change})
        assert response.status_code == 422, (change, response.text)
        assert field in [error["field"] for error in response.json()["errors"]], change
    balance = await balance_of(http, sid)
    assert (balance["balance"], balance["updated_at"]) == ("0.00", None)


async def test_given_an_invoiced_account_then_top_ups_and_the_balance_answer_409(
    http: httpx.AsyncClient, publish: Publish, wait_consumed: WaitConsumed
) -> None:
    # given an account invoicing knows as invoiced
    sid = new_sid()
    await wait_consumed(await publish(ACCOUNT_STATE, account_state(sid, 1, BillingMode.INVOICED)))

    # when it asks for a top-up and for its balance
    top_up = await http.post(f"/accounts/{sid}/top-ups", json=top_up_body())
    balance = await http.get(f"/accounts/{sid}/balance")

    # then both are 409 saying invoiced accounts have no prepaid balance
    for response in (top_up, balance):
        assert response.status_code == 409, response.text
        assert "invoiced accounts have no prepaid balance" in response.json()["detail"]


async def test_given_a_new_trial_account_then_it_is_credited_15_once_however_often_seen(
    http: httpx.AsyncClient, publish: Publish, wait_consumed: WaitConsumed, tail: Tail
) -> None:
    # given a reader of balances, and a trial account's first state
    sid = new_sid()
    balances = await tail(BALANCE_CHANGED)
    await publish(ACCOUNT_STATE, account_state(sid, 1, BillingMode.TRIAL))

    # when the same state comes again, then a newer trial state, then it upgrades
    await publish(ACCOUNT_STATE, account_state(sid, 1, BillingMode.TRIAL))
    await publish(ACCOUNT_STATE, account_state(sid, 2, BillingMode.TRIAL))
    await wait_consumed(
        await publish(ACCOUNT_STATE, account_state(sid, 3, BillingMode.PAY_AS_YOU_GO))
    )

    # then its balance holds one trial credit of 15.00, and a top-up adds to it
    balance = await balance_of(http, sid)
    assert (balance["balance"], balance["state"]) == ("15.00", "ok")
    topped = await http.post(f"/accounts/{sid}/top-ups", json=top_up_body("10.00"))
    assert topped.json()["balance"] == "25.00"

    # and one trial credit was published, before the top-up. Any other invoicing running on
    # the shared broker (another suite's) credits the account in its own database and
    # publishes the same event: consumers tell repeats apart by event id, and so does this
    # test (test_trial_credit shows this service queues the credit once).
    events = await balance_events_until(balances, sid, lambda e: e["cause"] == "top_up")
    distinct = list({e["event_id"]: e for e in events}.values())
    assert [
        (e["event_id"], e["cause"], Decimal(e["amount"]), Decimal(e["balance"])) for e in distinct
    ] == [
        (f"trial_credit:{sid}", "trial_credit", Decimal(15), Decimal(15)),
        (f"top_up:{topped.json()['top_up_id']}", "top_up", Decimal(10), Decimal(25)),
    ]


async def test_given_balances_around_the_threshold_then_the_state_follows(
    http: httpx.AsyncClient,
) -> None:
    # given an account nothing moved yet: 0.00 is depleted
    sid = new_sid()
    assert (await balance_of(http, sid))["state"] == "depleted"
    steps = [("10.00", "10.00", "low"), ("0.01", "10.01", "ok")]
    for amount, shown, state in steps:
        # when a top-up raises it
        assert (await http.post(f"/accounts/{sid}/top-ups", json=top_up_body(amount))).is_success
        # then the state follows the default threshold of 10.00
        balance = await balance_of(http, sid)
        assert (balance["balance"], balance["low_balance_threshold"], balance["state"]) == (
            shown,
            "10.00",
            state,
        )


async def test_given_an_auto_recharge_threshold_then_it_is_the_low_balance_threshold(
    http: httpx.AsyncClient, publish: Publish, wait_consumed: WaitConsumed
) -> None:
    # given a pay-as-you-go account with 30.00 whose auto-recharge starts at 50.00
    sid = new_sid()
    recharge = AutoRecharge(
        enabled=True, threshold=Decimal("50.00"), amount=Decimal("20.00"), card_token="tok_a"
    )
    state = account_state(sid, 1).model_copy(update={"auto_recharge": recharge})
    await wait_consumed(await publish(ACCOUNT_STATE, state))
    assert (await http.post(f"/accounts/{sid}/top-ups", json=top_up_body("30.00"))).is_success

    # when its balance is read
    balance = await balance_of(http, sid)

    # then 30.00 is low against its own threshold, not ok against the default 10.00
    assert (balance["balance"], balance["low_balance_threshold"], balance["state"]) == (
        "30.00",
        "50.00",
        "low",
    )


async def test_given_card_tokens_then_authorizations_say_whether_the_card_is_approved(
    http: httpx.AsyncClient,
) -> None:
    answers = {}
    for token in ("tok_visa", "tok_decline", "4242424242424242"):
        response = await http.post("/cards/authorizations", json={"card_token": token})
        assert response.status_code == 200, response.text
        answers[token] = response.json()
    assert answers["tok_visa"] == {"approved": True, "reason": None}
    assert answers["tok_decline"] == {"approved": False, "reason": "the card was declined"}
    assert answers["4242424242424242"]["approved"] is False
    assert "not a card token" in answers["4242424242424242"]["reason"]


async def test_given_no_service_token_then_top_ups_are_refused(http: httpx.AsyncClient) -> None:
    sid = new_sid()
    response = await http.post(
        f"/accounts/{sid}/top-ups",
        json=top_up_body(),
        headers={"X-Tally-Service-Token": "wrong"},
    )
    assert response.status_code == 401
    assert (await balance_of(http, sid))["balance"] == "0.00"
