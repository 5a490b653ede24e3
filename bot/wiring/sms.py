"""The SMS channel wired once: Kannel client, the endpoints Kannel calls, the SMS sender."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from bot.channels.sms.endpoints import build_sms_app
from bot.channels.sms.inbox import SmsInbox
from bot.channels.sms.kannel import KannelClient, KannelConfig, KannelTransport
from bot.core.config import Settings
from bot.delivery.rate_limit import MemoryRateLimiter, RateLimits
from bot.delivery.sender import Sender, SenderConfig
from bot.residents.routing import TypedText
from bot.wiring.app import App

log = logging.getLogger("sabai.sms")


@dataclass
class SmsChannel:
    """What a running SMS channel exposes: its client, inbox and sender."""

    client: KannelClient
    inbox: SmsInbox
    sender: Sender
    base_url: str


def kannel_config(settings: Settings, callback_base: str) -> KannelConfig:
    """The Kannel client's settings from Sabai's; load_settings checked the secrets."""
    return KannelConfig(
        sendsms_url=settings.sms_sendsms_url,
        username=settings.sms_username,
        password=settings.sms_password or "",
        callback_base=callback_base,
        secret=settings.sms_secret or "",
        sender_id=settings.sms_sender_id,
    )


def sms_sender(app: App, client: KannelClient, settings: Settings) -> Sender:
    """An outbox sender for SMS rows at the gateway's rate, one SMS per number at a time."""
    limits = RateLimits(per_second=settings.sms_rate_per_second, chat_interval=0.0)
    config = SenderConfig(name=f"{SenderConfig().name}:sms", channel="sms")
    return Sender(app.sessions, KannelTransport(client), MemoryRateLimiter(limits), config)


@asynccontextmanager
async def sms_channel(
    app: App, settings: Settings, *, run_sender: bool = True
) -> AsyncIterator[SmsChannel]:
    """Serve Kannel's get-url and dlr-url on sms.listen and drain SMS rows until exit."""
    host, _, port = settings.sms_listen.rpartition(":")
    async with aiohttp.ClientSession() as http:
        runner: web.AppRunner | None = None
        stop = asyncio.Event()
        task: asyncio.Task[None] | None = None
        try:
            inbox = SmsInbox(app.sessions, app.ctx, TypedText(app.library))
            # The callback base is known only once the port is bound (port 0 in tests).
            client = KannelClient(kannel_config(settings, ""), http)

            async def reply(number: str, text: str) -> None:
                result = await client.send(number, text)
                if result.reason:
                    log.warning("SMS reply not accepted", extra={"why": result.reason})

            web_app = build_sms_app(inbox, app.sessions, settings.sms_secret or "", reply)
            runner = web.AppRunner(web_app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, host, int(port)).start()
            bound = runner.addresses[0][1]
            base_url = f"http://{host}:{bound}"
            client.config = kannel_config(settings, base_url)
            sender = sms_sender(app, client, settings)
            if run_sender:
                task = asyncio.create_task(sender.run(stop), name="sabai-sms-sender")
            log.info("SMS endpoints listening", extra={"url": base_url})
            yield SmsChannel(client, inbox, sender, base_url)
        finally:
            stop.set()
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if runner is not None:
                await runner.cleanup()
