"""The public REST API (CONTRACTS.md §3): thin routes over the handlers, one module per area."""

from fastapi import APIRouter

from tally_gateway.api import (
    accounts,
    balance,
    billing,
    billing_settings,
    invoices,
    invoicing_requests,
    keys,
    notifications,
    ops_money,
    upgrade,
    usage,
    usage_ops,
    usage_reports,
    webhook_secret,
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
    invoices,
    billing,
    ops_money,
    webhook_secret,
    notifications,
):
    router.include_router(area.router)
