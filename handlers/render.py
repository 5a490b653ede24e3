"""Turn channel-neutral screens into Telegram messages and inline keyboards, and send them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.core.callback_sign import CallbackSigner
from bot.core.i18n import Catalog
from bot.core.screens import Reply, Screen, compact
from bot.residents.conversation import Conversation
from handlers.commands import sync_chat_commands

log = logging.getLogger("sabai.render")


def keyboard(screen: Screen) -> InlineKeyboardMarkup | None:
    if not screen.rows:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=option.label, callback_data=option.action) for option in row]
            for row in screen.rows
        ]
    )


def signed_keyboard(
    screen: Screen, signer: CallbackSigner, user_id: int, now: datetime | None = None
) -> InlineKeyboardMarkup | None:
    """The screen's buttons with their actions signed for this person (staff buttons)."""
    if not screen.rows:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=option.label, callback_data=signer.sign(option.action, user_id, now=now)
                )
                for option in row
            ]
            for row in screen.rows
        ]
    )


async def send_screens(bot: Bot, chat_id: int, screens: list[Screen]) -> None:
    for screen in screens:
        await bot.send_message(chat_id, screen.text, reply_markup=keyboard(screen))


async def _follow_language(
    bot: Bot, chat_id: int, reply: Reply, catalog: Catalog | None, app_language: str | None
) -> None:
    if reply.language_changed and catalog is not None:
        await sync_chat_commands(
            bot, catalog, chat_id, reply.language_changed, reply.previous_language, app_language
        )


async def answer_message(
    message: Message, reply: Reply, catalog: Catalog | None = None, app_language: str | None = None
) -> None:
    """Send a reply to a message as new messages."""
    assert message.bot is not None
    await send_screens(message.bot, message.chat.id, compact(reply.screens))
    await _follow_language(message.bot, message.chat.id, reply, catalog, app_language)


async def answer_callback(
    query: CallbackQuery,
    reply: Reply,
    catalog: Catalog | None = None,
    app_language: str | None = None,
) -> None:
    """Answer a button press: the first screen replaces the pressed message when it can."""
    assert query.bot is not None
    await query.answer(reply.toast, show_alert=reply.alert)
    screens = compact(reply.screens)
    message = query.message
    if reply.replace and screens and isinstance(message, Message):
        first = screens.pop(0)
        try:
            await message.edit_text(first.text, reply_markup=keyboard(first))
        except TelegramBadRequest as exc:
            if "not modified" not in exc.message:
                # Too old to edit, or deleted: say it in a new message instead.
                log.info("could not edit message, sending a new one: %s", exc.message)
                screens.insert(0, first)
    chat_id = message.chat.id if message is not None else query.from_user.id
    await send_screens(query.bot, chat_id, screens)
    await _follow_language(query.bot, chat_id, reply, catalog, app_language)


async def respond(message: Message, conversation: Conversation, reply: Reply) -> None:
    """Store what the update changed, then send the reply (no connection held meanwhile)."""
    await conversation.finish()
    app_language = message.from_user.language_code if message.from_user else None
    async with _unless_blocked(conversation):
        await answer_message(message, reply, conversation.ctx.catalog, app_language)


async def respond_to_button(query: CallbackQuery, conversation: Conversation, reply: Reply) -> None:
    """Store what the button press changed, then answer it and send the reply."""
    await conversation.finish()
    app_language = query.from_user.language_code
    async with _unless_blocked(conversation):
        await answer_callback(query, reply, conversation.ctx.catalog, app_language)


@asynccontextmanager
async def _unless_blocked(conversation: Conversation) -> AsyncIterator[None]:
    """A resident who blocked the bot cannot be answered: note it instead of failing the update."""
    try:
        yield
    except TelegramForbiddenError:
        log.info("resident has blocked the bot; marking unreachable")
        conversation.blocked(True)
        await conversation.finish()
