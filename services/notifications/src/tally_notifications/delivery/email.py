"""E-mail over SMTP (aiosmtplib) to the configured relay: `make up`'s local server by default."""

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from tally_notifications.delivery.policy import Delivery
from tally_notifications.delivery.templates import render_email


@dataclass(frozen=True)
class SmtpRelay:
    """Where e-mail is handed over, and how."""

    host: str
    port: int
    sender: str
    tls: str = "off"
    """`off` (the local server), `starttls` or `tls` (TLS from the first byte)."""
    username: str | None = None
    password: str | None = None
    timeout_seconds: float = 10.0


def message_of(delivery: Delivery, sender: str) -> EmailMessage:
    """The e-mail for a delivery, worded by its kind's template, to the delivery's recipient.

    Its Message-ID is derived from the delivery, so a resent copy (see docs/notifications.md)
    is recognisable as the same message.
    """
    variables = {"account_sid": delivery.account_sid, **delivery.body}
    email = render_email(delivery.kind, variables, delivery.subject or None)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = delivery.recipient
    message["Subject"] = email.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{delivery.delivery_id}@tally.notifications>"
    message.set_content(email.text)
    return message


async def send_email(relay: SmtpRelay, message: EmailMessage) -> None:
    """Hand the message to the relay; raises on any refusal or transport error."""
    await aiosmtplib.send(
        message,
        hostname=relay.host,
        port=relay.port,
        use_tls=relay.tls == "tls",
        # False, not None: None would upgrade whenever the server offers it.
        start_tls=relay.tls == "starttls",
        username=relay.username,
        password=relay.password,
        timeout=relay.timeout_seconds,
    )
