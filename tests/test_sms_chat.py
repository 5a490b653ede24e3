"""`sabai chat --sms NUMBER`: the SMS conversation offline, each SMS with its part count."""

from __future__ import annotations

import io

from bot.devtools.sms_chat import run_sms_chat
from tests.botkit import test_settings as settings_for


async def test_the_terminal_chat_talks_as_an_sms_resident(db_url: str) -> None:
    out = io.StringIO()
    lines = io.StringIO("JOIN\n2\nKulaura\nYES\nHELP\n")
    assert await run_sms_chat(settings_for(db_url), "01712345678", lines, out) == 0
    text = out.getvalue()
    assert "SMS chat as +8801712345678" in text
    assert "── SMS, 1 part (UCS-2, 65 characters)\nSabai সতর্কবার্তা" in text
    assert "── SMS, 1 part (GSM-7, 27 characters)\nArea: Kulaura, Maulvibazar." in text
    assert "You are in." in text and "Sabai words: STOP" in text


async def test_a_malformed_number_is_refused(db_url: str) -> None:
    out = io.StringIO()
    assert await run_sms_chat(settings_for(db_url), "hello", io.StringIO(""), out) == 2
    assert "not a mobile number" in out.getvalue()
