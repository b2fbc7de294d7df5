"""The multi-step invoicing request: its states, the steps each allows, and what each records.

`pricing` (on creation) → Pricing → `credit_check` (CreditCheck and InformationRequests keep
it there) → Decision → `approved` | `declined`; `approved` → Activation → `activated`. Every
step is recorded with who took it and when; a request still open (neither declined nor
activated) more than five weeks after its creation is flagged. Pure: no I/O, an explicit now.
"""

import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from tally_contracts.invoicing_requests import MIN_COMMITTED_ANNUAL_SPEND, RequestState

from tally_accounts.terms import AgreedTerms

OPEN_TOO_LONG_AFTER = timedelta(weeks=5)
"""The process takes 2 to 5 weeks; a request open longer is flagged."""

CENT = Decimal("0.01")
"""Money and percentages are kept to two places (the bodies allow no more)."""


class Step(StrEnum):
    """What can happen to a request; `history` records each, `allowed` lists the next ones."""

    CREATED = "created"
    PRICING = "pricing"
    CREDIT_CHECK = "credit_check"
    INFORMATION_REQUEST = "information_request"
    DECISION = "decision"
    ACTIVATION = "activation"


_ALLOWED: dict[RequestState, tuple[Step, ...]] = {
    RequestState.PRICING: (Step.PRICING,),
    RequestState.CREDIT_CHECK: (Step.CREDIT_CHECK, Step.INFORMATION_REQUEST, Step.DECISION),
    RequestState.APPROVED: (Step.ACTIVATION,),
    RequestState.DECLINED: (),
    RequestState.ACTIVATED: (),
}

_CLOSED = frozenset({RequestState.DECLINED, RequestState.ACTIVATED})


class SpendBelowMinimum(Exception):
    """The committed annual spend is under MIN_COMMITTED_ANNUAL_SPEND."""


class IllegalStep(Exception):
    """The request's state does not allow this step; `allowed` lists the ones it does."""

    def __init__(self, state: RequestState, step: Step) -> None:
        self.state = state
        self.step = step
        self.allowed = [allowed.value for allowed in _ALLOWED[state]]
        next_steps = ", ".join(self.allowed) or "nothing: the request is closed"
        super().__init__(f"a request in state {state.value} allows {next_steps}, not {step.value}")


class RequestNotFound(Exception):
    """No invoicing request has this id."""


class AccountNotFound(Exception):
    """The request names an account that does not exist."""


class OpenRequestExists(Exception):
    """The account already has an open invoicing request (`request_id`)."""

    def __init__(self, request_id: str) -> None:
        super().__init__(f"request {request_id} of this account is still open")
        self.request_id = request_id


class IdempotencyKeyReused(Exception):
    """An Idempotency-Key already created a request from another body."""


@dataclass(frozen=True)
class HistoryEntry:
    """One step taken: which, by whom, when."""

    step: Step
    by: str
    at: datetime


@dataclass(frozen=True)
class Pricing:
    """The agreed pricing structure: flat unit prices by category, a discount, net terms."""

    rates: dict[str, Decimal]
    discount_percent: Decimal
    net_terms_days: int


@dataclass(frozen=True)
class Decision:
    """Approved with a credit limit, or declined with a reason."""

    approved: bool
    credit_limit: Decimal | None
    reason: str | None
    by: str
    at: datetime


@dataclass(frozen=True)
class InformationRequest:
    """What ops asked the customer for during the credit check."""

    items: tuple[str, ...]
    by: str
    at: datetime


@dataclass(frozen=True)
class InvoicingRequest:
    """One request for invoiced billing, as it stands."""

    request_id: str
    account_sid: str
    contact_email: str
    committed_annual_spend: Decimal
    state: RequestState
    created_at: datetime
    updated_at: datetime
    history: tuple[HistoryEntry, ...]
    pricing: Pricing | None = None
    decision: Decision | None = None
    information_requests: tuple[InformationRequest, ...] = ()

    def allowed_steps(self) -> list[Step]:
        """The steps the request's state allows next."""
        return list(_ALLOWED[self.state])

    def is_open_too_long(self, now: datetime) -> bool:
        """True while it is open (not declined or activated) more than five weeks after creation."""
        return self.state not in _CLOSED and now - self.created_at > OPEN_TOO_LONG_AFTER


