"""Migrations against real PostgreSQL: one migrator at a time, and a killed one blocks nothing.

Each test gets its own database and its own migrations folder (tmp_path), so the migrations
here can sleep, fail or count without touching any service's schema.
"""

import asyncio
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import asyncpg
from tally_runtime.database import apply_migrations
from tally_testkit import NewDatabase, eventually

KILLED = f"killed-mid-migration-{uuid.uuid4().hex[:8]}"

# Sleeps only in the process the test kills (told apart by its application name), so the
# next start's run of the same migration is quick, as a real one would be.
SLOW_MIGRATION = """
CREATE TABLE slow_made (id int PRIMARY KEY);
SELECT pg_sleep(CASE WHEN current_setting('application_name') LIKE 'killed-%' THEN 600 ELSE 0 END);
INSERT INTO slow_made VALUES (1);
"""

MIGRATE = "import asyncio, sys, pathlib\n" + (
    "from tally_runtime.database import apply_migrations\n"
    "asyncio.run(apply_migrations(sys.argv[1], pathlib.Path(sys.argv[2])))\n"
)


async def fetch(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def sessions_of(url: str, application: str) -> list[str]:
    """What each connection of ``application`` to the server is doing now."""
    rows = await fetch(
        url, "SELECT state, query FROM pg_stat_activity WHERE application_name = $1", application
    )
    return [f"{row['state']}: {row['query']}" for row in rows]


async def test_given_a_migrator_killed_mid_migration_then_the_next_start_migrates_at_once(
    new_database: NewDatabase, tmp_path: Path
) -> None:
    # given a process SIGKILLed while a migration of a new database runs
    url = await new_database("migration_kill")
    (tmp_path / "0001.slow.sql").write_text(SLOW_MIGRATION)
    killed = await asyncio.create_subprocess_exec(
        sys.executable, "-c", MIGRATE, url, str(tmp_path), env={**os.environ, "PGAPPNAME": KILLED}
    )
    try:
        await eventually(
            lambda: sessions_of(url, KILLED),
            lambda sessions: any("pg_sleep" in s and s.startswith("active") for s in sessions),
            within=60,
        )
    finally:
        killed.send_signal(signal.SIGKILL)
        await killed.wait()

    # when the next start migrates the same database
    started = time.monotonic()
    await asyncio.wait_for(apply_migrations(url, tmp_path), timeout=30)
    took = time.monotonic() - started

    # then it applied the migration at once, as if the killed process had never run
    assert await fetch(url, "SELECT id FROM slow_made") == [(1,)]
    applied = await fetch(url, "SELECT migration_id FROM _yoyo_migration")
    assert [row["migration_id"] for row in applied].count("0001.slow") == 1
    assert took < 15, f"the second migration took {took:.1f} s"
    # and the killed process's statement did not run on in the server
    assert await sessions_of(url, KILLED) == []


async def test_given_a_lock_row_left_by_older_versions_when_migrating_then_it_is_no_obstacle(
    new_database: NewDatabase, tmp_path: Path
) -> None:
    # given yoyo's lock table holding the row of a process killed long ago
    url = await new_database("migration_stale_row")
    await fetch(url, "CREATE TABLE yoyo_lock (locked int PRIMARY KEY, ctime timestamp, pid int)")
    await fetch(url, "INSERT INTO yoyo_lock VALUES (1, now(), 4242)")
    (tmp_path / "0001.table.sql").write_text("CREATE TABLE made (id int);")

    # when migrating
    await asyncio.wait_for(apply_migrations(url, tmp_path), timeout=30)

    # then the migration is applied
    assert await fetch(url, "SELECT to_regclass('made') IS NOT NULL AS made") == [(True,)]


async def test_given_replicas_starting_together_when_both_migrate_then_each_migration_runs_once(
    new_database: NewDatabase, tmp_path: Path
) -> None:
    # given a migration that would fail if it ran twice, slow enough for the replicas to meet
    url = await new_database("migration_race")
    (tmp_path / "0001.once.sql").write_text(
        "CREATE TABLE once (id int PRIMARY KEY); SELECT pg_sleep(1); INSERT INTO once VALUES (1);"
    )

    # when two processes migrate the database at the same time
    replicas = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", MIGRATE, url, str(tmp_path))
        for _ in range(2)
    ]
    codes = await asyncio.wait_for(asyncio.gather(*(r.wait() for r in replicas)), timeout=60)

    # then both start, and the migration ran once
    assert codes == [0, 0]
    assert await fetch(url, "SELECT id FROM once") == [(1,)]
