"""Outer middlewares for a bot that runs as several processes: metrics and the person lock."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.methods import TelegramMethod
from aiogram.types import TelegramObject, Update, User

from bot.channels.telegram.counting import COUNTED
from bot.ops.ledger import UpdateLedger
from bot.ops.metrics import Metrics
from handlers.middlewares import Watched

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class MetricsMiddleware(BaseMiddleware):
    """Count each update by type and outcome and time it, lock waits included."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        watched = Watched()
        result = None
        try:
            result = await watched.run(handler, event, data)
            return result
        finally:
            # A reply riding in the webhook's answer goes out when Telegram takes the answer.
            if isinstance(result, TelegramMethod) and result.__api_method__ in COUNTED:
                self.metrics.sent.labels(method=result.__api_method__).inc()
            outcome = "duplicate" if data.get("duplicate") else watched.outcome
            self.metrics.updates.labels(type=event.event_type, outcome=outcome).inc()
            if data.get("duplicate"):
                self.metrics.duplicates.inc()
            self.metrics.reply_latency.observe(time.perf_counter() - watched.started)


class PersonTurnMiddleware(BaseMiddleware):
    """Handle one person's updates one at a time across processes."""

    def __init__(self, ledger: UpdateLedger) -> None:
        self.ledger = ledger

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        user: User | None = data.get("event_from_user")
        person = f"p{user.id}" if user is not None else f"u{event.update_id}"
        async with self.ledger.turn(person):
            return await handler(event, data)
