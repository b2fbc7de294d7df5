"""The public REST API (CONTRACTS.md §3): thin routes over the handlers, one module per area."""

from fastapi import APIRouter

from tally_gateway.api import (
    accounts,
    balance,
    billing_settings,
    invoicing_requests,
    keys,
    upgrade,
    usage,
    usage_ops,
    usage_reports,
)

router = APIRouter()
for area in (
    accounts,
    keys,
    upgrade,
    billing_settings,
    balance,
    usage,
    usage_reports,
    usage_ops,
    invoicing_requests,
):
    router.include_router(area.router)
