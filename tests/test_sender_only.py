"""`sabai send` sends without polling; a second sender without a shared Redis budget is refused
(or, forced, runs with a loud warning); `sabai run --no-sender` leaves sending to others."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.alerts.service import AlertSpec, create_alert
from bot.channels.telegram.client import EMULATOR_BOT_ID
from bot.cli.main import _parser
from bot.core.base import utcnow
from bot.core.db import create_engine
from bot.core.i18n import Catalog
from bot.delivery.sender_guard import SenderConflict, take_sender_slot
from bot.devtools.emulator import Emulator, EmulatorServer
from bot.lessons.pushes import QuietHours
from bot.residents.models import Resident
from bot.wiring.app import build_app
from bot.wiring.background import background
from bot.wiring.runner import send
from tests.botkit import project_dir
from tests.botkit import test_settings as settings_for

KULAURA = "605865"
REDIS_URL = "redis://127.0.0.1:6379/0"
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_a_second_sender_without_a_shared_budget_is_refused_unless_forced(
    db_url: str, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    other = create_engine(db_url)  # another process's pool
    first = await take_sender_slot(engine, shared_budget=False)
    try:
        with pytest.raises(SenderConflict, match=r"sending\.redis_url"):
            await take_sender_slot(other, shared_budget=False)
        # Even one whose own budget is in Redis: the first keeps a budget of its own.
        with pytest.raises(SenderConflict, match=r"sending\.redis_url"):
            await take_sender_slot(other, shared_budget=True)
        with caplog.at_level(logging.WARNING, logger="sabai.sender"):
            forced = await take_sender_slot(other, shared_budget=False, force=True)
        [warning] = [r for r in caplog.records if r.name == "sabai.sender"]
        assert warning.levelno == logging.CRITICAL
        assert "rate_per_second" in warning.getMessage()
        await forced.release()
    finally:
        await first.release()
    # Once the first sender stops, the next one starts.
    again = await take_sender_slot(other, shared_budget=False)
    await again.release()
    await other.dispose()


async def test_senders_sharing_a_redis_budget_run_together(
    db_url: str, engine: AsyncEngine
) -> None:
    other = create_engine(db_url)
    slots = [
        await take_sender_slot(engine, shared_budget=True),
        await take_sender_slot(other, shared_budget=True),
    ]
    try:
        with pytest.raises(SenderConflict, match="another sender"):
            await take_sender_slot(other, shared_budget=False)
    finally:
        for slot in slots:
            await slot.release()
        await other.dispose()


async def _alert_for(sessions: Sessions, residents: int) -> None:
    now = utcnow()
    async with sessions.begin() as session:
        session.add_all(
            Resident(telegram_id=8_300 + n, language="en", area_code=KULAURA, consent_at=now)
            for n in range(residents)
        )
    spec = AlertSpec(
        topic="water",
        urgency="urgent",
        area_codes=(KULAURA,),
        texts={"bn": "পানি বন্ধ থাকবে।", "en": "No water until noon."},
        send_at=now,
        expires_at=now + timedelta(hours=2),
    )
    await create_alert(
        sessions,
        spec,
        "test",
        Catalog.load(),
        settings_for("").tz,
        QuietHours(),
        known_area=lambda code: True,
    )


async def test_sabai_send_delivers_the_outbox_without_polling(
    db_url: str, sessions: Sessions
) -> None:
    emulator = Emulator(bot_id=EMULATOR_BOT_ID)
    for n in range(3):
        emulator.add_user(8_300 + n)
    await _alert_for(sessions, 3)
    async with EmulatorServer(emulator) as server:
        stop = asyncio.Event()
        settings = settings_for(db_url, telegram_api=server.base_url)
        sender = asyncio.create_task(send(settings, stop=stop))
        try:
            for n in range(3):
                [alert] = await emulator.wait_for_messages(8_300 + n, timeout=15)
                assert "No water until noon." in alert.text
        finally:
            stop.set()
            assert await sender == 0
    methods = {record.method.lower() for record in emulator.requests}
    assert "sendmessage" in methods and "getupdates" not in methods


async def test_run_with_no_sender_starts_beside_a_running_sender(
    db_url: str, engine: AsyncEngine
) -> None:
    args = _parser().parse_args(["run", "--no-sender", "--no-chat"])
    assert args.no_sender and not args.force
    assert _parser().parse_args(["send", "--force"]).force
    sender = await take_sender_slot(engine, shared_budget=False)
    try:
        emulator = Emulator(bot_id=EMULATOR_BOT_ID)
        async with EmulatorServer(emulator) as server:
            settings = settings_for(db_url, run_scheduler=False)
            async with build_app(settings, "1:" + "x" * 35, server.base_url) as app:
                with pytest.raises(SenderConflict):
                    async with background(app, settings):
                        pass
                no_sender = dataclasses.replace(settings, run_sender=False)
                async with background(app, no_sender):
                    pass
    finally:
        await sender.release()


async def test_sabai_send_exits_naming_the_setting_when_another_sender_runs(
    db_url: str, engine: AsyncEngine
) -> None:
    first = await take_sender_slot(engine, shared_budget=False)
    environ = {
        **os.environ,
        "SABAI_DATABASE_URL": db_url,
        "SABAI_TELEGRAM_API": "http://127.0.0.1:9",
        "SABAI_REDIS_URL": "",
    }
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli.main",
            "send",
            cwd=project_dir(),
            env=environ,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 2
        assert "sending.redis_url" in err.decode() and "Traceback" not in err.decode()

        forced = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli.main",
            "send",
            "--force",
            cwd=project_dir(),
            env=environ,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert forced.stderr is not None
        seen = b""
        while b"sending only" not in seen:
            line = await asyncio.wait_for(forced.stderr.readline(), 60)
            assert line, seen.decode()
            seen += line
        assert b'"level": "CRITICAL"' in seen and b"SENDING OVER THE RATE CAP" in seen
        forced.send_signal(signal.SIGTERM)
        await asyncio.wait_for(forced.communicate(), 30)
        assert forced.returncode == 0
    finally:
        await first.release()
