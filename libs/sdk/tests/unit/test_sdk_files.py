"""Events read from JSON Lines and CSV files, and the summary `tally usage send` prints."""

from decimal import Decimal
from pathlib import Path

import pytest
from tally_contracts.errors import FieldError
from tally_sdk.acks import Ack, AckStatus
from tally_sdk.files import FileFormatError, csv_events, jsonl_events, read_events
from tally_sdk.summary import render, summarize


def test_jsonl_reads_numbers_as_decimals_and_skips_blank_lines() -> None:
    text = '{"event_id": "a", "quantity": 0.1}\n\n{"event_id": "b", "quantity": "2"}\n'
    found = list(jsonl_events(text))
    assert found == [
        {"event_id": "a", "quantity": Decimal("0.1")},
        {"event_id": "b", "quantity": "2"},
    ]


@pytest.mark.parametrize(("line", "reason"), [("{not json", "not JSON"), ("[1, 2]", "JSON object")])
def test_a_line_that_is_no_event_names_its_line(line: str, reason: str) -> None:
    with pytest.raises(FileFormatError, match=rf"usage.jsonl, line 2: .*{reason}"):
        list(jsonl_events('{"event_id": "a"}\n' + line, "usage.jsonl"))


def test_csv_leaves_empty_cells_out_and_gathers_attributes() -> None:
    text = (
        "event_id,category,quantity,occurred_at,phone_number,attributes.region\n"
        "a,calls-inbound,1.5,2026-11-29T10:00:00Z,,eu\n"
        "b,sms-outbound,2,2026-11-29T10:00:00Z,+15551234567,\n"
    )
    assert list(csv_events(text)) == [
        {
            "event_id": "a",
            "category": "calls-inbound",
            "quantity": "1.5",
            "occurred_at": "2026-11-29T10:00:00Z",
            "attributes": {"region": "eu"},
        },
        {
            "event_id": "b",
            "category": "sms-outbound",
            "quantity": "2",
            "occurred_at": "2026-11-29T10:00:00Z",
            "phone_number": "+15551234567",
        },
    ]


def test_a_ragged_csv_row_is_refused() -> None:
    with pytest.raises(FileFormatError, match="line 2"):
        list(csv_events("event_id,quantity\na,1,extra\n"))


def test_the_format_follows_the_suffix_and_a_bom_is_ignored(tmp_path: Path) -> None:
    csv_file = tmp_path / "usage.CSV"
    csv_file.write_text("\ufeffevent_id,quantity\na,1\n", encoding="utf-8")
    assert read_events(csv_file) == [{"event_id": "a", "quantity": "1"}]
    jsonl_file = tmp_path / "usage.txt"
    jsonl_file.write_text('{"event_id": "a"}\n', encoding="utf-8")
    assert read_events(jsonl_file) == [{"event_id": "a"}]


def test_the_summary_counts_duplicates_and_lists_refusals() -> None:
    why = (FieldError(field="quantity", reason="must be at least 0"),)
    acks = [
        Ack(0, "a", AckStatus.ACCEPTED),
        Ack(1, "b", AckStatus.ACCEPTED),
        Ack(2, "c", AckStatus.INVALID, why),
        Ack(3, "d", AckStatus.REJECTED, why),
    ]
    summary = summarize(acks, already_recorded={"b", "c"})
    assert (summary.accepted, summary.duplicates, len(summary.refused)) == (2, 1, 2)
    assert not summary.ok
    lines = render(summary)
    assert "accepted:   2 (new: 1, duplicates: 1)" in lines
    assert "  event #3 (c, not sent): quantity: must be at least 0" in lines
    assert "  event #4 (d, refused by Tally): quantity: must be at least 0" in lines
