"""Alerts reach everyone in the area: residents who chose a wider area, and residents whose area
is not listed but whose words name a district or upazila there; on SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import io

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.alerts.service import create_alert, places_named, recipient_split
from bot.areas.tree import load_index
from bot.core.base import utcnow
from bot.core.i18n import Catalog
from bot.delivery.outbox import OUTBOX
from bot.residents.models import Resident
from tests import botkit
from tests.test_alerts_targeting import (
    BALAGANJ,
    BHUKSHIMAIL,
    DHAKA,
    KULAURA,
    MAULVIBAZAR,
    QUIET,
    spec,
)

Sessions = async_sessionmaker[AsyncSession]


async def _people(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        for telegram_id, area, words in (
            (1, BHUKSHIMAIL, None),  # the union itself
            (2, KULAURA, None),  # all of Kulaura: did not know the union
            (3, MAULVIBAZAR, None),  # all of the district
            (4, None, "Kulaura"),  # not listed, typed an upazila's name
            (5, None, "  kulaura "),  # the same words, spaced and lower case
            (6, None, "Sylhet"),  # a district elsewhere
            (7, None, "by the river"),  # names no place
            (9, None, "Baro Haor, Kulaura"),  # a union of Kulaura, with its upazila
            (8, BALAGANJ, None),  # elsewhere
        ):
            session.add(
                Resident(
                    telegram_id=telegram_id,
                    language="bn",
                    area_code=area,
                    area_unlisted_text=words,
                    consent_at=utcnow(),
                )
            )


async def test_a_union_alert_reaches_the_wider_areas_and_the_typed_places(
    sessions: Sessions,
) -> None:
    await _people(sessions)
    async with sessions() as session:
        split = await recipient_split(session, "water", (BHUKSHIMAIL,), "normal")
        sylhet = await recipient_split(session, "water", (BALAGANJ,), "urgent")
        index = await load_index(session)
    assert (split.inside, split.wider, split.typed) == (1, 2, 3)
    assert (sylhet.inside, sylhet.wider, sylhet.typed) == (1, 0, 1)
    assert places_named(index, "by the river") == [] and places_named(index, "") == []
    assert places_named(index, "baro haor, kulaura") == [KULAURA]
    queued = await create_alert(
        sessions,
        spec(area_codes=(BHUKSHIMAIL,), send_at=utcnow(), expires_at=None),
        "cli:test",
        Catalog.load(),
        DHAKA,
        QUIET,
        known_area=lambda code: True,
    )
    async with sessions() as session:
        chats = set(
            await session.scalars(
                select(OUTBOX.c.chat_id).where(OUTBOX.c.job_id == queued.alert_id)
            )
        )
    assert chats == {1, 2, 3, 4, 5, 9} and queued.recipients == 6
    assert queued.split is not None and queued.split.total == 6


async def test_alerts_send_prints_who_is_reached_and_why(sessions: Sessions, db_url: str) -> None:
    from bot.cli import alerts as cli_alerts

    await _people(sessions)
    out = io.StringIO()
    args = argparse.Namespace(
        alerts_command="send",
        areas=BHUKSHIMAIL,
        topic="water",
        urgency="urgent",
        text=["bn=পানি বন্ধ"],
        at=None,
        until=None,
    )
    assert await cli_alerts.run(args, botkit.test_settings(db_url), out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("queued for 6 recipients")
    assert lines[1] == (
        "In the chosen areas: 1 · in a wider area that contains them: 2 · "
        "by the place they typed: 3"
    )
