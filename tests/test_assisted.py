"""Assisted registration: the CSV import (good, bad rows, repeated) and /register in chat."""

from __future__ import annotations

import argparse
import io
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import reach as cli_reach
from bot.reach.figures import Period
from bot.reach.models import Attendance
from bot.reach.report import reach_report
from bot.residents.assisted import AlreadyImported, ImportRejected, import_attendance
from bot.residents.models import Event, Resident
from bot.staff.roles import Role, grant_role
from tests import botkit
from tests.botkit import running_bot
from tests.onboard import signed_up
from tests.test_reach import NOW, TZ

GOOD = (
    b"area_code,language,phone_access,gender,age_band,attended_on\n"
    b"60586510,bn,none,female,30_44,2026-11-20\n"
    b"60586510,syl,shared,,,2026-11-20\n"
    b"60586511,,,male,,\n"
    b"\n"
    b"605865,en,none,,60plus,2026-10-15\n"
)
BAD = (
    b"area_code,language,phone_access,gender,age_band,attended_on\n"
    b"60586510,bn,none,female,30_44,2026-11-20\n"
    b"99999999,bn,none,,,\n"
    b"60586510,xx,none,,,\n"
    b"60586510,bn,none,,,20-11-2026\n"
    b",bn,none,,,\n"
    b"60586510,bn,none,,,2027-01-01\n"
)


async def count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_good_file_registers_and_counts_attendance(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        report = await import_attendance(session, GOOD, "st-trainer1", TZ, {"6058"}, NOW)
        await session.commit()
        assert (report.registered, report.attendance) == (4, 3)
        residents = (await session.scalars(select(Resident).order_by(Resident.id))).all()
        assert {r.channel for r in residents} == {"assisted"}
        assert {r.registered_by for r in residents} == {"st-trainer1"}
        assert residents[0].gender == "female" and residents[0].age_band == "30_44"
        assert residents[2].language == "bn" and residents[2].phone_access == "none"
        assert all(r.telegram_id is None and r.consent_at is not None for r in residents)
        figures = (await reach_report(session, "605865", Period.ending(NOW, 30, TZ))).total
    # Three attended; two in this period (20 Nov) count as reached and engaged.
    assert (figures.current.registered, figures.current.assisted) == (4, 4)
    assert (figures.current.reached, figures.current.engaged) == (2, 2)
    assert figures.previous.engaged == 1  # 15 Oct


async def test_bad_rows_are_reported_by_line_and_nothing_is_imported(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        with pytest.raises(ImportRejected) as caught:
            await import_attendance(session, BAD, "st-trainer1", TZ, {"6058"}, NOW)
        await session.rollback()
        lines = [line for line, _ in caught.value.problems]
        assert lines == [3, 4, 5, 6, 7]
        messages = dict(caught.value.problems)
        assert "99999999" in messages[3] and "language" in messages[4]
        assert "date" in messages[5] and "empty" in messages[6] and "future" in messages[7]
        assert await count(session, Resident) == 0
        assert await count(session, Attendance) == 0
        assert await count(session, Event) == 0


async def test_rows_outside_the_trainers_areas_are_bad_rows(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        with pytest.raises(ImportRejected) as caught:
            await import_attendance(session, GOOD, "st-trainer1", TZ, {"605814"}, NOW)
        assert [line for line, _ in caught.value.problems] == [2, 3, 4, 6]


async def test_repeated_import_is_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        await import_attendance(session, GOOD, "st-trainer1", TZ, None, NOW)
        await session.commit()
        with pytest.raises(AlreadyImported):
            await import_attendance(session, GOOD, "st-trainer2", TZ, None, NOW)
        await session.rollback()
        assert await count(session, Resident) == 4


async def test_cli_import(
    sessions: async_sessionmaker[AsyncSession],
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with sessions() as session:
        await grant_role(session, 5550001, Role.TRAINER, "6058", "cli:test")
        await session.commit()
    sheet = tmp_path / "workshop.csv"
    sheet.write_bytes(GOOD.replace(b"2026-11-20", datetime.now(TZ).date().isoformat().encode()))
    args = argparse.Namespace(command="residents", file=sheet, trainer=5550001)
    out = io.StringIO()
    assert await cli_reach.run(args, botkit.test_settings(db_url), out) == 0
    assert "imported 4 residents and 3 attendance records" in out.getvalue()
    assert await cli_reach.run(args, botkit.test_settings(db_url), io.StringIO()) == 1
    assert "imported already" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_bytes(BAD)
    assert (
        await cli_reach.run(
            argparse.Namespace(command="residents", file=bad, trainer=5550001),
            botkit.test_settings(db_url),
            io.StringIO(),
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "bad.csv:3:" in err and "nothing imported (5 bad rows)" in err
    nobody = argparse.Namespace(command="residents", file=sheet, trainer=42)
    assert await cli_reach.run(nobody, botkit.test_settings(db_url), io.StringIO()) == 2


async def test_register_in_chat(sessions: async_sessionmaker[AsyncSession], db_url: str) -> None:
    async with running_bot(db_url) as h:
        async with h.app.sessions() as session:
            await grant_role(session, 7001, Role.TRAINER, "605865", "cli:test")
            await session.commit()
        trainer = await signed_up(h, 7001, first_name="Trainer")
        [usage] = await trainer.send("/register")
        assert "/register" in usage.text
        [refused] = await trainer.send("/register Barlekha")
        assert "only in the areas you cover" in refused.text
        [step] = await trainer.send("/register Kulaura")
        assert "Kulaura" in step.text
        await trainer.tap("সিলেটি")
        await trainer.tap("Woman")
        await trainer.tap("Skip")
        [confirm] = await trainer.tap("Shares a phone")
        assert "agreed" in confirm.text
        await trainer.tap("No number")
        [done] = await trainer.tap("Yes, they agreed")
        assert "Registered" in done.text
        # A forged button (another area, unsigned) is refused.
        await trainer.press(done.message_id, "rg:ok:605814:bn:-:-:none", forge=True)
        async with h.app.sessions() as session:
            assisted = (
                await session.scalars(select(Resident).where(Resident.channel == "assisted"))
            ).all()
            assert len(assisted) == 1
            person = assisted[0]
            assert (person.area_code, person.language, person.gender) == ("605865", "syl", "female")
            assert person.age_band is None and person.phone_access == "shared"
            assert person.registered_by and person.registered_by.startswith("st-")
            assert await count(session, Attendance) == 1
        # Not a trainer: the command is not for them.
        resident = await signed_up(h, 7002)
        [answer] = await resident.send("/register Kulaura")
        assert "don't know that command" in answer.text
