"""Groups and channels: Sabai talks to residents privately, so it only points the way there."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command
from aiogram.types import Message

from bot.core.i18n import Catalog
from handlers.filters import when
from handlers.render import Outgoing

GROUPS = {ChatType.GROUP, ChatType.SUPERGROUP}


def build_router(catalog: Catalog) -> Router:
    """Answer commands in groups with a pointer to the private chat; ignore everything else."""
    router = Router(name="other_chats")

    @router.message(when(F.chat.type.in_(GROUPS)), Command("start", "help", "menu"))
    async def group_command(message: Message, language: str, out: Outgoing) -> None:
        out.message(message.chat.id, catalog.text(language, "group.private_only"))

    @router.message(when(F.chat.type.in_(GROUPS)))
    async def group_chatter(message: Message) -> None:
        """Ignore group conversation by design: it is not addressed to the bot."""

    @router.edited_message(when(F.chat.type.in_(GROUPS)))
    async def group_edit(message: Message) -> None:
        """Ignore edits in groups by design."""

    @router.channel_post()
    async def channel_post(message: Message) -> None:
        """Ignore channel posts by design: Sabai does not publish to or read channels."""

    @router.edited_channel_post()
    async def edited_channel_post(message: Message) -> None:
        """Ignore edited channel posts by design."""

    return router
