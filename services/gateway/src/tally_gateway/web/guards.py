"""What every `/billing` route may ask for: the session, a CSRF-checked form, the services.

The session's SID is the only account a route ever reads or changes; a POST is refused
(`FormRefused`, a 403 page) unless its form carries the session's CSRF token.
"""

from typing import Annotated

from fastapi import Depends, Request

from tally_gateway.dependencies import (
    Accounts,
    AccountsService,
    InvoicingService,
    NotificationsService,
    UsageService,
)
from tally_gateway.web.reads import Upstreams
from tally_gateway.web.session import CSRF_FIELD, Session, SessionCookies


def cookies(request: Request) -> SessionCookies:
    """The app's session cookie reader and writer (`install` put it on the app's state)."""
    found: SessionCookies = request.app.state.session_cookies
    return found


async def _upstreams(
    accounts: Accounts,
    accounts_api: AccountsService,
    usage: UsageService,
    invoicing: InvoicingService,
    notifications: NotificationsService,
) -> Upstreams:
    return Upstreams(accounts, accounts_api, usage, invoicing, notifications)


Services = Annotated[Upstreams, Depends(_upstreams)]


class SignInNeeded(Exception):
    """No signed-in session: the browser is sent to the sign-in form."""


class FormRefused(Exception):
    """A POST without this session's CSRF token: refused before anything is read or done."""


async def _session(request: Request) -> Session | None:
    return cookies(request).read(request)


async def _signed_in(request: Request) -> str:
    session = cookies(request).read(request)
    if session is None or session.sid is None:
        raise SignInNeeded
    return session.sid


async def _checked_form(request: Request) -> dict[str, str]:
    """The POSTed form, once its CSRF token proved it came from this session's page."""
    session = cookies(request).read(request)
    form = await request.form()
    fields = {name: value for name, value in form.items() if isinstance(value, str)}
    if session is None or not session.accepts(fields.get(CSRF_FIELD)):
        raise FormRefused
    return fields


SignedInSid = Annotated[str, Depends(_signed_in)]
CheckedForm = Annotated[dict[str, str], Depends(_checked_form)]
CurrentSession = Annotated[Session | None, Depends(_session)]
