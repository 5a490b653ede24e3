"""An update Telegram delivers twice is handled once; the second delivery only finishes the reply.

Telegram delivers an update again when it did not get the bot's answer: the process died, the
connection broke, or the answer came too late. What the update changed must not happen twice
(a quiz answered twice, a choice recorded twice) and what it said must not be lost or repeated.
"""

from __future__ import annotations

from datetime import timedelta

import aiohttp
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.telegram.client import EMULATOR_BOT_ID
from bot.channels.telegram.handled import HandledUpdate, forget_old
from bot.core.base import utcnow
from bot.devtools.emulator import Emulator
from bot.devtools.emulator.server import webhook_answer
from bot.devtools.emulator.state import ChatMessage, JsonDict
from bot.residents.events import EventKind
from bot.residents.models import Event
from tests.botkit import Harness, Person, running_bot
from tests.test_webhook import SECRET, webhook_bot

Sessions = async_sessionmaker[AsyncSession]


async def _events(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Event)) or 0)


async def _ledger(sessions: Sessions, update_id: int) -> HandledUpdate | None:
    async with sessions() as session:
        return await session.get(HandledUpdate, update_id)


async def _welcomed(h: Harness, user_id: int, name: str) -> tuple[Person, ChatMessage, JsonDict]:
    """A new person after /start, the welcome, and their press of "English" (not yet fed)."""
    person = h.person(user_id, first_name=name)
    await person.send("/start")
    welcome = person.last_with_buttons()
    [action] = [data for row in welcome.buttons for label, data in row if "English" in label]
    return person, welcome, h.emulator.press_button(user_id, welcome.message_id, action)


async def test_a_button_press_delivered_twice_counts_once(db_url: str, sessions: Sessions) -> None:
    async with running_bot(db_url) as h:
        person, _, press = await _welcomed(h, 9401, "Rupa")
        await h.feed(press)
        chat = [(m.message_id, m.text) for m in person.chat()]
        events = await _events(sessions)
        assert events > 0

        await h.feed(press)  # delivered again

        assert [(m.message_id, m.text) for m in person.chat()] == chat
        assert await _events(sessions) == events
        handled = await _ledger(sessions, press["update_id"])
        assert handled is not None and handled.sent >= 1


async def test_a_reply_that_failed_to_go_out_goes_with_the_next_delivery(
    db_url: str, sessions: Sessions
) -> None:
    async with running_bot(db_url) as h:
        person, welcome, press = await _welcomed(h, 9402, "Tuli")
        # Telegram fails the next screen once, after the choice was committed.
        h.emulator.inject("server_error", method="editMessageText", chat_id=9402, count=1)
        await h.feed(press)
        assert person.chat()[0].text == welcome.text  # not moved on: a failure was said
        assert await _language_choices(sessions) == 1

        await h.feed(press)  # delivered again: Telegram had no answer for it

        assert person.chat()[0].text != welcome.text
        assert await _language_choices(sessions) == 1


async def _language_choices(sessions: Sessions) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Event).where(Event.kind == EventKind.LANGUAGE_SET)
        )
    return int(count or 0)


async def test_a_webhook_answer_lost_on_the_way_is_given_again_not_handled_again(
    db_url: str, sessions: Sessions
) -> None:
    emulator = Emulator(bot_id=EMULATOR_BOT_ID)
    emulator.add_user(8307, first_name="Lipi")
    async with webhook_bot(db_url, emulator) as base, aiohttp.ClientSession() as client:
        start = emulator.send_text(8307, "/start")
        emulator.state.pending.clear()  # the test delivers it, as Telegram would
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        answers = []
        for _ in range(2):
            async with client.post(f"{base}/telegram", json=start, headers=headers) as answer:
                assert answer.status == 200
                answers.append(await webhook_answer(answer))
            if len(answers) == 1:
                # The first answer never reached Telegram: nothing was said yet.
                assert emulator.messages(8307) == []
                events = await _events(sessions)
        first, second = answers
        assert first is not None and first[0] == "sendMessage"
        assert second == first
        assert await _events(sessions) == events
        await emulator.call_api(*second)
        [welcome] = emulator.messages(8307)
        assert "Sabai" in welcome.text


async def test_the_ledger_forgets_updates_telegram_no_longer_delivers(sessions: Sessions) -> None:
    now = utcnow()
    async with sessions.begin() as session:
        for update_id, age in ((1, timedelta(days=3)), (2, timedelta(hours=1))):
            session.add(
                HandledUpdate(
                    update_id=update_id, digest="d", handled_at=now - age, replies="[]", sent=0
                )
            )
    async with sessions.begin() as session:
        assert await forget_old(session, now) == 1
    assert await _ledger(sessions, 1) is None
    assert await _ledger(sessions, 2) is not None


async def test_a_person_who_declines_leaves_no_reply_in_the_ledger(
    db_url: str, sessions: Sessions
) -> None:
    # By webhook, where the last reply of each update stays stored until Telegram could no
    # longer deliver the update again.
    emulator = Emulator(bot_id=EMULATOR_BOT_ID)
    emulator.add_user(8308, first_name="Shefali")
    async with webhook_bot(db_url, emulator):
        for typed in ("/start", "English", "Kulaura"):
            emulator.send_text(8308, typed)
            await emulator.wait_idle(timeout=15)
        assert "privacy" in emulator.last_message(8308).text.lower()
        assert await _rows_about(sessions, 8308, "Shefali") > 0
        emulator.send_text(8308, "no")  # declines the privacy notice: nothing is kept
        await emulator.wait_idle(timeout=15)
        assert await _rows_about(sessions, 8308, "Shefali") == 0


async def _rows_about(sessions: Sessions, person: int, name: str) -> int:
    async with sessions() as session:
        rows = (await session.scalars(select(HandledUpdate))).all()
    return sum(
        1
        for row in rows
        if row.person == person or str(person) in row.replies or name in row.replies
    )


async def test_a_reply_telegram_failed_by_webhook_is_finished_when_it_delivers_again(
    db_url: str, sessions: Sessions
) -> None:
    emulator = Emulator(bot_id=EMULATOR_BOT_ID)
    emulator.add_user(8309, first_name="Moni")
    async with webhook_bot(db_url, emulator):
        emulator.send_text(8309, "/start")
        [welcome] = await emulator.wait_for_messages(8309, count=1, timeout=15)
        await emulator.wait_idle()
        [action] = [data for row in welcome.buttons for label, data in row if "English" in label]
        # Telegram fails the next screen once: the press is left unanswered, delivered again.
        emulator.inject("server_error", method="editMessageText", chat_id=8309, count=1)
        emulator.press_button(8309, welcome.message_id, action)
        await emulator.wait_idle(timeout=15)
        assert "503" in (emulator.state.webhook.last_error_message or "")
        [shown] = emulator.messages(8309)  # no apology: the screen itself came
        assert shown.text != welcome.text
        assert await _language_choices(sessions) == 1
