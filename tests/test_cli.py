"""The `sabai` command as an operator uses it: migrate, import areas, run offline."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

from bot.devtools.emulator import EmulatorClient

SABAI = [sys.executable, "-m", "bot.cli.main"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SABAI_")}
    env["SABAI_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env.update(extra)
    return env


def test_db_upgrade_and_areas_import_are_repeatable(tmp_path: Path, project_dir: Path) -> None:
    env = _env(tmp_path)
    for _ in range(2):
        done = subprocess.run(
            [*SABAI, "db", "upgrade"],
            env=env,
            cwd=project_dir,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert "latest schema" in done.stdout
    for _ in range(2):
        done = subprocess.run(
            [*SABAI, "areas", "import"],
            env=env,
            cwd=project_dir,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert "imported 5776 areas and 1232 population figures" in done.stdout
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        assert conn.execute("SELECT count(*) FROM areas").fetchone() == (5776,)
        assert conn.execute("SELECT count(*) FROM area_population").fetchone() == (1232,)
        name = conn.execute("SELECT name_bn FROM areas WHERE code='6058'").fetchone()
    assert name == ("মৌলভীবাজার",)


def test_bad_configuration_names_what_to_fix(tmp_path: Path, project_dir: Path) -> None:
    env = _env(tmp_path, SABAI_DATABASE_URL="mysql://nope")
    done = subprocess.run(
        [*SABAI, "db", "upgrade"],
        env=env,
        cwd=project_dir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "configuration error" in done.stderr and "SABAI_DATABASE_URL" in done.stderr
    assert "Traceback" not in done.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_run_offline_answers_a_resident(tmp_path: Path, project_dir: Path) -> None:
    """`sabai run` with no token: the emulator and the bot in long polling, in one process."""
    port = _free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[emulator]\nhost = "127.0.0.1"\nport = {port}\n[telegram]\npolling_timeout = 1\n',
        encoding="utf-8",
    )
    secret = "98765:" + "Q" * 35
    env = _env(tmp_path, SABAI_CONFIG=str(config))
    proc = await asyncio.create_subprocess_exec(
        *SABAI,
        "run",
        "--no-chat",
        env=env,
        cwd=project_dir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with EmulatorClient(f"http://127.0.0.1:{port}", timeout=60) as client:
            for _ in range(200):
                try:
                    await client.add_user(424242, first_name="Shapla")
                    break
                except OSError:
                    await asyncio.sleep(0.1)
            await client.send_text(424242, "/start")
            [welcome] = await client.wait_for_messages(424242, count=1, timeout=20)
            assert "Choose your language" in welcome.text
            assert [label for label, _ in welcome.buttons[0]][1] == "English"
            await client.press_button(424242, welcome.message_id, "lang:en")
            # The answer edits the welcome message in place: wait for that change.
            [edited] = await client.messages(424242, changed_after=welcome.seq, wait=20)
            assert edited.message_id == welcome.message_id
            assert "Where do you live?" in edited.text
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    log = stderr.decode()
    assert proc.returncode == 0, log[-2000:]
    assert '"message": "update handled"' in log
    assert secret not in log
