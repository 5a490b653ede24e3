"""What cleaning text on the way in costs per update (handlers/middlewares.py, CleanTextMiddleware).

Every update is checked once for strings that cannot be stored or sent back (a lone surrogate,
a NUL); only an update that fails the check is rebuilt from a cleaned copy. This times both,
on updates shaped as Sabai receives them, with the middleware's own functions, no network and
no database. Compare with the ~2 ms of CPU a whole update costs (`bench/updates.py`).

    .venv/bin/python bench/clean_check.py
    .venv/bin/python bench/clean_check.py --rounds 50000
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from aiogram.types import Update

from handlers.middlewares import CleanTextMiddleware

USER = {"id": 5_550_001, "is_bot": False, "first_name": "রহিম", "username": "rahim_sylhet",
        "language_code": "bn"}  # fmt: skip
CHAT = {"id": 5_550_001, "type": "private", "first_name": "রহিম", "username": "rahim_sylhet"}


def _message(**content: Any) -> dict[str, Any]:
    return {"update_id": 1, "message": {"message_id": 7, "date": 1_700_000_000, "chat": CHAT,
                                        "from": USER, **content}}  # fmt: skip


SAMPLES: dict[str, dict[str, Any]] = {
    "/start": _message(text="/start", entities=[{"type": "bot_command", "offset": 0, "length": 6}]),
    "area typed": _message(text="কুলাউড়া"),
    "button press": {
        "update_id": 2,
        "callback_query": {
            "id": "1",
            "from": USER,
            "chat_instance": "9",
            "data": "br:6058:1",
            "message": {
                "message_id": 8,
                "date": 1_700_000_000,
                "chat": CHAT,
                "from": {"id": 1, "is_bot": True, "first_name": "Sabai"},
                "text": "এলাকা বেছে নিন:\n1. কুলাউড়া\n2. বড়লেখা\n3. রাজনগর",
                "reply_markup": {
                    "inline_keyboard": [
                        [{"text": f"{n}", "callback_data": f"as:60586{n}"}] for n in range(1, 9)
                    ]
                },
            },
        },
    },
}
DIRTY = _message(text="Kula\ud800ura")


async def _time(middleware: CleanTextMiddleware, update: Update, rounds: int) -> float:
    async def handler(event: Any, data: dict[str, Any]) -> None:
        return None

    data: dict[str, Any] = {"bot": None}
    started = time.perf_counter()
    for _ in range(rounds):
        await middleware(handler, update, data)
    return (time.perf_counter() - started) / rounds * 1e6


async def main(rounds: int) -> None:
    middleware = CleanTextMiddleware()
    for name, raw in [*SAMPLES.items(), ("lone surrogate (rebuilt)", DIRTY)]:
        update = Update.model_validate(raw)
        micros = await _time(middleware, update, rounds)
        print(f"{name:<26} {micros:8.1f} µs per update")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20_000)
    asyncio.run(main(parser.parse_args().rounds))
