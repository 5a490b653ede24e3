"""The APScheduler that runs course deliveries, with its jobs kept in the database.

One job per active course ("course:<id>"), a date trigger at the course's next delivery.
Jobs are stored by SQLAlchemyJobStore, which is synchronous: it gets a plain `sqlite:///`
or `postgresql+psycopg://` URL derived from the bot's async URL. A stored job refers to its
function by name and holds only ids, so the live objects it needs (sessions, lessons, strings)
are handed over here at build time rather than pickled.

The course table is the truth, the job store a schedule of it: `reconcile` (at start and every
few minutes) adds a job for any active course that has none, e.g. one a trainer just confirmed
from a chat handler, which has no scheduler at hand. A job that runs twice delivers once
(`bot.lessons.courses.deliver_step` checks the course's position). Exactly one process may run this
scheduler against a job store (see FACTS.md).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.config import Settings
from bot.core.i18n import Catalog
from bot.lessons.catalog import Library
from bot.lessons.courses import deliver_step, due_courses

log = logging.getLogger("sabai.scheduler")

JOB_TABLE = "apscheduler_jobs"
RECONCILE_MINUTES = 5


SendText = Callable[[int, str], Awaitable[None]]


@dataclass
class Runtime:
    """What stored jobs need at run time, set by `build_scheduler`."""

    scheduler: AsyncIOScheduler
    sessions: async_sessionmaker[AsyncSession]
    library: Library
    catalog: Catalog
    settings: Settings
    # Sends one message to one chat now (the digest: one per coordinator a week).
    send_text: SendText | None = None


_runtime: Runtime | None = None


def sync_url(async_url: str) -> str:
    """The synchronous URL of the same database, for the job store."""
    url = make_url(async_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return url.set(drivername="sqlite").render_as_string(hide_password=False)
    if backend == "postgresql":
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"no synchronous driver known for {backend!r}")


def build_scheduler(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    library: Library | None = None,
    catalog: Catalog | None = None,
    send_text: SendText | None = None,
) -> AsyncIOScheduler:
    """Build (not start) the scheduler; start it with `scheduler.start()` inside the loop."""
    global _runtime
    scheduler = AsyncIOScheduler(
        jobstores={
            "default": SQLAlchemyJobStore(url=sync_url(settings.database_url), tablename=JOB_TABLE)
        },
        timezone="UTC",
        # A delivery missed while the bot was down runs when it is back: late, not skipped.
        job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
    )
    _runtime = Runtime(
        scheduler,
        sessions,
        library or Library.load(),
        catalog or Catalog.load(default_language=settings.default_language),
        settings,
        send_text,
    )
    scheduler.add_job(
        reconcile_job,
        IntervalTrigger(minutes=RECONCILE_MINUTES),
        id="courses:reconcile",
        replace_existing=True,
        # At start too: courses confirmed while the scheduler was down get their jobs at once.
        next_run_time=datetime.now(UTC),
    )
    # The digest job decides itself whether this week's digest is due (Monday 09:00 local)
    # and remembers what it sent, so an hourly check neither misses nor repeats one.
    scheduler.add_job(
        digest_job, IntervalTrigger(hours=1), id="reach:digest", replace_existing=True
    )
    scheduler.add_job(
        retention_job,
        CronTrigger(hour=3, minute=30, timezone=settings.tz),
        id="events:retention",
        replace_existing=True,
    )
    return scheduler


def schedule_course(
    scheduler: AsyncIOScheduler, course_id: int, index: int, when: datetime
) -> None:
    """(Re)place the job that delivers course position `index` at `when`."""
    scheduler.add_job(
        course_job,
        DateTrigger(run_date=when),
        args=[course_id, index],
        id=f"course:{course_id}",
        replace_existing=True,
    )


async def reconcile(runtime: Runtime) -> int:
    """Add a job for every active course that has none; return how many were added."""
    async with runtime.sessions() as session:
        courses = await due_courses(session)
    added = 0
    for course_id, index, when in courses:
        job = runtime.scheduler.get_job(f"course:{course_id}")
        if job is None or list(job.args) != [course_id, index]:
            schedule_course(runtime.scheduler, course_id, index, when)
            added += 1
    return added


def _current() -> Runtime:
    if _runtime is None:
        raise RuntimeError("build_scheduler() has not been called in this process")
    return _runtime


async def reconcile_job() -> None:
    """Scheduler entry point: keep one job per active course."""
    added = await reconcile(_current())
    if added:
        log.info("course jobs added", extra={"jobs": added})


async def course_job(course_id: int, index: int) -> None:
    """Scheduler entry point: deliver one course position, then schedule the next one."""
    runtime = _current()
    result = await deliver_step(
        runtime.sessions, runtime.library, runtime.catalog, course_id, index
    )
    log.info(
        "course delivery",
        extra={
            "course": course_id,
            "index": index,
            "delivered": result.delivered,
            "queued": result.queued,
        },
    )
    if result.next_index is not None and result.next_at is not None:
        schedule_course(runtime.scheduler, course_id, result.next_index, result.next_at)


async def digest_job() -> None:
    """Scheduler entry point: send each coordinator the weekly digest when it is due."""
    from bot.core.base import utcnow
    from bot.reach.digest import weekly_digest_job

    runtime = _current()
    if runtime.send_text is None:
        return
    sent = await weekly_digest_job(
        runtime.sessions,
        runtime.send_text,
        utcnow(),
        catalog=runtime.catalog,
        tz=runtime.settings.tz,
        k=runtime.settings.small_count_k,
        target=runtime.settings.reach_target_per_10000,
        priority=runtime.settings.reach_priority_tags,
    )
    if sent:
        log.info("weekly digests sent", extra={"digests": sent})


async def retention_job() -> None:
    """Scheduler entry point: fold events older than the retention period into totals."""
    from bot.reach import retention

    runtime = _current()
    report = await retention.retention_job(
        runtime.sessions, runtime.settings.retention_days, runtime.settings.tz
    )
    log.info("retention run", extra={"report": str(report)})
