"""Flood control: excess updates are dropped before the database, with one gentle word."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.types import TelegramObject, User
from sqlalchemy import event

from bot.core.i18n import Catalog
from handlers.throttle import DEFAULT_LIMIT, SWEEP_EVERY, ThrottleMiddleware
from tests.botkit import running_bot


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _run(
    middleware: ThrottleMiddleware, user_id: int, handled: list[int], language: str = "en"
) -> Any:
    async def handler(event: TelegramObject, data: dict[str, Any]) -> str:
        handled.append(user_id)
        data["language"] = language
        return "done"

    user = User(id=user_id, is_bot=False, first_name="X")
    return await middleware(handler, TelegramObject(), {"event_from_user": user})


async def test_the_window_slides_and_counts_each_person_apart() -> None:
    clock = Clock()
    throttle = ThrottleMiddleware(Catalog.load(), limit=3, window=10.0, clock=clock)
    handled: list[int] = []
    for _ in range(5):
        await _run(throttle, 1, handled)
        clock.now += 1
    assert handled == [1, 1, 1]
    await _run(throttle, 2, handled)  # someone else is not slowed by person 1
    assert handled[-1] == 2
    # Person 1 kept sending, so the window counts their dropped updates too: a pause
    # of a full window lets them in again.
    clock.now += 10
    assert await _run(throttle, 1, handled) == "done"
    assert throttle.dropped == 2


async def test_quiet_people_are_forgotten() -> None:
    clock = Clock()
    throttle = ThrottleMiddleware(Catalog.load(), limit=3, window=1.0, clock=clock)
    handled: list[int] = []
    for user_id in range(SWEEP_EVERY - 1):
        await _run(throttle, user_id + 1, handled)
    clock.now += 5
    await _run(throttle, 10**6, handled)
    assert len(throttle._recent) == 1


def test_limits_must_make_sense() -> None:
    with pytest.raises(ValueError):
        ThrottleMiddleware(Catalog.load(), limit=0)
    with pytest.raises(ValueError):
        ThrottleMiddleware(Catalog.load(), window=0)


async def test_a_flood_through_the_bot_is_dropped_without_the_database(db_url: str) -> None:
    async with running_bot(db_url) as h:
        person = h.person(660_001, language_code="en")
        await person.send("/start")
        await person.send("English")
        statements: list[str] = []

        def count(*args: object) -> None:
            statements.append(str(args[2]))

        sent = 2
        answers = []
        while sent < DEFAULT_LIMIT:
            answers += await person.send(f"flood {sent}")
            sent += 1
        event.listen(h.app.engine.sync_engine, "before_cursor_execute", count)
        try:
            dropped = []
            for number in range(10):
                dropped += await person.send(f"flood extra {number}")
                await h.feed(h.emulator.press_button(660_001, 1, "m:help", forge=True))
        finally:
            event.remove(h.app.engine.sync_engine, "before_cursor_execute", count)
        assert statements == []
        # One gentle word for the whole flood, in the language the person chose.
        assert [m.text for m in dropped] == [
            "You are sending messages very fast. Please wait a moment."
        ]
        assert answers and all("fast" not in m.text for m in answers)
        # Someone else is served as usual meanwhile.
        [welcome] = await h.person(660_002).send("/start")
        assert welcome.buttons
