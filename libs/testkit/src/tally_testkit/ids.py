"""Identifiers a test makes up for itself."""

from __future__ import annotations

import uuid


def new_sid() -> str:
    """A fresh account SID (``AC`` + 32 hex digits).

    Topics and servers are shared between tests and runs, so each test keeps to accounts of its
    own.
    """
    return "AC" + uuid.uuid4().hex
