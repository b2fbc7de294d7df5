"""Asking invoicing, over its internal HTTP API, to top up a balance or authorize a card."""

from dataclasses import dataclass
from decimal import Decimal

import httpx
from tally_runtime.http import SERVICE_TOKEN_HEADER
from tally_runtime.problems import Problem

from tally_accounts.config import Settings


class CardDeclined(Exception):
    """The payment provider refused the card; `field` is the request's field that named it."""

    def __init__(self, reason: str, field: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class PaymentInvalid(CardDeclined):
    """Invoicing refused the payment's terms (a 422: a token or amount it does not accept)."""


class PaymentConflict(Exception):
    """Invoicing refused the payment in the account's state (a 409: e.g. it is invoiced)."""


class InvoicingUnavailable(Exception):
    """Invoicing did not answer, or answered with an error of its own."""


@dataclass(frozen=True)
class TopUp:
    """A completed top-up and the balance after it."""

    top_up_id: str
    amount: Decimal
    balance: Decimal


class InvoicingClient:
    """A client of invoicing's internal API, carrying the service token."""

    def __init__(self, settings: Settings) -> None:
        self._base_url = settings.invoicing_url
        self._timeout = settings.invoicing_timeout_seconds
        self._headers = {SERVICE_TOKEN_HEADER: settings.service_token.get_secret_value()}

    async def _post(self, path: str, body: dict[str, str], field: str) -> httpx.Response:
        try:
            async with httpx.AsyncClient(
                base_url=self._base_url, headers=self._headers, timeout=self._timeout
            ) as http:
                response = await http.post(path, json=body)
        except httpx.HTTPError as error:
            raise InvoicingUnavailable(f"{type(error).__name__}: {error}") from error
        if response.status_code == httpx.codes.PAYMENT_REQUIRED:
            raise CardDeclined(_reason(response), field)
        if response.status_code == httpx.codes.UNPROCESSABLE_ENTITY:
            raise PaymentInvalid(_reason(response), field)
        if response.status_code == httpx.codes.CONFLICT:
            raise PaymentConflict(_reason(response))
        if not response.is_success:
            raise InvoicingUnavailable(f"invoicing answered {response.status_code}")
        return response

    async def top_up(
        self, sid: str, *, top_up_id: str, amount: Decimal, card_token: str, field: str
    ) -> TopUp:
        """Charge the card and credit the balance, once per `top_up_id` (a retry is safe)."""
        response = await self._post(
            f"/accounts/{sid}/top-ups",
            {"top_up_id": top_up_id, "amount": str(amount), "card_token": card_token},
            field,
        )
        answer = response.json()
        return TopUp(
            top_up_id=answer["top_up_id"],
            amount=Decimal(answer["amount"]),
            balance=Decimal(answer["balance"]),
        )

    async def authorize_card(self, card_token: str, *, field: str) -> None:
        """Return if the provider would accept the card; CardDeclined if not."""
        response = await self._post("/cards/authorizations", {"card_token": card_token}, field)
        answer = response.json()
        if not answer.get("approved"):
            raise CardDeclined(answer.get("reason") or "the card was declined", field)


def _reason(response: httpx.Response) -> str:
    try:
        problem = Problem.model_validate_json(response.content)
    except ValueError:
        return "the card was declined"
    return problem.detail or problem.title
