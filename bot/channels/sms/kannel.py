"""Kannel's HTTP interface: sendsms for outgoing SMS, and the transport the outbox sender uses.

Kannel answers sendsms with 202 "0: Accepted for delivery" (or "3: Queued for later
delivery"), 403 for a wrong user or password, 400 for a request it cannot read and 503 when
its queue is full. https://www.kannel.org/download/1.4.5/userguide-1.4.5/userguide.html
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from urllib.parse import urlencode

import aiohttp

from bot.channels.sms.identity import number_of
from bot.channels.sms.parts import encode
from bot.delivery.sender import OutgoingMessage, SendResult

log = logging.getLogger("sabai.sms")

# Every report Kannel can give: delivered, failed, buffered, accepted by SMSC, rejected by SMSC.
DLR_MASK = 31


@dataclass(frozen=True)
class KannelConfig:
    """Where and as whom Sabai sends, and where Kannel reports back."""

    sendsms_url: str
    username: str
    password: str
    # Sabai's own base URL as Kannel reaches it, e.g. http://127.0.0.1:8090
    callback_base: str
    secret: str
    sender_id: str = ""
    timeout: float = 10.0


class KannelClient:
    """Sends SMS through smsbox's sendsms; one aiohttp session for its whole life."""

    def __init__(self, config: KannelConfig, session: aiohttp.ClientSession) -> None:
        self.config = config
        self.http = session

    def dlr_url(self, row_id: int) -> str:
        """The dlr-url Kannel calls for the outbox row `row_id`; %d is the report's status."""
        query = urlencode({"secret": self.config.secret, "id": row_id})
        return f"{self.config.callback_base}/kannel/dlr?{query}&status=%d"

    async def send(self, number: str, text: str, row_id: int | None = None) -> SendResult:
        """Send `text` to `number`; report what Kannel said, never raising for it."""
        encoded = encode(text)
        params = {
            "username": self.config.username,
            "password": self.config.password,
            "to": number,
            "text": text,
            "charset": "UTF-8",
            "coding": str(encoded.coding),
        }
        if self.config.sender_id:
            params["from"] = self.config.sender_id
        if row_id is not None:
            params["dlr-mask"] = str(DLR_MASK)
            params["dlr-url"] = self.dlr_url(row_id)
        try:
            async with (
                asyncio.timeout(self.config.timeout),
                self.http.get(self.config.sendsms_url, params=params) as response,
            ):
                body = (await response.text(errors="replace")).strip()[:200]
                status = response.status
        except TimeoutError:
            return SendResult.transient("kannel timeout")
        except aiohttp.ClientError as exc:
            return SendResult.transient(f"kannel unreachable: {type(exc).__name__}")
        if 200 <= status < 300:
            return SendResult.sent(row_id or 0)
        if status in (401, 403):
            return SendResult.halt(f"kannel refused the sendsms user: {status} {body}")
        if status == 400:
            return SendResult.rejected(f"kannel: {body}")
        return SendResult.transient(f"kannel {status}: {body}")


class KannelTransport:
    """The outbox sender's Transport for SMS rows: chat ids are the numbers' digits."""

    def __init__(self, client: KannelClient) -> None:
        self.client = client

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Send one outbox row as SMS, asking Kannel to report its delivery."""
        return await self.client.send(number_of(message.chat_id), message.text, message.row_id)
