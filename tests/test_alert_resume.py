"""An alert whose queueing a crash interrupted is finished at the next start, once."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.alerts.models import Alert
from bot.alerts.service import QUEUEING, resume_queueing
from bot.alerts.vocabulary import QUEUED
from bot.core.base import utcnow
from bot.core.i18n import Catalog
from bot.delivery.outbox import OUTBOX
from bot.residents.models import Resident

KULAURA = "605865"


async def _queued_rows(sessions: async_sessionmaker[AsyncSession], alert_id: int) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(OUTBOX)
            .where(OUTBOX.c.job_kind == "alert", OUTBOX.c.job_id == alert_id)
        )
    return int(count or 0)


async def test_an_interrupted_alert_is_queued_at_restart(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = utcnow()
    async with sessions.begin() as session:
        for n in range(3):
            session.add(
                Resident(telegram_id=9100 + n, language="bn", area_code=KULAURA, consent_at=now)
            )
        # As a crash leaves it: the alert row written, its outbox rows not (all) there.
        alert = Alert(
            topic="flood",
            urgency="urgent",
            area_codes=[KULAURA],
            texts={"bn": "বন্যার সতর্কতা", "en": "Flood warning"},
            send_at=now,
            deliver_at=now,
            expires_at=now + timedelta(hours=6),
            status=QUEUEING,
            recipients=0,
            created_by="test",
        )
        session.add(alert)
        await session.flush()
        alert_id = alert.id
    assert await _queued_rows(sessions, alert_id) == 0

    catalog = Catalog.load()
    tz = ZoneInfo("Asia/Dhaka")
    assert await resume_queueing(sessions, catalog, tz) == 1
    assert await _queued_rows(sessions, alert_id) == 3
    async with sessions() as session:
        stored = await session.get(Alert, alert_id)
        assert stored is not None and stored.status == QUEUED and stored.recipients == 3
    # A second start finds nothing left to do and adds no duplicate.
    assert await resume_queueing(sessions, catalog, tz) == 0
    assert await _queued_rows(sessions, alert_id) == 3
