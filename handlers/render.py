"""Turn channel-neutral screens into Telegram messages and inline keyboards."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.i18n import Catalog
from bot.screens import Reply, Screen
from handlers.commands import show_commands_to

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


async def send_reply(bot: Bot, chat_id: int, reply: Reply, catalog: Catalog | None = None) -> None:
    for screen in reply.screens:
        await bot.send_message(chat_id, screen.text, reply_markup=keyboard(screen))
    if reply.language_changed and catalog is not None:
        await show_commands_to(bot, catalog, chat_id, reply.language_changed)


async def answer_message(message: Message, reply: Reply, catalog: Catalog | None = None) -> None:
    assert message.bot is not None
    await send_reply(message.bot, message.chat.id, reply, catalog)


async def answer_callback(query: CallbackQuery, reply: Reply, catalog: Catalog) -> None:
    """Answer a button press: the first screen replaces the pressed message when it can."""
    assert query.bot is not None
    await query.answer(reply.toast, show_alert=reply.alert)
    screens = list(reply.screens)
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
    rest = Reply(screens, language_changed=reply.language_changed)
    await send_reply(query.bot, chat_id, rest, catalog)
