"""The aiogram Bot that Sabai talks through, and the token it uses with the local emulator.

Kept apart from `bot.app` so a process that only needs a client (the benchmarks' bare bot,
test workers) does not import the whole application.
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode

# The emulator accepts any well-shaped token; this one is built, not written out,
# so nothing token-shaped sits in the repository.
EMULATOR_BOT_ID = 700000001


def emulator_token() -> str:
    """A token for the local emulator (not a secret: it opens nothing real)."""
    return f"{EMULATOR_BOT_ID}:" + "sabai-local-emulator-".ljust(35, "x")


def make_bot(token: str, api_url: str) -> Bot:
    """A real aiogram Bot talking to `api_url` (Telegram's or the emulator's)."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url))
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
