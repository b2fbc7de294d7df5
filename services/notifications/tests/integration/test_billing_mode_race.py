"""Property-based and stateful: billing-mode switches racing balance alerts never leak one.

Hypothesis drives the real handlers (the engine's `apply_batch`) on a real PostgreSQL, with
the read barrier asking a real Kafka topic for its end: mode switches are produced to it and
applied to the projection late (in partition order, sometimes twice, as Kafka redelivers);
crossings and card events are delivered late, duplicated and out of order; deferred
decisions are taken again at random moments. After every step: no prepaid-only kind was sent
to an account whose latest committed mode was invoiced, and every decision names the mode it
was taken under. At the end of each example: every alert decided exactly once, `sent` exactly
when the account was prepaid at that moment, with one delivery per channel.

`TALLY_CHAOS_EXAMPLES` sets the number of examples (`make chaos`: 5,000; default 30).
"""

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from pydantic import BaseModel, SecretStr
from tally_contracts.accounts import AccountState, AccountStatus, BillingMode
from tally_contracts.balances import BalanceCrossed, BalanceCrossing, CardCharged, CardDeclined
from tally_contracts.topics import ACCOUNT_STATE, BALANCE_ALERTS
from tally_notifications import handlers
from tally_notifications.app import MIGRATIONS
from tally_notifications.config import NotificationsSettings
from tally_notifications.domain import decision_id_for
from tally_notifications.freshness import KafkaEndOffsets
from tally_notifications.policy import PREPAID_ONLY
from tally_runtime.clock import utc_now
from tally_runtime.consumer import apply_batch
from tally_runtime.lifecycle import migrated_database
from tally_runtime.records import ConsumedRecord
from tally_testkit import NewDatabase, eventually, new_sid

from .conftest import SERVICE_TOKEN, WEBHOOK_SECRET_KEYS

EXAMPLES = int(os.environ.get("TALLY_CHAOS_EXAMPLES", "30"))
PREPAID = {BillingMode.TRIAL, BillingMode.PAY_AS_YOU_GO}
MODES = st.sampled_from(list(BillingMode))
ALERTS = st.sampled_from(["low", "depleted", "card_charged", "card_declined"])


class World:
    """The real things the machine drives: an event loop, the database, a Kafka state topic."""

    def __init__(
        self,
        runner: asyncio.Runner,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        topic: str,
        deciding: handlers.Deciding,
    ) -> None:
        self.runner, self.pool, self.producer = runner, pool, producer
        self.topic, self.deciding = topic, deciding
        self.totals: Counter[str] = Counter()
        self.ticks = 0

    def later(self) -> datetime:
        """A clock two minutes on at every reading: every postponed retry is due again."""
        self.ticks += 1
        return datetime.now(UTC) + timedelta(minutes=2 * self.ticks)


