"""An invoicing request as the API shows it."""

from datetime import datetime

from tally_contracts.invoicing_requests import (
    AgreedPricing,
    DecisionTaken,
    HistoryEntry,
    InformationAsked,
    InvoicingRequestPublic,
)

from tally_accounts.invoicing_requests.domain import InvoicingRequest


def public(request: InvoicingRequest, *, now: datetime) -> InvoicingRequestPublic:
    """The public shape of a request; `open_too_long` as of `now`."""
    pricing, decision = request.pricing, request.decision
    return InvoicingRequestPublic(
        request_id=request.request_id,
        account_sid=request.account_sid,
        state=request.state,
        committed_annual_spend=request.committed_annual_spend,
        contact_email=request.contact_email,
        created_at=request.created_at,
        updated_at=request.updated_at,
        open_too_long=request.is_open_too_long(now),
        history=[HistoryEntry(step=e.step.value, by=e.by, at=e.at) for e in request.history],
        next_steps=[step.value for step in request.allowed_steps()],
        pricing=AgreedPricing(
            rates=pricing.rates,
            discount_percent=pricing.discount_percent,
            net_terms_days=pricing.net_terms_days,
        )
        if pricing
        else None,
        decision=DecisionTaken(
            approved=decision.approved,
            credit_limit=decision.credit_limit,
            reason=decision.reason,
            by=decision.by,
            at=decision.at,
        )
        if decision
        else None,
        information_requests=[
            InformationAsked(items=list(asked.items), by=asked.by, at=asked.at)
            for asked in request.information_requests
        ],
    )
