"""Credit-check data: what a post adds to what the request already holds. Pure.

The data is a JSON object (legal company name, primary account SID, accounting contact,
DUNS number, funding information, financial statements, service address, anything else ops
asked for). Posts arrive one at a time as the customer answers; each adds to the last.
"""

from typing import Any

# Fields merged key by key rather than replaced as a whole.
_MERGED_BY_KEY = frozenset({"accounting_contact", "additional_information"})
# Document references accumulate: a later post sends the statements it adds.
_ACCUMULATED = frozenset({"financial_statements"})


def merged(stored: dict[str, Any], posted: dict[str, Any]) -> dict[str, Any]:
    """`stored` with `posted` applied; a field posted again replaces the stored one."""
    result = dict(stored)
    for field, value in posted.items():
        if field in _MERGED_BY_KEY:
            result[field] = {**stored.get(field, {}), **value}
        elif field in _ACCUMULATED:
            result[field] = list(dict.fromkeys([*stored.get(field, []), *value]))
        else:
            result[field] = value
    return result
