"""The CLI's refusals before any request: missing configuration, bad arguments, bad files."""

from pathlib import Path

from click.testing import CliRunner
from tally_sdk.cli import main

NO_ENV = {
    "TALLY_URL": None,
    "TALLY_ACCOUNT_SID": None,
    "TALLY_AUTH_TOKEN": None,
    "TALLY_API_KEY_SID": None,
    "TALLY_OPS_KEY": None,
    "TALLY_KAFKA_BOOTSTRAP": None,
}


def invoke(*args: str, **env: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=NO_ENV | env)
    return result.exit_code, result.output


def test_missing_credentials_name_the_variable_and_never_echo_a_secret() -> None:
    code, output = invoke("notifications", TALLY_ACCOUNT_SID="AC" + "a" * 32)
    assert code == 2
    assert "TALLY_AUTH_TOKEN" in output
    code, output = invoke("ops", "billing-run", "2026-10", TALLY_AUTH_TOKEN="s3cret-token")
    assert code == 2
    assert "TALLY_OPS_KEY" in output
    assert "s3cret-token" not in output
    code, output = invoke("--help", TALLY_AUTH_TOKEN="s3cret-token", TALLY_OPS_KEY="s3cret-ops")
    assert code == 0
    assert "s3cret" not in output


def test_a_month_and_an_instant_are_checked_locally() -> None:
    code, output = invoke("ops", "billing-run", "2026-13", TALLY_OPS_KEY="k")
    assert code == 2 and "YYYY-MM" in output
    code, output = invoke("ops", "snapshot", "--as-of", "2026-11-29T00:00:00", TALLY_OPS_KEY="k")
    assert code == 2 and "offset" in output


def test_a_file_that_is_not_events_is_refused_with_its_line(tmp_path: Path) -> None:
    broken = tmp_path / "usage.jsonl"
    broken.write_text('{"event_id": "a"}\nnot json\n')
    code, output = invoke(
        "usage", "send", str(broken), TALLY_ACCOUNT_SID="AC" + "a" * 32, TALLY_AUTH_TOKEN="t"
    )
    assert code == 1
    assert "usage.jsonl, line 2: not JSON" in output
