"""`/billing`: the billing page, its sign-in and its downloads (CONTRACTS.md §3, Pages).

Thin like the API's routes: read the session, check the form's CSRF token, call the same
functions the `/v1` routes call for the session's account, render or redirect. No URL names
an account: every read and write is for the session's SID. The forms are in `actions`.
"""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from tally_runtime.http import DatabasePool
from tally_runtime.problems import ProblemError

from tally_gateway import billing_reads, handlers, usage_reads
from tally_gateway.dependencies import InvoicingService, RequestClock, SettingsDep, UsageService
from tally_gateway.domain import BasicCredentials
from tally_gateway.schemas_money import MONTH_PATTERN
from tally_gateway.web.guards import CheckedForm, CurrentSession, Services, SignedInSid, cookies
from tally_gateway.web.pages import render
from tally_gateway.web.reads import Upstreams, billing_view
from tally_gateway.web.session import Session

router = APIRouter(prefix="/billing", include_in_schema=False)

NOTICES = {
    "top-up": "Your balance was topped up.",
    "auto-recharge": "Auto-recharge was saved.",
    "preferences": "Billing preferences were saved.",
    "upgraded": "Your account was upgraded.",
}
"""What a redirect after a successful form says; the URL names the notice, never its text."""
WRONG_CREDENTIALS = "That account SID and auth token do not match an account."
"""One message for any failed sign-in: it never says which of the two was wrong."""

Month = Annotated[str | None, Query(pattern=MONTH_PATTERN)]
Notice = Annotated[str | None, Query(pattern=r"^[a-z-]{1,20}$")]
InvoiceId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_:-]{1,128}$")]


@router.get("", response_class=HTMLResponse)
async def billing_page(
    request: Request,
    sid: SignedInSid,
    upstreams: Services,
    clock: RequestClock,
    month: Month = None,
    done: Notice = None,
) -> Response:
    """The billing page for a local month (default: the current one)."""
    return await page(request, sid, upstreams, clock, month, notice=NOTICES.get(done or ""))


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(request: Request, session: CurrentSession) -> Response:
    """The sign-in form: account SID and auth token."""
    session = session if session is not None and session.sid is None else Session.anonymous()
    response = render(request, "sign_in.html", {"session": session})
    cookies(request).write(response, session)
    return response


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(
    request: Request,
    form: CheckedForm,
    pool: DatabasePool,
    settings: SettingsDep,
) -> Response:
    """Check the credentials as HTTP Basic is checked; a good pair starts a session."""
    pepper = settings.token_pepper.get_secret_value().encode()
    account_sid = form.get("account_sid", "").strip()
    credentials = BasicCredentials(account_sid, form.get("auth_token", "").strip())
    sid = (
        await handlers.authenticate(credentials, pool=pool, pepper=pepper)
        if credentials.username and credentials.password
        else None
    )
    response: Response
    if sid is None:
        session = Session.anonymous()
        context = {"session": session, "errors": [WRONG_CREDENTIALS], "account_sid": account_sid}
        # 200, not 401: a form page, not an HTTP challenge (a 401 wants WWW-Authenticate, and
        # browsers log it as a failed resource).
        response = render(request, "sign_in.html", context)
    else:
        session = Session.signed_in(sid)
        response = RedirectResponse("/billing", status_code=303)
    cookies(request).write(response, session)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, _form: CheckedForm) -> Response:
    """End the session: the cookie no longer names the account."""
    response = RedirectResponse("/billing/sign-in", status_code=303)
    cookies(request).write(response, Session.anonymous())
    return response


@router.get("/invoices/{invoice_id}.pdf")
async def invoice_pdf(
    sid: SignedInSid, invoice_id: InvoiceId, invoicing: InvoicingService
) -> Response:
    """One of the account's invoices as a PDF; another account's is a 404, like none."""
    return await billing_reads.invoice_pdf(sid, invoice_id, invoicing=invoicing)


@router.get("/number-usage.csv")
async def number_usage_csv(sid: SignedInSid, usage: UsageService, month: Month = None) -> Response:
    """The number usage report of a local month as CSV, built now."""
    return await usage_reads.number_usage_csv(sid, month, usage=usage)


async def page(
    request: Request,
    sid: str,
    upstreams: Upstreams,
    clock: RequestClock,
    month: str | None,
    *,
    notice: str | None = None,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    try:
        view = await billing_view(sid, month, upstreams=upstreams, now=clock())
    except ProblemError as error:
        return problem_page(request, error)
    session = cookies(request).read(request)
    context: dict[str, Any] = {
        "view": view,
        "session": session,
        "notice": notice,
        "errors": errors or [],
        "top_up_key": uuid.uuid4().hex,
    }
    return render(request, "billing.html", context, status_code=status_code)


def problem_page(request: Request, error: ProblemError) -> Response:
    """A service behind the page failed or does not know the account yet: say so, in HTML."""
    problem = error.problem
    return render(request, "error.html", {"problem": problem}, status_code=problem.status)
