"""The producer SDK and the `tally` CLI against the whole system: Kafka, the gateway, the services.

Usage goes in through the SDK (over HTTP and straight onto Kafka) and the CLI (a JSONL and a CSV
file), and comes back as receipts through the gateway: recorded once, a resend counted as a
duplicate, an invalid event refused by the SDK with its field and never sent. The ops commands
run through the gateway with the ops key, parked records included.
"""

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from click.testing import CliRunner
from tally_contracts.topics import USAGE_RECORDED
from tally_sdk import AckStatus, KafkaUsagePublisher, OpsClient, Receipt, UsageClient
from tally_sdk.cli import main
from tally_testkit import eventually

from tests.e2e.system import OPS_KEY, System

TALLY = Path(sys.executable).parent / "tally"
CreateAccount = Callable[..., Awaitable[dict[str, Any]]]


def usage(count: int, prefix: str) -> list[dict[str, Any]]:
    occurred = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    return [
        {
            "event_id": f"{prefix}-{n}",
            "category": "sms-outbound",
            "quantity": "2",
            "occurred_at": occurred,
        }
        for n in range(count)
    ]


async def receipts_when_known(client: UsageClient, event_ids: list[str]) -> list[Receipt]:
    """The receipts once none is `unknown` any more (usage stores events asynchronously)."""

    async def probe() -> list[Receipt]:
        return await client.receipts(event_ids)

    return await eventually(probe, lambda found: all(r.status != "unknown" for r in found))


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


