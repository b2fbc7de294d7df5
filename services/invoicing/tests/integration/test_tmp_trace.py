import json, uuid, asyncio, collections
from pathlib import Path
from datetime import UTC, datetime
from decimal import Decimal
from tally_contracts.topics import USAGE_RECORDED, BALANCE_CHANGED
from tally_contracts.usage import UsageRecorded, UsageCategory
from tally_invoicing.app import create_app

async def test_trace(settings, publish, tail, eventually, new_sid, tmp_path):
    settings = settings.model_copy(update={"trace_dir": tmp_path})
    app = create_app(settings)
    sid = new_sid()
    async with app.router.lifespan_context(app):
        reader = await tail(BALANCE_CHANGED)
        u = UsageRecorded(event_id=f"usage:{sid}:x", occurred_at=datetime.now(UTC), account_sid=sid, usage_event_id="x", category=UsageCategory.SMS_INBOUND, quantity=Decimal(2), usage_occurred_at=datetime.now(UTC))
        await publish(USAGE_RECORDED, u)
        found = []
        async def more():
            b = await reader.getmany(timeout_ms=500)
            for rs in b.values():
                found.extend(r for r in rs if r.key == sid.encode())
            return found
        got = await eventually(more, lambda f: len(f) >= 1)
        print("headers", got[0].headers)
        await asyncio.sleep(1)
    spans = [json.loads(l) for l in (tmp_path / "invoicing.jsonl").read_text().splitlines()]
    c = collections.Counter((s["context"]["trace_id"], s["kind"]) for s in spans)
    print(len(spans), len({s["context"]["trace_id"] for s in spans}))
    for k, v in c.most_common(8): print(k, v)
