"""The weekly digest with a fake clock: when it is due, what it says, and only once a week."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.base import new_pseudonym
from bot.core.i18n import Catalog
from bot.reach.digest import is_due, week_of, weekly_digest_job
from bot.reach.models import Feedback
from bot.residents.models import Resident
from bot.staff.roles import Role, grant_role
from tests.test_reach import TZ, person

MONDAY_9 = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # Monday 09:00 in Dhaka


def test_due_from_monday_nine_local() -> None:
    assert is_due(MONDAY_9, TZ)
    assert not is_due(MONDAY_9 - timedelta(minutes=1), TZ)
    assert is_due(MONDAY_9 + timedelta(days=2), TZ)  # a missed Monday run still goes out
    week = week_of(MONDAY_9, TZ)
    assert week.start == datetime(2026, 11, 22, 18, tzinfo=UTC)  # Mon 23 Nov, 00:00 local
    assert week.end == datetime(2026, 11, 29, 18, tzinfo=UTC)  # Mon 30 Nov, 00:00 local


async def test_weekly_digest_once_per_coordinator(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        await grant_role(session, 8001, Role.COORDINATOR, "6058", "cli:test")
        await grant_role(session, 8002, Role.COORDINATOR, "6091", "cli:test")
        await grant_role(session, 8003, Role.TRAINER, "6058", "cli:test")  # no digest
        # Coordinator 8001 uses the bot in Bangla, 8002 in English.
        for telegram_id, language in ((8001, "bn"), (8002, "en")):
            session.add(
                Resident(
                    pseudonym=new_pseudonym(),
                    telegram_id=telegram_id,
                    language=language,
                    consent_at=MONDAY_9,
                )
            )
        for _ in range(7):
            person(session, "605814", consent=MONDAY_9 - timedelta(days=60))
        person(session, "605865", consent=MONDAY_9 - timedelta(days=60))
        session.add(
            Feedback(
                area_code="605865",
                language="bn",
                text="বন্যার আশ্রয়কেন্দ্র",
                at=datetime(2026, 11, 25, tzinfo=UTC),
            )
        )
        await session.commit()
    sent: list[tuple[int, str]] = []

    async def send(telegram_id: int, text: str) -> None:
        sent.append((telegram_id, text))

    catalog = Catalog.load()
    early = await weekly_digest_job(
        sessions, send, MONDAY_9 - timedelta(hours=1), catalog=catalog, tz=TZ, k=5
    )
    assert early == 0 and sent == []
    assert await weekly_digest_job(sessions, send, MONDAY_9, catalog=catalog, tz=TZ, k=5) == 2
    assert (
        await weekly_digest_job(
            sessions, send, MONDAY_9 + timedelta(hours=5), catalog=catalog, tz=TZ, k=5
        )
        == 0
    )
    texts = dict(sent)
    assert set(texts) == {8001, 8002}
    bangla = texts[8001]
    assert "সাপ্তাহিক" in bangla and "মৌলভীবাজার" in bangla
    assert "নিবন্ধিত ৮" in bangla  # 8 registered in Maulvibazar, Bengali digits
    assert "বন্যার আশ্রয়কেন্দ্র" in bangla  # the week's feedback, without names
    assert "২০২৬-১১-২৩" in bangla
    english = texts[8002]
    assert "weekly digest" in english and "No new feedback" in english
    assert "Sylhet: 0 registered" in english
    # The next Monday is a new week.
    next_week = MONDAY_9 + timedelta(days=7)
    assert await weekly_digest_job(sessions, send, next_week, catalog=catalog, tz=TZ, k=5) == 2


async def test_digest_suppresses_small_counts(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        await grant_role(session, 8101, Role.COORDINATOR, "605865", "cli:test")
        for _ in range(2):
            person(session, "60586510", consent=MONDAY_9 - timedelta(days=60))
        await session.commit()
    sent: list[str] = []

    async def send(_telegram_id: int, text: str) -> None:
        sent.append(text)

    await weekly_digest_job(sessions, send, MONDAY_9, catalog=Catalog.load(), tz=TZ, k=5)
    [text] = sent
    assert "নিবন্ধিত &lt;৫" in text  # no resident row: the default language, Bangla
    assert "নিবন্ধিত ২" not in text
