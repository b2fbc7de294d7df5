"""Test support for Tally: real Kafka and PostgreSQL for integration tests, and ways to use them."""

from tally_testkit.events import account_state, consumed
from tally_testkit.ids import new_sid
from tally_testkit.kafka import (
    ConsumerGroup,
    Publish,
    ReadKeyed,
    Tail,
    by_key,
    commit_groups_at_end,
    commit_offsets,
    move_groups_to_end,
    open_at_end,
    wait_committed,
)
from tally_testkit.plugin import NewDatabase
from tally_testkit.polling import eventually

__all__ = [
    "ConsumerGroup",
    "NewDatabase",
    "Publish",
    "ReadKeyed",
    "Tail",
    "account_state",
    "by_key",
    "commit_groups_at_end",
    "commit_offsets",
    "consumed",
    "eventually",
    "move_groups_to_end",
    "new_sid",
    "open_at_end",
    "wait_committed",
]
