"""`make up` + demo data print working credentials, and `make down` leaves no process behind.

Runs the same scripts `make run` and `make down` call, on ports and databases of its own so
it cannot disturb a system a developer already has running.
"""

import os
import re
import subprocess
from pathlib import Path

import httpx
from tally_testkit.plugin import NewDatabase

from tests.e2e.system import SERVICES, free_port

ROOT = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    """True while `pid` runs; an exited process waiting to be reaped (a zombie) is not alive."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


async def test_given_services_started_by_script_then_demo_credentials_work_and_stop_leaves_nothing(
    kafka_bootstrap: str, new_database: NewDatabase, tmp_path: Path
) -> None:
    env = {**os.environ, "KAFKA_BOOTSTRAP": kafka_bootstrap, "TALLY_RUN_DIR": str(tmp_path)}
    for service in SERVICES:
        prefix = f"TALLY_{service.upper()}_"
        env[f"{prefix}HTTP_PORT"] = str(free_port())
        env[f"{prefix}DATABASE_URL"] = await new_database(service)
        env[f"{prefix}CONSUMER_GROUP"] = f"e2e-script-{tmp_path.name}-{service}"
    env["TALLY_GATEWAY_ACCOUNTS_URL"] = f"http://127.0.0.1:{env['TALLY_ACCOUNTS_HTTP_PORT']}"

    def run(*command: str) -> str:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    try:
        run("bash", "scripts/services.sh", "start")
        pids = [int((tmp_path / "pids" / f"{s}.pid").read_text()) for s in SERVICES]
        printed = run(str(ROOT / ".venv/bin/python"), "scripts/demo.py")
        sid = re.search(r"demo account\s+(AC[0-9a-f]{32})", printed)
        token = re.search(r"auth token\s+([0-9a-f]{32})", printed)
        gateway = re.search(r"gateway\s+(http://\S+)", printed)
        assert sid and token and gateway, printed
        async with httpx.AsyncClient(timeout=10) as client:
            account = await client.get(
                f"{gateway[1]}/v1/Accounts/{sid[1]}", auth=(sid[1], token[1])
            )
        assert account.status_code == 200, account.text
        assert account.json()["billing_mode"] == "trial"
    finally:
        run("bash", "scripts/services.sh", "stop")

    # `stop` waits for each process to end, so nothing may be left by now.
    assert [pid for pid in pids if alive(pid)] == []
    assert list((tmp_path / "pids").glob("*.pid")) == []
