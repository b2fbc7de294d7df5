"""Test support for Tally: real Kafka and PostgreSQL for integration tests."""

from tally_testkit.plugin import NewDatabase, database_url

__all__ = ["NewDatabase", "database_url"]
