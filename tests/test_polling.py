"""One update the Bot API types reject neither stalls long polling nor leaks its batch to logs."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from bot.channels.telegram.client import EMULATOR_BOT_ID, emulator_token
from bot.channels.telegram.polling import poll
from bot.core.logging_setup import configure_logging
from bot.devtools.emulator import Emulator, EmulatorServer
from bot.wiring.app import build_app
from tests import botkit

PHONE = "+8801711234567"
NAME, USERNAME = "Shahnaz", "shahnaz_sylhet"


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """The JSON log lines the running bot writes, as an operator's log file would hold them."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging("INFO", [], stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


@asynccontextmanager
async def polling(db_url: str, emulator: Emulator) -> AsyncIterator[None]:
    """The real app long-polling the emulator the way `sabai run` does."""
    async with EmulatorServer(emulator) as server:
        settings = botkit.test_settings(db_url)
        async with build_app(settings, emulator_token(), server.base_url) as app:
            task = asyncio.create_task(
                poll(
                    app.dispatcher, app.bot, polling_timeout=1, handle_signals=False, concurrency=8
                )
            )
            try:
                yield
            finally:
                await app.dispatcher.stop_polling()
                await task


def malformed_poll_message(emulator: Emulator, user_id: int) -> dict[str, object]:
    """A message carrying a poll without its required fields (options, counts, type...)."""
    return emulator.raw_update(
        {
            "message": {
                "message_id": 9_999,
                "date": 1_700_000_000,
                "chat": {"id": user_id, "type": "private", "first_name": NAME},
                "from": {"id": user_id, "is_bot": False, "first_name": NAME, "username": USERNAME},
                "poll": {"id": "5", "question": "?"},
            }
        }
    )


async def test_a_malformed_update_is_skipped_and_everyone_else_is_answered(db_url: str) -> None:
    emulator = Emulator(bot_id=EMULATOR_BOT_ID)
    for uid in (8201, 8202, 8203):
        emulator.add_user(uid, first_name=NAME, username=USERNAME)
    with captured_logs() as logs:
        # One batch: a contact with a phone number, the malformed update, then someone's /start.
        emulator.send_contact(8201, PHONE)
        bad_in_middle = malformed_poll_message(emulator, 8201)
        emulator.send_text(8202, "/start")
        async with polling(db_url, emulator):
            await emulator.wait_for_messages(8202, count=1, timeout=10)
            # The malformed update last in its batch: the offset must still move past it.
            bad_last = malformed_poll_message(emulator, 8201)
            await asyncio.sleep(0.5)
            emulator.send_text(8203, "/start")
            [welcome] = await emulator.wait_for_messages(8203, count=1, timeout=10)
            assert "Sabai" in welcome.text
            await emulator.wait_idle()
            assert emulator.updates == []
    text = logs.getvalue()
    for personal in (PHONE, PHONE.lstrip("+"), USERNAME, NAME, "8201"):
        assert personal not in text
    lines = [json.loads(line) for line in text.splitlines()]
    skipped = [line for line in lines if line["message"] == "skipped an update that does not parse"]
    assert [(s["update_id"], s["update_type"]) for s in skipped] == [
        (bad_in_middle["update_id"], "message"),
        (bad_last["update_id"], "message"),
    ]
    assert not [line for line in lines if line["level"] == "ERROR"]
