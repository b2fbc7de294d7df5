"""The bodies of the invoicing-request routes, shared with accounts, and who the ops caller is.

The bodies live in `tally_contracts.invoicing_requests`, so the gateway and the accounts
service validate them alike. The accounts service records the ops caller (the `created` step,
every credit-check read) by the key's fingerprint, never by the key.
"""

import hashlib
import re
from typing import Annotated

from fastapi import Depends, Path
from tally_contracts.invoicing_requests import (
    ActivationPost,
    CreditCheckPost,
    CreditCheckRecord,
    DecisionPost,
    InformationRequestPost,
    InvoicingRequestCreate,
    InvoicingRequestList,
    InvoicingRequestPublic,
    PricingAgreed,
    RequestState,
)
from tally_runtime.problems import ProblemError

from tally_gateway.dependencies import SettingsDep, ops_caller

__all__ = [
    "ActivationPost",
    "CreditCheckPost",
    "CreditCheckRecord",
    "DecisionPost",
    "InformationRequestPost",
    "InvoicingRequestCreate",
    "InvoicingRequestList",
    "InvoicingRequestPublic",
    "OpsCaller",
    "PricingAgreed",
    "RequestId",
    "RequestState",
    "ops_identity",
]

_REQUEST_ID = re.compile(r"IR[0-9a-f]{32}")


async def ops_identity(_: Annotated[None, Depends(ops_caller)], settings: SettingsDep) -> str:
    """`ops-key:` and 12 hex digits of the ops key's SHA-256, once the key is checked."""
    digest = hashlib.sha256(settings.ops_key.get_secret_value().encode()).hexdigest()
    return f"ops-key:{digest[:12]}"


async def _request_id(request_id: Annotated[str, Path(description="`IR` + 32 hex")]) -> str:
    # Anything else names no request; it is never put into the path of an internal call.
    if not _REQUEST_ID.fullmatch(request_id):
        raise ProblemError(404, "Invoicing request not found", f"no request {request_id}")
    return request_id


OpsCaller = Annotated[str, Depends(ops_identity)]
"""The checked ops caller's fingerprint."""
RequestId = Annotated[str, Depends(_request_id)]
"""The path's request id, well formed."""
