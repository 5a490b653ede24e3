"""The terminal chat: a person signs up by typing numbers and names, seeing what the bot sends."""

from __future__ import annotations

import asyncio
import contextlib
import io
import queue
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TextIO, cast

from bot.channels.telegram.client import EMULATOR_BOT_ID, emulator_token
from bot.devtools.chat_render import Choice, display_width, render_choices, wrap_spans
from bot.devtools.emulator import Emulator, EmulatorServer
from bot.devtools.terminal_chat import run_chat
from bot.wiring.app import build_app
from tests import botkit

USER_ID = 100_001
SEEN_WITHIN = 8.0  # seconds; the bot answers in well under one


class TypedLines:
    """Standard input whose lines arrive only when the test types them (readline blocks)."""

    def __init__(self) -> None:
        self._lines: queue.Queue[str] = queue.Queue()

    def type(self, line: str) -> None:
        self._lines.put(line + "\n")

    def close_input(self) -> None:
        self._lines.put("")  # end of input

    def readline(self) -> str:
        return self._lines.get(timeout=30)


@asynccontextmanager
async def polling_bot(db_url: str) -> AsyncIterator[str]:
    """The real app in long polling against an emulator on a free loopback port."""
    emulator = Emulator(bot_id=EMULATOR_BOT_ID)
    async with EmulatorServer(emulator) as server:
        settings = botkit.test_settings(db_url)
        async with build_app(settings, emulator_token(), server.base_url) as app:
            polling = asyncio.create_task(
                app.dispatcher.start_polling(app.bot, handle_signals=False, polling_timeout=1)
            )
            try:
                yield server.base_url
            finally:
                await app.dispatcher.stop_polling()
                await polling


async def seen(out: io.StringIO, text: str, since: int) -> int:
    """Wait until `text` appears in the output after position `since`; return where it ends."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SEEN_WITHIN
    while True:
        found = out.getvalue().find(text, since)
        if found >= 0:
            return found + len(text)
        if loop.time() > deadline:
            raise AssertionError(f"{text!r} not shown; the chat so far:\n{out.getvalue()}")
        await asyncio.sleep(0.02)


async def test_a_person_signs_up_by_typing_in_the_terminal(db_url: str) -> None:
    async with polling_bot(db_url) as base_url:
        typed, out = TypedLines(), io.StringIO()
        chat = asyncio.create_task(
            run_chat(base_url, USER_ID, EMULATOR_BOT_ID, stdin=cast(TextIO, typed), stdout=out,
                     first_name="Amina")
        )  # fmt: skip
        try:
            at = await seen(out, "/quit", 0)  # the banner says how to leave
            at = await seen(out, "Welcome to Sabai", at)  # /start was sent by itself
            at = await seen(out, "[1] বাংলা   [2] English   [3] সিলেটি (Sylheti)", at)

            typed.type("2")  # presses the English button
            at = await seen(out, "Sabai (edited):\n  Language: English.", at)
            at = await seen(out, "Where do you live?", at)

            typed.type("Kulaura")
            at = await seen(out, "Your area: Kulaura", at)
            at = await seen(out, "Your privacy", at)
            at = await seen(out, "[1] Yes, I agree", at)

            typed.type("1")
            at = await seen(out, "Welcome, Amina!", at)
            menu = out.getvalue()[at:]
            assert "[1] 📘 Lessons" in menu and "[2] 📢 Alerts" in menu

            typed.type("/quit")
            await asyncio.wait_for(chat, 5)
        finally:
            typed.close_input()
            chat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await chat
        transcript = out.getvalue()
        assert "<b>" not in transcript  # entities are stripped, not shown as markup
        assert transcript.rstrip().endswith("বিদায়।")


async def test_a_vanished_emulator_ends_the_chat_with_a_clear_message() -> None:
    server = await EmulatorServer(Emulator(bot_id=EMULATOR_BOT_ID)).start()
    base_url = server.base_url
    await server.stop()
    typed, out = TypedLines(), io.StringIO()
    try:
        await asyncio.wait_for(
            run_chat(base_url, None, EMULATOR_BOT_ID, stdin=cast(TextIO, typed), stdout=out), 10
        )
    finally:
        typed.close_input()
    assert "is not answering" in out.getvalue()


def test_wrapping_counts_bangla_vowel_signs_as_zero_width() -> None:
    text = "আপনি কোথায় থাকেন? উপজেলা বা ইউনিয়নের নাম লিখুন"
    spans = wrap_spans(text, 20)
    assert len(spans) > 1
    assert all(display_width(text[a:b]) <= 20 for a, b in spans)
    assert " ".join(text[a:b] for a, b in spans) == text


def test_choices_wrap_onto_new_lines_when_the_terminal_is_narrow() -> None:
    row = [Choice(n, label, str(n), None) for n, label in enumerate(["বাংলা", "English"], 1)]
    assert render_choices([row], 80) == ["  [1] বাংলা   [2] English"]
    assert render_choices([row], 15) == ["  [1] বাংলা", "  [2] English"]
