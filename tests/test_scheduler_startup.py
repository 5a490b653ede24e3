"""Starting the bot the way `sabai run` does leaves a clean log and a working scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from bot.reach.models import ReachState
from bot.wiring.background import background
from tests import botkit
from tests.botkit import running_bot


async def test_start_up_logs_no_traceback_while_an_update_writes(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = botkit.test_settings(db_url)
    async with running_bot(db_url) as h, contextlib.AsyncExitStack() as stack:
        # An update being handled holds a write transaction while the scheduler starts.
        async with h.app.sessions.begin() as session:
            session.add(ReachState(key="test:busy", value="1"))
            await session.flush()
            scheduling = await stack.enter_async_context(background(h.app, settings))
            await asyncio.sleep(0.5)
        assert scheduling is not None and scheduling.is_leader
        await asyncio.sleep(0.5)
    problems = [
        r
        for r in caplog.records
        if r.exc_info or r.levelno >= logging.ERROR or "database is locked" in r.getMessage()
    ]
    assert problems == []
