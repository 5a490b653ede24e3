"""Lessons in a resident's private chat: /lessons, lesson buttons, /join.

Included before the residents' router: it takes only lesson buttons (`ls:` and the menu's
`m:lessons`), /lessons, /join and join start links. Typed text while a lesson is on
screen reaches the lesson through bot/residents/routing.py.
"""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import CallbackQuery, Message

from bot.core.screens import Reply
from bot.lessons.catalog import Library
from bot.lessons.flow import PREFIX, LessonFlow
from bot.lessons.groups import START_PREFIX, join_reply
from bot.residents.conversation import Conversation, Expired
from bot.residents.events import EventKind, record
from handlers.filters import private_chat, private_tap, when
from handlers.render import Outgoing

log = logging.getLogger("sabai.lessons")


def build_router(library: Library) -> Router:
    """Build the lessons router (a new one each call: a router joins one dispatcher only)."""
    router = Router(name="lessons")
    router.message.filter(private_chat())
    router.callback_query.filter(private_tap())

    @router.message(CommandStart(deep_link=True, magic=F.args.startswith(START_PREFIX)))
    async def start_join(
        message: Message, command: CommandObject, conversation: Conversation, out: Outgoing
    ) -> None:
        out.message(message.chat.id, await join_reply(conversation, command.args))

    @router.message(Command("join"))
    async def join(
        message: Message, command: CommandObject, conversation: Conversation, out: Outgoing
    ) -> None:
        out.message(message.chat.id, await join_reply(conversation, command.args))

    @router.message(Command("lessons"))
    async def lessons(message: Message, conversation: Conversation, out: Outgoing) -> None:
        out.message(message.chat.id, await LessonFlow(conversation, library).lessons())

    @router.callback_query(when(F.data.startswith(PREFIX) | (F.data == "m:lessons")))
    async def button(query: CallbackQuery, conversation: Conversation, out: Outgoing) -> None:
        try:
            reply = await _pressed(conversation, library, query.data or "")
        except Expired as exc:
            log.info("stale or forged lesson button %r", exc.args[0] if exc.args else "")
            out.toast(query, conversation.t("error.expired"), alert=True)
            return
        out.tap(query, reply)

    return router


async def _pressed(conversation: Conversation, library: Library, data: str) -> Reply:
    flow = LessonFlow(conversation, library)
    if data != "m:lessons":
        return await flow.action(data)
    if not conversation.onboarded:
        raise Expired(data)
    record(
        conversation.session, EventKind.BUTTON_TAPPED, conversation.resident, {"menu": "lessons"}
    )
    return await flow.lessons()
