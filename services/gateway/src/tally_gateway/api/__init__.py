"""The public REST API (CONTRACTS.md §3): thin routes over the handlers, one module per area."""

from fastapi import APIRouter

from tally_gateway.api import accounts, usage

router = APIRouter()
for area in (accounts, usage):
    router.include_router(area.router)
