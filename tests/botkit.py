"""Drive the real Sabai dispatcher through the emulator, as residents would."""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.channels.telegram.client import EMULATOR_BOT_ID, emulator_token
from bot.core.config import Settings
from bot.devtools.emulator import Emulator, EmulatorServer
from bot.devtools.emulator.state import ChatMessage
from bot.wiring.app import App, build_app


def test_settings(db_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "bot_token": None,
        "telegram_api": "",
        "database_url": db_url,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Harness:
    emulator: Emulator
    app: App
    base_url: str

    async def feed(self, update: dict[str, Any]) -> None:
        """Hand one update to the dispatcher and wait until every handler has finished."""
        await self.app.dispatcher.feed_raw_update(self.app.bot, update)

    def person(self, user_id: int, first_name: str = "Rahim", **kwargs: Any) -> Person:
        self.emulator.add_user(user_id, first_name=first_name, **kwargs)
        return Person(self, user_id)


@dataclass
class Person:
    """A resident in a private chat with the bot."""

    harness: Harness
    user_id: int
    seen: int = field(default=0)

    @property
    def emulator(self) -> Emulator:
        return self.harness.emulator

    def _new(self) -> list[ChatMessage]:
        """Bot messages sent or edited since the last look, in the order they changed."""
        fresh = sorted(
            (m for m in self.emulator.messages(self.user_id) if m.seq > self.seen),
            key=lambda m: m.seq,
        )
        if fresh:
            self.seen = fresh[-1].seq
        return fresh

    async def send(self, text: str) -> list[ChatMessage]:
        """Type a message; return the messages the bot sent in answer."""
        await self.harness.feed(self.emulator.send_text(self.user_id, text))
        return self._new()

    async def tap(self, label: str, message: ChatMessage | None = None) -> list[ChatMessage]:
        """Tap the button whose label contains `label` on the latest message that has buttons."""
        target = message or self.last_with_buttons()
        wanted = unicodedata.normalize("NFD", label)
        for row in target.buttons:
            for text, data in row:
                if wanted in unicodedata.normalize("NFD", text):
                    return await self.press(target.message_id, data)
        raise AssertionError(f"no button {label!r} in {target.buttons!r}")

    async def press(self, message_id: int, data: str, forge: bool = False) -> list[ChatMessage]:
        update = self.emulator.press_button(self.user_id, message_id, data, forge=forge)
        await self.harness.feed(update)
        self.last_callback_id = update["callback_query"]["id"]
        return self._new()

    def last_with_buttons(self) -> ChatMessage:
        for message in reversed(self.emulator.messages(self.user_id)):
            if message.buttons and not message.deleted:
                return message
        raise AssertionError("the bot has shown no buttons")

    def chat(self) -> list[ChatMessage]:
        return self.emulator.messages(self.user_id)

    def last(self) -> ChatMessage:
        return self.emulator.last_message(self.user_id)

    def last_text(self) -> str:
        return self.last().text


@asynccontextmanager
async def running_bot(db_url: str, **overrides: Any) -> AsyncIterator[Harness]:
    """The real app against an emulator on a free loopback port; updates are fed directly."""
    emulator = Emulator(seed=1, queue_updates=False, bot_id=EMULATOR_BOT_ID)
    async with EmulatorServer(emulator) as server:
        settings = test_settings(db_url, **overrides)
        async with build_app(settings, emulator_token(), server.base_url) as app:
            yield Harness(emulator, app, server.base_url)


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Serve `app` on a free loopback port; yields its base URL ("http://127.0.0.1:PORT")."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def project_dir() -> Path:
    return Path(__file__).resolve().parent.parent
