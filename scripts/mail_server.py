"""The local mail server: a real SMTP server (aiosmtpd) that keeps every message it receives
as an .eml file, for development and tests. Nothing is relayed anywhere.

    python scripts/mail_server.py start  --run-dir .run [--port 11025]   # in the background
    python scripts/mail_server.py stop   --run-dir .run
    python scripts/mail_server.py status --run-dir .run
    python scripts/mail_server.py serve  --run-dir .run [--port 11025]   # in the foreground

Messages land in <run dir>/mail/<received at>-<id>.eml (open them with any mail reader, or
read them as text), with `Return-Path` and `Delivered-To` headers naming the SMTP envelope.
`start` runs `serve` as a process of its own (pid in <run dir>/pids/mail.pid, log in
<run dir>/logs/mail.log) and returns once it accepts connections; `stop` signals only a
process that is this checkout's mail server for this run dir, never whatever reused the pid.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

SCRIPT = Path(__file__).resolve()
DEFAULT_PORT = 11025


class MailDrop:
    """aiosmtpd's handler: writes each message to its own file, whole before it is visible."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        content: bytes = envelope.original_content or envelope.content  # type: ignore[attr-defined]
        sender: str = envelope.mail_from  # type: ignore[attr-defined]
        recipients: list[str] = envelope.rcpt_tos  # type: ignore[attr-defined]
        trace = f"Return-Path: <{sender}>\r\n" + "".join(
            f"Delivered-To: {recipient}\r\n" for recipient in recipients
        )
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}-{uuid.uuid4().hex[:8]}.eml"
        await asyncio.to_thread(self._keep, name, trace.encode() + content)
        print(f"received {name}: from {sender} to {', '.join(recipients)}", flush=True)
        return "250 Message accepted for delivery"

    def _keep(self, name: str, message: bytes) -> None:
        partial = self.folder / f".{name}.partial"
        partial.write_bytes(message)
        partial.replace(self.folder / name)  # readers never see half a message


async def serve(host: str, port: int, folder: Path) -> None:
    """Accept mail on host:port until SIGTERM or SIGINT."""
    from aiosmtpd.smtp import SMTP  # only the serving process needs aiosmtpd

    loop = asyncio.get_running_loop()
    handler = MailDrop(folder)
    server = await loop.create_server(lambda: SMTP(handler), host, port)
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    print(f"mail server on {host}:{port}, keeping messages in {folder}", flush=True)
    async with server:
        await stopping.wait()


def _pidfile(run_dir: Path) -> Path:
    return run_dir / "pids" / "mail.pid"


def _running(run_dir: Path) -> int | None:
    """The pid of this run dir's mail server, if one runs: its command line must be ours."""
    try:
        pid = int(_pidfile(run_dir).read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    ours = [str(SCRIPT).encode(), b"serve", b"--run-dir", str(run_dir).encode()]
    return pid if command[1 : 1 + len(ours)] == ours else None


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def start(run_dir: Path, port: int) -> int:
    if (pid := _running(run_dir)) is not None:
        print(f"mail: already running (pid {pid})")
        return 0
    for folder in ("pids", "logs", "mail"):
        (run_dir / folder).mkdir(parents=True, exist_ok=True)
    log = (run_dir / "logs" / "mail.log").open("ab")
    command = [sys.executable, str(SCRIPT), "serve", "--run-dir", str(run_dir), "--port", str(port)]
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # outlives the shell that started it
    )
    _pidfile(run_dir).write_text(f"{process.pid}\n")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            print(
                f"mail: exited during start-up; see {run_dir / 'logs' / 'mail.log'}",
                file=sys.stderr,
            )
            return 1
        if _accepts(port):
            print(f"mail: SMTP on 127.0.0.1:{port}, messages in {run_dir / 'mail'}")
            return 0
        time.sleep(0.1)
    print(f"mail: not accepting on port {port} after 15 s", file=sys.stderr)
    return 1


def stop(run_dir: Path) -> int:
    pidfile = _pidfile(run_dir)
    if (pid := _running(run_dir)) is not None:
        os.kill(pid, signal.SIGTERM)
        for _ in range(40):
            if _running(run_dir) is None:
                break
            time.sleep(0.25)
        else:
            os.kill(pid, signal.SIGKILL)
        print("mail: stopped")
    pidfile.unlink(missing_ok=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["start", "stop", "status", "serve"])
    parser.add_argument("--run-dir", type=Path, default=SCRIPT.parents[1] / ".run")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--host", default="127.0.0.1")
    arguments = parser.parse_args()
    run_dir = arguments.run_dir.resolve()
    if arguments.command == "serve":
        (run_dir / "mail").mkdir(parents=True, exist_ok=True)
        asyncio.run(serve(arguments.host, arguments.port, run_dir / "mail"))
        return 0
    if arguments.command == "start":
        return start(run_dir, arguments.port)
    if arguments.command == "stop":
        return stop(run_dir)
    pid = _running(run_dir)
    print(f"mail: running (pid {pid})" if pid else "mail: stopped")
    return 0 if pid else 1


if __name__ == "__main__":
    sys.exit(main())
