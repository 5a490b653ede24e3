"""`sabai run`: the bot in long polling; offline, with the emulator and a terminal chat."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

from bot.channels.telegram.client import EMULATOR_BOT_ID, emulator_token
from bot.core.config import Settings
from bot.core.db import PROJECT_DIR
from bot.core.logging_setup import configure_logging
from bot.wiring import heap
from bot.wiring.app import build_app
from bot.wiring.background import background

log = logging.getLogger("sabai.run")


async def run(settings: Settings, chat: bool = True) -> int:
    """Run until interrupted (or, with the terminal chat, until the person leaves it)."""

    chatting = chat and settings.uses_emulator
    if chatting:
        # The terminal belongs to the conversation; logs go to a file beside the database.
        log_path = PROJECT_DIR / "var" / "sabai.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("a", encoding="utf-8") as stream:
            configure_logging(settings.log_level, [settings.bot_token or ""], stream)
            return await _run(settings, chatting)
    configure_logging(settings.log_level, [settings.bot_token or ""])
    return await _run(settings, chatting)


async def _run(settings: Settings, chatting: bool) -> int:
    from bot.devtools.emulator import EmulatorServer
    from handlers.commands import register_commands as register

    async with contextlib.AsyncExitStack() as stack:
        if settings.uses_emulator:
            server = EmulatorServer()
            await server.start(settings.emulator_host, settings.emulator_port)
            stack.push_async_callback(server.stop)
            api_url, token = server.base_url, emulator_token()
            log.info("no SABAI_BOT_TOKEN: using the local emulator", extra={"api": api_url})
        else:
            assert settings.bot_token is not None
            api_url, token = settings.telegram_api, settings.bot_token
            log.info("connecting to the Bot API", extra={"api": api_url})
        app = await stack.enter_async_context(build_app(settings, token, api_url))
        await stack.enter_async_context(background(app, settings))
        await register(app.bot, app.ctx.catalog)
        heap.settle()  # everything loaded at start-up lives as long as the process
        polling = asyncio.create_task(
            app.dispatcher.start_polling(
                app.bot,
                polling_timeout=settings.polling_timeout,
                handle_signals=not chatting,
                tasks_concurrency_limit=settings.max_concurrent_updates,
                # The sender still needs the session; build_app closes it last.
                close_bot_session=False,
            )
        )
        if not chatting:
            await polling
            return 0
        from bot.devtools.terminal_chat import run_chat

        if not sys.stdin.isatty():
            log.info("standard input is not a terminal: the chat reads lines as they come")
        try:
            await run_chat(api_url, user_id=None, bot_id=EMULATOR_BOT_ID)
        finally:
            await app.dispatcher.stop_polling()
            with contextlib.suppress(asyncio.CancelledError):
                await polling
    return 0
