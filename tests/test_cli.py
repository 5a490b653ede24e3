"""The `sabai` command as an operator uses it: migrate, import areas, run offline."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from bot.cli.main import main
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
    # The start-up migration reports the steps it applied, and none of Alembic's chatter.
    assert '"message": "database migrated"' in log
    assert '"logger": "alembic' not in log


# Commands an operator runs beside the bot, none of which talks to Telegram.
AWAY_FROM_TELEGRAM = [
    ["content", "check"],
    ["db", "upgrade"],
    ["alerts", "list"],
    ["audit"],
    ["reach"],
    ["missing", "--top", "3"],
    ["staff", "list"],
]


def test_commands_away_from_telegram_do_not_import_aiogram(
    tmp_path: Path, project_dir: Path
) -> None:
    """Importing aiogram (its pydantic models) alone takes seconds: these commands skip it."""
    script = (
        "import sys\n"
        "from bot.cli.main import main\n"
        f"statuses = [main(argv) for argv in {AWAY_FROM_TELEGRAM!r}]\n"
        "aiogram = sorted(m for m in sys.modules if m.split('.')[0] == 'aiogram')\n"
        "print('@', statuses, aiogram)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=_env(tmp_path),
        cwd=project_dir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-1] == f"@ {[0] * len(AWAY_FROM_TELEGRAM)} []"


def _sabai(tmp_path: Path, project_dir: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SABAI, *argv],
        env=_env(tmp_path),
        cwd=project_dir,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_db_upgrade_reports_only_what_it_changes(tmp_path: Path, project_dir: Path) -> None:
    first = _sabai(tmp_path, project_dir, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    steps = [json.loads(line) for line in first.stderr.splitlines()]
    assert [(s["message"], s["from"], s["to"]) for s in steps][:2] == [
        ("database migrated", "empty", "0001"),
        ("database migrated", "0001", "0002"),
    ]
    assert all(s["logger"] == "sabai.db" for s in steps)

    again = _sabai(tmp_path, project_dir, "db", "upgrade")
    assert again.returncode == 0 and "latest schema" in again.stdout
    assert again.stderr == ""

    verbose = _sabai(tmp_path, project_dir, "db", "upgrade", "--verbose")
    assert verbose.returncode == 0 and "latest schema" in verbose.stdout
    assert "Context impl" in verbose.stderr


def test_version(tmp_path: Path, project_dir: Path) -> None:
    done = _sabai(tmp_path, project_dir, "--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"sabai {version('sabai')}"


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def _choices(help_text: str) -> list[str]:
    """The subcommands a help text lists under "positional arguments"."""
    found = re.search(r"^  \{([a-z,-]+)\}", help_text, flags=re.M)
    return found.group(1).split(",") if found else []


def test_readme_command_table_matches_help(
    project_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (project_dir / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    # Each command's rows, joined: `sabai staff add …` and its "also `staff list`" note.
    rows: dict[str, str] = {}
    for line in section.splitlines():
        found = re.match(r"^\| `sabai ([a-z-]+)", line)
        if found:
            rows[found.group(1)] = rows.get(found.group(1), "") + line
    top = _help(capsys)
    commands = _choices(top)
    assert sorted(name for name in rows if not name.startswith("-")) == sorted(commands)
    for option in re.findall(r"^  (--[a-z-]+)", top, flags=re.M):
        assert option == "--help" or option in section, option
    for command in commands:
        for sub in _choices(_help(capsys, command)):
            assert re.search(rf"\b{sub}\b", rows[command]), f"`sabai {command} {sub}`"
    assert "--verbose" in rows["db"]