def tally(system: System, *args: str, **env: str) -> Ran:
    """Run the installed `tally` command as a user would, configured by the environment."""
    ran = subprocess.run(
        [str(TALLY), *args],
        env={**os.environ, "TALLY_URL": system.url("gateway"), **env},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    return Ran(ran.returncode, ran.stdout, ran.stderr)


async def tally_here(system: System, *args: str, **env: str) -> Ran:
    """The same command run in this process (a thread: it runs its own event loop).

    A new process costs a second of CPU for its imports; the commands' own work is the same.
    """
    variables = {"TALLY_URL": system.url("gateway"), "TALLY_OPS_KEY": None} | env
    result = await asyncio.to_thread(CliRunner().invoke, main, list(args), env=variables)
    return Ran(result.exit_code, result.stdout, result.stderr)


async def test_the_sdk_over_http_records_once_counts_a_resend_and_refuses_an_invalid_event(
    system: System, create_account: CreateAccount
) -> None:
    account = await create_account()
    events = usage(3, f"sdk-http-{uuid.uuid4().hex[:8]}")
    invalid = events[0] | {"event_id": events[0]["event_id"] + "-bad", "quantity": "-1"}
    async with UsageClient(
        system.url("gateway"), account["sid"], auth_token=account["auth_token"]
    ) as client:
        acks = await client.send([*events, invalid])
        assert [a.status for a in acks] == [AckStatus.ACCEPTED] * 3 + [AckStatus.INVALID]
        assert (acks[3].field, acks[3].reason) == ("quantity", "must be at least 0")

        ids = [e["event_id"] for e in events]
        first = await receipts_when_known(client, ids)
        assert [(r.status, r.duplicates) for r in first] == [("recorded", 0)] * 3
        (never_sent,) = await client.receipts([invalid["event_id"]])
        assert never_sent.status == "unknown"

        again = await client.send(events)
        assert {a.status for a in again} == {AckStatus.ACCEPTED}

        async def duplicates() -> list[int]:
            return [r.duplicates for r in await client.receipts(ids)]

        await eventually(duplicates, lambda counts: counts == [1, 1, 1])


async def test_the_sdk_over_kafka_acks_each_event_and_tally_records_it_once(
    system: System, create_account: CreateAccount
) -> None:
    account = await create_account()
    sid = account["sid"]
    events = [e | {"account_sid": sid} for e in usage(3, f"sdk-kafka-{uuid.uuid4().hex[:8]}")]
    invalid = events[0] | {"event_id": events[0]["event_id"] + "-bad", "category": "fax"}
    async with KafkaUsagePublisher(system.kafka_bootstrap) as publisher:
        acks = await publisher.send([*events, invalid])
        assert [a.status for a in acks] == [AckStatus.ACCEPTED] * 3 + [AckStatus.INVALID]
        assert acks[3].field == "category"
        # One account, one key: one partition, in order.
        assert len({a.partition for a in acks[:3]}) == 1
        offsets = [a.offset for a in acks[:3]]
        assert offsets == sorted(offsets) and None not in offsets

        async with UsageClient(
            system.url("gateway"), sid, auth_token=account["auth_token"]
        ) as client:
            ids = [e["event_id"] for e in events]
            recorded = await receipts_when_known(client, ids)
            assert [(r.status, r.duplicates) for r in recorded] == [("recorded", 0)] * 3
            (never_sent,) = await client.receipts([invalid["event_id"]])
            assert never_sent.status == "unknown"

            await publisher.send(events)

            async def duplicates() -> list[int]:
                return [r.duplicates for r in await client.receipts(ids)]

            await eventually(duplicates, lambda counts: counts == [1, 1, 1])


async def test_the_cli_sends_jsonl_and_csv_files_and_reads_receipts(
    system: System, create_account: CreateAccount, tmp_path: Path
) -> None:
    account = await create_account()
    credentials = {"TALLY_ACCOUNT_SID": account["sid"], "TALLY_AUTH_TOKEN": account["auth_token"]}
    prefix = f"cli-{uuid.uuid4().hex[:8]}"
    jsonl_events = usage(2, f"{prefix}-j")
    jsonl_events.append(jsonl_events[0] | {"event_id": f"{prefix}-j-bad", "quantity": "0.1234567"})
    jsonl = tmp_path / "usage.jsonl"
    jsonl.write_text("".join(json.dumps(e) + "\n" for e in jsonl_events))
    csv_events = usage(2, f"{prefix}-c")
    csv = tmp_path / "usage.csv"
    csv.write_text(
        "event_id,category,quantity,occurred_at,attributes.region\n"
        + "".join(f"{e['event_id']},sms-outbound,2,{e['occurred_at']},eu\n" for e in csv_events)
    )

    sent = tally(system, "usage", "send", str(jsonl), "--wait", "30", **credentials)
    assert sent.returncode == 1, sent.stderr  # one event refused
    assert "accepted:   2 (new: 2, duplicates: 0)" in sent.stdout
    assert f"event #3 ({prefix}-j-bad, not sent): quantity: must have at most 6" in sent.stdout
    assert "receipts:   recorded 2" in sent.stdout
    assert account["auth_token"] not in sent.stdout + sent.stderr

    sent = tally(system, "usage", "send", str(csv), "--wait", "30", **credentials)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "accepted:   2 (new: 2, duplicates: 0)" in sent.stdout

    again = await tally_here(system, "usage", "send", str(csv), **credentials)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "accepted:   2 (new: 0, duplicates: 2)" in again.stdout

    asked = await tally_here(
        system, "usage", "receipts", "--json", "--file", str(jsonl), **credentials
    )
    assert asked.returncode == 0, asked.stderr
    statuses = {r["event_id"]: r["status"] for r in json.loads(asked.stdout)["receipts"]}
    assert statuses == {
        f"{prefix}-j-0": "recorded",
        f"{prefix}-j-1": "recorded",
        f"{prefix}-j-bad": "unknown",
    }

    kafka_events = usage(2, f"{prefix}-k")
    kafka_file = tmp_path / "kafka.jsonl"
    kafka_file.write_text("".join(json.dumps(e) + "\n" for e in kafka_events))
    published = await tally_here(
        system,
        "--kafka-bootstrap",
        system.kafka_bootstrap,
        "usage",
        "send",
        str(kafka_file),
        **credentials,
    )
    assert published.returncode == 0, published.stdout + published.stderr
    assert "accepted:   2" in published.stdout
    async with UsageClient(
        system.url("gateway"), account["sid"], auth_token=account["auth_token"]
    ) as client:
        recorded = await receipts_when_known(client, [e["event_id"] for e in kafka_events])
    assert [r.status for r in recorded] == ["recorded", "recorded"]

    listed = await tally_here(system, "notifications", account["sid"], "--json", **credentials)
    assert listed.returncode == 0, listed.stderr
    assert isinstance(json.loads(listed.stdout)["notifications"], list)

    wrong = await tally_here(
        system, "notifications", **credentials | {"TALLY_AUTH_TOKEN": "not-the-token"}
    )
    assert wrong.returncode == 1
    assert "401" in wrong.stderr
    assert "not-the-token" not in wrong.stdout + wrong.stderr


async def test_the_cli_runs_ops_jobs_and_replays_a_parked_record(
    system: System, producer: AIOKafkaProducer
) -> None:
    ops = {"TALLY_OPS_KEY": OPS_KEY}
    taken = tally(system, "ops", "snapshot", "--as-of", datetime.now(UTC).isoformat(), **ops)
    assert taken.returncode == 0, taken.stderr
    assert isinstance(json.loads(taken.stdout)["snapshots"], int)

    billed = await tally_here(system, "ops", "billing-run", "2020-01", **ops)
    assert billed.returncode == 0, billed.stderr
    assert json.loads(billed.stdout)["month"] == "2020-01"

    refused = await tally_here(system, "ops", "snapshot", **{"TALLY_OPS_KEY": "wrong"})
    assert refused.returncode == 1 and "401" in refused.stderr

    # Bytes no handler can read: invoicing tries them, then parks them and moves on.
    key = f"AC{uuid.uuid4().hex}"
    await producer.send_and_wait(USAGE_RECORDED, b"{not json", key=key.encode())

    async def parked_here() -> list[dict[str, Any]]:
        async with OpsClient(system.url("gateway"), OPS_KEY) as client:
            answer = await client.parked_records("invoicing")
        return [r for r in answer["records"] if r["key"] == key]

    (record,) = await eventually(parked_here, lambda found: len(found) == 1)
    assert record["replayed_at"] is None and record["value"] == "{not json"
    listed = await tally_here(system, "ops", "parked", "list", "--service", "invoicing", **ops)
    assert listed.returncode == 0, listed.stderr
    assert f"#{record['id']} {USAGE_RECORDED}[{record['partition']}]@{record['offset']}" in (
        listed.stdout
    )

    replayed = await tally_here(
        system, "ops", "parked", "replay", str(record["id"]), "--service", "invoicing", **ops
    )
    assert replayed.returncode == 0, replayed.stderr
    assert f"#{record['id']}: sent again to {USAGE_RECORDED}" in replayed.stdout

    twice = await tally_here(
        system, "ops", "parked", "replay", str(record["id"]), "--service", "invoicing", **ops
    )
    assert twice.returncode == 1
    assert "409 Already replayed" in twice.stderr

    # The replayed bytes went through invoicing again, and (still unreadable) were parked again.
    found = await eventually(parked_here, lambda found: len(found) == 2)
    assert found[0]["replayed_at"] is not None
