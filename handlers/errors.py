"""Last line of defence: log the failure with its traceback, answer the person politely."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ErrorEvent

from bot.channels.telegram.handled import ReplyUnfinished
from bot.core.i18n import Catalog

log = logging.getLogger("sabai.errors")


def build_router(catalog: Catalog) -> Router:
    router = Router(name="errors")

    @router.error()
    async def on_error(event: ErrorEvent, bot: Bot, language: str | None = None) -> None:
        if isinstance(event.exception, ReplyUnfinished):
            # Not answered: the webhook returns an error and Telegram delivers the update again.
            log.warning("%s: %s", event.exception, event.exception.__cause__)
            raise SkipHandler
        log.error(
            "update %s failed: %s",
            event.update.update_id,
            type(event.exception).__name__,
            exc_info=event.exception,
        )
        text = catalog.text(language, "error.internal")
        query = event.update.callback_query
        if query is not None:
            # The handler's answer to the press was never sent: answer it here, or the button
            # keeps spinning (the message below says what happened).
            try:
                await bot.answer_callback_query(query.id)
            except TelegramAPIError as exc:
                log.warning("could not answer the button press: %s", type(exc).__name__)
        chat_id = _chat_of(event)
        if chat_id is None:
            return
        try:
            await bot.send_message(chat_id, text)
        except TelegramAPIError as exc:
            log.warning("could not tell chat about the failure: %s", type(exc).__name__)

    return router


def _chat_of(event: ErrorEvent) -> int | None:
    update = event.update
    if update.message is not None and update.message.chat.type == "private":
        return update.message.chat.id
    if update.callback_query is not None:
        return update.callback_query.from_user.id
    return None
