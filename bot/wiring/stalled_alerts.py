"""In every bot process: finish alerts whose queueing stopped half-way (bot/alerts/queueing.py).

Kept out of the scheduler on purpose: it must run wherever background work runs, and several
processes may run it at once (each stalled alert is taken over by one of them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from bot.wiring.app import App

log = logging.getLogger("sabai.alerts")

# With STALLED_AFTER (30 s), an alert whose queueing process died is taken over within 45 s.
CHECK_EVERY = 15.0


async def finish_stalled_alerts(
    app: App,
    stop: asyncio.Event,
    every: float = CHECK_EVERY,
    stalled_after: timedelta | None = None,
) -> None:
    """Every `every` seconds until `stop`, queue the rest of each stalled alert."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.alerts.queueing import STALLED_AFTER
    from bot.alerts.service import resume_queueing

    while not stop.is_set():
        try:
            resumed = await resume_queueing(
                app.sessions,
                app.ctx.catalog,
                app.ctx.tz,
                stalled_after=stalled_after or STALLED_AFTER,
            )
            if resumed:
                log.warning("finished queueing stalled alerts", extra={"alerts": resumed})
        except SQLAlchemyError:
            # A database hiccup must not end the loop; the next round tries again.
            log.exception("finishing stalled alerts failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
