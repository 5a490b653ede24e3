"""`sabai chat --sms NUMBER`: talk to Sabai as a resident on a basic phone, offline.

Each line typed is one incoming SMS, answered by the same SMS inbox Kannel's get-url reaches;
each answer is shown as the SMS it would be, with its part count and coding. Nothing goes to a
gateway: this is for trying the SMS conversation without Kannel.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bot.channels.sms.identity import BadNumber, normalize_number
from bot.channels.sms.inbox import SmsInbox
from bot.channels.sms.parts import encode
from bot.channels.telegram.client import emulator_token
from bot.core.config import Settings
from bot.residents.routing import TypedText
from bot.wiring.app import build_app


def show(text: str) -> str:
    """One SMS as the chat prints it: a header with its size, then the text."""
    encoded = encode(text)
    coding = "UCS-2" if encoded.is_unicode else "GSM-7"
    noun = "part" if encoded.parts == 1 else "parts"
    return f"── SMS, {encoded.parts} {noun} ({coding}, {encoded.units} characters)\n{text}\n"


async def run_sms_chat(
    settings: Settings, number: str, lines: TextIO = sys.stdin, out: TextIO = sys.stdout
) -> int:
    """Read SMS lines from `lines` until end of input; print Sabai's answers to `out`."""
    try:
        phone = normalize_number(number)
    except BadNumber:
        out.write(f"sabai: {number!r} is not a mobile number (like +8801712345678)\n")
        return 2
    # No request ever reaches this address: the SMS chat never sends to Telegram.
    async with build_app(settings, emulator_token(), "http://127.0.0.1:9") as app:
        inbox = SmsInbox(app.sessions, app.ctx, TypedText(app.library))
        out.write(f"SMS chat as {phone}. Type a message (for example JOIN); Ctrl-D leaves.\n")
        out.flush()
        while True:
            line = await asyncio.to_thread(lines.readline)
            if not line:
                return 0
            answer = await inbox.receive(phone, line)
            for text in answer.texts:
                out.write(show(text))
            out.flush()