def new_request_id() -> str:
    """A fresh, unguessable request id: `IR` and 32 lowercase hex digits."""
    return "IR" + secrets.token_hex(16)


def open_request(
    *,
    request_id: str,
    account_sid: str,
    contact_email: str,
    committed_annual_spend: Decimal,
    by: str,
    now: datetime,
) -> InvoicingRequest:
    """A new request in `pricing`; refused (SpendBelowMinimum) under the minimum spend."""
    if committed_annual_spend < MIN_COMMITTED_ANNUAL_SPEND:
        raise SpendBelowMinimum(
            f"invoiced billing needs a committed annual spend of at least"
            f" {MIN_COMMITTED_ANNUAL_SPEND}"
        )
    return InvoicingRequest(
        request_id=request_id,
        account_sid=account_sid,
        contact_email=contact_email,
        committed_annual_spend=committed_annual_spend.quantize(CENT),
        state=RequestState.PRICING,
        created_at=now,
        updated_at=now,
        history=(HistoryEntry(Step.CREATED, by, now),),
    )


def _took(
    request: InvoicingRequest, step: Step, *, by: str, now: datetime, **changes: object
) -> InvoicingRequest:
    if step not in _ALLOWED[request.state]:
        raise IllegalStep(request.state, step)
    history = (*request.history, HistoryEntry(step, by, now))
    return replace(request, history=history, updated_at=now, **changes)  # type: ignore[arg-type]


def priced(
    request: InvoicingRequest, pricing: Pricing, *, by: str, now: datetime
) -> InvoicingRequest:
    """The pricing conversation's outcome is agreed: on to the credit check."""
    pricing = replace(pricing, discount_percent=pricing.discount_percent.quantize(CENT))
    return _took(
        request, Step.PRICING, by=by, now=now, pricing=pricing, state=RequestState.CREDIT_CHECK
    )


def credit_check_received(request: InvoicingRequest, *, by: str, now: datetime) -> InvoicingRequest:
    """Credit-check data was recorded (the data itself is kept apart, encrypted)."""
    return _took(request, Step.CREDIT_CHECK, by=by, now=now)


def information_requested(
    request: InvoicingRequest, items: list[str], *, by: str, now: datetime
) -> InvoicingRequest:
    """Ops asked the customer for more; the request stays in its credit check."""
    asked = InformationRequest(tuple(items), by, now)
    return _took(
        request,
        Step.INFORMATION_REQUEST,
        by=by,
        now=now,
        information_requests=(*request.information_requests, asked),
    )


def approved(
    request: InvoicingRequest, credit_limit: Decimal, *, by: str, now: datetime
) -> InvoicingRequest:
    """The credit check passed: approved with this credit limit."""
    limit = credit_limit.quantize(CENT)
    decision = Decision(approved=True, credit_limit=limit, reason=None, by=by, at=now)
    return _took(
        request, Step.DECISION, by=by, now=now, decision=decision, state=RequestState.APPROVED
    )


def declined(request: InvoicingRequest, reason: str, *, by: str, now: datetime) -> InvoicingRequest:
    """The credit check failed: declined, for this reason."""
    decision = Decision(approved=False, credit_limit=None, reason=reason, by=by, at=now)
    return _took(
        request, Step.DECISION, by=by, now=now, decision=decision, state=RequestState.DECLINED
    )


def activated(request: InvoicingRequest, *, by: str, now: datetime) -> InvoicingRequest:
    """The account is switched to invoiced billing on the agreed terms."""
    return _took(request, Step.ACTIVATION, by=by, now=now, state=RequestState.ACTIVATED)


def agreed_terms(request: InvoicingRequest) -> AgreedTerms:
    """The terms of an approved (or activated) request: its pricing and its credit limit."""
    pricing, decision = request.pricing, request.decision
    if pricing is None or decision is None or decision.credit_limit is None:
        raise ValueError(f"request {request.request_id} has no approved terms")
    return AgreedTerms(
        request_id=request.request_id,
        rates=dict(pricing.rates),
        discount_percent=pricing.discount_percent,
        net_terms_days=pricing.net_terms_days,
        credit_limit=decision.credit_limit,
    )


def information_event_id(request: InvoicingRequest) -> str:
    """The id of the fact of the request's latest information request, derived, never random."""
    return f"invoicing_request:{request.request_id}:information:{len(request.information_requests)}"
