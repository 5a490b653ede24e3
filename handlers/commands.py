"""The command list Telegram shows residents, in their language."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeChat

from bot.core.i18n import Catalog

COMMAND_ORDER = (
    "start",
    "menu",
    "lessons",
    "join",
    "community",
    "topics",
    "language",
    "area",
    "profile",
    "privacy",
    "mydata",
    "forget",
    "help",
)
# Telegram keys command lists by the app's interface language; Sylheti has no
# such code, so Sylheti speakers get a per-chat list when they choose it.
TELEGRAM_LANGUAGES = ("bn", "en")


def commands_for(catalog: Catalog, language: str) -> list[BotCommand]:
    return [
        BotCommand(command=name, description=catalog.text(language, f"commands.{name}"))
        for name in COMMAND_ORDER
    ]


def _descriptions(catalog: Catalog, language: str) -> list[str]:
    # Plain strings compare as well as BotCommand models and cost far less to build.
    return [catalog.text(language, f"commands.{name}") for name in COMMAND_ORDER]


async def register_commands(bot: Bot, catalog: Catalog) -> None:
    """Register the default list and one per Telegram interface language."""
    await bot.set_my_commands(commands_for(catalog, catalog.default_language))
    for language in TELEGRAM_LANGUAGES:
        await bot.set_my_commands(commands_for(catalog, language), language_code=language)


async def sync_chat_commands(
    bot: Bot,
    catalog: Catalog,
    chat_id: int,
    chosen: str,
    previous: str | None,
    app_language: str | None,
) -> None:
    """Show one resident the command list in the language they chose in the bot.

    Only when the list Telegram already shows them (by their app's language) differs:
    most residents need no extra request at all.
    """
    shown = app_language if app_language in TELEGRAM_LANGUAGES else catalog.default_language
    scope = BotCommandScopeChat(chat_id=chat_id)
    if _descriptions(catalog, chosen) != _descriptions(catalog, shown):
        await bot.set_my_commands(commands_for(catalog, chosen), scope=scope)
    elif previous is not None and previous != chosen:
        # An earlier choice may have left a per-chat list in another language.
        await bot.delete_my_commands(scope=scope)
