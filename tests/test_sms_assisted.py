"""Assisted residents with a phone number (own or shared, with consent) get alerts by SMS."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.cli import alerts as cli_alerts
from bot.cli.main import _parser
from bot.residents.assisted import ImportRejected, import_attendance
from bot.residents.models import Resident
from tests.smskit import running_sms

TZ = ZoneInfo("Asia/Dhaka")
SHEET = (
    b"area_code,language,phone_access,phone,sms_consent,gender\n"
    b"60586510,bn,shared,01712345678,yes,female\n"
    b"60586510,bn,shared,01712345678,yes,male\n"
    b"60586510,en,own,+8801812345678,yes,\n"
    b"60586510,bn,none,,,female\n"
)


async def test_imported_people_with_a_phone_get_alerts_by_sms(db_url: str) -> None:
    async with running_sms(db_url) as h:
        async with h.bot.app.sessions() as session:
            report = await import_attendance(session, SHEET, "st-trainer1", TZ, {"6058"})
            await session.commit()
            assert report.registered == 4
            phones = sorted(
                p for p in await session.scalars(select(Resident.phone)) if p is not None
            )
            assert phones == ["+8801712345678", "+8801712345678", "+8801812345678"]
        out = io.StringIO()
        args = _parser().parse_args(
            [
                *("alerts", "send", "--areas", "605865", "--topic", "water", "--urgency", "urgent"),
                *("--text", "bn=পানি ফুটিয়ে খান।", "--text", "en=Boil water."),
            ]
        )
        assert await cli_alerts.run(args, h.bot.app.settings, out) == 0
        # The shared phone is counted for both people but gets the SMS once.
        assert "SMS: 2 residents × 1 parts = 2 SMS (bn)" in out.getvalue()
        await h.channel.sender.drain(horizon=1)
        assert [s.to for s in h.kannel.sent].count("+8801712345678") == 1
        [english] = h.kannel.to("+8801812345678")
        assert english.text == "Sabai URGENT Water supply: Boil water."
        # STOP from the shared phone stops both people registered with it.
        await h.phone("+8801712345678").send("STOP")
        async with h.bot.app.sessions() as session:
            statuses = set(
                await session.scalars(
                    select(Resident.status).where(Resident.phone == "+8801712345678")
                )
            )
        assert statuses == {"stopped"}


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (b"60586510,bn,shared,01712345678,,", "without sms_consent = yes"),
        (b"60586510,bn,none,01712345678,yes,", "phone_access is none"),
        (b"60586510,bn,own,0199988,yes,", "phone is not a mobile number"),
    ],
)
async def test_bad_phone_rows_are_refused_without_echoing_the_number(
    db_url: str, row: bytes, problem: str
) -> None:
    from bot.core.db import create_engine, session_factory

    sheet = b"area_code,language,phone_access,phone,sms_consent,gender\n" + row + b"\n"
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            with pytest.raises(ImportRejected) as caught:
                await import_attendance(session, sheet, "st-trainer1", TZ, {"6058"})
    finally:
        await engine.dispose()
    [(line, message)] = caught.value.problems
    assert line == 2 and problem in message and "0199988" not in message
