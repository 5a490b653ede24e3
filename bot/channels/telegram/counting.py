"""Count every message the bot sends through the Bot API, for the metrics.

A request middleware (aiogram's extension point for Bot API calls) sees replies and outbox
sends alike, so the counts need no hook in either.
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramAPIError, TelegramRetryAfter
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.ops.metrics import Metrics

# Calls that put a message in front of someone; reads and housekeeping are not counted.
COUNTED = frozenset({"sendMessage", "sendPhoto", "sendDocument", "editMessageText", "copyMessage"})


class CountSends(BaseRequestMiddleware):
    """Count sends accepted, refused and answered with 429, by Bot API method."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        name = method.__api_method__
        if name not in COUNTED:
            return await make_request(bot, method)
        try:
            response = await make_request(bot, method)
        except TelegramRetryAfter:
            self.metrics.rate_limited.labels(method=name).inc()
            raise
        except TelegramAPIError:
            self.metrics.failed.labels(method=name).inc()
            raise
        self.metrics.sent.labels(method=name).inc()
        return response
