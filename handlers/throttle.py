"""Flood control: drop a person's updates beyond `limit` in `window` seconds, before any database.

This is an outer middleware placed ahead of the session middleware, so a dropped update costs
a dictionary lookup and nothing else: no session, no query, no handler. The person gets one
gentle "slow down" per window (in the language of their last handled update), not one per
dropped update, which would itself be a flood. Every dropped button press is answered
with that note as a toast, so no button is left spinning.

The counts live in this process's memory. With several bot processes behind a webhook each
sees a share of a person's updates, so the effective limit is somewhat higher there; that is
acceptable for a guard whose job is to keep one noisy client from eating the database.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import TelegramObject, Update, User

from bot.core.i18n import Catalog

log = logging.getLogger("sabai.throttle")

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

DEFAULT_LIMIT = 20
DEFAULT_WINDOW = 10.0
# Forget quiet people every this many updates, so memory follows the active users only.
SWEEP_EVERY = 1_000


@dataclass
class _Recent:
    times: deque[float]
    warned_at: float | None = None
    language: str | None = field(default=None)


class ThrottleMiddleware(BaseMiddleware):
    """Let through at most `limit` updates per person in any `window` seconds."""

    def __init__(
        self,
        catalog: Catalog,
        limit: int = DEFAULT_LIMIT,
        window: float = DEFAULT_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("the flood limit needs limit >= 1 and window > 0")
        self.catalog = catalog
        self.limit = limit
        self.window = window
        self.clock = clock
        self._recent: dict[int, _Recent] = {}
        self._seen = 0
        self.dropped = 0

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None or user.is_bot:
            return await handler(event, data)
        now = self.clock()
        self._seen += 1
        if self._seen % SWEEP_EVERY == 0:
            self._sweep(now)
        recent = self._recent.get(user.id)
        if recent is None:
            recent = self._recent[user.id] = _Recent(deque(maxlen=self.limit))
        # Dropped updates count too: someone who keeps flooding stays slowed down until
        # they pause, rather than getting every `limit`-th update through.
        full = len(recent.times) == self.limit and now - recent.times[0] < self.window
        recent.times.append(now)
        if full:
            self.dropped += 1
            # A dropped button press is still answered, or the button keeps spinning; the
            # answer is a toast on the person's own screen, not one more chat message.
            tapped = isinstance(event, Update) and event.callback_query is not None
            if tapped or recent.warned_at is None or now - recent.warned_at >= self.window:
                recent.warned_at = now
                await self._warn(event, data, user, recent.language)
            return None
        result = await handler(event, data)
        language = data.get("language")
        if isinstance(language, str):
            recent.language = language
        return result

    def _sweep(self, now: float) -> None:
        quiet = [uid for uid, r in self._recent.items() if now - r.times[-1] >= self.window]
        for uid in quiet:
            del self._recent[uid]

    async def _warn(
        self, event: TelegramObject, data: dict[str, Any], user: User, language: str | None
    ) -> None:
        bot: Bot | None = data.get("bot")
        if bot is None or not isinstance(event, Update):
            return
        lang = self.catalog.resolve(language or (user.language_code or "").split("-")[0] or None)
        text = self.catalog.text(lang, "error.slow_down")
        try:
            if event.callback_query is not None:
                await bot.answer_callback_query(event.callback_query.id, text)
            elif event.message is not None and event.message.chat.type == ChatType.PRIVATE:
                await bot.send_message(event.message.chat.id, text)
        except TelegramAPIError as exc:
            log.info("could not ask a person to slow down: %s", type(exc).__name__)
