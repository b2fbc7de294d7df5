"""`tally ops ...`: snapshots, billing runs and parked records, with the ops key."""

import re
from datetime import UTC, datetime
from typing import Any

import click

from tally_sdk.cli_support import Config, echo_json, run

SERVICES = ("accounts", "usage", "invoicing", "notifications")
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


@click.group()
def ops() -> None:
    """Operations through the gateway (needs TALLY_OPS_KEY)."""


@ops.command()
@click.option("--as-of", help="an instant, RFC 3339 with its offset (default: now)")
@click.pass_obj
def snapshot(config: Config, as_of: str | None) -> None:
    """Take every account's usage snapshot due at --as-of: the day before, through that day."""
    instant = datetime.now(UTC)
    if as_of:
        try:
            instant = datetime.fromisoformat(as_of)
        except ValueError:
            raise click.BadParameter("an RFC 3339 instant", param_hint="--as-of") from None
        if instant.tzinfo is None:
            raise click.BadParameter("needs its offset or Z", param_hint="--as-of")

    async def take() -> dict[str, Any]:
        async with config.ops_client() as client:
            return await client.usage_snapshots(instant)

    echo_json(run(take()))


@ops.command(name="billing-run")
@click.argument("month")
@click.pass_obj
def billing_run(config: Config, month: str) -> None:
    """Close MONTH (YYYY-MM) into invoices for every account whose local month has ended."""
    if not _MONTH.fullmatch(month):
        raise click.BadParameter("YYYY-MM", param_hint="MONTH")

    async def close() -> dict[str, Any]:
        async with config.ops_client() as client:
            return await client.billing_run(month)

    echo_json(run(close()))


@ops.group()
def parked() -> None:
    """Records a service's consumer parked after failing every try."""


@parked.command(name="list")
@click.option(
    "--service", type=click.Choice(SERVICES), multiple=True, help="default: every service"
)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="print the API's JSON")
@click.pass_obj
def list_parked(config: Config, service: tuple[str, ...], limit: int, as_json: bool) -> None:
    """The parked records, oldest first, with their errors."""
    services = service or SERVICES

    async def fetch() -> dict[str, dict[str, Any]]:
        async with config.ops_client() as client:
            return {name: await client.parked_records(name, limit=limit) for name in services}

    found = run(fetch())
    if as_json:
        echo_json(found)
        return
    for name, answer in found.items():
        click.echo(f"{name}: {answer['waiting']} waiting")
        for record in answer["records"]:
            state = f", replayed {record['replayed_at']}" if record["replayed_at"] else ""
            click.echo(
                f"  #{record['id']} {record['topic']}[{record['partition']}]@{record['offset']}"
                f" tried {record['attempts']}x, parked {record['parked_at']}{state}"
            )
            click.echo(f"    error: {record['error']}")
            click.echo(f"    value: {record['value'][:200]}")


@parked.command()
@click.argument("parked_id", type=int)
@click.option("--service", type=click.Choice(SERVICES), required=True)
@click.pass_obj
def replay(config: Config, parked_id: int, service: str) -> None:
    """Publish parked record PARKED_ID to its topic again (fix what made it fail first)."""

    async def send() -> dict[str, Any]:
        async with config.ops_client() as client:
            return await client.replay_parked(service, parked_id)

    answer = run(send())
    click.echo(f"#{answer['id']}: sent again to {answer['topic']}")
