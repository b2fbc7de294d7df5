"""Notifications' internal HTTP API: every decision kept for an account."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from tally_runtime.http import AccountSidPath, DatabasePool, internal_caller
from tally_runtime.problems import PROBLEM_JSON, Problem

from tally_notifications import handlers
from tally_notifications.domain import Outcome, RecordedDecision

router = APIRouter(dependencies=[Depends(internal_caller)])  # Tally's services only

_PROBLEM: dict[str, Any] = {"model": Problem, "content": {PROBLEM_JSON: {}}}


class DecisionPublic(BaseModel):
    """One decision about one event: sent, suppressed, deferred, failed or none, and why."""

    decision_id: str
    source_event_id: str = Field(description="the event the decision is about")
    event_type: str
    outcome: Outcome
    reason: str
    decided_at: datetime

    @classmethod
    def of(cls, decision: RecordedDecision) -> "DecisionPublic":
        """The public shape of a kept decision."""
        return cls(
            decision_id=decision.decision_id,
            source_event_id=decision.source_event_id,
            event_type=decision.event_type,
            outcome=decision.outcome,
            reason=decision.reason,
            decided_at=decision.decided_at,
        )


class DecisionsPublic(BaseModel):
    account_sid: str
    decisions: list[DecisionPublic] = Field(description="the most recent ones, newest first")


@router.get("/accounts/{sid}/decisions", responses={422: _PROBLEM})
async def list_decisions(
    sid: AccountSidPath, pool: DatabasePool, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> DecisionsPublic:
    """The account's notification decisions, newest first, suppressed ones with their reason."""
    decisions = await handlers.list_decisions(sid, pool=pool, limit=limit)
    return DecisionsPublic(
        account_sid=sid, decisions=[DecisionPublic.of(decision) for decision in decisions]
    )
