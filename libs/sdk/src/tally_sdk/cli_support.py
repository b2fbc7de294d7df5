"""What every `tally` command shares: the configuration, running an SDK call, printing JSON."""

import asyncio
import json
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from tally_sdk.errors import TallyError
from tally_sdk.http_client import UsageClient
from tally_sdk.ops_client import OpsClient

DEFAULT_URL = "http://127.0.0.1:8000"
T = TypeVar("T")


@dataclass(frozen=True)
class Config:
    """Where Tally is and who is calling; a command asks only for what it needs."""

    url: str
    account_sid: str | None
    auth_token: str | None
    api_key_sid: str | None
    ops_key: str | None
    kafka_bootstrap: str | None

    def usage_client(self, account_sid: str | None = None, **options: Any) -> UsageClient:
        sid = account_sid or self.account_sid
        if not sid:
            raise click.UsageError("no account: pass --account-sid or set TALLY_ACCOUNT_SID")
        if not self.auth_token:
            raise click.UsageError(
                "no credentials: pass --auth-token or set TALLY_AUTH_TOKEN"
                " (an API key's secret with --api-key-sid)"
            )
        return UsageClient(
            self.url, sid, auth_token=self.auth_token, api_key_sid=self.api_key_sid, **options
        )

    def ops_client(self) -> OpsClient:
        if not self.ops_key:
            raise click.UsageError("no ops key: pass --ops-key or set TALLY_OPS_KEY")
        return OpsClient(self.url, self.ops_key)


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run one SDK call; Tally's errors become the command's error message (exit status 1)."""
    try:
        return asyncio.run(work)
    except TallyError as error:
        raise click.ClickException(str(error)) from None


def echo_json(document: object) -> None:
    click.echo(json.dumps(document, indent=2, default=str))
