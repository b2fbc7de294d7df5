"""The `tally` command line: send usage, read receipts and notifications, run ops jobs.

Configuration comes from options or the environment (`TALLY_URL`, `TALLY_ACCOUNT_SID`,
`TALLY_AUTH_TOKEN`, `TALLY_API_KEY_SID`, `TALLY_OPS_KEY`, `TALLY_KAFKA_BOOTSTRAP`); secrets are
never printed, not even in `--help`. Tally's refusals are shown whole (problem+json: title,
detail, each field and reason) and end the command with status 1.
"""

from typing import Any

import click

from tally_sdk.cli_ops import ops
from tally_sdk.cli_support import DEFAULT_URL, Config, echo_json, run
from tally_sdk.cli_usage import usage


@click.group()
@click.option(
    "--url",
    envvar="TALLY_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="the gateway [env TALLY_URL]",
)
@click.option("--account-sid", envvar="TALLY_ACCOUNT_SID", help="AC… [env TALLY_ACCOUNT_SID]")
@click.option(
    "--auth-token",
    envvar="TALLY_AUTH_TOKEN",
    help="the account's auth token, or an API key's secret [env TALLY_AUTH_TOKEN]",
)
@click.option(
    "--api-key-sid",
    envvar="TALLY_API_KEY_SID",
    help="SK…: authenticate with this API key [env TALLY_API_KEY_SID]",
)
@click.option("--ops-key", envvar="TALLY_OPS_KEY", help="for `ops` commands [env TALLY_OPS_KEY]")
@click.option(
    "--kafka-bootstrap",
    envvar="TALLY_KAFKA_BOOTSTRAP",
    help="publish usage to Kafka instead of HTTP [env TALLY_KAFKA_BOOTSTRAP]",
)
@click.pass_context
def main(
    context: click.Context,
    url: str,
    account_sid: str | None,
    auth_token: str | None,
    api_key_sid: str | None,
    ops_key: str | None,
    kafka_bootstrap: str | None,
) -> None:
    """Tally from the command line: usage, receipts, notifications and ops."""
    context.obj = Config(url, account_sid, auth_token, api_key_sid, ops_key, kafka_bootstrap)


@main.command()
@click.argument("sid", required=False)
@click.option("--json", "as_json", is_flag=True, help="print the API's JSON")
@click.pass_obj
def notifications(config: Config, sid: str | None, as_json: bool) -> None:
    """An account's notification decisions, newest first (SID: default TALLY_ACCOUNT_SID)."""

    async def fetch() -> list[dict[str, Any]]:
        async with config.usage_client(sid) as client:
            return await client.notifications()

    found = run(fetch())
    if as_json:
        echo_json({"notifications": found})
        return
    if not found:
        click.echo("no notifications")
    for item in found:
        reason = f" ({item['reason']})" if item.get("reason") else ""
        channels = ",".join(item.get("channels") or []) or "-"
        click.echo(
            f"{item['decided_at']}  {item['kind']:<34} {item['decision']:<10}"
            f" {item.get('billing_mode') or '-':<14} {channels}{reason}"
        )


main.add_command(usage)
main.add_command(ops)
