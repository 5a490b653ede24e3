"""Coordinators in chat: `/reach [area]` and `/missing [area]`, in their language, with a chart.

Only updates from people holding the coordinator role (or admin) anywhere reach this router;
the area asked for must lie inside one of their scopes. Everything shown is suppressed.
"""

from __future__ import annotations

import html

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.core.base import utcnow
from bot.reach.chat import ChatReport, find_area, missing_chat, reach_chat
from bot.reach.figures import PREFER_ADULTS
from bot.reach.suppression import DEFAULT_K, Suppressor
from bot.residents.conversation import Conversation
from bot.staff.language import staff_language
from bot.staff.roles import Role, Staff
from handlers.filters import private_chat
from handlers.render import Outgoing
from handlers.roles_filter import HasRole

COMMANDS = ("reach", "missing")


def build_router(
    small_count_k: int = DEFAULT_K,
    target: float | None = None,
    priority: tuple[str, ...] = (),
    prefer: str = PREFER_ADULTS,
) -> Router:
    """Build the coordinators' reach router (include it before the residents' router)."""
    router = Router(name="coordinator_reach")
    # Cheap filters first: roles are looked up only for these two commands.
    router.message.filter(private_chat(), Command(*COMMANDS), HasRole(Role.COORDINATOR))
    suppressor = Suppressor(small_count_k)

    @router.message(Command(*COMMANDS))
    async def report(
        message: Message,
        command: CommandObject,
        conversation: Conversation,
        staff: Staff,
        out: Outgoing,
    ) -> None:
        result = await _report(conversation, staff, command, suppressor, target, priority, prefer)
        # The text first (it fits one screen), then the chart with its legend as caption.
        out.message(message.chat.id, result.text)
        if result.image is not None:
            out.photo(message.chat.id, result.image, "coverage.png", result.caption)

    return router


async def _report(
    conversation: Conversation,
    staff: Staff,
    command: CommandObject,
    suppressor: Suppressor,
    target: float | None,
    priority: tuple[str, ...],
    prefer: str,
) -> ChatReport:
    ctx = conversation.ctx
    language = staff_language(conversation)
    scopes = staff.scopes(Role.COORDINATOR)
    typed = (command.args or "").strip()
    if typed:
        code = find_area(ctx.index, typed)
        if code is None:
            query = html.escape(typed[:80])
            return ChatReport(ctx.catalog.text(language, "reach.unknown_area", query=query))
    else:
        code = scopes[0] if scopes else ""
    if not staff.can(Role.COORDINATOR, code):
        return ChatReport(ctx.catalog.text(language, "reach.outside_scope"))
    args = (conversation.session, code, utcnow(), ctx.tz, ctx.catalog, language, suppressor)
    if command.command == "reach":
        return await reach_chat(*args, target, prefer)
    return await missing_chat(*args, ctx.index, target, priority, prefer)
