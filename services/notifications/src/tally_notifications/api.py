"""Notifications' internal HTTP API: every decision kept for an account, and the dry run."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from tally_runtime.http import AccountSidPath, DatabasePool, internal_caller
from tally_runtime.problems import PROBLEM_JSON, Problem

from tally_notifications import dry_run, handlers
from tally_notifications.domain import Outcome
from tally_notifications.freshness import EndOffsets
from tally_notifications.repository import KeptDecision

router = APIRouter(dependencies=[Depends(internal_caller)])  # Tally's services only

_PROBLEM: dict[str, Any] = {"model": Problem, "content": {PROBLEM_JSON: {}}}


def _end_offsets(request: Request) -> EndOffsets:
    end_offsets: EndOffsets = request.app.state.deciding.end_offsets
    return end_offsets


StateTopicEnd = Annotated[EndOffsets, Depends(_end_offsets)]


class DecisionPublic(BaseModel):
    """One decision about one trigger: sent, suppressed, deferred or failed, and why."""

    notification_id: str = Field(description="the decision's id, derived from its trigger")
    kind: str
    decision: Outcome = Field(
        description="a `sent` decision becomes `failed` if delivery finally gives up"
    )
    reason: str
    billing_mode: str | None = Field(description="the account's mode when it was decided")
    channels: list[str]
    decided_at: datetime
    trigger_event_id: str
    event_type: str

    @classmethod
    def of(cls, kept: KeptDecision) -> "DecisionPublic":
        """The public shape of a kept decision."""
        return cls(
            notification_id=kept.decision_id,
            kind=kept.kind,
            decision=kept.outcome,
            reason=kept.reason,
            billing_mode=kept.billing_mode,
            channels=list(kept.channels),
            decided_at=kept.decided_at,
            trigger_event_id=kept.trigger_event_id,
            event_type=kept.event_type,
        )


class DecisionsPublic(BaseModel):
    account_sid: str
    notifications: list[DecisionPublic] = Field(description="the most recent, newest first")


@router.get("/accounts/{sid}/notifications", responses={422: _PROBLEM})
async def list_notifications(
    sid: AccountSidPath, pool: DatabasePool, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> DecisionsPublic:
    """The account's notification decisions, newest first, suppressed ones with their reason."""
    decisions = await handlers.list_decisions(sid, pool=pool, limit=limit)
    return DecisionsPublic(
        account_sid=sid, notifications=[DecisionPublic.of(decision) for decision in decisions]
    )


class KindPreviewPublic(BaseModel):
    kind: str
    would: str = Field(description="`send`, `suppress` or `defer`")
    reason: str
    channels: list[str]
    recipients: str | None
    template: str | None


class PolicyPreviewPublic(BaseModel):
    account_sid: str
    billing_mode: str | None = Field(description="None while the account's state is unknown")
    status: str | None
    version: int | None
    fresh: bool = Field(description="whether the state is proven the newest published")
    kinds: list[KindPreviewPublic]


@router.get("/accounts/{sid}/policy", responses={422: _PROBLEM})
async def preview_policy(
    sid: AccountSidPath, pool: DatabasePool, end_offsets: StateTopicEnd
) -> PolicyPreviewPublic:
    """The dry run: what each kind would do for the account now, and why."""
    preview = await dry_run.preview_policy(sid, pool=pool, end_offsets=end_offsets)
    account = preview.account
    return PolicyPreviewPublic(
        account_sid=sid,
        billing_mode=account.billing_mode.value if account else None,
        status=account.status.value if account else None,
        version=account.version if account else None,
        fresh=preview.stale is None and account is not None,
        kinds=[
            KindPreviewPublic(
                kind=kind.kind.value,
                would=kind.would,
                reason=kind.reason,
                channels=list(kind.channels),
                recipients=kind.recipients,
                template=kind.template,
            )
            for kind in preview.kinds
        ],
    )
