"""Typed text goes where the person's conversation waits for it, whatever the channel."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.alerts.models import AlertDraft
from bot.core.base import utcnow
from bot.residents.conversation import Conversation
from bot.residents.routing import Owner, Routed, TypedText
from bot.residents.sender_lookup import load_sender
from bot.residents.service import TelegramUser
from tests.botkit import Harness, running_bot
from tests.onboard import signed_up
from tests.test_alerts import make_coordinator

Sessions = async_sessionmaker[AsyncSession]  # asked for so the database starts clean


async def route_plain_text(h: Harness, telegram_id: int, text: str) -> Routed:
    """Route `text` as a channel without Telegram would: a person, their words, a reply."""
    async with h.app.sessions() as session:
        now = utcnow()
        sender = await load_sender(session, telegram_id, now)
        conversation = Conversation(
            session,
            h.app.ctx,
            TelegramUser(telegram_id=telegram_id),
            sender.resident,
            now,
            composing_text=sender.composing_text,
        )
        routed = await TypedText(h.app.library).route(conversation, text)
        await session.commit()
    return routed


async def test_text_goes_to_what_the_conversation_waits_for(
    db_url: str, sessions: Sessions
) -> None:
    async with running_bot(db_url) as h:
        resident = await signed_up(h, 9301, first_name="Amina")
        await resident.send("/lessons")
        routed = await route_plain_text(h, 9301, "2")
        assert routed.owner is Owner.LESSON and routed.staff is None
        [step] = [s.text for s in routed.reply.screens][:1]
        assert "Lessons" not in step  # the second lesson opened, not the list again

        await resident.send("/community")
        await resident.tap("Tell us what is missing")
        routed = await route_plain_text(h, 9301, "A clinic")
        assert routed.owner is Owner.FEEDBACK
        assert "without your name" in routed.reply.screens[0].text

        routed = await route_plain_text(h, 9301, "x" * 1001)
        assert routed.owner is Owner.TOO_LONG

        routed = await route_plain_text(h, 9301, "nonsense words")
        assert routed.owner is Owner.CONVERSATION


async def test_text_in_an_alert_draft_belongs_to_the_draft_even_mid_lesson(
    db_url: str, sessions: Sessions
) -> None:
    async with running_bot(db_url) as h:
        coordinator = await make_coordinator(h, 9302)
        await coordinator.send("/lessons")  # a lesson list waits for a typed number too
        await coordinator.send("/alert")
        await coordinator.tap("Water supply")
        await coordinator.tap("Urgent")

        routed = await route_plain_text(h, 9302, "Kulaura")
        assert routed.owner is Owner.ALERT_DRAFT and routed.staff is not None
        assert "Places matching" in routed.reply.screens[0].text

        # Through Telegram the same: the draft answers, and its buttons are signed.
        [found] = await coordinator.send("Kulaura")
        assert "Places matching" in found.text
        assert all(data != "al:x" for row in found.buttons for _, data in row)

        # A draft left by someone who no longer coordinates is not theirs to answer.
        await signed_up(h, 9303)
        async with h.app.sessions.begin() as session:
            session.add(
                AlertDraft(staff_telegram_id=9303, step="areas", data={}, updated_at=utcnow())
            )
        routed = await route_plain_text(h, 9303, "Kulaura")
        assert routed.owner is Owner.CONVERSATION and routed.staff is None
