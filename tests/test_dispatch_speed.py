"""What keeps each update cheap: no filter sent to a thread, start-up data out of the collector."""

from __future__ import annotations

import gc

from aiogram.dispatcher.event.handler import CallableObject

from bot.wiring import heap
from tests.botkit import running_bot


def _sync_callables(dispatcher: object) -> list[str]:
    found: list[str] = []
    for router in dispatcher.chain_tail:  # type: ignore[attr-defined]
        for name, observer in router.observers.items():
            checks: list[tuple[str, CallableObject]] = [
                ("router filter", f) for f in observer._handler.filters or []
            ]
            for handler in observer.handlers:
                checks.append(("handler", handler))
                checks.extend(("filter", f) for f in handler.filters or [])
            found.extend(
                f"{router.name}.{name} {kind}: {getattr(c, 'magic', None) or c.callback!r}"
                for kind, c in checks
                if not c.awaitable
            )
    return found


async def test_every_filter_and_handler_is_awaited_in_place(db_url: str) -> None:
    # aiogram hands anything that is not a coroutine function (magic filters included) to
    # a thread; a router that forgets `when(...)` would pay that on every update.
    async with running_bot(db_url) as bot:
        assert _sync_callables(bot.app.dispatcher) == []


def test_settled_freezes_start_up_objects_and_gives_them_back() -> None:
    before = gc.get_threshold()
    with heap.settled():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_settled_apps_may_overlap_and_the_last_one_restores() -> None:
    before = gc.get_threshold()
    first = heap.settled()
    second = heap.settled()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first to close leaves the other app settled
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD
    second.__exit__(None, None, None)
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
