"""A service's database URL is derived from the server's by swapping only the database."""

from tally_runtime.database import with_database


def test_given_a_server_url_with_options_then_only_the_database_changes() -> None:
    url = "postgresql://tally:tally@127.0.0.1:15432/postgres?sslmode=disable"

    assert (
        with_database(url, "tally_usage")
        == "postgresql://tally:tally@127.0.0.1:15432/tally_usage?sslmode=disable"
    )
