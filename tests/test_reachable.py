"""Who can be reached, once: unreachable residents come back when they act; an assisted person
registered again at another workshop is counted once; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.reach.figures import Period
from bot.reach.report import reach_report
from bot.residents.assisted import AssistedPerson, import_attendance, register_person
from bot.residents.events import EventKind
from bot.residents.models import Event, Resident
from bot.staff.roles import Role, grant_role
from tests.botkit import Harness, running_bot
from tests.onboard import signed_up
from tests.test_reach import NOW, TZ

U1 = "60586510"


async def _mark_unreachable(h: Harness, telegram_id: int) -> None:
    # As the sender does after "chat not found" or a 403.
    async with h.app.sessions.begin() as session:
        await session.execute(
            update(Resident).where(Resident.telegram_id == telegram_id).values(status="unreachable")
        )


async def _status(h: Harness, telegram_id: int) -> str | None:
    async with h.app.sessions() as session:
        return await session.scalar(
            select(Resident.status).where(Resident.telegram_id == telegram_id)
        )


async def test_an_unreachable_resident_is_active_again_when_they_write_or_tap(
    db_url: str,
) -> None:
    async with running_bot(db_url) as h:
        person = await signed_up(h, 7101)
        await _mark_unreachable(h, 7101)
        [data] = await person.send("/mydata")
        assert "Status: active" in data.text
        await _mark_unreachable(h, 7101)
        menu = person.last_with_buttons()
        tap = next(d for row in menu.buttons for label, d in row if "Help" in label)
        await person.press(menu.message_id, tap)
        assert await _status(h, 7101) == "active"
        async with h.app.sessions() as session:
            kinds = list(
                await session.scalars(
                    select(Event.kind).where(Event.kind == EventKind.UNBLOCKED_BOT.value)
                )
            )
        assert kinds == [EventKind.UNBLOCKED_BOT.value] * 2


async def test_an_assisted_person_registered_again_counts_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    person = AssistedPerson(U1, gender="female", age_band="30_44", name="R. B.")
    async with sessions() as session:
        first = await register_person(session, person, "st-a", TZ, NOW.replace(month=9))
        # Another workshop, another trainer: same area, initials, age band and gender.
        again = await register_person(session, person, "st-b", TZ, NOW.replace(month=10))
        # Same area and initials but another age band: someone else.
        other = await register_person(
            session,
            AssistedPerson(U1, gender="female", age_band="18_29", name="r. b."),
            "st-b",
            TZ,
            NOW.replace(month=10),
        )
        # No initials given: never matched automatically; the trainer's choice counts.
        told = await register_person(
            session,
            AssistedPerson(U1, gender="female", age_band="30_44", again=True),
            "st-b",
            TZ,
            NOW.replace(month=10),
        )
        await session.commit()
        report = await reach_report(session, "605865", Period.ending(NOW, 30, TZ))
    assert [r.registered_again for r in (first, again, other, told)] == [False, True, False, True]
    assert (report.total.current.registered, report.total.current.reachable) == (4, 2)


async def test_a_sheet_says_already_registered(sessions: async_sessionmaker[AsyncSession]) -> None:
    sheet = (
        b"area_code,gender,age_band,name,already_registered\n"
        b"60586510,male,45_59,K.M.,\n"
        b"60586510,female,,,yes\n"
    )
    async with sessions() as session:
        await register_person(
            session,
            AssistedPerson(
                U1, gender="male", age_band="45_59", name="k.m.", attended_on=date(2026, 9, 1)
            ),
            "st-a",
            TZ,
            NOW.replace(month=9),
        )
        report = await import_attendance(session, sheet, "st-b", TZ, now=NOW)
        await session.commit()
        flags = sorted((await session.scalars(select(Resident.registered_again))).all())
    assert report.registered == 2 and flags == [False, True, True]


async def test_register_in_chat_already_registered(db_url: str) -> None:
    async with running_bot(db_url) as h:
        async with h.app.sessions() as session:
            await grant_role(session, 7201, Role.TRAINER, "605865", "cli:test")
            await session.commit()
        trainer = await signed_up(h, 7201, first_name="Trainer")
        await trainer.send("/register Kulaura")
        await trainer.tap("বাংলা")
        await trainer.tap("Skip")
        await trainer.tap("Skip")
        await trainer.tap("No phone")
        [done] = await trainer.tap("already registered at another workshop")
        assert "Registered" in done.text
        async with h.app.sessions() as session:
            flags = (
                await session.scalars(
                    select(Resident.registered_again).where(Resident.channel == "assisted")
                )
            ).all()
        assert flags == [True]
