"""An in-process stand-in for Kannel's smsbox, and phones that text Sabai through it."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from bot.channels.sms.identity import normalize_number
from bot.channels.sms.parts import parts
from bot.wiring.sms import SmsChannel, sms_channel
from tests.botkit import Harness, running_bot, serving

SECRET = "test-secret-0123456789"
PASSWORD = "test-password"


@dataclass
class Sent:
    """One SMS the stand-in accepted."""

    to: str
    text: str
    coding: str
    dlr_url: str | None

    @property
    def parts(self) -> int:
        return parts(self.text)


@dataclass
class StandIn:
    """Records what smsbox's sendsms was asked to send; refuses a wrong password like Kannel."""

    sent: list[Sent] = field(default_factory=list)
    fail_next: int = 0  # answer this many requests with 503

    def app(self) -> web.Application:
        async def sendsms(request: web.Request) -> web.Response:
            q = request.query
            if q.get("password") != PASSWORD or q.get("username") != "sabai":
                return web.Response(status=403, text="Authorization failed for sendsms")
            if self.fail_next:
                self.fail_next -= 1
                return web.Response(status=503, text="Queue full")
            self.sent.append(Sent(q["to"], q["text"], q.get("coding", ""), q.get("dlr-url")))
            return web.Response(status=202, text="0: Accepted for delivery")

        app = web.Application()
        app.router.add_get("/cgi-bin/sendsms", sendsms)
        return app

    def to(self, number: str) -> list[Sent]:
        return [s for s in self.sent if s.to == number]


@dataclass
class Phone:
    """A resident's phone: texts Sabai as Kannel's get-url would, reads what came back."""

    number: str
    sabai: str
    kannel: StandIn
    http: aiohttp.ClientSession

    async def send(self, text: str, secret: str = SECRET) -> list[str]:
        """Text Sabai; return the SMS Sabai sent back to this phone."""
        to = normalize_number(self.number)
        seen = len(self.kannel.to(to))
        params = {"secret": secret, "from": self.number, "to": "1234", "text": text}
        async with self.http.get(f"{self.sabai}/kannel/mo", params=params) as response:
            assert response.status == 200, await response.text()
        return [s.text for s in self.kannel.to(to)[seen:]]


@dataclass
class SmsHarness:
    bot: Harness
    channel: SmsChannel
    kannel: StandIn
    http: aiohttp.ClientSession

    def phone(self, number: str) -> Phone:
        return Phone(number, self.channel.base_url, self.kannel, self.http)

    async def get(self, path: str, **params: Any) -> int:
        async with self.http.get(f"{self.channel.base_url}{path}", params=params) as response:
            return response.status


@asynccontextmanager
async def running_sms(db_url: str, **overrides: Any) -> AsyncIterator[SmsHarness]:
    """The real app with its SMS channel in front of a stand-in smsbox."""
    kannel = StandIn()
    async with serving(kannel.app()) as kannel_url, running_bot(db_url, **overrides) as bot:
        settings = dataclasses.replace(
            bot.app.settings,
            sms_enabled=True,
            sms_sendsms_url=f"{kannel_url}/cgi-bin/sendsms",
            sms_username="sabai",
            sms_password=PASSWORD,
            sms_secret=SECRET,
            sms_listen="127.0.0.1:0",
            sms_rate_per_second=1000.0,
        )
        async with (
            sms_channel(bot.app, settings, run_sender=False) as channel,
            aiohttp.ClientSession() as http,
        ):
            yield SmsHarness(bot, channel, kannel, http)
