"""Long polling that survives an update the Bot API types reject.

aiogram validates a whole getUpdates answer at once, so one malformed update (a poll missing
required fields has been seen) fails every later call on the same batch and aiogram logs the
raw batch — names, usernames, phone numbers — at each retry. `SkipMalformedUpdates`, a request
middleware (aiogram's documented extension point for Bot API calls), validates such an answer
update by update instead: the good ones are handed on, each bad one is logged by id and type
only and confirmed through the next call's offset so Telegram stops sending it.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from aiogram import Bot, Dispatcher
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import ClientDecodeError
from aiogram.methods import GetUpdates, Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Update
from pydantic import ValidationError

log = logging.getLogger("sabai.polling")

UNKNOWN = "unknown"


def update_type(raw: dict[str, Any]) -> str:
    """The kind of a raw update ("message", "poll", ...), safe to log whatever arrived."""
    kind = next((key for key in raw if key != "update_id"), UNKNOWN)
    # Keys come off the wire too: only a short identifier is worth (and safe for) a log line.
    return kind if kind.isidentifier() and len(kind) <= 40 else UNKNOWN


class SkipMalformedUpdates(BaseRequestMiddleware):
    """Let getUpdates return the updates that parse and step over those that do not."""

    def __init__(self) -> None:
        # The highest update_id skipped; later calls ask for updates after it.
        self.skipped_through = 0

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if not isinstance(method, GetUpdates):
            return await make_request(bot, method)
        if self.skipped_through and (method.offset or 0) <= self.skipped_through:
            # A skipped update was the last of its batch, so the poller's offset is behind it.
            method = cast(
                TelegramMethod[TelegramType],
                method.model_copy(update={"offset": self.skipped_through + 1}),
            )
        try:
            return await make_request(bot, method)
        except ClientDecodeError as error:
            updates = self.salvage(bot, error.data)
        # aiogram's chain hands on the method's result (the list), whatever its annotation says.
        return cast(Response[TelegramType], updates)

    def salvage(self, bot: Bot, answer: object) -> list[Update]:
        """The updates of a getUpdates answer that validate one by one; the others are skipped."""
        raws = answer.get("result") if isinstance(answer, dict) and answer.get("ok") else None
        if not isinstance(raws, list):
            # Not a batch at all: aiogram retries with backoff. The answer itself is withheld,
            # as it may hold personal data.
            raise ClientDecodeError(
                "getUpdates answer does not parse", ValueError("withheld"), None
            ) from None
        updates = []
        for raw in raws:
            update_id = raw.get("update_id") if isinstance(raw, dict) else None
            try:
                updates.append(Update.model_validate(raw, context={"bot": bot}))
            except ValidationError:
                kind = update_type(raw) if isinstance(raw, dict) else UNKNOWN
                log.warning(
                    "skipped an update that does not parse",
                    extra={"update_id": update_id, "update_type": kind},
                )
                if isinstance(update_id, int) and not isinstance(update_id, bool):
                    self.skipped_through = max(self.skipped_through, update_id)
        return updates


async def poll(
    dispatcher: Dispatcher,
    bot: Bot,
    *,
    polling_timeout: int,
    handle_signals: bool,
    concurrency: int,
) -> None:
    """Long-poll the Bot API and feed every update that parses to `dispatcher` until stopped."""
    skipper = SkipMalformedUpdates()
    bot.session.middleware(skipper)
    try:
        await dispatcher.start_polling(
            bot,
            polling_timeout=polling_timeout,
            handle_signals=handle_signals,
            tasks_concurrency_limit=concurrency,
            # The sender still needs the session; build_app closes it last.
            close_bot_session=False,
        )
    finally:
        bot.session.middleware.unregister(skipper)
