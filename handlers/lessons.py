"""Lessons in a resident's private chat: /lessons, lesson buttons, typed "next", /join.

Included before the residents' router: it takes only lesson buttons (`ls:` and the menu's
`m:lessons`), /lessons, /join, join start links, and text while a lesson is on screen;
everything else falls through to the resident conversation.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart, Filter
from aiogram.types import CallbackQuery, Message

from bot.lessons.catalog import Library
from bot.lessons.flow import PREFIX, LessonFlow
from bot.lessons.groups import START_PREFIX, join_reply
from bot.residents.conversation import Conversation, Expired
from bot.residents.events import EventKind, record
from handlers.filters import private_chat, private_tap, when
from handlers.render import respond, respond_to_button

log = logging.getLogger("sabai.lessons")

# The residents' router answers longer text with "too long"; a lesson never needs it.
MAX_TEXT = 1000


class InLesson(Filter):
    """The resident has a lesson (or the lesson list) on screen, per their stored state."""

    async def __call__(self, message: Message, **data: Any) -> bool:
        conversation = data.get("conversation")
        if not isinstance(conversation, Conversation) or conversation.resident is None:
            return False
        text = message.text or ""
        return (
            (conversation.resident.awaiting or "").startswith(PREFIX)
            and not text.startswith("/")
            and len(text) <= MAX_TEXT
        )


def build_router(library: Library) -> Router:
    """Build the lessons router (a new one each call: a router joins one dispatcher only)."""
    router = Router(name="lessons")
    router.message.filter(private_chat())
    router.callback_query.filter(private_tap())

    @router.message(CommandStart(deep_link=True, magic=F.args.startswith(START_PREFIX)))
    async def start_join(
        message: Message, command: CommandObject, conversation: Conversation
    ) -> None:
        await respond(message, conversation, await join_reply(conversation, command.args))

    @router.message(Command("join"))
    async def join(message: Message, command: CommandObject, conversation: Conversation) -> None:
        await respond(message, conversation, await join_reply(conversation, command.args))

    @router.message(Command("lessons"))
    async def lessons(message: Message, conversation: Conversation) -> None:
        await respond(message, conversation, await LessonFlow(conversation, library).lessons())

    @router.message(when(F.text), InLesson())
    async def typed(message: Message, conversation: Conversation) -> None:
        assert message.text is not None
        flow = LessonFlow(conversation, library)
        await respond(message, conversation, await flow.text(message.text))

    @router.callback_query(when(F.data.startswith(PREFIX) | (F.data == "m:lessons")))
    async def button(query: CallbackQuery, conversation: Conversation) -> None:
        flow = LessonFlow(conversation, library)
        try:
            if query.data == "m:lessons":
                if not conversation.onboarded:
                    raise Expired(query.data)
                record(
                    conversation.session,
                    EventKind.BUTTON_TAPPED,
                    conversation.resident,
                    {"menu": "lessons"},
                )
                reply = await flow.lessons()
            else:
                reply = await flow.action(query.data or "")
        except Expired as exc:
            log.info("stale or forged lesson button %r", exc.args[0] if exc.args else "")
            await query.answer(conversation.t("error.expired"), show_alert=True)
            return
        await respond_to_button(query, conversation, reply)

    return router
