"""The e-mails' wording: one Jinja2 template per kind, in `templates/<kind>.txt`.

A template's first line is the subject, the rest (after blank lines) the plain-text body. The
variables are the delivery's `body`; `StrictUndefined` makes a missing one an error (the
delivery fails, saying which variable) instead of an e-mail with a blank where the amount
should be. Two filters put what the decision side computed into words: `money` (a decimal
string with the `currency` variable, or an `{amount, currency}` object) and `local_date` (a
`YYYY-MM-DD` local date as it is, or an RFC 3339 instant turned into the date in the
`time_zone` variable's zone).
"""

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2

_LOCAL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_BLANK_LINES = re.compile(r"\n{3,}")


class TemplateFailed(Exception):
    """The e-mail cannot be worded from these variables; trying again will not help."""


@dataclass(frozen=True)
class Email:
    subject: str
    text: str


def _defined(value: Any) -> None:
    if isinstance(value, jinja2.Undefined):
        str(value)  # a StrictUndefined raises here, naming the missing variable


@jinja2.pass_context
def _money(context: jinja2.runtime.Context, value: Any) -> str:
    _defined(value)
    if isinstance(value, dict):
        amount, currency = value.get("amount"), value.get("currency")
    else:
        amount, currency = value, context.get("currency")
    if not currency:
        raise TemplateFailed(f"the amount {amount!r} has no currency")
    try:
        # Only a decimal string is an amount: a float would print its binary rounding.
        if not isinstance(amount, str):
            raise InvalidOperation
        Decimal(amount)
    except InvalidOperation:
        raise TemplateFailed(f"{amount!r} is not a decimal string") from None
    return f"{amount} {currency}"


@jinja2.pass_context
def _local_date(context: jinja2.runtime.Context, value: Any) -> str:
    _defined(value)
    text = str(value)
    if _LOCAL_DATE.fullmatch(text):
        return text
    zone = context.get("time_zone")
    if not zone:
        raise TemplateFailed(f"{text!r} is an instant, and there is no time_zone to date it in")
    try:
        return datetime.fromisoformat(text).astimezone(ZoneInfo(str(zone))).date().isoformat()
    except (ValueError, ZoneInfoNotFoundError) as error:
        raise TemplateFailed(f"cannot date {text!r} in {zone!r}: {error}") from None


_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("tally_notifications.delivery", "templates"),
    undefined=jinja2.StrictUndefined,
    autoescape=jinja2.select_autoescape(["html"]),  # plain-text e-mails: nothing to escape
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_ENVIRONMENT.filters["money"] = _money
_ENVIRONMENT.filters["local_date"] = _local_date


def kinds() -> list[str]:
    """Every kind there is a template for."""
    return sorted(name.removesuffix(".txt") for name in _ENVIRONMENT.list_templates(["txt"]))


def render_email(kind: str, variables: dict[str, Any], subject: str | None = None) -> Email:
    """The e-mail about `kind` with `variables`; `subject`, when given, replaces the template's."""
    try:
        template = _ENVIRONMENT.get_template(f"{kind}.txt")
        rendered = template.render(variables)
    except jinja2.TemplateNotFound:
        raise TemplateFailed(f"no e-mail template for {kind!r}") from None
    except jinja2.UndefinedError as error:
        raise TemplateFailed(f"the {kind} e-mail needs a variable: {error.message}") from None
    # A line holding only a block tag leaves an empty line: paragraphs are one blank line apart.
    tidy = _BLANK_LINES.sub("\n\n", rendered).strip("\n")
    first_line, _, text = tidy.partition("\n")
    return Email(subject=subject or first_line.strip(), text=text.lstrip("\n") + "\n")
