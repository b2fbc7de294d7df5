"""Demo data for `make run`: one account with a little usage, and how to look at it."""

import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from tally_runtime.settings import PLACEHOLDER_SECRET

GATEWAY = f"http://127.0.0.1:{os.environ.get('TALLY_GATEWAY_HTTP_PORT', '8000')}"
# `make up` runs in development, where the gateway's ops key is the published placeholder.
OPS_KEY = os.environ.get("TALLY_GATEWAY_OPS_KEY", PLACEHOLDER_SECRET)
RUN_DIR = Path(os.environ.get("TALLY_RUN_DIR", ".run")).resolve()
TRACE_DIR = Path(os.environ.get("TALLY_TRACE_DIR", RUN_DIR / "traces")).resolve()


def main() -> int:
    with httpx.Client(base_url=GATEWAY, timeout=10) as client:
        created = client.post(
            "/v1/Accounts",
            headers={"Authorization": f"Bearer {OPS_KEY}"},
            json={
                "owner": "demo-customer",
                "friendly_name": "Demo",
                "time_zone": "America/Chicago",
                "contact_email": "demo@example.com",
            },
        )
        if created.status_code != 201:
            print(f"could not create the demo account: {created.status_code} {created.text}")
            return 1
        account = created.json()
        sid, token = account["sid"], account["auth_token"]
        now = datetime.now(UTC)
        events = [
            {
                "event_id": f"demo-{uuid.uuid4().hex[:12]}",
                "category": category,
                "quantity": quantity,
                "occurred_at": (now - timedelta(minutes=minutes)).isoformat(),
            }
            for category, quantity, minutes in [
                ("calls-inbound", "42.5", 30),
                ("calls-outbound", "17", 20),
                ("sms-outbound", "120", 10),
            ]
        ]
        sent = client.post(f"/v1/Accounts/{sid}/Usage", auth=(sid, token), json={"events": events})
        sent.raise_for_status()

    print(f"""
Tally is running.

  gateway         {GATEWAY}   (API docs: {GATEWAY}/docs)
  demo account    {sid}
  auth token      {token}
  try             curl -u {sid}:{token} {GATEWAY}/v1/Accounts/{sid}
  usage sent      {sent.json()["accepted"]} events (calls and SMS)
  traces          {TRACE_DIR}/<service>.jsonl, one JSON span per line
                  (with `docker compose up`, Jaeger at http://localhost:16686)
  logs and pids   {RUN_DIR}/logs, {RUN_DIR}/pids — `make down` stops everything
""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
