"""Work that runs beside the dispatcher: the outbox sender and the scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from bot.core.config import Settings
from bot.wiring.app import App

if TYPE_CHECKING:
    from bot.wiring.scheduler import Scheduling

log = logging.getLogger("sabai.background")


@asynccontextmanager
async def background(
    app: App, settings: Settings, *, force_sender: bool = False
) -> AsyncIterator[Scheduling | None]:
    """Run the sender and the scheduler (each where the config says so) until exit.

    A sender whose rate budget another running sender would not share is refused
    (SenderConflict) unless `force_sender`. Yields the scheduling, whose `is_leader` tells
    whether this process runs the scheduler.
    """
    from aiogram.exceptions import TelegramAPIError

    from bot.channels.telegram.transport import AiogramTransport
    from bot.delivery.rate_limit import MemoryRateLimiter, RateLimiter, RateLimits, RedisRateLimiter
    from bot.delivery.sender import Sender
    from bot.delivery.sender_guard import SenderSlot, take_sender_slot
    from bot.wiring.scheduler import Scheduling
    from bot.wiring.stalled_alerts import finish_stalled_alerts

    stop = asyncio.Event()
    sender_task: asyncio.Task[None] | None = None
    slot: SenderSlot | None = None
    if settings.run_sender:
        slot = await take_sender_slot(
            app.engine, shared_budget=bool(settings.redis_url), force=force_sender
        )
        from bot.alerts.service import resume_queueing

        # Alerts whose queueing a crash interrupted are finished before sending resumes.
        resumed = await resume_queueing(app.sessions, app.ctx.catalog, app.ctx.tz)
        if resumed:
            log.info("resumed queueing interrupted alerts", extra={"alerts": resumed})
        limits = RateLimits(per_second=settings.send_rate)
        limiter: RateLimiter
        if settings.redis_url:
            from redis.asyncio import Redis

            limiter = RedisRateLimiter(Redis.from_url(settings.redis_url), limits)
        else:
            limiter = MemoryRateLimiter(limits)
        sender = Sender(app.sessions, AiogramTransport(app.bot), limiter)
        sender_task = asyncio.create_task(sender.run(stop), name="sabai-sender")

    progress_task: asyncio.Task[None] | None = None
    if settings.run_sender:
        progress_task = asyncio.create_task(_alert_progress(app, stop), name="sabai-progress")

    # After the start-up resume above, so the two never work on the same alert at once.
    stalled_task = asyncio.create_task(finish_stalled_alerts(app, stop), name="sabai-stalled")

    scheduling: Scheduling | None = None
    if settings.run_scheduler:

        async def send_text(chat_id: int, text: str) -> None:
            # One coordinator who blocked the bot must not stop the others' digests.
            try:
                await app.bot.send_message(chat_id, text)
            except TelegramAPIError as exc:
                log.warning("digest not delivered: %s", type(exc).__name__)

        scheduling = Scheduling(
            settings, app.sessions, app.library, app.ctx.catalog, send_text=send_text
        )
        await scheduling.start()
    try:
        yield scheduling
    finally:
        if scheduling is not None:
            await scheduling.stop()
        stop.set()
        for task in (sender_task, progress_task, stalled_task):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if slot is not None:
            await slot.release()


PROGRESS_EVERY = 5.0


async def _alert_progress(app: App, stop: asyncio.Event) -> None:
    """Keep coordinators' confirmation messages up to date while their alerts go out."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.alerts.progress import update_progress
    from handlers.alerts import progress_editor

    edit = progress_editor(app.bot, app.signer_source)
    while not stop.is_set():
        try:
            await update_progress(
                app.sessions, edit, app.ctx.catalog, app.ctx.tz, app.ctx.small_count_k
            )
        except SQLAlchemyError:
            # A database hiccup must not end the loop; the next round catches up.
            log.exception("alert progress update failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PROGRESS_EVERY)
