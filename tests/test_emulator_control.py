"""The control HTTP API through EmulatorClient, with a real aiogram Bot on the other side."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.devtools.emulator import EmulatorClient, EmulatorError, EmulatorServer, UnknownObjectError

TOKEN = "987654:" + "c" * 35
USER = 9


class LoopbackSession(AiohttpSession):
    """aiogram's session without the 250 ms pause it takes on close for TLS shutdown."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


@pytest.fixture
async def wired() -> AsyncIterator[tuple[EmulatorClient, Bot]]:
    async with EmulatorServer() as server, EmulatorClient(server.base_url) as client:
        bot = Bot(TOKEN, session=LoopbackSession(api=TelegramAPIServer.from_base(server.base_url)))
        try:
            await client.add_user(USER, "Karim", username="karim")
            yield client, bot
        finally:
            await bot.session.close()


def keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Yes", callback_data="yes")]]
    )


async def test_messages_long_poll_and_changes(wired: tuple[EmulatorClient, Bot]) -> None:
    client, bot = wired
    update = await client.send_text(USER, "hello")
    [fetched] = await bot.get_updates()
    assert fetched.update_id == update["update_id"]

    poll = asyncio.create_task(client.messages(USER, after=0, wait=3))
    await asyncio.sleep(0.05)  # let the long poll reach the server before the bot answers
    started = time.monotonic()
    sent = await bot.send_message(
        USER, "<b>Hi</b> Karim", parse_mode="HTML", reply_markup=keyboard()
    )
    [shown] = await poll
    assert time.monotonic() - started < 1
    assert (shown.html, shown.buttons) == ("<b>Hi</b> Karim", [[("Yes", "yes")]])
    assert await client.messages(USER, after=sent.message_id) == []

    await bot.edit_message_text(text="Bye", chat_id=USER, message_id=sent.message_id)
    [edited] = await client.messages(USER, changed_after=shown.seq)
    assert (edited.text, edited.edited, edited.buttons) == ("Bye", True, [])
    everything = await client.messages(USER, include_user=True)
    assert [(m.from_bot, m.text) for m in everything] == [(False, "hello"), (True, "Bye")]


async def test_buttons_callbacks_and_waits(wired: tuple[EmulatorClient, Bot]) -> None:
    client, bot = wired
    waiting = asyncio.create_task(client.wait_for_messages(USER, 1, timeout=3))
    sent = await bot.send_message(USER, "Choose", reply_markup=keyboard())
    [got] = await waiting
    assert got.message_id == sent.message_id
    with pytest.raises(EmulatorError, match="no inline button"):
        await client.press_button(USER, sent.message_id, "no")
    pressed = await client.press_button(USER, sent.message_id, "yes")
    query_id = pressed["callback_query"]["id"]
    assert await client.callback_answer(query_id) is None
    await bot.answer_callback_query(query_id, text="Noted")
    answer = await client.callback_answer(query_id)
    assert answer is not None and answer.text == "Noted"
    with pytest.raises(TimeoutError, match="sent 0 of 1"):
        await client.wait_for_messages(USER, 1, timeout=0.1)
    await bot.get_updates(offset=pressed["update_id"] + 1)
    await client.wait_idle(quiet=0.05, timeout=2)


async def test_faults_blocking_and_logs(wired: tuple[EmulatorClient, Bot]) -> None:
    client, bot = wired
    fault = await client.inject("retry_after", method="sendMessage", retry_after=3, count=2)
    assert fault["remaining"] == 2 and len(await client.faults()) == 1
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(USER, "x")
    await client.clear_faults()
    await bot.send_message(USER, "y")
    with pytest.raises(EmulatorError, match="unknown fault kind"):
        await client.inject("meteor")
    await client.block(USER)
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(USER, "z")
    await client.unblock(USER)
    log = await client.requests()
    assert [(r["method"], r["error_code"]) for r in log] == [
        ("sendMessage", 429),
        ("sendMessage", None),
        ("sendMessage", 403),
    ]
    assert log[1]["params"] == {"chat_id": USER, "text": "y"}
    assert await client.requests(since=3) == []


async def test_every_action_and_reset(wired: tuple[EmulatorClient, Bot]) -> None:
    client, _ = wired
    await client.add_group(-55, "Ward office")
    await client.add_channel(-100777, "Alerts", username="alerts")
    await client.send_text(USER, "hi")
    updates = [
        await client.share_location(USER, 22.3, 91.8),
        await client.send_sticker(USER),
        await client.send_photo(USER, caption="road"),
        await client.send_voice(USER),
        await client.send_contact(USER, "+8801711111111"),
        await client.edit_text(USER, 1, "hi again"),
        await client.group_text(-55, USER, "in the group"),
        await client.channel_post(-100777, "posted"),
    ]
    for update in updates:
        Update.model_validate(update)
    assert len(await client.updates()) == 9
    assert {chat["id"] for chat in await client.chats()} == {USER, -55, -100777}
    with pytest.raises(UnknownObjectError):
        await client.messages(12345)
    with pytest.raises(EmulatorError, match="send_text"):
        await client._action("send_text", user=USER)
    await client.reset()
    assert await client.chats() == []
