"""A staff member's slow Telegram call never makes residents wait: work is committed first."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.lessons.models import WorkshopGroup
from tests.botkit import running_bot
from tests.test_groups_and_push import make_trainer

TRAINER = 9001
RESIDENT = 9002
# How long Telegram takes to accept the trainer's reply; the resident must not feel it.
SLOW_SECONDS = 6.0

Sessions = async_sessionmaker[AsyncSession]  # asked for so the database starts clean


async def _group_named(sessions: Sessions, name: str) -> WorkshopGroup | None:
    async with sessions() as session:
        found: WorkshopGroup | None = await session.scalar(
            select(WorkshopGroup).where(WorkshopGroup.name == name)
        )
        return found


async def test_a_resident_signs_up_while_a_trainers_reply_is_slow(
    db_url: str, sessions: Sessions
) -> None:
    async with running_bot(db_url) as h:
        trainer, area = await make_trainer(h, TRAINER)
        h.emulator.inject("slow", method="sendMessage", chat_id=TRAINER, delay=SLOW_SECONDS)
        slow = asyncio.create_task(trainer.send(f"/newgroup {area} Tea garden workshop"))
        # The fault is used up as the trainer's reply reaches Telegram: it is in flight now.
        for _ in range(500):
            if not h.emulator.faults:
                break
            await asyncio.sleep(0.01)
        assert not h.emulator.faults, "the trainer's reply never reached Telegram"
        started = time.monotonic()

        resident = h.person(RESIDENT, first_name="Amina")
        await resident.send("/start")
        [chosen] = await resident.send("English")
        [placed] = await resident.send("Kulaura")
        [welcome] = await resident.send("yes")
        waited = time.monotonic() - started
        assert "Kulaura" in placed.text or "Kulaura" in chosen.text
        assert "Welcome" in welcome.text or "menu" in welcome.text.lower()
        assert waited < SLOW_SECONDS / 2, f"the resident waited {waited:.1f}s behind the trainer"

        # The group was stored before Telegram was asked to tell the trainer about it.
        group = await _group_named(h.app.sessions, "Tea garden workshop")
        assert group is not None and group.area_code == area
        assert not slow.done()

        [made] = await slow
        assert "Join code" in made.text
