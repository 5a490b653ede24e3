"""Coordinators in chat: `/reach [area]` and `/missing [area]`, in their language, with a chart.

Only updates from people holding the coordinator role (or admin) anywhere reach this router;
the area asked for must lie inside one of their scopes. Everything shown is suppressed.
"""

from __future__ import annotations

import html

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message

from bot.core.base import utcnow
from bot.reach.chat import ChatReport, find_area, missing_chat, reach_chat
from bot.reach.suppression import DEFAULT_K, Suppressor
from bot.residents.conversation import Conversation
from bot.staff.language import staff_language
from bot.staff.roles import Role, Staff
from handlers.filters import private_chat
from handlers.roles_filter import HasRole

COMMANDS = ("reach", "missing")


def build_router(
    small_count_k: int = DEFAULT_K, target: float | None = None, priority: tuple[str, ...] = ()
) -> Router:
    """Build the coordinators' reach router (include it before the residents' router)."""
    router = Router(name="coordinator_reach")
    # Cheap filters first: roles are looked up only for these two commands.
    router.message.filter(private_chat(), Command(*COMMANDS), HasRole(Role.COORDINATOR))
    suppressor = Suppressor(small_count_k)

    @router.message(Command(*COMMANDS))
    async def report(
        message: Message, command: CommandObject, conversation: Conversation, staff: Staff
    ) -> None:
        ctx = conversation.ctx
        language = staff_language(conversation)

        def t(key: str, **params: object) -> str:
            return ctx.catalog.text(language, key, **params)

        scopes = staff.scopes(Role.COORDINATOR)
        typed = (command.args or "").strip()
        if typed:
            code = find_area(ctx.index, typed)
            if code is None:
                await message.answer(t("reach.unknown_area", query=html.escape(typed[:80])))
                return
        else:
            code = scopes[0] if scopes else ""
        if not staff.can(Role.COORDINATOR, code):
            await message.answer(t("reach.outside_scope"))
            return
        args = (conversation.session, code, utcnow(), ctx.tz, ctx.catalog, language, suppressor)
        if command.command == "reach":
            result = await reach_chat(*args, target)
        else:
            result = await missing_chat(*args, ctx.index, target, priority)
        await send_report(message, result)

    return router


async def send_report(message: Message, result: ChatReport) -> None:
    """The text first (it fits one screen), then the chart with its legend as caption."""
    await message.answer(result.text)
    if result.image is not None:
        await message.answer_photo(
            BufferedInputFile(result.image, filename="coverage.png"), caption=result.caption
        )
