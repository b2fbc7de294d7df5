"""The billing page (`/billing`): server-rendered HTML over the same reads as the JSON API."""

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from tally_runtime.problems import ProblemError

from tally_gateway.config import Settings
from tally_gateway.web import actions, routes
from tally_gateway.web.guards import FormRefused, SignInNeeded
from tally_gateway.web.pages import STATIC, render
from tally_gateway.web.session import SessionCookies


def install(app: FastAPI, settings: Settings) -> None:
    """Serve `/billing`, its static files and its session cookies from the gateway `app`."""
    app.state.session_cookies = SessionCookies(settings)
    app.include_router(routes.router)
    app.include_router(actions.router)
    app.mount("/billing/static", StaticFiles(directory=STATIC), name="billing-static")
    app.add_exception_handler(SignInNeeded, _to_sign_in)
    app.add_exception_handler(FormRefused, _form_refused)


async def _to_sign_in(request: Request, _error: Exception) -> Response:
    return RedirectResponse("/billing/sign-in", status_code=303)


async def _form_refused(request: Request, _error: Exception) -> Response:
    problem = ProblemError(
        403, "Form expired", "This form is no longer valid: reload the page and send it again."
    )
    return render(request, "error.html", {"problem": problem.problem}, status_code=403)
