"""Usage events read from files: JSON Lines (one event object per line) or CSV (a header row).

CSV columns are the event's fields (`event_id, account_sid, category, quantity, occurred_at,
phone_number, number_type`); an empty cell leaves the field out, and `attributes.<name>`
columns fill the attributes. JSON numbers are read as exact decimals, never floats.
"""

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tally_contracts.usage import read_json

ATTRIBUTE_PREFIX = "attributes."


class FileFormatError(ValueError):
    """A line that is not an event at all (not JSON, not an object, a ragged CSV row)."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        super().__init__(f"{path}, line {line}: {reason}")


def read_events(path: Path, format: str | None = None) -> list[dict[str, Any]]:
    """Every event of the file; `format` is `jsonl` or `csv`, else guessed from the suffix."""
    kind = format or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    text = path.read_text(encoding="utf-8-sig")  # a BOM (spreadsheet exports) is not a field
    reader = csv_events if kind == "csv" else jsonl_events
    return list(reader(text, str(path)))


def jsonl_events(text: str, name: str = "<jsonl>") -> Iterator[dict[str, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = read_json(line)
        except ValueError as error:
            raise FileFormatError(name, number, f"not JSON: {error}") from None
        if not isinstance(document, dict):
            raise FileFormatError(name, number, "must be a JSON object")
        yield document


def csv_events(text: str, name: str = "<csv>") -> Iterator[dict[str, Any]]:
    rows = csv.DictReader(io.StringIO(text, newline=""))
    for row in rows:
        if None in row:  # more cells than the header names
            raise FileFormatError(name, rows.line_num, "more cells than header columns")
        event: dict[str, Any] = {}
        attributes: dict[str, str] = {}
        for column, cell in row.items():
            if cell is None or cell == "":
                continue
            if column.startswith(ATTRIBUTE_PREFIX):
                attributes[column.removeprefix(ATTRIBUTE_PREFIX)] = cell
            else:
                event[column.strip()] = cell
        if attributes:
            event["attributes"] = attributes
        yield event
