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

from bot.core.callback_sign import SignerSource
from bot.core.screens import Reply, Screen
from bot.residents.conversation import Conversation, Expired
from bot.residents.routing import TypedText
from handlers.filters import private_chat, private_tap, when
from handlers.render import Outgoing

log = logging.getLogger("sabai.resident")

COMMANDS = ("menu", "help", "language", "area", "privacy", "mydata", "forget")


def notice(conversation: Conversation, key: str) -> Reply:
    return Reply([Screen(conversation.t(key))])


def build_router(typing: TypedText) -> Router:
    """Build the residents' router (a new one each call: a router joins one dispatcher only).

    Its `typed` handler takes every typed text that is not a command, staff's included:
    `typing` decides which feature answers it.
    """
    router = Router(name="resident")
    router.message.filter(private_chat())
    router.callback_query.filter(private_tap())
    router.my_chat_member.filter(private_chat())

    @router.message(CommandStart())
    async def start(
        message: Message, command: CommandObject, conversation: Conversation, out: Outgoing
    ) -> None:
        out.message(message.chat.id, await conversation.start(command.args))

    @router.message(Command(*COMMANDS))
    async def commands(
        message: Message, command: CommandObject, conversation: Conversation, out: Outgoing
    ) -> None:
        out.message(message.chat.id, await conversation.command(command.command))

    @router.message(when(F.text.startswith("/")))
    async def unknown_command(message: Message, conversation: Conversation, out: Outgoing) -> None:
        out.message(message.chat.id, notice(conversation, "error.unknown_command"))

    @router.message(when(F.text))
    async def typed(
        message: Message, conversation: Conversation, out: Outgoing, signer_source: SignerSource
    ) -> None:
        assert message.text is not None
        routed = await typing.route(conversation, message.text)
        signer = await signer_source.get() if routed.staff is not None else None
        out.message(message.chat.id, routed.reply, signer, conversation.now)

    @router.message(when(F.location))
    async def location(message: Message, conversation: Conversation, out: Outgoing) -> None:
        out.message(message.chat.id, notice(conversation, "error.location"))

    @router.message()
    async def other_media(message: Message, conversation: Conversation, out: Outgoing) -> None:
        # Stickers, photos, voice, contacts…: the bot reads text and buttons only.
        out.message(message.chat.id, notice(conversation, "error.unsupported_media"))

    @router.callback_query()
    async def button(query: CallbackQuery, conversation: Conversation, out: Outgoing) -> None:
        try:
            reply = await conversation.action(query.data or "")
        except Expired as exc:
            log.info("stale or forged button %r", exc.args[0] if exc.args else "")
            out.toast(query, conversation.t("error.expired"), alert=True)
            return
        out.tap(query, reply)

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
