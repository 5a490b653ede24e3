"""Webhook delivery: the aiohttp app Telegram posts updates to, and registering it.

An update is acknowledged (HTTP 200) only once it has been handled, so an update a process
did not finish (it crashed, or was stopped) is not acknowledged and Telegram delivers it
again. A request without the right X-Telegram-Bot-Api-Secret-Token header gets 401 from
aiogram's handler and never reaches the dispatcher.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramRetryAfter
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot.channels.telegram.handled import ReplyUnfinished

log = logging.getLogger("sabai.webhook")


def webhook_path(url: str) -> str:
    """The path of the public webhook URL, which the proxy forwards unchanged."""
    return urlsplit(url).path or "/"


def webhook_app(dispatcher: Dispatcher, bot: Bot, *, path: str, secret: str) -> web.Application:
    """The aiohttp app serving the webhook at `path`."""
    app = web.Application()
    handler = SimpleRequestHandler(dispatcher, bot, handle_in_background=False, secret_token=secret)

    async def handle(request: web.Request) -> web.Response:
        try:
            return await handler.handle(request)
        except ReplyUnfinished as unfinished:
            # Logged where it happened; Telegram delivers the update again after an error.
            return web.Response(status=503, text=str(unfinished))

    # Not handler.register(): that closes the bot's session on shutdown, and the outbox
    # sender still needs it until the process has stopped sending.
    app.router.add_post(path, handle)
    setup_application(app, dispatcher, bot=bot)
    return app


async def register_webhook(
    bot: Bot, dispatcher: Dispatcher, *, url: str, secret: str, max_connections: int
) -> None:
    """Point Telegram at `url`; every process of a deployment may call this at start."""
    try:
        await bot.set_webhook(
            url,
            secret_token=secret,
            allowed_updates=dispatcher.resolve_used_update_types(),
            max_connections=max_connections,
        )
    except TelegramRetryAfter:
        # Several workers starting at once: another one has just set the same webhook.
        log.info("setWebhook rate-limited; another process has registered it")
        return
    log.info("webhook registered", extra={"max_connections": max_connections})
