"""Residents' private chats: parse the update, let the conversation decide, render its reply."""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.filters import (
    KICKED,
    MEMBER,
    ChatMemberUpdatedFilter,
    Command,
    CommandObject,
    CommandStart,
)
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message

from bot.core.screens import Reply, Screen
from bot.residents.conversation import Conversation, Expired
from handlers.filters import private_chat, private_tap, when
from handlers.render import respond, respond_to_button

log = logging.getLogger("sabai.resident")

COMMANDS = ("menu", "help", "language", "area", "privacy", "mydata", "forget")
# Longer text is no answer to anything the bot asks; reading it would only cost time.
MAX_TEXT = 1000


def notice(conversation: Conversation, key: str) -> Reply:
    return Reply([Screen(conversation.t(key))])


def build_router() -> Router:
    """Build the residents' router (a new one each call: a router joins one dispatcher only)."""
    router = Router(name="resident")
    router.message.filter(private_chat())
    router.callback_query.filter(private_tap())
    router.my_chat_member.filter(private_chat())

    @router.message(CommandStart())
    async def start(message: Message, command: CommandObject, conversation: Conversation) -> None:
        await respond(message, conversation, await conversation.start(command.args))

    @router.message(Command(*COMMANDS))
    async def commands(
        message: Message, command: CommandObject, conversation: Conversation
    ) -> None:
        await respond(message, conversation, await conversation.command(command.command))

    @router.message(when(F.text.startswith("/")))
    async def unknown_command(message: Message, conversation: Conversation) -> None:
        await respond(message, conversation, notice(conversation, "error.unknown_command"))

    @router.message(when(F.text))
    async def text(message: Message, conversation: Conversation) -> None:
        assert message.text is not None
        if len(message.text) > MAX_TEXT:
            reply = notice(conversation, "error.too_long")
        else:
            reply = await conversation.text(message.text)
        await respond(message, conversation, reply)

    @router.message(when(F.location))
    async def location(message: Message, conversation: Conversation) -> None:
        await respond(message, conversation, notice(conversation, "error.location"))

    @router.message()
    async def other_media(message: Message, conversation: Conversation) -> None:
        # Stickers, photos, voice, contacts…: the bot reads text and buttons only.
        await respond(message, conversation, notice(conversation, "error.unsupported_media"))

    @router.callback_query()
    async def button(query: CallbackQuery, conversation: Conversation) -> None:
        try:
            reply = await conversation.action(query.data or "")
        except Expired as exc:
            log.info("stale or forged button %r", exc.args[0] if exc.args else "")
            await conversation.finish()
            await query.answer(conversation.t("error.expired"), show_alert=True)
            return
        await respond_to_button(query, conversation, reply)

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
