"""Filters that aiogram awaits on the event loop.

aiogram 3 calls every filter that is not a coroutine function, magic filters (`F.text`,
`F.data.startswith(...)`) included, through `asyncio.to_thread`: a thread hand-off for a few
attribute reads, on every check of every update. Routers wrap each magic filter in `when(...)`,
a subclass of aiogram's public `Filter` with an async `__call__`, which aiogram awaits in
place; `tests/test_dispatch_speed.py` fails if a sync filter or handler slips back in.
"""

from __future__ import annotations

from typing import Any

from aiogram import F
from aiogram.enums import ChatType
from aiogram.filters import Filter
from aiogram.types import TelegramObject
from magic_filter import MagicFilter


class When(Filter):
    """A magic filter resolved inline; passes on a truthy result, a dict adds handler data."""

    def __init__(self, magic: MagicFilter) -> None:
        self.magic = magic

    async def __call__(self, event: TelegramObject) -> bool | dict[str, Any]:
        result = self.magic.resolve(event)
        return result if isinstance(result, dict) else bool(result)

    def __str__(self) -> str:
        return f"when({self.magic!r})"


def when(magic: MagicFilter) -> When:
    return When(magic)


def private_chat() -> When:
    """Messages (or member updates) in a one-to-one chat with the bot."""
    return When(F.chat.type == ChatType.PRIVATE)


def private_tap() -> When:
    """Button taps on a message in a one-to-one chat with the bot."""
    return When(F.message.chat.type == ChatType.PRIVATE)
