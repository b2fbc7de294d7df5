"""tally_testkit.database_url: pure URL surgery."""

from tally_testkit import database_url


def test_database_url_swaps_only_the_database() -> None:
    url = "postgresql://tally:tally@127.0.0.1:15432/postgres?sslmode=disable"

    assert (
        database_url(url, "usage")
        == "postgresql://tally:tally@127.0.0.1:15432/usage?sslmode=disable"
    )
