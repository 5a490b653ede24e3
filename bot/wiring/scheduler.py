"""The scheduler: course deliveries, the weekly digest and the nightly retention run.

Jobs live in APScheduler's memory job store and are rebuilt from the database, which is the
truth: a course row says which position is due next and when. `Jobs.reconcile` runs when this
process starts leading and every `WATCH_SECONDS`: it adds or moves the job of every active
course and drops the jobs of courses no longer active, so a course confirmed, cancelled or
changed in any process is picked up within that time. Nothing synchronous touches the database.

Catch-up rule: a course delivery that fell due while no scheduler ran is due at once when one
starts (late, never skipped) and goes out once; the course then continues its rhythm from that
day (`bot.lessons.courses.next_delivery`), so missed lessons are not sent in a burst. A run
that repeats a delivery sends nothing (`bot.lessons.courses.deliver_step` checks the course's
position). The digest check runs at start and on every full local hour, so Monday 09:00 sharp,
and sends only what is due and not yet sent; retention runs nightly.

Exactly one process of a deployment runs the jobs (`Scheduling`): on PostgreSQL the holder of an
advisory lock (`bot.wiring.leader`), on SQLite the one process there is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.base import utcnow
from bot.core.config import Settings
from bot.core.i18n import Catalog
from bot.lessons.catalog import Library
from bot.lessons.courses import deliver_step, due_courses
from bot.wiring.leader import AdvisoryLock

log = logging.getLogger("sabai.scheduler")

# How often a process that does not lead tries to, and a leader checks its lock and
# reconciles its course jobs with the course rows.
WATCH_SECONDS = 15.0
RETENTION_AT = (3, 30)
COURSE_PREFIX = "course:"

SendText = Callable[[int, str], Awaitable[None]]


def course_job_id(course_id: int) -> str:
    return f"{COURSE_PREFIX}{course_id}"


def digest_trigger(tz: ZoneInfo) -> CronTrigger:
    """Every full local hour: Monday 09:00 sharp, and later hours catch up a missed run."""
    return CronTrigger(minute=0, timezone=tz)


def retention_trigger(tz: ZoneInfo) -> CronTrigger:
    """Nightly, at a quiet local hour."""
    hour, minute = RETENTION_AT
    return CronTrigger(hour=hour, minute=minute, timezone=tz)


class Jobs:
    """One APScheduler with every job Sabai runs, rebuilt from the database.

    `clock` is what the jobs take as now (tests pass a fixed one); triggers use real time.
    """

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        library: Library | None = None,
        catalog: Catalog | None = None,
        send_text: SendText | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.clock = clock
        self.library = library or Library.load()
        self.catalog = catalog or Catalog.load(default_language=settings.default_language)
        # Sends one message to one chat now (the digest: one per coordinator a week).
        self.send_text = send_text
        self.scheduler = AsyncIOScheduler(
            jobstores={"default": MemoryJobStore()},
            timezone="UTC",
            # A delivery missed while no scheduler ran runs when one is back: late, not skipped.
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        )
        self._delivering: set[int] = set()

    async def start(self, *, paused: bool = False) -> None:
        """Start the scheduler inside the running loop and build its jobs from the database."""
        self.scheduler.start(paused=paused)
        await self.reconcile()
        tz = self.settings.tz
        self.scheduler.add_job(
            self.digest_job,
            digest_trigger(tz),
            id="reach:digest",
            replace_existing=True,
            # At start too: a digest due while no scheduler ran goes out now.
            next_run_time=datetime.now(UTC),
        )
        self.scheduler.add_job(
            self.retention_job,
            retention_trigger(tz),
            id="events:retention",
            replace_existing=True,
        )

    def stop(self) -> None:
        """Stop running jobs; the database keeps everything needed to rebuild them."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def schedule_course(self, course_id: int, index: int, when: datetime) -> None:
        """(Re)place the job that delivers course position `index` at `when`."""
        self.scheduler.add_job(
            self.course_job,
            DateTrigger(run_date=when),
            args=[course_id, index],
            id=course_job_id(course_id),
            replace_existing=True,
        )

    async def reconcile(self) -> int:
        """Make the course jobs match the active courses; return how many were added or changed."""
        async with self.sessions() as session:
            courses = await due_courses(session)
        wanted = set()
        changed = 0
        for course_id, index, when in courses:
            wanted.add(course_job_id(course_id))
            if course_id in self._delivering:
                # Its running delivery schedules what comes next.
                continue
            job = self.scheduler.get_job(course_job_id(course_id))
            if job is None or list(job.args) != [course_id, index] or job.next_run_time != when:
                self.schedule_course(course_id, index, when)
                changed += 1
        for job in self.scheduler.get_jobs():
            if job.id.startswith(COURSE_PREFIX) and job.id not in wanted:
                job.remove()
                changed += 1
        return changed

    async def reconcile_job(self) -> None:
        """Reconcile, logging instead of raising when the database is unavailable."""
        try:
            changed = await self.reconcile()
        except SQLAlchemyError:
            # The next round tries again; the course rows are unchanged.
            log.warning("course jobs not reconciled: database unavailable", exc_info=True)
            return
        if changed:
            log.info("course jobs updated", extra={"jobs": changed})

    async def course_job(self, course_id: int, index: int) -> None:
        """Scheduler entry point: deliver one course position, then schedule the next one."""
        self._delivering.add(course_id)
        try:
            result = await deliver_step(
                self.sessions, self.library, self.catalog, course_id, index, now=self.clock()
            )
        finally:
            self._delivering.discard(course_id)
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
            self.schedule_course(course_id, result.next_index, result.next_at)

    async def digest_job(self) -> None:
        """Scheduler entry point: send each coordinator the weekly digest when it is due."""
        from bot.reach.digest import weekly_digest_job

        if self.send_text is None:
            return
        sent = await weekly_digest_job(
            self.sessions,
            self.send_text,
            self.clock(),
            catalog=self.catalog,
            tz=self.settings.tz,
            k=self.settings.small_count_k,
            target=self.settings.reach_target_per_10000,
            priority=self.settings.reach_priority_tags,
            prefer=self.settings.reach_denominator,
        )
        if sent:
            log.info("weekly digests sent", extra={"digests": sent})

    async def retention_job(self) -> None:
        """Scheduler entry point: fold events older than the retention period into totals,
        and forget handled updates Telegram will not deliver again."""
        from bot.channels.telegram import handled
        from bot.reach import retention

        report = await retention.retention_job(
            self.sessions, self.settings.retention_days, self.settings.tz
        )
        async with self.sessions.begin() as session:
            updates = await handled.forget_old(session)
        log.info("retention run", extra={"report": str(report), "updates_forgotten": updates})


