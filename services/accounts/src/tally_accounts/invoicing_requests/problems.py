"""How the invoicing requests' domain refusals reach an API caller: RFC 9457 problems."""

import contextlib
from collections.abc import Iterator

from tally_contracts.errors import FieldError
from tally_runtime.problems import ProblemError

from tally_accounts.invoicing_requests.domain import (
    AccountNotFound,
    IdempotencyKeyReused,
    IllegalStep,
    OpenRequestExists,
    RequestNotFound,
    SpendBelowMinimum,
)


def _invalid(field: str, reason: str) -> ProblemError:
    return ProblemError(
        422, "Invalid request", f"{field}: {reason}", [FieldError(field=field, reason=reason)]
    )


@contextlib.contextmanager
def as_problem() -> Iterator[None]:
    """Turn a domain refusal raised inside into the problem the caller gets."""
    try:
        yield
    except RequestNotFound as missing:
        raise ProblemError(404, "Invoicing request not found", f"no request {missing}") from None
    except AccountNotFound:
        raise _invalid("account_sid", "no account has this SID") from None
    except SpendBelowMinimum as below:
        raise _invalid("committed_annual_spend", str(below)) from None
    except IllegalStep as illegal:
        raise ProblemError(409, "Step not allowed", str(illegal), allowed=illegal.allowed) from None
    except OpenRequestExists as open_request:
        raise ProblemError(409, "An invoicing request is open", str(open_request)) from None
    except IdempotencyKeyReused:
        raise ProblemError(
            409, "Idempotency-Key reused", "this key created a request from another body"
        ) from None
