# mypy: disable-error-code="import-untyped"
"""Wait until a Kafka broker answers a metadata request; exit 1 with a pointer to its log if not.

An open port is not enough: a KRaft broker accepts connections before its controller has
elected itself, and clients then fail with timeouts. A listed topic set means it is ready.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time

from aiokafka.admin import AIOKafkaAdminClient


def _alive(pid: int | None) -> bool:
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _probe(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        await admin.list_topics()
    finally:
        await admin.close()


async def _wait(bootstrap: str, seconds: float, pid: int | None) -> str | None:
    """Return None once the broker answers, else the reason it did not."""
    deadline = time.monotonic() + seconds
    last_error = "no attempt made"
    while time.monotonic() < deadline:
        if not _alive(pid):
            return f"the broker process (pid {pid}) exited"
        try:
            await asyncio.wait_for(_probe(bootstrap), timeout=10)
        except Exception as exc:  # any failure just means "not yet"
            last_error = f"{type(exc).__name__}: {exc}"
            await asyncio.sleep(0.5)
        else:
            return None
    return f"no metadata from {bootstrap} within {seconds:.0f} s (last error: {last_error})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument("--pid", type=int, help="give up at once if this process dies")
    parser.add_argument("--log", default=".run/logs/kafka.log", help="named in the failure message")
    args = parser.parse_args()

    # aiokafka logs every refused connection at ERROR while we are still waiting: not news.
    logging.basicConfig(level=logging.CRITICAL)
    started = time.monotonic()
    failure = asyncio.run(_wait(args.bootstrap, args.timeout, args.pid))
    if failure is None:
        print(f"kafka: metadata answered after {time.monotonic() - started:.1f} s")
        return 0
    print(f"kafka: not ready: {failure}.\nkafka: see the broker log: {args.log}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
