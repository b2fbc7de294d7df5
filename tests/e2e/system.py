"""The whole Tally system as real processes, one per service, for end-to-end tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from tally_contracts.topics import ALL_TOPICS
from tally_testkit import commit_groups_at_end

SERVICES = ("accounts", "usage", "invoicing", "notifications", "gateway")
OPS_KEY = "e2e-ops-key"
SERVICE_TOKEN = "e2e-service-token"
WEBHOOK_SECRET_KEYS = "ZTJlLXRlc3RzLXdlYmhvb2stc2VjcmV0LWtleS0zMiE="  # a Fernet key, tests only


def free_port() -> int:
    """A loopback port nobody listens on, so tests never collide with `make up`."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class System:
    """Starts, kills and restarts the five services against one Kafka and fresh databases."""

    kafka_bootstrap: str
    databases: dict[str, str]
    trace_dir: Path
    log_dir: Path
    run_id: str
    zipkin_endpoint: str | None = None
    """Where the services also send their spans (Zipkin's /api/v2/spans), if anywhere."""
    ports: dict[str, int] = field(default_factory=lambda: {name: free_port() for name in SERVICES})
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, service: str) -> str:
        """Base URL of a service's HTTP API."""
        return f"http://127.0.0.1:{self.ports[service]}"

    def consumer_group(self, service: str) -> str:
        """A group of its own per run: this run's services read only what this run needs."""
        return f"e2e-{self.run_id}-{service}"

    def environment(self, service: str, **extra: str) -> dict[str, str]:
        prefix = f"TALLY_{service.upper()}_"
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "TALLY_ENVIRONMENT": "test",
            "TALLY_TRACE_DIR": str(self.trace_dir),
            "TALLY_SERVICE_TOKEN": SERVICE_TOKEN,
            "TALLY_ACCOUNTS_CREDIT_CHECK_KEYS": "ZTJlLXRlc3RzLWNyZWRpdC1jaGVjay1rZXktMzJiISE=",
            "TALLY_NOTIFICATIONS_WEBHOOK_SECRET_KEYS": WEBHOOK_SECRET_KEYS,
            # e-mail goes to the tests' own mail server (scripts/test-infra.sh, .run/test/mail)
            "TALLY_NOTIFICATIONS_SMTP_PORT": os.environ.get("TALLY_TEST_MAIL_PORT", "11125"),
            f"{prefix}DATABASE_URL": self.databases[service],
            f"{prefix}HTTP_PORT": str(self.ports[service]),
            f"{prefix}CONSUMER_GROUP": self.consumer_group(service),
        }
        if self.zipkin_endpoint is not None:
            env |= {
                "OTEL_TRACES_EXPORTER": "zipkin",
                "OTEL_EXPORTER_ZIPKIN_ENDPOINT": self.zipkin_endpoint,
            }
        if service == "accounts":
            env |= {"TALLY_ACCOUNTS_INVOICING_URL": self.url("invoicing")}
        if service == "notifications":  # the send-time billing-mode check (docs/notifications.md)
            env |= {"TALLY_NOTIFICATIONS_ACCOUNTS_URL": self.url("accounts")}
        if service == "invoicing":  # the charge lease an auto-recharge needs (docs/money.md)
            env |= {"TALLY_INVOICING_ACCOUNTS_URL": self.url("accounts")}
        if service == "gateway":
            env |= {
                "TALLY_GATEWAY_ACCOUNTS_URL": self.url("accounts"),
                "TALLY_GATEWAY_USAGE_URL": self.url("usage"),
                "TALLY_GATEWAY_INVOICING_URL": self.url("invoicing"),
                "TALLY_GATEWAY_NOTIFICATIONS_URL": self.url("notifications"),
                "TALLY_GATEWAY_OPS_KEY": OPS_KEY,
                "TALLY_GATEWAY_TOKEN_PEPPER": "e2e-token-pepper",
            }
        env |= {f"{prefix}{key.upper()}": value for key, value in extra.items()}
        return env

    async def start_consumer_groups_at_end(self) -> None:
        """Commit this run's consumer groups at the topics' current ends.

        The topics outlive test runs (and may hold a developer's own traffic); a fresh group
        would otherwise read all of it before reaching what this run publishes.
        """
        groups = [self.consumer_group(service) for service in SERVICES]
        await commit_groups_at_end(self.kafka_bootstrap, groups, [t.name for t in ALL_TOPICS])

    def start(self, service: str, **extra: str) -> None:
        """Start one service as its own process and wait until it answers /health."""
        self.launch(service, **extra)
        self.wait_healthy(service)

    def launch(self, service: str, **extra: str) -> None:
        """Start a service's process without waiting for it."""
        log = (self.log_dir / f"{service}.log").open("ab")
        self.processes[service] = subprocess.Popen(
            [sys.executable, "-m", f"tally_{service}"],
            env=self.environment(service, **extra),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_healthy(self, service: str, timeout: float = 180.0) -> None:
        # Generous: on a loaded two-core machine importing a service alone took 20 s; a service
        # that dies on start is seen at once (its process has exited), not after the wait.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[service]
            if process.poll() is not None:
                raise RuntimeError(
                    f"{service} exited with {process.returncode}; {self.tail(service)}"
                )
            try:
                if httpx.get(f"{self.url(service)}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{service} not healthy after {timeout} s; {self.tail(service)}")

    def tail(self, service: str) -> str:
        lines = (self.log_dir / f"{service}.log").read_text(errors="replace").splitlines()
        return "last log lines:\n" + "\n".join(lines[-25:])

    async def wait_exit(self, service: str, within: float = 30.0) -> int:
        """Wait for a process to end by itself (a failpoint) and return its exit code."""
        deadline = time.monotonic() + within
        while (code := self.processes[service].poll()) is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"{service} still running after {within} s")
            await asyncio.sleep(0.1)
        return code

    def stop(self, service: str) -> None:
        """SIGTERM one service and wait for it."""
        process = self.processes.pop(service)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop_all(self) -> None:
        for service in reversed(SERVICES):
            if service in self.processes:
                self.stop(service)
