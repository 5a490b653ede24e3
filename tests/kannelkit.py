"""A real Kannel (bearerbox + smsbox, fake SMSC) on free loopback ports, and phones on fakesmsc.

fakesmsc stands in for the operator's SMS centre: each incoming SMS is one fakesmsc run that
sends it and then prints every SMS bearerbox routes to it ("Got message N: <from to type
text>"). The fake SMSC serves one fakesmsc at a time; SMS sent meanwhile wait in bearerbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote_to_bytes

import pytest

BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
TEMPLATE = Path(__file__).resolve().parent.parent / "scripts" / "kannel" / "sabai-fake.conf.in"
SHORT_CODE = "1234"
GOT = re.compile(r"Got message \d+: <(\S+) (\S+) (\S+) (.*)>$")


def require_kannel() -> None:
    """Skip without Kannel; in CI (where scripts/services.sh installs it) fail instead."""
    missing = [p for p in (BEARERBOX, SMSBOX, FAKESMSC) if not Path(p).exists()]
    if missing:
        message = (
            f"Kannel is not installed ({missing[0]} missing): apt-get install kannel kannel-extras"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _port_open(port: int, seconds: float = 15.0) -> None:
    for _ in range(int(seconds * 10)):
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"Kannel did not open port {port}")


def decode(kind: str, data: str) -> str:
    """fakesmsc's text of one SMS: plain, or url-encoded UCS-2 (UTF-16BE)."""
    if kind == "text":
        return data
    return unquote_to_bytes(data.replace("+", "%20")).decode("utf-16-be")


@dataclass
class Kannel:
    sendsms_url: str
    fake_port: int
    directory: Path

    async def exchange(self, number: str | None, text: str, wait: float, expect: int) -> list[str]:
        """Send `text` from `number` (None: send nothing) and collect SMS routed to the phone
        for up to `wait` seconds or until `expect` arrived."""
        message = f"{number or '0'} {SHORT_CODE} text {text}"
        process = await asyncio.create_subprocess_exec(
            FAKESMSC,
            "-H",
            "127.0.0.1",
            "-r",
            str(self.fake_port),
            "-i",
            "0",
            "-m",
            "1" if number else "0",
            message,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        received: list[str] = []
        assert process.stdout is not None
        try:
            async with asyncio.timeout(wait):
                while len(received) < expect:
                    line = (await process.stdout.readline()).decode(errors="replace").rstrip()
                    if not line:
                        break
                    match = GOT.search(line)
                    if match:
                        received.append(decode(match.group(3), match.group(4)))
        except TimeoutError:
            pass
        finally:
            process.terminate()
            await process.wait()
        return received


@asynccontextmanager
async def running_kannel(
    tmp: Path, sabai: str, secret: str, password: str
) -> AsyncIterator[Kannel]:
    """bearerbox and smsbox from scripts/kannel/sabai-fake.conf.in; `sabai` is host:port."""
    ports = {name: free_port() for name in ("ADMIN", "SMSBOX", "FAKE", "SENDSMS")}
    values = {
        "ADMIN_PORT": ports["ADMIN"],
        "ADMIN_PASSWORD": "admin-" + secret[:8],
        "SMSBOX_PORT": ports["SMSBOX"],
        "FAKE_PORT": ports["FAKE"],
        "SENDSMS_PORT": ports["SENDSMS"],
        "SENDER": SHORT_CODE,
        "PASSWORD": password,
        "SABAI": sabai,
        "SECRET": secret,
        "DIR": tmp,
    }
    text = TEMPLATE.read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace(f"@{name}@", str(value))
    config = tmp / "kannel.conf"
    config.write_text(text, encoding="utf-8")
    processes = []
    try:
        for binary, port in ((BEARERBOX, ports["SMSBOX"]), (SMSBOX, ports["SENDSMS"])):
            processes.append(
                await asyncio.create_subprocess_exec(
                    binary,
                    str(config),
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
            )
            await _port_open(port)
        url = f"http://127.0.0.1:{ports['SENDSMS']}/cgi-bin/sendsms"
        yield Kannel(url, ports["FAKE"], tmp)
    finally:
        for process in reversed(processes):
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            await process.wait()


def kannel_logs(directory: Path) -> str:
    """The end of Kannel's logs, for a failing test's message."""
    parts = []
    for name in ("bearerbox.log", "smsbox.log"):
        path = directory / name
        if path.exists():
            parts.append(f"--- {name}\n" + "\n".join(path.read_text().splitlines()[-20:]))
    return "\n".join(parts) or shutil.which("bearerbox") or ""
