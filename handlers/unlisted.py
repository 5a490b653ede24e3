"""Coordinators place residents whose area is not listed: `/unlisted`, `/unlisted NUMBER AREA`.

Thin: parse, call bot.reach.unlisted, answer. Only coordinators (or admins) reach this router;
what they see and where they may place people is limited to their scopes by the service.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.reach.chat import find_area
from bot.reach.suppression import DEFAULT_K, Suppressor
from bot.reach.unlisted import parse_request, unlisted_chat
from bot.residents.conversation import Conversation
from bot.staff.language import staff_language
from bot.staff.roles import Role, Staff
from handlers.filters import private_chat
from handlers.render import Outgoing
from handlers.roles_filter import HasRole

COMMANDS = ("unlisted",)


def build_router(
    sessions: async_sessionmaker[AsyncSession], small_count_k: int = DEFAULT_K
) -> Router:
    """Build the coordinators' router for unlisted areas."""
    router = Router(name="unlisted")
    router.message.filter(private_chat(), Command(*COMMANDS), HasRole(Role.COORDINATOR))
    suppressor = Suppressor(small_count_k)

    @router.message(Command(*COMMANDS))
    async def unlisted(
        message: Message,
        command: CommandObject,
        conversation: Conversation,
        staff: Staff,
        out: Outgoing,
    ) -> None:
        ctx = conversation.ctx
        language = staff_language(conversation)
        request = parse_request(command.args or "")
        if request is None:
            out.message(message.chat.id, ctx.catalog.text(language, "unlisted.usage"))
            return
        code = find_area(ctx.index, request.area) if request.area else None
        # The update's own session holds nothing the service needs: close it first.
        await conversation.session.commit()
        text = await unlisted_chat(
            sessions,
            request,
            code,
            staff.pseudonym,
            staff.scopes(Role.COORDINATOR),
            ctx.index,
            ctx.catalog,
            language,
            suppressor,
        )
        out.message(message.chat.id, text)

    return router
