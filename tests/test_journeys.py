"""Residents' journeys end somewhere: every screen has a way on, and nothing is lost."""

from __future__ import annotations

import io

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import alerts as cli_alerts
from bot.cli.main import _parser
from bot.residents.models import Resident
from bot.staff.roles import Role, grant_role
from tests.botkit import Harness, running_bot
from tests.botkit import test_settings as settings_for
from tests.onboard import signed_up
from tests.test_alerts import drain, make_coordinator

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


async def test_an_alert_that_would_expire_in_quiet_hours_offers_ways_on(
    db_url: str, sessions: Sessions
) -> None:
    async with running_bot(db_url) as h:
        coordinator = await make_coordinator(h, 9600)
        await signed_up(h, 9601)
        await coordinator.send("/alert")
        await coordinator.tap("Electricity")
        await coordinator.tap("Normal")
        await coordinator.send("Kulaura")
        await coordinator.tap("Kulaura, Maulvibazar")
        await coordinator.tap("Done with areas")
        await coordinator.send("আজ রাতে বিদ্যুৎ থাকবে না।")
        await coordinator.tap("Skip English")
        await coordinator.send("2030-01-02 22:30")
        summary = (await coordinator.send("2030-01-02 23:30"))[-1]
        labels = str(summary.buttons)
        assert "would expire before it can go out" in summary.text
        assert "Change the end time" in labels and "despite quiet hours" in labels
        assert "Send" not in [label for row in summary.buttons for label, _ in row]

        # Typed text at the preview stays with the draft; a typed time is the new end.
        kept = await coordinator.send("hello")
        assert "Your alert is kept" in kept[0].text and "would expire" in kept[-1].text
        preview = await coordinator.send("2030-01-03 12:00")
        fixed = preview[-1]
        assert "would expire" not in fixed.text and "Will reach" in fixed.text
        assert fixed.buttons[0][0][0] == "✅ Send"

        await coordinator.tap("Change the end time")
        again = (await coordinator.send("2030-01-02 23:30"))[-1]
        urgent = (await coordinator.tap("despite quiet hours", again))[-1]
        assert "Urgent" in urgent.text and "would expire" not in urgent.text
        [progress] = await coordinator.tap("Send")
        assert "Alert #" in progress.text


async def test_the_area_step_offers_only_areas_in_scope(db_url: str, sessions: Sessions) -> None:
    async with running_bot(db_url) as h:
        coordinator = await make_coordinator(h, 9610)
        async with h.app.sessions.begin() as session:
            await grant_role(session, 9611, Role.COORDINATOR, "605865", "cli:test")
        narrow = await signed_up(h, 9611)
        for person in (coordinator, narrow):
            await person.send("/alert")
            await person.tap("Water supply")
            await person.tap("Urgent")
        [dhaka] = await coordinator.send("Savar")
        assert "could not find" in dhaka.text
        [browse] = await narrow.tap("Browse the list of areas")
        divisions = [label for row in browse.buttons for label, _ in row]
        assert "Sylhet" in divisions and "Dhaka" not in divisions
        [sylhet] = await narrow.tap("Sylhet")
        assert "All of Sylhet" not in str(sylhet.buttons)
        assert "Sunamganj" not in str(sylhet.buttons)


async def test_forgetting_a_recipient_keeps_the_alerts_counts(
    db_url: str, sessions: Sessions
) -> None:
    async with running_bot(db_url) as h:
        person = await signed_up(h, 9620)
        settings = settings_for(db_url)
        out = io.StringIO()
        send = "alerts send --areas 605865 --topic flood --urgency urgent --text bn=x"
        args = _parser().parse_args(send.split())
        assert await cli_alerts.run(args, settings, out) == 0
        assert "queued for 1 recipient\n" in out.getvalue()
        alert_id = out.getvalue().split()[1]
        await drain(h)
        await person.tap("পেয়েছি")
        await person.send("/forget")
        await person.tap("Yes, delete everything")

        shown = io.StringIO()
        show = _parser().parse_args(["alerts", "show", alert_id])
        assert await cli_alerts.run(show, settings, shown) == 0
        assert "sent: 1 " in shown.getvalue() and "got it: 1" in shown.getvalue()
        assert "] 1/1" in shown.getvalue()
