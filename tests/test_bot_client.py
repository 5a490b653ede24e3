"""The bot's Bot API client: JSON bodies for ordinary calls, multipart for uploads."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup
from aiohttp import web

from bot.channels.telegram.client import emulator_token, make_bot
from tests.botkit import serving

_MESSAGE = {
    "message_id": 1,
    "date": 1_700_000_000,
    "chat": {"id": 42, "type": "private"},
    "text": "ok",
}


@asynccontextmanager
async def _recording_server(answer: dict[str, Any]) -> AsyncIterator[tuple[str, list[Any]]]:
    """A stand-in for Telegram that keeps what each call sent and gives the same answer."""
    seen: list[tuple[str, str, bytes]] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append((request.match_info["method"], request.content_type, await request.read()))
        status = answer.get("error_code", 200)
        return web.json_response(answer, status=status)

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", handle)
    async with serving(app) as url:
        yield url, seen


async def test_a_bangla_reply_goes_as_utf8_json_with_its_keyboard_as_an_object() -> None:
    text = "আপনার এলাকা কোনটি?"
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="কুলাউড়া", callback_data="as:1")]]
    )
    async with _recording_server({"ok": True, "result": _MESSAGE}) as (url, seen):
        bot = make_bot(emulator_token(), url)
        try:
            await bot.send_message(42, text, reply_markup=markup)
        finally:
            await bot.session.close()
    [(method, content_type, body)] = seen
    assert (method, content_type) == ("sendMessage", "application/json")
    sent = json.loads(body)
    assert sent["text"] == text
    assert sent["parse_mode"] == "HTML"  # the bot's default still applies
    assert sent["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "as:1"
    # Three bytes a Bangla letter, where a form (or an escaped JSON string) takes more.
    assert text.encode() in body


async def test_an_upload_still_goes_as_multipart() -> None:
    photo = {
        **_MESSAGE,
        "photo": [{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}],
    }
    async with _recording_server({"ok": True, "result": photo}) as (url, seen):
        bot = make_bot(emulator_token(), url)
        try:
            await bot.send_photo(42, BufferedInputFile(b"\x89PNG", "chart.png"), caption="চার্ট")
        finally:
            await bot.session.close()
    [(method, content_type, body)] = seen
    assert (method, content_type) == ("sendPhoto", "multipart/form-data")
    assert b"\x89PNG" in body


async def test_telegram_errors_and_lost_connections_surface_as_aiogram_errors() -> None:
    flood = {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }
    async with _recording_server(flood) as (url, _):
        bot = make_bot(emulator_token(), url)
        try:
            with pytest.raises(TelegramRetryAfter) as raised:
                await bot.send_message(42, "hello")
        finally:
            await bot.session.close()
    assert raised.value.retry_after == 7
    # Nothing listens there any more.
    bot = make_bot(emulator_token(), url)
    try:
        with pytest.raises(TelegramNetworkError):
            await bot.send_message(42, "hello")
    finally:
        await bot.session.close()
