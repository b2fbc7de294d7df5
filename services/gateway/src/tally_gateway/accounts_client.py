"""The accounts service's internal HTTP API, as the gateway calls it."""

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError
from tally_contracts.accounts import AccountStatus, BillingMode
from tally_runtime.problems import Problem, ProblemError

from tally_gateway.schemas import AccountCreate


class UpstreamAccount(BaseModel):
    """An account as the accounts service returns it (the fields the gateway uses)."""

    model_config = ConfigDict(extra="ignore")

    sid: str
    owner: str
    friendly_name: str
    time_zone: str
    status: AccountStatus
    billing_mode: BillingMode


class AccountsUnavailable(ProblemError):
    """The accounts service did not answer, or answered with an error of its own (5xx)."""

    def __init__(self, detail: str) -> None:
        super().__init__(503, "Accounts service unavailable", detail=detail)


class AccountsClient:
    """Calls `POST /accounts` and `GET /accounts/{sid}`; their problems reach the caller as-is.

    The http client carries the service token the accounts service requires.
    """

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def open(self, request: AccountCreate, *, sid: str) -> UpstreamAccount:
        """Open the account `sid`, or find it if this same request opened it already."""
        response = await self._send("POST", "/accounts", {**request.model_dump(), "sid": sid})
        return self._account_from(response)

    async def find(self, sid: str) -> UpstreamAccount | None:
        """The account with this SID, or None."""
        response = await self._send("GET", f"/accounts/{sid}")
        if response.status_code == httpx.codes.NOT_FOUND:
            return None
        return self._account_from(response)

    async def _send(self, method: str, path: str, body: object = None) -> httpx.Response:
        try:
            response = await self._http.request(method, path, json=body)
        except httpx.HTTPError as error:
            raise AccountsUnavailable(f"{type(error).__name__}: {error}") from error
        if response.status_code >= httpx.codes.INTERNAL_SERVER_ERROR:
            raise AccountsUnavailable(f"it answered {response.status_code}")
        if response.status_code == httpx.codes.UNAUTHORIZED:
            # The gateway's own misconfiguration (service token); not the caller's to fix.
            raise AccountsUnavailable("it refused the gateway's service token")
        return response

    @staticmethod
    def _account_from(response: httpx.Response) -> UpstreamAccount:
        if response.is_client_error:
            raise _relayed(response)
        try:
            return UpstreamAccount.model_validate_json(response.content)
        except ValidationError as error:
            raise AccountsUnavailable(f"unexpected answer: {error}") from error


def _relayed(response: httpx.Response) -> ProblemError:
    """The accounts service's own problem (a 422 naming the field) as the gateway's."""
    try:
        problem = Problem.model_validate_json(response.content)
    except ValidationError:
        problem = Problem(status=response.status_code, title=response.reason_phrase)
    return ProblemError(problem.status, problem.title, problem.detail, problem.errors)
