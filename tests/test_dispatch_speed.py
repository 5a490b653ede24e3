"""What keeps each update cheap: no filter sent to a thread; collector settings set once."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from bot.wiring import heap
from tests.botkit import project_dir as root
from tests.botkit import running_bot


class _RecordingExecutor(ThreadPoolExecutor):
    """The loop's default executor, keeping what was handed to it."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.handed: list[str] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.handed.append(repr(fn))
        return super().submit(fn, *args, **kwargs)


def _sync_callables(dispatcher: Any) -> list[str]:
    """Handlers and handler filters that aiogram would call through a worker thread."""
    # `observer.handlers` and the fields read here are aiogram's, not documented: a rename
    # fails this test with an AttributeError rather than letting it pass unchecked.
    found: list[str] = []
    for router in dispatcher.chain_tail:
        for name, observer in router.observers.items():
            for handler in observer.handlers:
                checks = [("handler", handler)]
                checks.extend(("filter", f) for f in handler.filters or [])
                found.extend(
                    f"{router.name}.{name} {kind}: {getattr(c, 'magic', None) or c.callback!r}"
                    for kind, c in checks
                    if not c.awaitable
                )
    return found


async def test_every_registered_filter_and_handler_is_awaited_in_place(db_url: str) -> None:
    # aiogram hands anything that is not a coroutine function (magic filters included) to
    # a thread; a router that forgets `when(...)` would pay that on every update.
    async with running_bot(db_url) as bot:
        assert _sync_callables(bot.app.dispatcher) == []


async def test_a_conversation_hands_nothing_to_a_worker_thread(db_url: str) -> None:
    # Covers the routers' own filters too, which the registry walk above cannot see.
    async with running_bot(db_url) as bot:
        rahim = bot.person(5101, first_name="Rahim")
        recording = _RecordingExecutor()
        asyncio.get_running_loop().set_default_executor(recording)
        try:
            await rahim.send("/start")
            await rahim.tap("English")
            await rahim.send("moulvibazar")
            [menu] = await rahim.tap("Yes")
            await rahim.tap("Lessons")
            await rahim.send("/reach")
            await rahim.send("hello")
        finally:
            asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor())
            recording.shutdown()
        assert "Welcome, Rahim!" in menu.text
        assert recording.handed == []


async def test_building_the_app_leaves_the_collector_alone(db_url: str) -> None:
    # Collector settings are process-wide: `sabai run` applies them once, not every app build
    # (tests and benchmarks build many apps in one process).
    before = (gc.get_threshold(), gc.get_freeze_count())
    async with running_bot(db_url):
        assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_settle_freezes_start_up_objects_and_collects_young_ones_less_often() -> None:
    # In a process of its own: frozen objects stay frozen for the rest of the process.
    script = (
        "import gc; from bot.wiring import heap; heap.settle(); "
        "print(gc.get_freeze_count(), gc.get_threshold()[0])"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root(), capture_output=True, text=True, check=True
    )
    frozen, young = (int(n) for n in done.stdout.split())
    assert frozen > 0
    assert young == heap.YOUNG_THRESHOLD
