"""Residents see their community, tell what is missing (no names kept), fill in a profile."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.community import recent_feedback
from bot.events import EventKind
from bot.models import Event, Resident, utcnow
from bot.reach_models import Feedback
from tests.botkit import running_bot
from tests.onboard import signed_up


async def test_community_and_feedback(
    sessions: async_sessionmaker[AsyncSession], db_url: str
) -> None:
    async with running_bot(db_url) as h:
        person = await signed_up(h, 9101, first_name="Runa")
        [view] = await person.send("/community")
        assert "Your community: Kulaura" in view.text
        assert "Registered with Sabai here: <5" in view.text  # one person: suppressed
        assert "No lessons taken here yet" in view.text
        [prompt] = await person.tap("Tell us what is missing")
        assert "in one message" in prompt.text
        [thanks] = await person.send("Teach us  about flood shelters")
        assert "without your name" in thanks.text
        # The conversation goes on as before.
        [menu] = await person.send("/menu")
        assert menu.buttons
        async with h.app.sessions() as session:
            [stored] = (await session.scalars(select(Feedback))).all()
            assert (stored.area_code, stored.text) == ("605865", "Teach us about flood shelters")
            assert (stored.at.hour, stored.at.minute) == (0, 0)  # cut to the day
            resident = await session.scalar(select(Resident).where(Resident.telegram_id == 9101))
            assert resident is not None and resident.awaiting is None
            kinds = (
                await session.scalars(select(Event.kind).where(Event.subject == resident.pseudonym))
            ).all()
            assert EventKind.FEEDBACK_GIVEN.value in kinds
            items = await recent_feedback(session, ["6058"], utcnow() - timedelta(days=7))
            assert [(i.area_name_en, i.text) for i in items] == [
                ("Kulaura", "Teach us about flood shelters")
            ]
            assert await recent_feedback(session, ["6091"], utcnow() - timedelta(days=7)) == []


async def test_community_needs_an_area(
    sessions: async_sessionmaker[AsyncSession], db_url: str
) -> None:
    async with running_bot(db_url) as h:
        person = h.person(9102)
        await person.send("/start")
        await person.send("English")
        await person.tap("not listed")
        await person.send("Baro Haor")
        await person.send("yes")
        [answer] = await person.send("/community")
        assert "Choose your area first" in answer.text


async def test_profile_is_optional_and_says_why(
    sessions: async_sessionmaker[AsyncSession], db_url: str
) -> None:
    async with running_bot(db_url) as h:
        person = await signed_up(h, 9103, language="বাংলা", area="কুলাউড়া")
        [why] = await person.send("/profile")
        assert "ঐচ্ছিক" in why.text  # optional
        [age] = await person.tap("নারী")
        assert age.buttons
        [done] = await person.tap("বাদ দিন")  # skip the age group
        assert "ধন্যবাদ" in done.text
        async with h.app.sessions() as session:
            resident = await session.scalar(select(Resident).where(Resident.telegram_id == 9103))
            assert resident is not None
            assert (resident.gender, resident.age_band) == ("female", None)
        await person.send("/profile")
        await person.tap("বাদ দিন")
        [cleared] = await person.tap("বাদ দিন")
        assert "মুছে ফেলা" in cleared.text
