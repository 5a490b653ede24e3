"""The HTTP endpoints Kannel calls: /kannel/mo for incoming SMS, /kannel/dlr for reports.

Kannel's get-url and dlr-url cannot carry headers, so both carry the shared secret as the
`secret` query parameter; anything without the right one gets 403 and changes nothing.
Replies go out through sendsms after the incoming SMS's transaction is committed, and the
sms-service is configured with `max-messages = 0` so Kannel itself sends nothing back.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.sms.identity import BadNumber, normalize_number
from bot.channels.sms.inbox import SmsInbox
from bot.channels.sms.reports import record_report

log = logging.getLogger("sabai.sms")

Reply = Callable[[str, str], Awaitable[object]]


def build_sms_app(
    inbox: SmsInbox,
    sessions: async_sessionmaker[AsyncSession],
    secret: str,
    reply: Reply,
) -> web.Application:
    """The aiohttp application Kannel's smsbox calls; `reply(number, text)` sends one SMS."""

    def allowed(request: web.Request) -> bool:
        given = request.query.get("secret", "")
        if hmac.compare_digest(given.encode(), secret.encode()):
            return True
        log.warning("Kannel request without the right secret refused", extra={"path": request.path})
        return False

    async def mo(request: web.Request) -> web.Response:
        if not allowed(request):
            return web.Response(status=403, text="forbidden")
        raw = request.query.get("from", "")
        try:
            number = normalize_number(raw)
        except BadNumber:
            log.warning("incoming SMS from a malformed number ignored")
            return web.Response(status=400, text="bad number")
        answer = await inbox.receive(number, request.query.get("text", ""))
        for text in answer.texts:
            await reply(number, text)
        return web.Response(text="")

    async def dlr(request: web.Request) -> web.Response:
        if not allowed(request):
            return web.Response(status=403, text="forbidden")
        row, status = request.query.get("id", ""), request.query.get("status", "")
        if not (row.isascii() and row.isdecimal() and status.isascii() and status.isdecimal()):
            log.warning("malformed delivery report ignored")
            return web.Response(status=400, text="bad report")
        await record_report(sessions, int(row), int(status))
        return web.Response(text="")

    app = web.Application()
    app.router.add_get("/kannel/mo", mo)
    app.router.add_get("/kannel/dlr", dlr)
    return app
