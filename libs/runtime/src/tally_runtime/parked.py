"""The operator's command for parked records: count them, read them, send them again.

    python -m tally_runtime.parked --service usage count
    python -m tally_runtime.parked --service usage list [--limit 20]
    python -m tally_runtime.parked --service usage replay ID [ID ...]

The database is the service's own (`TALLY_<SERVICE>_DATABASE_URL`, else the development
default), or `--database-url`. Replaying publishes the record's original key and bytes to its
topic again, so it goes through the service's ordinary path (handlers are safe to run twice),
and marks it replayed; fix what made it fail first.
"""

import asyncio
import os
from collections.abc import Awaitable, Callable

import asyncpg
import click

from tally_runtime import parking
from tally_runtime.kafka import make_producer
from tally_runtime.settings import ServiceSettings

DEFAULT_URL = "postgresql://tally:tally@127.0.0.1:15432/tally_{service}"


def _database_url(service: str, given: str | None) -> str:
    variable = f"TALLY_{service.upper()}_DATABASE_URL"
    return given or os.environ.get(variable) or DEFAULT_URL.format(service=service)


def _with_connection(url: str, work: Callable[[asyncpg.Connection], Awaitable[None]]) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(url)
        try:
            await work(conn)
        finally:
            await conn.close()

    asyncio.run(run())


@click.group()
@click.option("--service", required=True, help="usage, invoicing, notifications, ...")
@click.option("--database-url", default=None, help="the service's database, if not the default")
@click.pass_context
def main(context: click.Context, service: str, database_url: str | None) -> None:
    """Records a service's consumer parked because they failed every try."""
    context.obj = _database_url(service, database_url)


@main.command()
@click.pass_obj
def count(url: str) -> None:
    """How many parked records wait (replayed ones are not counted)."""

    async def show(conn: asyncpg.Connection) -> None:
        click.echo(await parking.count_parked(conn))

    _with_connection(url, show)


@main.command(name="list")
@click.option("--limit", default=100, show_default=True)
@click.pass_obj
def list_records(url: str, limit: int) -> None:
    """The parked records, oldest first: where each came from, why it failed, its bytes."""

    async def show(conn: asyncpg.Connection) -> None:
        for record in await parking.list_parked(conn, limit=limit):
            state = f"replayed {record.replayed_at:%Y-%m-%d %H:%M:%S}" if record.replayed_at else ""
            click.echo(
                f"#{record.id} {record.topic}[{record.partition}]@{record.offset}"
                f" tried {record.attempts}x, parked {record.parked_at:%Y-%m-%d %H:%M:%S} {state}"
            )
            click.echo(f"  error: {record.error}")
            click.echo(f"  key:   {record.key!r}")
            click.echo(f"  value: {record.value[:500]!r}")

    _with_connection(url, show)


@main.command()
@click.argument("ids", nargs=-1, type=int, required=True)
@click.pass_obj
def replay(url: str, ids: tuple[int, ...]) -> None:
    """Publish parked records to their topics again and mark them replayed."""

    async def send(conn: asyncpg.Connection) -> None:
        wanted = await parking.parked_by_id(conn, ids)
        producer = make_producer("ops", ServiceSettings())
        await producer.start()
        try:
            for parked_id in ids:
                record = wanted.get(parked_id)
                if record is None or record.replayed_at is not None:
                    click.echo(f"#{parked_id}: not parked, or replayed already; skipped")
                    continue
                await producer.send_and_wait(record.topic, record.value, key=record.key)
                await parking.mark_replayed(conn, parked_id)
                click.echo(f"#{parked_id}: sent again to {record.topic}")
        finally:
            await producer.stop()

    _with_connection(url, send)


if __name__ == "__main__":
    main()
