"""Coordinators' /reach and /missing through the real dispatcher, with the chart."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.staff.roles import Role, grant_role
from tests.botkit import running_bot
from tests.onboard import signed_up
from tests.test_reach import person


async def test_reach_and_missing_in_chat(
    sessions: async_sessionmaker[AsyncSession], db_url: str
) -> None:
    async with running_bot(db_url) as h:
        async with h.app.sessions() as session:
            await grant_role(session, 8201, Role.COORDINATOR, "6058", "cli:test")
            for _ in range(12):
                person(session, "605814")
            for _ in range(3):
                person(session, "605865")
            for words in ("Baro Haor, Kulaura", "Mirpur, Dhaka"):
                for _ in range(5):
                    person(session, None, unlisted=words)
            await session.commit()
        coordinator = await signed_up(h, 8201, language="বাংলা", area="কুলাউড়া")
        text, chart = await coordinator.send("/reach")
        assert "মৌলভীবাজার" in text.text and "&lt;" not in text.text
        assert "<৫" in text.text  # Kulaura's 3 (+1: the coordinator) are hidden
        assert not any(ch.isascii() and ch.isdigit() for ch in text.text.replace("10,000", ""))
        assert chart.kind == "photo"
        text, chart = await coordinator.send("/missing")
        assert "উপজেলা" in text.text and chart.kind == "photo"
        # Words typed for an unlisted area: Kulaura's shown here, Dhaka's not.
        assert "baro haor, kulaura" in text.text and "mirpur" not in text.text
        [outside] = await coordinator.send("/reach Sylhet")
        assert "বাইরে" in outside.text  # outside the areas they cover
        [unknown] = await coordinator.send("/reach xqzt")
        assert "খুঁজে পাইনি" in unknown.text
        [union] = await coordinator.send("/reach 60586510")  # a union: no children, no chart
        assert union.kind == "text"
        resident = await signed_up(h, 8202)
        [answer] = await resident.send("/reach")
        assert "don't know that command" in answer.text
