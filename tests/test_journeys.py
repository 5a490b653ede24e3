"""Residents' journeys end somewhere: every screen has a way on, and nothing is lost."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.residents.models import Resident
from tests.botkit import Harness, running_bot
from tests.onboard import signed_up

Sessions = async_sessionmaker[AsyncSession]


async def area_of(h: Harness, uid: int) -> str | None:
    async with h.app.sessions() as session:
        resident = await session.scalar(select(Resident).where(Resident.telegram_id == uid))
        assert resident is not None
        return resident.area_code


async def test_profile_speaks_to_the_resident_and_leads_back_to_the_menu(
    db_url: str, sessions: Sessions
) -> None:
    async with running_bot(db_url) as h:
        bangla = await signed_up(h, 9500, language="বাংলা", area="কুলাউড়া")
        await bangla.send("/profile")
        [age] = await bangla.tap("নারী")
        assert "আপনার" in age.text and "তিনি" not in age.text
        english = await signed_up(h, 9501)
        await english.send("/profile")
        [age] = await english.tap("Woman")
        assert "the person" not in age.text and "you" in age.text
        [done] = await english.tap("30–44")
        assert "saved" in done.text
        [menu] = await english.tap("Menu")
        assert "Lessons" in str(menu.buttons)


async def test_mydata_and_forget_name_gender_and_age(db_url: str, sessions: Sessions) -> None:
    async with running_bot(db_url) as h:
        person = await signed_up(h, 9502)
        await person.send("/profile")
        await person.tap("Woman")
        await person.tap("30–44")
        [mine] = await person.send("/mydata")
        assert "Gender: Woman" in mine.text and "Age group: 30–44" in mine.text
        [confirm] = await person.send("/forget")
        assert "gender" in confirm.text and "age group" in confirm.text


async def test_privacy_after_consent_has_no_question_and_a_menu_button(
    db_url: str, sessions: Sessions
) -> None:
    async with running_bot(db_url) as h:
        person = await signed_up(h, 9503, language="বাংলা", area="কুলাউড়া")
        [notice] = await person.send("/privacy")
        assert "আপনি কি রাজি?" not in notice.text
        assert notice.buttons and "মেনু" in notice.buttons[0][0][0]
        [helped] = await person.send("/help")
        assert helped.buttons and "মেনু" in helped.buttons[0][0][0]
        newcomer = h.person(9504)
        await newcomer.send("/start")
        await newcomer.send("English")
        [consent] = await newcomer.send("Kulaura")
        assert "Do you agree?" in str([consent.text])
        assert consent.buttons


async def test_topics_button_says_where_it_goes(db_url: str, sessions: Sessions) -> None:
    async with running_bot(db_url) as h:
        person = await signed_up(h, 9505, language="বাংলা", area="কুলাউড়া")
        [topics] = await person.send("/topics")
        back = topics.buttons[-1][0][0]
        [after] = await person.tap(back)
        if "মেনু" in back:
            assert "সেটিংস" not in after.text
        else:
            assert "সেটিংস" in back and "সেটিংস" in after.text


async def test_a_number_beyond_the_page_keeps_the_residents_place(
    db_url: str, sessions: Sessions
) -> None:
    async with running_bot(db_url) as h:
        person = await signed_up(h, 9506)
        [divisions] = await person.send("/area")
        await person.tap(divisions.buttons[0][0][0])
        [districts] = await person.tap(person.last_with_buttons().buttons[0][0][0])
        shown = districts.text
        [answer] = await person.send("12")
        assert "no number 12" in answer.text and answer.text.endswith(shown)
        assert answer.buttons == districts.buttons
        assert await area_of(h, 9506) == "605865"


async def test_not_listed_keeps_a_placed_residents_area(db_url: str, sessions: Sessions) -> None:
    async with running_bot(db_url) as h:
        person = await signed_up(h, 9507)
        await person.send("/area")
        await person.tap("not listed")
        [kept] = await person.send("Baro Haor")
        assert "stays Kulaura" in kept.text
        assert await area_of(h, 9507) == "605865"
