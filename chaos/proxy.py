"""Network faults through Toxiproxy (Shopify's TCP proxy, built by scripts/toxiproxy.sh): a
server process of the scenario's own, and proxies in front of an upstream that the scenario
cuts (every connection closed, new ones refused), slows (latency on every packet) or
restores, over Toxiproxy's HTTP API.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from chaos.infra import SCRIPTS
from tests.e2e.system import free_port


def server_binary() -> Path:
    """Where scripts/toxiproxy.sh builds the pinned version (it is the one that knows which)."""
    path = subprocess.run(
        ["bash", str(SCRIPTS / "toxiproxy.sh"), "path"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return Path(path)


@dataclass(frozen=True)
class Proxy:
    """One proxy: clients connect to `listen` instead of the upstream."""

    name: str
    listen: str
    api: httpx.AsyncClient

    async def cut(self) -> None:
        """Disable it: open connections are closed and new ones refused, until `restore`."""
        await self._update({"enabled": False})

    async def restore(self) -> None:
        """Enabled again, and without toxics: the network is healthy."""
        await self._update({"enabled": True})
        toxics = await self.api.get(f"/proxies/{self.name}/toxics")
        toxics.raise_for_status()
        for toxic in toxics.json():
            deleted = await self.api.delete(f"/proxies/{self.name}/toxics/{toxic['name']}")
            deleted.raise_for_status()

    async def slow(self, latency_ms: int, jitter_ms: int = 0) -> None:
        """Delay every packet both ways by `latency_ms` (± `jitter_ms`)."""
        for stream in ("upstream", "downstream"):
            await self._toxic(
                f"latency_{stream}",
                "latency",
                stream,
                {"latency": latency_ms, "jitter": jitter_ms},
            )

    async def _toxic(self, name: str, kind: str, stream: str, attributes: dict[str, Any]) -> None:
        body = {"name": name, "type": kind, "stream": stream, "toxicity": 1.0}
        created = await self.api.post(
            f"/proxies/{self.name}/toxics", json=body | {"attributes": attributes}
        )
        created.raise_for_status()

    async def _update(self, fields: dict[str, Any]) -> None:
        updated = await self.api.post(f"/proxies/{self.name}", json=fields)
        updated.raise_for_status()


@dataclass(frozen=True)
class Toxiproxy:
    """A running toxiproxy-server and a client for its API."""

    api: httpx.AsyncClient

    async def proxy(self, name: str, upstream: str) -> Proxy:
        """A new proxy to `upstream` (host:port) on a free loopback port."""
        listen = f"127.0.0.1:{free_port()}"
        created = await self.api.post(
            "/proxies", json={"name": name, "listen": listen, "upstream": upstream}
        )
        created.raise_for_status()
        return Proxy(name, listen, self.api)


@contextlib.asynccontextmanager
async def toxiproxy(log_file: Path) -> AsyncIterator[Toxiproxy]:
    """A toxiproxy-server of this run on a free loopback port, stopped on exit."""
    binary = server_binary()
    if not binary.exists():
        raise RuntimeError(f"{binary} is missing: run `bash scripts/toxiproxy.sh setup`")
    port = free_port()
    with log_file.open("ab") as log:
        server = await asyncio.create_subprocess_exec(
            str(binary), "-host", "127.0.0.1", "-port", str(port), stdout=log, stderr=log
        )
    api = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10)
    try:
        await _wait_ready(api, server)
        yield Toxiproxy(api)
    finally:
        await api.aclose()
        if server.returncode is None:
            server.terminate()
            try:
                async with asyncio.timeout(10):
                    await server.wait()
            except TimeoutError:
                server.kill()
                await server.wait()


async def _wait_ready(api: httpx.AsyncClient, server: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.returncode is not None:
            raise RuntimeError(f"toxiproxy-server exited with {server.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if (await api.get("/version")).status_code == 200:
                return
        await asyncio.sleep(0.2)
    raise RuntimeError("toxiproxy-server not answering after 30 s")
