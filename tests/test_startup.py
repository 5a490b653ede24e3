"""Start-up failures an operator can fix: one clear line, a non-zero exit, no traceback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

SABAI = [sys.executable, "-m", "bot.cli.main"]
TOKEN = "123456789:" + "A" * 35


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SABAI_")}
    env["SABAI_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'sabai.db'}"
    env.update(extra)
    return env


def _sabai(env: dict[str, str], cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SABAI, *argv], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def _plain_lines(stderr: str) -> list[str]:
    """What the operator reads: the lines that are not structured log records."""
    return [line for line in stderr.splitlines() if not line.startswith("{")]


def test_a_port_in_use_is_named(tmp_path: Path, project_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _sabai(_env(tmp_path), project_dir, "emulator", "--port", str(port))
        config = tmp_path / "config.toml"
        config.write_text(f"[emulator]\nport = {port}\n")
        offline = _sabai(_env(tmp_path, SABAI_CONFIG=str(config)), project_dir, "run", "--no-chat")
    for run in (done, offline):
        assert run.returncode == 1
        assert "Traceback" not in run.stderr
        [line] = _plain_lines(run.stderr)
        assert f"127.0.0.1:{port}" in line and "already in use" in line
        assert "[emulator] port" in line


def test_a_database_that_cannot_be_opened_is_named(tmp_path: Path, project_dir: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    unreachable = "postgresql+asyncpg://postgres@127.0.0.1:1/sabai"
    for url in (f"sqlite+aiosqlite:///{blocker}/sabai.db", unreachable):
        for argv in (["db", "upgrade"], ["alerts", "list"]):
            done = _sabai(_env(tmp_path, SABAI_DATABASE_URL=url), project_dir, *argv)
            assert done.returncode == 1, done.stderr
            assert "Traceback" not in done.stderr
            [line] = _plain_lines(done.stderr)
            assert "cannot open the database" in line and "SABAI_DATABASE_URL" in line


def test_an_unreachable_telegram_is_retried_until_sigterm(
    tmp_path: Path, project_dir: Path
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        env = _env(tmp_path, SABAI_BOT_TOKEN=TOKEN, SABAI_TELEGRAM_API=f"http://127.0.0.1:{port}")
        process = subprocess.Popen(
            [*SABAI, "run"],
            env=env,
            cwd=project_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stderr is not None
        retries: list[str] = []
        deadline = time.monotonic() + 90
        while len(retries) < 2 and time.monotonic() < deadline:
            line = process.stderr.readline()
            if line.startswith("sabai: cannot reach"):
                retries.append(line)
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=30)
    assert len(retries) == 2
    assert f"127.0.0.1:{port}" in retries[0] and "SABAI_TELEGRAM_API" in retries[0]
    assert "retrying in 1 s" in retries[0] and "retrying in 2 s" in retries[1]
    assert TOKEN not in "".join(retries) + rest
    assert "Traceback" not in rest
    assert "did not start" in rest
    assert process.returncode == 1
