"""Residents whose area is not listed are placed by coordinators: listed within scope, moved
together, told in their language, audited; on SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import io

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.areas.tree import load_index
from bot.core.base import utcnow
from bot.core.i18n import Catalog
from bot.delivery.outbox import OUTBOX, OutboxPayload
from bot.reach.unlisted import PlacementError, place_unlisted, unlisted_groups
from bot.residents.events import EventKind
from bot.residents.models import Event, Resident
from bot.staff.audit import audit_entries
from tests import botkit
from tests.test_missing import nfc

Sessions = async_sessionmaker[AsyncSession]
KULAURA = "605865"
TYPED = (
    (1, "bn", "Baro Haor, Kulaura"),
    (2, "en", " baro haor,  kulaura "),
    (3, "syl", "BARO HAOR, KULAURA"),
    (None, "bn", "Baro Haor, Kulaura"),  # assisted: nobody to tell on Telegram
    (5, "bn", "Mirpur, Dhaka"),
    (6, "bn", "Char Para"),
)


async def _people(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        for telegram_id, language, words in TYPED:
            session.add(
                Resident(
                    telegram_id=telegram_id,
                    channel="telegram" if telegram_id else "assisted",
                    language=language,
                    area_unlisted_text=words,
                    consent_at=utcnow(),
                )
            )


async def test_words_are_listed_within_scope_and_placed_together(sessions: Sessions) -> None:
    await _people(sessions)
    async with sessions() as session:
        index = await load_index(session)
        country = await unlisted_groups(session, [""], index)
        maulvibazar = await unlisted_groups(session, ["6058"], index)
        sylhet = await unlisted_groups(session, ["6091"], index)
    assert [(g.words, g.count) for g in country] == [
        ("baro haor, kulaura", 4),
        ("char para", 1),
        ("mirpur, dhaka", 1),
    ]
    assert [g.words for g in maulvibazar] == ["baro haor, kulaura"] and sylhet == []
    catalog = Catalog.load()
    with pytest.raises(PlacementError) as outside:
        await place_unlisted(
            sessions, "baro haor, kulaura", "609108", "coord", catalog, scopes=["6058"], index=index
        )
    assert outside.value.key == "unlisted.outside"
    with pytest.raises(PlacementError) as not_theirs:
        await place_unlisted(
            sessions, "Mirpur, Dhaka", KULAURA, "coord", catalog, scopes=["6058"], index=index
        )
    assert not_theirs.value.key == "unlisted.unknown_words"
    placed = await place_unlisted(
        sessions, "Baro Haor,  Kulaura", KULAURA, "coord", catalog, scopes=["6058"], index=index
    )
    assert (placed.moved, placed.notified) == (4, 3)
    async with sessions() as session:
        rows = (
            await session.execute(select(Resident.area_code, Resident.area_unlisted_text))
        ).all()
        moved = [r for r in rows if r[0] == KULAURA]
        assert len(moved) == 4 and all(words is None for _, words in moved)
        told = {
            chat: text
            for chat, text in await session.execute(
                select(OUTBOX.c.chat_id, OutboxPayload.text).join(
                    OutboxPayload, OutboxPayload.id == OUTBOX.c.payload_id
                )
            )
        }
        assert set(told) == {1, 2, 3}
        assert "Kulaura" in told[2]
        assert nfc("কুলাউড়া") in nfc(told[1]) and nfc("কুলাউড়া") in nfc(told[3])
        events = await session.scalars(
            select(Event.area_code).where(Event.kind == EventKind.AREA_SET.value)
        )
        assert list(events) == [KULAURA] * 4
        audit = [
            (e.actor, e.scope, e.details)
            for e in await audit_entries(session)
            if e.act == "unlisted_assigned"
        ]
        assert audit == [("coord", KULAURA, {"people": 4})]
        left = await unlisted_groups(session, [""], index)
    assert [g.words for g in left] == ["char para", "mirpur, dhaka"]


def test_unlisted_commands(db_url: str) -> None:
    import asyncio

    from bot.cli import unlisted as cli_unlisted

    settings = botkit.test_settings(db_url)
    asyncio.run(_seed(db_url))

    def run(*argv: str) -> tuple[int, str]:
        parser = argparse.ArgumentParser()
        cli_unlisted.add_commands(parser.add_subparsers(dest="command"))
        out = io.StringIO()
        return asyncio.run(cli_unlisted.run(parser.parse_args(argv), settings, out)), (
            out.getvalue()
        )

    status, listing = run("unlisted", "list")
    assert status == 0
    assert listing.splitlines() == [
        "    <5  baro haor, kulaura",
        "    <5  char para",
        "    <5  mirpur, dhaka",
    ]
    assert run("unlisted", "list", "--area", "30")[1] == "    <5  mirpur, dhaka\n"
    assert run("unlisted", "assign", "--words", "nowhere", "--area", KULAURA)[0] == 2
    assert run("unlisted", "assign", "--words", "char para", "--area", "99")[0] == 2
    status, done = run("unlisted", "assign", "--words", "char para", "--area", KULAURA)
    assert (status, done) == (
        0,
        f"moved 1 residents into {KULAURA}; 1 will be told in their language\n",
    )


async def _seed(db_url: str) -> None:
    from bot.core.db import create_engine, session_factory

    engine = create_engine(db_url)
    try:
        await _people(session_factory(engine))
    finally:
        await engine.dispose()


async def test_a_coordinator_places_a_group_in_chat(db_url: str) -> None:
    from bot.staff.roles import Role, grant_role
    from tests.botkit import running_bot
    from tests.onboard import signed_up

    async with running_bot(db_url) as h:
        await _people(h.app.sessions)
        async with h.app.sessions() as session:
            await grant_role(session, 7301, Role.COORDINATOR, "6058", "cli:test")
            await session.commit()
        coordinator = await signed_up(h, 7301, first_name="Coordinator")
        [listing] = await coordinator.send("/unlisted")
        assert "1. “baro haor, kulaura”: <5" in listing.text
        assert "mirpur" not in listing.text and "char para" not in listing.text
        [wrong] = await coordinator.send("/unlisted 7 Kulaura")
        assert "There is no group 7" in wrong.text
        [outside] = await coordinator.send("/unlisted 1 Balaganj")
        assert "outside the areas you cover" in outside.text
        [done] = await coordinator.send("/unlisted 1 Kulaura")
        assert done.text == "Moved 4 residents into Kulaura; 3 will be told in their language."
        [empty] = await coordinator.send("/unlisted")
        assert "Nobody in your areas" in empty.text
        resident = await signed_up(h, 7302)
        [answer] = await resident.send("/unlisted")
        assert "don't know that command" in answer.text
