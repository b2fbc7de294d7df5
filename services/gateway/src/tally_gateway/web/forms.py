"""The page's forms as the API's request bodies: the same models, so the same rules.

A form posts strings; these functions turn them into the bodies the `/v1` routes take, and
the models refuse what the API would refuse, naming the field.
"""

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from tally_contracts.accounts import (
    AutoRechargeSettings,
    BillingPreferencesPatch,
    UpgradeRequest,
)
from tally_runtime.problems import ProblemError

from tally_gateway.schemas_balance import TopUpCreate

Form = Mapping[str, str]
ADDRESS_FIELDS = ("line1", "line2", "city", "region", "postal_code", "country")
MANUAL_ADDRESS = "manual"
"""The upgrade form's address choice that means "enter manually"."""


def _text(form: Form, name: str) -> str | None:
    value = form.get(name, "").strip()
    return value or None


def _address(form: Form, prefix: str) -> dict[str, str] | None:
    """The address typed into `<prefix>line1`, ...; None when every field was left empty."""
    typed = {name: _text(form, prefix + name) for name in ADDRESS_FIELDS}
    if not any(typed.values()):
        return None
    return {name: value for name, value in typed.items() if value is not None}


def top_up(form: Form) -> TopUpCreate:
    """`POST …/Balance/TopUps` from the top-up form."""
    return TopUpCreate.model_validate(
        {"amount": _text(form, "amount"), "card_token": _text(form, "card_token")}
    )


def auto_recharge(form: Form) -> AutoRechargeSettings:
    """`PUT …/AutoRecharge` from the auto-recharge form (a checkbox turns it on)."""
    body: dict[str, Any] = {"enabled": form.get("enabled") == "on"}
    for name in ("threshold", "amount", "card_token"):
        if (value := _text(form, name)) is not None:
            body[name] = value
    return AutoRechargeSettings.model_validate(body)


def billing_preferences(form: Form) -> BillingPreferencesPatch:
    """`PATCH …/BillingPreferences` from the preferences form: empty fields clear."""
    recipients = form.get("invoice_recipients", "").replace(",", "\n").split()
    return BillingPreferencesPatch.model_validate(
        {
            "mailing_address": _address(form, "mailing_"),
            "po_number": _text(form, "po_number"),
            "invoice_recipients": recipients,
        }
    )


def upgrade(form: Form) -> UpgradeRequest:
    """`POST …/Upgrade` from the upgrade form: the method, the address, the card."""
    chosen = form.get("address_id", "")
    body: dict[str, Any] = {"method": form.get("method", "")}
    if chosen == MANUAL_ADDRESS:
        body["address"] = _address(form, "address_")
    elif chosen:
        body["address_id"] = chosen
    if body["method"] == "pay_as_you_go":
        if (amount := _text(form, "top_up_amount")) is not None:
            body["top_up"] = {"amount": amount, "card_token": _text(form, "card_token")}
        if form.get("auto_recharge") == "on":
            body["auto_recharge"] = {
                "threshold": _text(form, "recharge_threshold"),
                "amount": _text(form, "recharge_amount"),
                "card_token": _text(form, "card_token"),
            }
    return UpgradeRequest.model_validate(body)


def error_messages(error: ValidationError | ProblemError) -> list[str]:
    """What went wrong, in words a person can act on, naming the field."""
    if isinstance(error, ValidationError):
        return [
            f"{'.'.join(str(part) for part in detail['loc']) or 'form'}: {detail['msg']}"
            for detail in error.errors()
        ]
    problem = error.problem
    named = [f"{found.field}: {found.reason}" for found in problem.errors or []]
    return [problem.detail or problem.title, *named]
