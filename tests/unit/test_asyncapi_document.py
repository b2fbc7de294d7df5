"""The committed AsyncAPI document (docs/asyncapi.json) is the one tally_contracts yields now."""

import json
import subprocess
import sys
from pathlib import Path

from tally_contracts.topics import ALL_TOPICS

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_asyncapi_document_is_current() -> None:
    checked = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "asyncapi.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


def test_every_topic_has_a_channel_and_every_message_a_schema() -> None:
    document = json.loads((ROOT / "docs" / "asyncapi.json").read_text())
    assert set(document["channels"]) == {spec.name for spec in ALL_TOPICS}
    schemas = document["components"]["schemas"]
    for channel in document["channels"].values():
        assert channel["messages"], channel["address"]
        for reference in channel["messages"].values():
            message = document["components"]["messages"][reference["$ref"].rsplit("/", 1)[1]]
            assert message["payload"]["$ref"].rsplit("/", 1)[1] in schemas