class BillingModeRace(RuleBasedStateMachine):
    world: ClassVar[World]

    def __init__(self) -> None:
        super().__init__()
        self.sids = [new_sid(), new_sid()]
        self.mode: dict[str, BillingMode] = {}
        self.version: dict[str, int] = {}
        self.unapplied: list[ConsumedRecord] = []  # produced states the projection has not seen
        self.applied: list[ConsumedRecord] = []
        self.undelivered: list[ConsumedRecord] = []  # alerts produced, not yet consumed
        self.delivered: list[ConsumedRecord] = []
        self.alert_sids: dict[str, str] = {}  # decision id -> account
        self.decided_under: dict[str, BillingMode] = {}  # decision id -> mode when decided

    def run(self, work: Any) -> Any:
        return self.world.runner.run(work)

    # --- the accounts service: a committed switch is a state produced to the topic ---------

    def commit(self, sid: str, mode: BillingMode) -> None:
        self.version[sid] = self.version.get(sid, 0) + 1
        self.mode[sid] = mode
        state = AccountState(
            event_id=f"account:{sid}:v{self.version[sid]}",
            occurred_at=datetime.now(UTC),
            account_sid=sid,
            version=self.version[sid],
            owner="race",
            friendly_name="race",
            time_zone="America/Chicago",
            status=AccountStatus.ACTIVE,
            billing_mode=mode,
            contact_email="billing@acme.example",
            webhook_url="https://acme.example/hooks",
        )
        value = state.model_dump_json().encode()
        sent = self.run(
            self.world.producer.send_and_wait(self.world.topic, value, key=sid.encode())
        )
        self.unapplied.append(
            ConsumedRecord(ACCOUNT_STATE, sent.partition, sent.offset, sid.encode(), value)
        )

    @initialize(first=MODES, second=MODES)
    def open_accounts(self, first: BillingMode, second: BillingMode) -> None:
        self.commit(self.sids[0], first)
        self.commit(self.sids[1], second)

    @rule(which=st.integers(0, 1), mode=MODES)
    def switch_mode(self, which: int, mode: BillingMode) -> None:
        self.commit(self.sids[which], mode)

    # --- notifications' projection: in partition order, late, sometimes twice -------------

    @rule(count=st.integers(1, 3))
    def project_states(self, count: int) -> None:
        batch, self.unapplied = self.unapplied[:count], self.unapplied[count:]
        if batch:
            self.run(
                apply_batch(self.world.pool, handlers.project_account_states, batch, clock=utc_now)
            )
            self.applied += batch

    @rule(count=st.integers(1, 3))
    def project_states_again(self, count: int) -> None:
        batch = self.applied[-count:]
        if batch:
            self.run(
                apply_batch(self.world.pool, handlers.project_account_states, batch, clock=utc_now)
            )

    # --- invoicing's alerts: produced now, consumed late, duplicated, out of order ---------

    @rule(which=st.integers(0, 1), alert=ALERTS)
    def produce_alert(self, which: int, alert: str) -> None:
        sid = self.sids[which]
        event = alert_event(sid, alert)
        self.alert_sids[decision_id_for(event.event_id)] = sid
        self.undelivered.append(
            ConsumedRecord(BALANCE_ALERTS, 0, 0, sid.encode(), event.model_dump_json().encode())
        )

    @precondition(lambda self: self.undelivered)
    @rule(data=st.data())
    def deliver_alerts(self, data: st.DataObject) -> None:
        # some of the alerts not consumed yet, in any order, with some consumed before again
        batch = data.draw(
            st.lists(st.sampled_from(self.undelivered), min_size=1, max_size=4, unique=True)
        )
        again = (
            data.draw(st.lists(st.sampled_from(self.delivered), max_size=2))
            if self.delivered
            else []
        )
        for record in batch:
            self.undelivered.remove(record)
        self.delivered += batch
        self.decide(self.world.deciding.decide_triggers, data.draw(st.permutations(batch + again)))

    @rule()
    def redecide_deferred(self) -> None:
        self.observe(self.world.deciding.redecide_deferred(self.world.pool, self.world.later))

    def decide(self, handler: Any, records: list[ConsumedRecord]) -> None:
        self.observe(apply_batch(self.world.pool, handler, records, clock=utc_now))

    def observe(self, work: Any) -> None:
        """Run one decision-taking step; record the mode each new decision was taken under."""
        before = self.run(self.decisions())
        self.run(work)
        for decision_id, (outcome, mode, kind) in self.run(self.decisions()).items():
            if outcome == "deferred" or before.get(decision_id, ("deferred",))[0] != "deferred":
                continue
            sid = self.alert_sids[decision_id]
            committed = self.mode[sid]
            # the invariant the whole design exists for, checked at the moment of deciding
            assert not (outcome == "sent" and kind in PREPAID_ONLY and committed not in PREPAID)
            assert mode == committed.value, "decided under a mode that was not the newest"
            self.decided_under[decision_id] = committed
            if decision_id in before:
                self.world.totals["decided after a deferral"] += 1

    async def decisions(self) -> dict[str, tuple[str, str | None, str]]:
        rows = await self.world.pool.fetch(
            "SELECT decision_id, outcome, billing_mode, kind FROM decisions"
            " WHERE account_sid = ANY($1::text[])",
            self.sids,
        )
        return {r["decision_id"]: (r["outcome"], r["billing_mode"], r["kind"]) for r in rows}

    @invariant()
    def every_decision_is_recorded_under_its_mode(self) -> None:
        for decision_id, mode in self.decided_under.items():
            assert self.alert_sids[decision_id] in self.sids
            assert mode in BillingMode

    def teardown(self) -> None:
        # everything eventually arrives: the alerts (perhaps before the states they race),
        # then the states, and deferred decisions are taken again
        if self.undelivered:
            self.decide(self.world.deciding.decide_triggers, self.undelivered)
            self.delivered += self.undelivered
            self.undelivered = []
        if self.unapplied:
            batch, self.unapplied = self.unapplied, []
            self.run(
                apply_batch(self.world.pool, handlers.project_account_states, batch, clock=utc_now)
            )
            self.applied += batch
        self.observe(self.world.deciding.redecide_deferred(self.world.pool, self.world.later))
        decided = self.run(self.decisions())
        deliveries = self.run(self.delivery_counts())
        # every alert decided exactly once, none left deferred once the state is known
        assert set(decided) == set(self.alert_sids)
        for decision_id, (outcome, _mode, _kind) in decided.items():
            under = self.decided_under[decision_id]
            assert outcome == ("sent" if under in PREPAID else "suppressed")
            assert deliveries.get(decision_id, 0) == (2 if outcome == "sent" else 0)
            self.world.totals[f"{outcome} ({under})"] += 1

    async def delivery_counts(self) -> dict[str, int]:
        rows = await self.world.pool.fetch(
            "SELECT decision_id, count(*) AS n FROM deliveries"
            " WHERE account_sid = ANY($1::text[]) GROUP BY decision_id",
            self.sids,
        )
        return {row["decision_id"]: row["n"] for row in rows}


