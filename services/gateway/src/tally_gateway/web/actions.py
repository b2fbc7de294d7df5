"""The billing page's forms: top-up, auto-recharge, billing preferences and the upgrade flow.

Each form is read into the body its `/v1` route takes and handed to that route's function,
for the session's account; success redirects back to the page, a refusal shows the page
again with what went wrong.
"""

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from tally_runtime.problems import ProblemError

from tally_gateway import handlers
from tally_gateway.api import balance, billing_settings, upgrade
from tally_gateway.dependencies import RequestClock
from tally_gateway.web import forms
from tally_gateway.web.guards import CheckedForm, Services, SignedInSid, cookies
from tally_gateway.web.pages import render
from tally_gateway.web.reads import Upstreams, upgrade_options
from tally_gateway.web.routes import page, problem_page

router = APIRouter(prefix="/billing", include_in_schema=False)


@router.post("/top-up")
async def top_up(
    request: Request, sid: SignedInSid, form: CheckedForm, upstreams: Services, clock: RequestClock
) -> Response:
    """Top up the balance with a card; the form's key makes a double submit top up once."""

    async def act() -> None:
        await balance.create_top_up(
            sid=sid,
            body=forms.top_up(form),
            invoicing=upstreams.invoicing,
            idempotency_key=form.get("idempotency_key") or None,
        )

    return await _act(request, sid, upstreams, clock, form, act, "top-up")


@router.post("/auto-recharge")
async def auto_recharge(
    request: Request, sid: SignedInSid, form: CheckedForm, upstreams: Services, clock: RequestClock
) -> Response:
    """Turn auto-recharge on (threshold, amount, card) or off."""

    async def act() -> None:
        await billing_settings.set_auto_recharge(
            sid=sid, body=forms.auto_recharge(form), accounts=upstreams.accounts_api
        )

    return await _act(request, sid, upstreams, clock, form, act, "auto-recharge")


@router.post("/preferences")
async def preferences(
    request: Request, sid: SignedInSid, form: CheckedForm, upstreams: Services, clock: RequestClock
) -> Response:
    """Save the mailing address, PO number and invoice recipients."""

    async def act() -> None:
        await billing_settings.update_billing_preferences(
            sid=sid, body=forms.billing_preferences(form), accounts=upstreams.accounts_api
        )

    return await _act(request, sid, upstreams, clock, form, act, "preferences")


@router.get("/upgrade", response_class=HTMLResponse)
async def upgrade_form(request: Request, sid: SignedInSid, upstreams: Services) -> Response:
    """The upgrade flow: eligibility, the address, pay by invoice or pay as you go."""
    return await _upgrade_page(request, sid, upstreams, form={})


@router.post("/upgrade")
async def complete_upgrade(
    request: Request, sid: SignedInSid, form: CheckedForm, upstreams: Services
) -> Response:
    """Complete the upgrade with the existing Upgrade logic; errors show on the form."""
    try:
        await upgrade.complete_upgrade(
            sid=sid, body=forms.upgrade(form), accounts=upstreams.accounts_api
        )
    except (ValidationError, ProblemError) as error:
        return await _upgrade_page(
            request, sid, upstreams, form=form, errors=forms.error_messages(error)
        )
    return RedirectResponse("/billing?done=upgraded", status_code=303)


async def _act(
    request: Request,
    sid: str,
    upstreams: Upstreams,
    clock: RequestClock,
    form: dict[str, str],
    act: Callable[[], Awaitable[None]],
    notice: str,
) -> Response:
    """Do a form's action; then back to the page (a redirect), or the page with what failed."""
    month = form.get("month") or None
    try:
        await act()
    except (ValidationError, ProblemError) as error:
        status = error.problem.status if isinstance(error, ProblemError) else 422
        return await page(
            request,
            sid,
            upstreams,
            clock,
            month,
            errors=forms.error_messages(error),
            status_code=status,
        )
    query = f"?month={month}&done={notice}" if month else f"?done={notice}"
    return RedirectResponse(f"/billing{query}", status_code=303)


async def _upgrade_page(
    request: Request,
    sid: str,
    upstreams: Upstreams,
    *,
    form: dict[str, str],
    errors: list[str] | None = None,
) -> Response:
    try:
        account = await handlers.read_account(sid, accounts=upstreams.accounts)
        options = await upgrade_options(sid, upstreams=upstreams)
    except ProblemError as error:
        return problem_page(request, error)
    context = {
        "account": account,
        "options": options,
        "form": form,
        "session": cookies(request).read(request),
        "errors": errors or [],
        "manual": forms.MANUAL_ADDRESS,
    }
    return render(request, "upgrade.html", context, status_code=422 if errors else 200)
