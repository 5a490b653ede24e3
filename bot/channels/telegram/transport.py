"""Sends outbox messages with a real aiogram Bot and turns its exceptions into SendResults.

The only outbox module that knows aiogram: the sender sees a `Transport` and plain results.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    AiogramError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import ForceReply, InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove

from bot.delivery.sender import OutgoingMessage, SendResult

log = logging.getLogger("sabai.sender")

# 400 answers that mean the chat is gone for good rather than the message being wrong.
_GONE = (
    "chat not found",
    "user not found",
    "peer_id_invalid",
    "user is deactivated",
    "bot was blocked",
    "bot was kicked",
    "have no rights to send",
    "not enough rights to send",
)

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | ForceReply


def markup_from_json(data: dict[str, Any] | None) -> Markup | None:
    """Rebuild a reply_markup stored as Bot API JSON into the aiogram object it describes."""
    if data is None:
        return None
    if "inline_keyboard" in data:
        return InlineKeyboardMarkup.model_validate(data)
    if "keyboard" in data:
        return ReplyKeyboardMarkup.model_validate(data)
    if "remove_keyboard" in data:
        return ReplyKeyboardRemove.model_validate(data)
    if "force_reply" in data:
        return ForceReply.model_validate(data)
    raise ValueError(f"unknown reply_markup with keys {sorted(data)}")


class AiogramTransport:
    """A Transport over an aiogram Bot (Telegram's API or the local emulator)."""

    def __init__(self, bot: Bot, *, timeout: float = 10.0) -> None:
        self.bot = bot
        self.timeout = timeout

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Send one message and report what happened, never raising for a Bot API answer."""
        try:
            markup = markup_from_json(message.reply_markup)
        except ValueError as exc:
            return SendResult.rejected(str(exc))
        try:
            # aiohttp's own timeout covers the request; ours also covers time spent in aiogram
            # (connection pool waits), so a hung request always ends as a retryable failure.
            async with asyncio.timeout(self.timeout + 1):
                sent = await self.bot.send_message(
                    chat_id=message.chat_id,
                    text=message.text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                    request_timeout=max(1, round(self.timeout)),
                )
        except TelegramRetryAfter as exc:
            return SendResult.flood_wait(float(exc.retry_after), exc.message)
        except TelegramMigrateToChat as exc:
            # The group became a supergroup with a new id; this chat id will never work again.
            return SendResult.unreachable(f"migrated to {exc.migrate_to_chat_id}")
        except TelegramForbiddenError as exc:
            return SendResult.unreachable(exc.message)
        except TelegramBadRequest as exc:
            if any(marker in exc.message.lower() for marker in _GONE):
                return SendResult.unreachable(exc.message)
            return SendResult.rejected(exc.message)
        except (TelegramUnauthorizedError, TelegramNotFound, TelegramConflictError) as exc:
            # A wrong token (401/404) or a conflict fails every message alike: stop, keep the rows.
            return SendResult.halt(f"{type(exc).__name__}: {exc.message}")
        except TelegramServerError as exc:
            return SendResult.transient(f"server error: {exc.message}")
        except TelegramNetworkError as exc:
            return SendResult.transient(f"network error: {exc.message}")
        except TimeoutError:
            return SendResult.transient("timeout")
        except AiogramError as exc:
            # Undecodable answers and other API errors: worth another try, then a failure.
            return SendResult.transient(f"{type(exc).__name__}: {exc}")
        return SendResult.sent(sent.message_id)
