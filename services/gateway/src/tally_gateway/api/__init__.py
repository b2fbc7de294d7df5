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
    ops_parked,
    upgrade,
    usage,
    usage_ops,
    usage_reports,
    webhook_secret,
)
from tally_gateway.api.openapi import problems

# What any `/v1` route may answer: a body that is not text (400), bad credentials, a body too
# large, a bad request, past the rate limit, an error nobody expected. Each route adds its own
# (404, 409, 503...).
router = APIRouter(responses=problems(400, 401, 413, 422, 429, 500))
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
    ops_parked,
    webhook_secret,
    notifications,
):
    router.include_router(area.router)
