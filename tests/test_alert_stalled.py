"""An alert whose queueing process died half-way says "queueing" until the running bot, not
only the next start, has queued every recipient, once."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.alerts.models import Alert
from bot.alerts.queueing import claim_stalled
from bot.alerts.service import QUEUEING, resume_queueing
from bot.alerts.vocabulary import QUEUED
from bot.cli import alerts as cli_alerts
from bot.cli.main import _parser
from bot.core.base import utcnow
from bot.delivery.outbox import OUTBOX
from bot.residents.models import Resident
from bot.wiring.stalled_alerts import finish_stalled_alerts
from tests.botkit import running_bot
from tests.botkit import test_settings as settings_for
from tests.test_alerts import make_coordinator

KULAURA = "605865"
RESIDENTS = 2500  # three outbox batches of 1,000
Sessions = async_sessionmaker[AsyncSession]


class Killed(Exception):
    """Stands for the process dying between two batches of outbox rows."""


@contextmanager
def dies_at_outbox_batch(number: int) -> Iterator[None]:
    """Fail the `number`-th batch insert into the outbox, as a kill -9 would stop it."""
    seen = 0

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        nonlocal seen
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX "):
            seen += 1
            if seen >= number:
                raise Killed

    event.listen(Engine, "before_cursor_execute", before)
    try:
        yield
    finally:
        event.remove(Engine, "before_cursor_execute", before)


async def _rows(sessions: Sessions, alert_id: int) -> tuple[int, int]:
    """The alert's outbox rows and the distinct chats among them."""
    async with sessions() as session:
        rows, chats = (
            await session.execute(
                select(func.count(), func.count(func.distinct(OUTBOX.c.chat_id))).where(
                    OUTBOX.c.job_kind == "alert", OUTBOX.c.job_id == alert_id
                )
            )
        ).one()
    return int(rows), int(chats)


async def _show(db_url: str, alert_id: int) -> str:
    out = io.StringIO()
    args = _parser().parse_args(["alerts", "show", str(alert_id)])
    assert await cli_alerts.run(args, settings_for(db_url), out) == 0
    return out.getvalue()


async def test_a_half_queued_alert_says_queueing_and_the_running_bot_finishes_it(
    db_url: str, sessions: Sessions
) -> None:
    now = utcnow()
    async with running_bot(db_url) as h:
        coordinator = await make_coordinator(h, 9400)
        async with sessions.begin() as session:
            session.add_all(
                Resident(
                    telegram_id=7_000_000 + n, language="bn", area_code=KULAURA, consent_at=now
                )
                for n in range(RESIDENTS)
            )
        flood = ["--topic", "flood", "--urgency", "urgent", "--text", "bn=নদীর পানি বাড়ছে।"]
        send = _parser().parse_args(["alerts", "send", "--areas", KULAURA, *flood])
        with dies_at_outbox_batch(2), pytest.raises(Exception) as died:
            await cli_alerts.run(send, settings_for(db_url), io.StringIO())
        assert died.errisinstance(Killed) or isinstance(died.value.__cause__, Killed)
        async with sessions() as session:
            alert_id = await session.scalar(select(func.max(Alert.id)))
        assert alert_id is not None
        assert await _rows(sessions, alert_id) == (1000, 1000)

        shown = await _show(db_url, alert_id)
        assert "queueing" in shown and "done" not in shown
        assert "so far" in shown
        [listing] = await coordinator.send("/alerts")
        assert "queueing" in listing.text and "done" not in listing.text

        # Freshly touched: a process that might still be queueing it is left alone.
        assert (
            await resume_queueing(
                h.app.sessions, h.app.ctx.catalog, h.app.ctx.tz, stalled_after=timedelta(seconds=30)
            )
            == 0
        )

        stop = asyncio.Event()
        checker = asyncio.create_task(
            finish_stalled_alerts(h.app, stop, every=0.1, stalled_after=timedelta(seconds=0.5))
        )
        try:
            for _ in range(100):
                async with sessions() as session:
                    if (
                        await session.scalar(select(Alert.status).where(Alert.id == alert_id))
                        == QUEUED
                    ):
                        break
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            await checker
        assert await _rows(sessions, alert_id) == (RESIDENTS + 1, RESIDENTS + 1)
        shown = await _show(db_url, alert_id)
        assert "queueing" not in shown
        assert f"recipients: {RESIDENTS + 1}" in shown
        [listing] = await coordinator.send("/alerts")
        assert "queueing" not in listing.text


async def test_two_checkers_take_a_stalled_alert_over_once(sessions: Sessions) -> None:
    now = utcnow()
    async with sessions.begin() as session:
        alert = Alert(
            topic="flood",
            urgency="urgent",
            area_codes=[KULAURA],
            texts={"bn": "বন্যার সতর্কতা"},
            send_at=now,
            deliver_at=now,
            expires_at=now + timedelta(hours=6),
            status=QUEUEING,
            recipients=0,
            created_by="test",
            created_at=now - timedelta(minutes=5),
        )
        session.add(alert)
        await session.flush()
        alert_id = alert.id
    claims = await asyncio.gather(*(claim_stalled(sessions) for _ in range(4)))
    assert sorted(ids for ids in claims if ids) == [[alert_id]]
    # The winner's mark is fresh now: nobody takes it again before it goes stale.
    assert await claim_stalled(sessions) == []
    assert await claim_stalled(sessions, now + timedelta(minutes=1)) == [alert_id]