class Scheduling:
    """Run `Jobs` while this process leads; `is_leader` says whether it does now."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        library: Library | None = None,
        catalog: Catalog | None = None,
        send_text: SendText | None = None,
        *,
        every: float = WATCH_SECONDS,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.library = library
        self.catalog = catalog
        self.send_text = send_text
        self.every = every
        self.jobs: Jobs | None = None
        self._lock: AdvisoryLock | None = None
        self._watch: asyncio.Task[None] | None = None

    @property
    def is_leader(self) -> bool:
        """True while this process runs the scheduler."""
        return self.jobs is not None

    async def start(self) -> None:
        """Lead now if possible, then keep watch (try to lead, or check the lock) until stopped."""
        if make_url(self.settings.database_url).get_backend_name() == "postgresql":
            self._lock = AdvisoryLock(self.settings.database_url)
        await self._watch_once()
        self._watch = asyncio.create_task(self._keep_watch(), name="sabai-scheduler-watch")

    async def stop(self) -> None:
        """Stop the jobs and give up the lead (another process may take it over)."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        self._stand_down()
        if self._lock is not None:
            await self._lock.release()

    async def _keep_watch(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self._watch_once()
            except Exception:
                # A watch that died would leave the deployment without a scheduler.
                log.exception("scheduler watch failed; trying again")

    async def _watch_once(self) -> None:
        if self.jobs is not None:
            if self._lock is not None and not await self._lock.still_held():
                log.warning("scheduler lock lost: this process stops running the scheduler")
                self._stand_down()
                return
            # Courses confirmed, changed or ended in any process get their jobs here.
            await self.jobs.reconcile_job()
            return
        if self._lock is not None and not await self._lock.acquire():
            return
        try:
            await self._lead()
        except Exception:
            # Holding the lock without running the jobs would keep every process from them.
            log.exception("scheduler not started; trying again later")
            if self._lock is not None:
                await self._lock.release()

    async def _lead(self) -> None:
        jobs = Jobs(self.settings, self.sessions, self.library, self.catalog, self.send_text)
        try:
            await jobs.start()
        except BaseException:
            jobs.stop()
            raise
        self.jobs = jobs
        log.info("this process runs the scheduler")

    def _stand_down(self) -> None:
        jobs, self.jobs = self.jobs, None
        if jobs is not None:
            jobs.stop()