def alert_event(sid: str, alert: str) -> BaseModel:
    """A fresh alert of invoicing's about `sid`, with an id of its own."""
    common: dict[str, Any] = {
        "event_id": f"{alert}:{sid}:{uuid.uuid4().hex}",
        "occurred_at": datetime.now(UTC),
        "account_sid": sid,
    }
    if alert in ("low", "depleted"):
        return BalanceCrossed(
            crossing=BalanceCrossing(alert),
            balance=Decimal("4.40") if alert == "low" else Decimal("-0.10"),
            threshold=Decimal(10),
            auto_recharge=False,
            **common,
        )
    if alert == "card_charged":
        return CardCharged(recharge_id="RC", amount=Decimal(20), balance=Decimal(24), **common)
    return CardDeclined(recharge_id="RC", amount=Decimal(20), reason="declined", **common)


@pytest.fixture
def world(kafka_bootstrap: str, new_database: NewDatabase) -> Iterator[World]:
    """A migrated database, a private one-partition state topic and a producer, on a loop of
    the test's own (hypothesis' machine is synchronous)."""
    with asyncio.Runner() as runner:
        database_url = runner.run(new_database("notifications_race"))
        settings_ = NotificationsSettings(
            environment="test",
            kafka_bootstrap=kafka_bootstrap,
            database_url=database_url,
            webhook_secret_keys=SecretStr(WEBHOOK_SECRET_KEYS),
            service_token=SecretStr(SERVICE_TOKEN),
        )
        topic = f"test.notifications.race.{uuid.uuid4().hex[:8]}"
        runner.run(create_topic(kafka_bootstrap, topic))
        database = migrated_database(settings_, MIGRATIONS)
        pool = runner.run(database.__aenter__())
        producer = runner.run(started_producer(kafka_bootstrap))
        end_offsets = KafkaEndOffsets(kafka_bootstrap, topic=topic)
        runner.run(eventually(end_offsets.partition_count, lambda count: count == 1))
        try:
            yield World(runner, pool, producer, topic, handlers.Deciding(end_offsets))
        finally:
            runner.run(end_offsets.close())
            runner.run(producer.stop())
            runner.run(database.__aexit__(None, None, None))


async def started_producer(bootstrap: str) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    return producer


async def create_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()


def test_given_switches_racing_alerts_then_no_invoiced_account_hears_a_prepaid_alert(
    world: World,
) -> None:
    BillingModeRace.world = world
    BillingModeRace.TestCase.settings = settings(
        max_examples=EXAMPLES,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    BillingModeRace.TestCase().runTest()
    print("decisions by outcome (mode when decided):", dict(world.totals))
    assert world.totals, "the machine decided nothing"
