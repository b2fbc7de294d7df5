"""One Zipkin server for the whole e2e session, started with the project's own script.

The services are told its address from the start; the server itself starts only in a session
that runs a test reading traces, in the background while the services start (the JVM takes
15-20 s on a busy machine). Spans sent before it listens are dropped, and no test looks for them.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 120.0


@dataclass
class Zipkin:
    """A Zipkin server on loopback, run by scripts/zipkin.sh in a run dir of its own."""

    port: int
    run_dir: Path
    starting: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def spans_endpoint(self) -> str:
        """Where the services' Zipkin exporter sends spans (OTEL_EXPORTER_ZIPKIN_ENDPOINT)."""
        return f"{self.url}/api/v2/spans"

    def _script(self, command: str, **popen: Any) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "TALLY_RUN_DIR": str(self.run_dir),
            "TALLY_ZIPKIN_PORT": str(self.port),
        }
        return subprocess.Popen(
            ["bash", str(ROOT / "scripts/zipkin.sh"), command], env=env, **popen
        )

    def start_in_background(self) -> None:
        log = (self.run_dir / "zipkin-start.log").open("ab")
        self.starting = self._script("start", stdout=log, stderr=subprocess.STDOUT)

    async def wait_ready(self) -> None:
        """Start the server unless it is starting, and wait until it answers /health."""
        if self.starting is None:
            self.start_in_background()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                try:
                    if (await client.get(f"{self.url}/health")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if self.starting is not None and self.starting.poll() not in (None, 0):
                    log = (self.run_dir / "zipkin-start.log").read_text(errors="replace")
                    raise RuntimeError(f"zipkin did not start:\n{log[-2000:]}")
                await asyncio.sleep(0.5)
        raise RuntimeError(f"zipkin not ready after {STARTUP_TIMEOUT_SECONDS} s")

    def stop(self) -> None:
        if self.starting is None:
            return
        if self.starting.poll() is None:
            self.starting.wait(timeout=STARTUP_TIMEOUT_SECONDS)
        self._script("stop", stdout=subprocess.DEVNULL).wait(timeout=30)
