"""Reach counts residents per channel: Telegram, SMS, assisted without a phone."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.base import new_pseudonym, utcnow
from bot.reach.csv_export import reach_csv
from bot.reach.figures import Period
from bot.reach.render import reach_document
from bot.reach.report import reach_report
from bot.reach.suppression import Suppressor
from bot.residents.models import Resident

TZ = ZoneInfo("Asia/Dhaka")
KULAURA = "605865"
UNION = "60586513"


def _add(session: AsyncSession, n: int, **fields: object) -> None:
    for _ in range(n):
        session.add(
            Resident(
                pseudonym=new_pseudonym(),
                language="bn",
                area_code=UNION,
                consent_at=utcnow() - timedelta(days=3),
                **fields,
            )
        )


@pytest.mark.parametrize("fast", [True, False])
async def test_reach_counts_each_channel_and_suppresses_small_ones(
    sessions: async_sessionmaker[AsyncSession], fast: bool
) -> None:
    async with sessions.begin() as session:
        for n in range(6):
            _add(session, 1, channel="telegram", telegram_id=7000 + n)
            _add(session, 1, channel="sms", phone=f"+88017000000{n:02d}")
        _add(session, 6, channel="assisted", phone_access="none")
        _add(session, 1, channel="assisted", phone_access="shared", phone="+8801800000001")
        _add(session, 1, channel="assisted", phone_access="shared", phone="+8801800000002")
    now = utcnow() + timedelta(minutes=1)
    p = Period.ending(now, 30, TZ)
    async with sessions() as session:
        report = await reach_report(session, KULAURA, p if fast else Period(p.start, p.end))
    area = reach_document(report, Suppressor(5))["area"]
    assert (area["telegram"], area["sms"], area["assisted_no_phone"]) == (6, 8, 6)
    assert area["registered"] == 20
    async with sessions.begin() as session:
        _add(session, 2, channel="sms", phone=None)  # no number: not on SMS
    async with sessions() as session:
        report = await reach_report(session, KULAURA, p if fast else Period(p.start, p.end))
    csv_text = reach_csv(report, Suppressor(5))
    header, first = csv_text.splitlines()[:2]
    row = dict(zip(header.split(","), first.split(","), strict=True))
    assert row["sms"] == "8" and row["telegram"] == "6"
    # Two assisted residents with a phone alone would be a small count: shown as "<5".
    async with sessions.begin() as session:
        _add(
            session, 2, channel="assisted", phone_access="shared", phone="+8801900000001"
        )  # a shared phone
    async with sessions() as session:
        report = await reach_report(session, "6058", p if fast else Period(p.start, p.end))
    assert reach_document(report, Suppressor(5))["area"]["sms"] == 10
