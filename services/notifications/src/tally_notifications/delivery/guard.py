"""The send-time guard: a prepaid-only kind goes out only if accounts says, now, not invoiced.

Decisions are fresh (the read barrier), but an account can be switched to invoiced after its
reminder was decided, or the switch can still sit in accounts' outbox. So right before sending,
after the claim and outside its transaction, the worker asks the accounts service itself for
each account's committed mode: invoiced withholds the delivery and suppresses its decision; no
answer gives the delivery back to be tried again, its attempt not counted.
"""

from collections.abc import Sequence
from datetime import timedelta

import asyncpg
from tally_runtime.clock import Clock

from tally_notifications.delivery import repository
from tally_notifications.delivery.accounts import AccountsApi, BillingModes, billing_modes
from tally_notifications.delivery.policy import Delivery, check_at_send, gated

RETRY_WITHOUT_ANSWER = timedelta(seconds=5)
"""How long a delivery waits when accounts did not answer: an outage, not the delivery's fault."""


async def cleared_to_send(
    pool: asyncpg.Pool, claimed: Sequence[Delivery], api: AccountsApi, clock: Clock
) -> list[Delivery]:
    """The claimed deliveries that may be sent now; the others withheld or given back."""
    accounts = {delivery.account_sid for delivery in claimed if gated(delivery.kind)}
    answers = await billing_modes(api, accounts) if accounts else BillingModes()
    check = check_at_send(claimed, answers.modes, answers.unanswered)
    if check.withheld or check.postponed:
        tries = {delivery.delivery_id: delivery.attempts for delivery in claimed}
        async with pool.acquire() as conn, conn.transaction():
            if check.withheld:
                await repository.withhold(conn, tries, check.withheld)
            if check.postponed:
                until = clock() + RETRY_WITHOUT_ANSWER
                await repository.release(conn, tries, until, check.postponed)
    return check.send
