"""`tally usage send FILE` and `tally usage receipts`."""

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from tally_sdk.acks import Ack
from tally_sdk.cli_support import Config, echo_json, run
from tally_sdk.events import batches
from tally_sdk.files import FileFormatError, read_events
from tally_sdk.http_client import MAX_EVENTS_PER_REQUEST, Receipt
from tally_sdk.kafka_publisher import KafkaUsagePublisher
from tally_sdk.summary import render, summarize

RECEIPT_POLL_SECONDS = 0.5


@click.group()
def usage() -> None:
    """Send usage events and find out what became of them."""


def _events_of(path: Path, format: str | None) -> list[dict[str, Any]]:
    try:
        return read_events(path, format)
    except (FileFormatError, UnicodeDecodeError) as error:
        raise click.ClickException(str(error)) from None


@usage.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", type=click.Choice(["jsonl", "csv"]), help="default: from the suffix")
@click.option(
    "--batch-size",
    default=MAX_EVENTS_PER_REQUEST,
    show_default=True,
    type=click.IntRange(1, MAX_EVENTS_PER_REQUEST),
    help="events per request",
)
@click.option(
    "--wait",
    "wait_seconds",
    type=float,
    default=0.0,
    help="then wait up to this long for every accepted event to be recorded",
)
@click.pass_obj
def send(
    config: Config, file: Path, format: str | None, batch_size: int, wait_seconds: float
) -> None:
    """Send the usage events of FILE (JSON Lines, or CSV with a header row).

    Events are checked against the usage contract first; invalid ones are listed and not sent.
    Over HTTP (the default) events Tally had recorded already are counted as duplicates; with
    --kafka-bootstrap they are published to usage.events.v1 directly. Exit status 1 if any
    event was refused or failed.
    """
    events = _events_of(file, format)
    if not events:
        raise click.ClickException(f"{file}: no events")
    if config.kafka_bootstrap:
        acks, recorded = _publish(config, events), set[str]()
    else:
        acks, recorded = _send_http(config, events, batch_size)
    summary = summarize(acks, recorded)
    for line in render(summary):
        click.echo(line)
    if wait_seconds > 0 and summary.accepted and not config.kafka_bootstrap:
        _wait_recorded(config, [a.event_id for a in acks if a.event_id], wait_seconds)
    if not summary.ok:
        raise SystemExit(1)


def _send_http(
    config: Config, events: list[dict[str, Any]], batch_size: int
) -> tuple[list[Ack], set[str]]:
    async def send_all(bar: Any) -> tuple[list[Ack], set[str]]:
        async with config.usage_client(batch_size=batch_size) as client:
            ids = [e["event_id"] for e in events if isinstance(e.get("event_id"), str)]
            # Asked before sending: what is recorded already is a duplicate, counted once.
            recorded = {r.event_id for r in await client.receipts(ids) if r.status == "recorded"}
            return await client.send(events, on_batch=bar.update), recorded

    with click.progressbar(length=len(events), label="sending", file=sys.stderr) as bar:
        return run(send_all(bar))


def _publish(config: Config, events: list[dict[str, Any]]) -> list[Ack]:
    assert config.kafka_bootstrap is not None
    if config.account_sid:  # as over HTTP, the account may be left out of each event
        events = [{"account_sid": config.account_sid, **event} for event in events]

    async def publish_all(update: Callable[[int], None]) -> list[Ack]:
        acks: list[Ack] = []
        async with KafkaUsagePublisher(str(config.kafka_bootstrap)) as publisher:
            for start, chunk in enumerate(batches(events, MAX_EVENTS_PER_REQUEST)):
                offset = start * MAX_EVENTS_PER_REQUEST
                for ack in await publisher.send(chunk):
                    acks.append(replace(ack, index=ack.index + offset))
                update(len(chunk))
        return acks

    with click.progressbar(length=len(events), label="publishing", file=sys.stderr) as bar:
        return run(publish_all(bar.update))


def _wait_recorded(config: Config, event_ids: list[str], within: float) -> None:
    async def poll() -> list[Receipt]:
        async with config.usage_client() as client:
            deadline = time.monotonic() + within
            while True:
                receipts = await client.receipts(event_ids)
                if time.monotonic() > deadline or all(r.status != "unknown" for r in receipts):
                    return receipts
                await asyncio.sleep(RECEIPT_POLL_SECONDS)

    receipts = run(poll())
    counts: dict[str, int] = {}
    for receipt in receipts:
        counts[receipt.status] = counts.get(receipt.status, 0) + 1
    click.echo("receipts:   " + ", ".join(f"{status} {n}" for status, n in sorted(counts.items())))


@usage.command()
@click.argument("event_ids", nargs=-1)
@click.option(
    "--file",
    "from_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="ask for every event id of this JSONL or CSV file",
)
@click.option("--json", "as_json", is_flag=True, help="print the API's JSON")
@click.pass_obj
def receipts(
    config: Config, event_ids: tuple[str, ...], from_file: Path | None, as_json: bool
) -> None:
    """What became of each EVENT_ID: recorded (with duplicates, conflicts), rejected, unknown."""
    ids = list(event_ids)
    if from_file:
        ids += [str(e["event_id"]) for e in _events_of(from_file, None) if "event_id" in e]
    if not ids:
        raise click.UsageError("name event ids, or --file")

    async def fetch() -> list[Receipt]:
        async with config.usage_client() as client:
            return await client.receipts(ids)

    found = run(fetch())
    if as_json:
        echo_json({"receipts": [vars(r) for r in found]})
        return
    for r in found:
        why = f"  {r.field}: {r.reason}" if r.status == "rejected" else ""
        click.echo(
            f"{r.event_id}  {r.status}  duplicates={r.duplicates} conflicts={r.conflicts}{why}"
        )
