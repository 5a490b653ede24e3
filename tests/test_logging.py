"""Logs are one JSON line per update handled, and the bot token never appears in them."""

from __future__ import annotations

import io
import json
import logging

from bot.core.logging_setup import configure_logging
from tests.botkit import running_bot


def test_token_is_redacted_everywhere() -> None:
    token = "424242:" + "S" * 35
    stream = io.StringIO()
    configure_logging("INFO", [token], stream)
    log = logging.getLogger("sabai.test")
    log.info("calling https://api.example/bot%s/getMe", token)
    log.info("with extra", extra={"url": f"https://x/bot{token}/sendMessage"})
    try:
        raise RuntimeError(f"failed at /bot{token}/getUpdates")
    except RuntimeError:
        log.exception("boom")
    out = stream.getvalue()
    assert token not in out
    assert out.count("[token]") >= 3
    for line in out.strip().splitlines():
        json.loads(line)


async def test_one_structured_line_per_update(db_url: str) -> None:
    stream = io.StringIO()
    async with running_bot(db_url) as h:
        configure_logging("INFO", [], stream)
        person = h.person(8001)
        await person.send("/start")
        await person.tap("English")
        h.emulator.add_channel(-100777)
        await h.feed(h.emulator.channel_post(-100777, "x"))
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    handled = [entry for entry in lines if entry["message"] == "update handled"]
    assert [entry["update_type"] for entry in handled] == [
        "message",
        "callback_query",
        "channel_post",
    ]
    assert all(isinstance(entry["ms"], float | int) and entry["outcome"] for entry in handled)
    # Nothing that identifies the resident goes to the log.
    assert "8001" not in stream.getvalue()
    logging.getLogger().handlers.clear()
