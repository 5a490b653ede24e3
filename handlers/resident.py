"""Residents' private chats: parse the update, let the conversation decide, render its reply."""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import (
    KICKED,
    MEMBER,
    ChatMemberUpdatedFilter,
    Command,
    CommandObject,
    CommandStart,
)
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message

from bot.conversation import Conversation, Expired
from bot.screens import Reply, Screen
from handlers.render import answer_callback, answer_message

log = logging.getLogger("sabai.resident")

COMMANDS = ("menu", "help", "language", "area", "privacy", "mydata", "forget")
# Longer text is no answer to anything the bot asks; reading it would only cost time.
MAX_TEXT = 1000


def build_router() -> Router:
    """Build the residents' router (a new one each call: a router joins one dispatcher only)."""
    router = Router(name="resident")
    router.message.filter(F.chat.type == ChatType.PRIVATE)
    router.callback_query.filter(F.message.chat.type == ChatType.PRIVATE)
    router.my_chat_member.filter(F.chat.type == ChatType.PRIVATE)

    @router.message(CommandStart())
    async def start(message: Message, command: CommandObject, conversation: Conversation) -> None:
        await answer_message(message, await conversation.start(command.args))

    @router.message(Command(*COMMANDS))
    async def commands(
        message: Message, command: CommandObject, conversation: Conversation
    ) -> None:
        await answer_message(
            message, await conversation.command(command.command), conversation.ctx.catalog
        )

    @router.message(F.text.startswith("/"))
    async def unknown_command(message: Message, conversation: Conversation) -> None:
        await answer_message(message, Reply([Screen(conversation.t("error.unknown_command"))]))

    @router.message(F.text)
    async def text(message: Message, conversation: Conversation) -> None:
        assert message.text is not None
        if len(message.text) > MAX_TEXT:
            reply = Reply([Screen(conversation.t("error.too_long"))])
        else:
            reply = await conversation.text(message.text)
        await answer_message(message, reply, conversation.ctx.catalog)

    @router.message(F.location)
    async def location(message: Message, conversation: Conversation) -> None:
        await answer_message(message, Reply([Screen(conversation.t("error.location"))]))

    @router.message()
    async def other_media(message: Message, conversation: Conversation) -> None:
        # Stickers, photos, voice, contacts…: the bot reads text and buttons only.
        await answer_message(message, Reply([Screen(conversation.t("error.unsupported_media"))]))

    @router.callback_query()
    async def button(query: CallbackQuery, conversation: Conversation) -> None:
        try:
            reply = await conversation.action(query.data or "")
        except Expired as exc:
            log.info("stale or forged button %r", exc.args[0] if exc.args else "")
            await query.answer(conversation.t("error.expired"), show_alert=True)
            return
        await answer_callback(query, reply, conversation.ctx.catalog)

    @router.edited_message()
    async def edited(message: Message) -> None:
        """Ignore edits by design: the answer to the first version has been given already."""

    @router.my_chat_member(ChatMemberUpdatedFilter(member_status_changed=KICKED))
    async def blocked(update: ChatMemberUpdated, conversation: Conversation) -> None:
        conversation.blocked(True)

    @router.my_chat_member(ChatMemberUpdatedFilter(member_status_changed=MEMBER))
    async def unblocked(update: ChatMemberUpdated, conversation: Conversation) -> None:
        conversation.blocked(False)

    return router
