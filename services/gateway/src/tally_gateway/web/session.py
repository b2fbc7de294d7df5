"""The billing page's session: a signed cookie naming the signed-in account, and its CSRF token.

The cookie holds no secret, only `{sid, csrf}` signed with the gateway's session key, so a
browser can neither forge nor alter it. Every visitor gets one before signing in (the sign-in
form is CSRF-checked too); signing in replaces it with one naming the account and a new CSRF
token, signing out with an anonymous one.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from tally_gateway.config import Settings

COOKIE = "tally_billing_session"
MAX_AGE_SECONDS = 8 * 60 * 60
"""A session lasts a working day; then the page asks for the auth token again."""
CSRF_FIELD = "csrf_token"
_SALT = "tally-billing-page-session"


@dataclass(frozen=True)
class Session:
    """Who is signed in (`sid`, None before sign-in) and the token every form must carry."""

    sid: str | None
    csrf: str

    @classmethod
    def anonymous(cls) -> "Session":
        """A visitor's session before signing in: no account, a fresh CSRF token."""
        return cls(sid=None, csrf=secrets.token_urlsafe(32))

    @classmethod
    def signed_in(cls, sid: str) -> "Session":
        """The session of an account that just proved its credentials: a new CSRF token too."""
        return cls(sid=sid, csrf=secrets.token_urlsafe(32))

    def accepts(self, presented: str | None) -> bool:
        """Whether a form's CSRF token is this session's (compared in constant time)."""
        return presented is not None and hmac.compare_digest(presented, self.csrf)


def session_key(settings: Settings) -> bytes:
    """The key cookies are signed with: the configured secret, else one derived from the pepper."""
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value().encode()
    pepper = settings.token_pepper.get_secret_value().encode()
    return hmac.new(pepper, b"billing-page-session-key", hashlib.sha256).digest()


class SessionCookies:
    """Reads and writes the session cookie with the gateway's key and its environment's flags."""

    def __init__(self, settings: Settings) -> None:
        self._signer = URLSafeTimedSerializer(session_key(settings), salt=_SALT)
        # Plain HTTP only where a developer runs the gateway on localhost.
        self._secure = settings.environment != "development"

    def read(self, request: Request) -> Session | None:
        """The request's session, if its cookie is ours, unaltered and not expired."""
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return None
        try:
            data = self._signer.loads(cookie, max_age=MAX_AGE_SECONDS)
        except BadSignature:  # also an expired one (SignatureExpired is a BadSignature)
            return None
        if not isinstance(data, dict):
            return None
        sid, csrf = data.get("sid"), data.get("csrf")
        if not isinstance(csrf, str) or not (sid is None or isinstance(sid, str)):
            return None
        return Session(sid=sid, csrf=csrf)

    def write(self, response: Response, session: Session) -> None:
        """Set the cookie: signed, `HttpOnly`, `SameSite=Lax`, `Secure` outside development."""
        response.set_cookie(
            COOKIE,
            self._signer.dumps({"sid": session.sid, "csrf": session.csrf}),
            max_age=MAX_AGE_SECONDS,
            path="/billing",
            httponly=True,
            samesite="lax",
            secure=self._secure,
        )
