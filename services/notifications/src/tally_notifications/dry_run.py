"""The dry run: what each kind of notification would do for an account now, and why."""

from dataclasses import dataclass

import asyncpg

from tally_notifications import accounts_repository
from tally_notifications.domain import AccountView
from tally_notifications.freshness import EndOffsets, stale_accounts
from tally_notifications.policy import Kind, Send, action


@dataclass(frozen=True)
class KindPreview:
    """What one kind would do now: `send` (on channels, with a template), `suppress` or `defer`."""

    kind: Kind
    would: str
    reason: str
    channels: tuple[str, ...] = ()
    recipients: str | None = None
    template: str | None = None


@dataclass(frozen=True)
class PolicyPreview:
    """The account's state as notifications knows it, and every kind's preview."""

    account: AccountView | None
    stale: str | None
    kinds: list[KindPreview]


def previews(account: AccountView | None, stale: str | None) -> list[KindPreview]:
    """Every kind's preview for `account` (None: unknown), deferred while `stale` says why."""
    if stale is not None or account is None:
        reason = stale or "the account's state is not known yet"
        return [KindPreview(kind, "defer", reason) for kind in Kind]
    shown = []
    for kind in Kind:
        rule = action(kind, account.billing_mode, account.status)
        if isinstance(rule, Send):
            shown.append(
                KindPreview(
                    kind,
                    "send",
                    f"{kind} is sent to {account.billing_mode} accounts",
                    tuple(channel.value for channel in rule.channels),
                    rule.recipients.value,
                    rule.template,
                )
            )
        else:
            shown.append(KindPreview(kind, "suppress", f"{rule.rule}: {rule.reason}"))
    return shown


async def preview_policy(
    account_sid: str, *, pool: asyncpg.Pool, end_offsets: EndOffsets
) -> PolicyPreview:
    """What the policy would do for the account now, freshness proven as for a decision."""
    async with pool.acquire() as conn:
        stale = (await stale_accounts(conn, [account_sid], end_offsets)).get(account_sid)
        account = (await accounts_repository.account_views(conn, [account_sid])).get(account_sid)
    return PolicyPreview(account, stale, previews(account, stale))
