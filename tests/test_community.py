"""Residents see their community, tell what is missing (no names kept), fill in a profile."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.alerts.models import Alert
from bot.alerts.service import AlertSpec, cancel_alert, create_alert
from bot.core.base import utcnow
from bot.core.i18n import BENGALI_DIGITS
from bot.lessons.pushes import QuietHours
from bot.reach.models import Feedback
from bot.residents.community import recent_feedback
from bot.residents.events import EventKind
from bot.residents.models import Event, Resident
from tests.botkit import Harness, running_bot
from tests.onboard import signed_up
from tests.test_alerts import DHAKA, SREEMANGAL_UNION, drain, move

MOULVIBAZAR, KULAURA, SYLHET_DIVISION = "6058", "605865", "60"
BALAGANJ = "609108"  # an upazila of Sylhet district, another district than Moulvibazar


async def test_community_and_feedback(
    sessions: async_sessionmaker[AsyncSession], db_url: str
) -> None:
    async with running_bot(db_url) as h:
        person = await signed_up(h, 9101, first_name="Runa")
        [view] = await person.send("/community")
        assert "Your community: Kulaura" in view.text
        assert "Registered with Sabai here: fewer than 5" in view.text  # one person: suppressed
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
            # The feedback event names only the area and the day, never the resident.
            assert EventKind.FEEDBACK_GIVEN.value not in kinds
            given = (
                await session.execute(
                    select(Event.subject, Event.area_code, Event.at).where(
                        Event.kind == EventKind.FEEDBACK_GIVEN.value
                    )
                )
            ).all()
            assert [(s, a, (at.hour, at.minute)) for s, a, at in given] == [
                (None, "605865", (0, 0))
            ]
            # One item in Kulaura (fewer than k): Maulvibazar's coordinator sees it folded into
            # Maulvibazar, Kulaura's sees it as Kulaura's; dates cut to the week.
            items = await recent_feedback(session, ["6058"], utcnow() - timedelta(days=7))
            assert [(i.area_name_en, i.text) for i in items] == [
                ("Maulvibazar", "Teach us about flood shelters")
            ]
            assert items[0].at.weekday() == 0 and items[0].at.hour == 0
            kulaura = await recent_feedback(session, ["605865"], utcnow() - timedelta(days=7))
            assert [i.area_name_en for i in kulaura] == ["Kulaura"]
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


async def send_alert(
    h: Harness,
    topic: str,
    area: str,
    texts: dict[str, str],
    sent: datetime,
    urgency: str = "urgent",
) -> int:
    """Queue an alert from the command line and send what is due; return the alert's id.

    Sent one alert at a time: the test sender's clock stands still, so a second message to
    the same chat would wait for a second that never comes.
    """
    ctx = h.app.ctx
    spec = AlertSpec(topic, urgency, (area,), texts, sent, None)
    queued = await create_alert(
        h.app.sessions,
        spec,
        "cli:test",
        ctx.catalog,
        ctx.tz,
        QuietHours(),
        known_area=lambda code: True,
    )
    await drain(h)
    return queued.alert_id


def alert_lines(text: str) -> list[str]:
    """The lines of /community that list alerts (they start with a bullet and a date)."""
    return [line for line in text.splitlines() if re.match(r"• [0-9০-৯]", line)]


async def test_community_lists_the_alerts_sent_to_the_area(
    sessions: async_sessionmaker[AsyncSession], db_url: str
) -> None:
    async with running_bot(db_url) as h:
        english = await signed_up(h, 9111)
        bangla = await signed_up(h, 9112, language="বাংলা", area="কুলাউড়া")
        await signed_up(h, 9113)  # stays in Kulaura, so an alert to Kulaura goes out
        await signed_up(h, 9114)
        for uid, area in ((9111, SREEMANGAL_UNION), (9112, SREEMANGAL_UNION), (9114, BALAGANJ)):
            await move(h, uid, area)
        now = utcnow()
        day = timedelta(days=1)
        flood = {
            "bn": "মনু নদীর পানি বাড়ছে। উঁচু জায়গায় যান।\nবিস্তারিত পরে জানানো হবে।",
            "en": "Manu river <rising>: move to high ground.\nMore later.",
        }
        await send_alert(h, "flood", MOULVIBAZAR, flood, now - day)
        health = await send_alert(h, "health", MOULVIBAZAR, {"bn": "টিকা ক্যাম্প আজ।"}, now - 2 * day)
        scam = {"bn": "ভুয়া লটারির ফোন থেকে সাবধান।", "en": "Beware of fake lottery calls."}
        await send_alert(h, "scam", SYLHET_DIVISION, scam, now - 3 * day)
        await send_alert(h, "power", MOULVIBAZAR, {"bn": "পুরনো বিদ্যুৎ বার্তা।"}, now - 10 * day)
        await send_alert(h, "power", MOULVIBAZAR, {"bn": "অনেক পুরনো।"}, now - 40 * day)
        # Sent, but to another district, and to another upazila of the same district.
        await send_alert(h, "water", BALAGANJ, {"bn": "বালাগঞ্জে পানি বন্ধ।", "en": "Balaganj"}, now)
        await send_alert(h, "water", KULAURA, {"bn": "কুলাউড়ায় পানি বন্ধ।", "en": "Kulaura"}, now)
        # Scheduled for later, then cancelled before anything went out.
        stopped = await send_alert(
            h, "power", MOULVIBAZAR, {"bn": "বাতিল বার্তা।", "en": "Cancelled"}, now + 2 * day, "normal"
        )
        async with h.app.sessions.begin() as session:
            await cancel_alert(session, stopped, "cli:test")
        async with h.app.sessions.begin() as session:
            # Went out, then ran past its validity: listed as past.
            await session.execute(
                update(Alert).where(Alert.id == health).values(expires_at=now - timedelta(hours=1))
            )

        for person in (english, bangla):
            person.seen = person.last().seq  # the alerts themselves arrived meanwhile
        [view] = await english.send("/community")
        when = (now - day).astimezone(DHAKA)
        lines = alert_lines(view.text)
        # First line only; "<rising>" arrives as typed (unescaped, Telegram would refuse it).
        first_line = "Manu river <rising>: move to high ground."
        assert lines[0] == f"• {when.day} {when:%B}, Flood and storms: {first_line}"
        assert "Health (ended): টিকা ক্যাম্প আজ।" in lines[1]  # no English text: Bangla
        assert "Scams and fraud: Beware of fake lottery calls." in lines[2]
        assert len(lines) == 3
        assert "…and 1 earlier." in view.text
        for absent in ("Balaganj", "Kulaura", "Cancelled", "বাতিল", "অনেক পুরনো", "More later"):
            assert absent not in "\n".join(lines)
        assert "Registered with Sabai here: fewer than 5" in view.text  # the other parts stay
        assert "No lessons taken here yet" in view.text
        assert view.buttons

        [bn_view] = await bangla.send("/community")
        lines = alert_lines(bn_view.text)
        date = str(when.day).translate(BENGALI_DIGITS)
        assert lines[0].startswith(f"• {date} ")
        assert "বন্যা ও ঝড়: মনু নদীর পানি বাড়ছে। উঁচু জায়গায় যান।" in lines[0]
        assert not re.search("[0-9]", "\n".join(lines))  # Bengali digits only
        assert "(মেয়াদ শেষ)" in lines[1]
        assert "…এবং এর আগে আরও ১টি।" in bn_view.text


async def test_community_says_when_no_alert_was_sent(
    sessions: async_sessionmaker[AsyncSession], db_url: str
) -> None:
    async with running_bot(db_url) as h:
        person = await signed_up(h, 9121)
        [view] = await person.send("/community")
        assert "No alerts were sent here." in view.text
        assert alert_lines(view.text) == []
