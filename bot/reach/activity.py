"""Which days each resident was reached or engaged: a compact rollup of the event log.

Reach counts distinct people over a period, which straight from the event log means reading
every delivery of two periods (hundreds of thousands of rows for one division) on each report.
Instead, each resident row carries two bitmaps per flag: bit d of `reached_days` is set when
they were reached on day d of their current 62-day *epoch* (`activity_epoch`, local calendar
days), and `reached_days_before` holds the epoch before it. A report then reads one index
entry per resident (ix_residents_reach holds these columns) and tests a period with bit masks.

After each refresh every resident with any activity is in the same epoch, the newest one any
event fell in (`max_epoch`): when it moves on, residents last seen before it are moved along
with one UPDATE (every 62 days). A report's test is then two bitwise ANDs per flag, with no
per-resident epoch to compare: that test runs for every resident on every report.

Lessons completed and alerts acknowledged are counts of events, not of people, so they add up
by day: `reach_action_days` holds them per local day and area, and a report sums a few
thousand rows instead of reading tens of thousands of events.

Both are brought up to date from the event log by `refresh` (called before each report; it
only reads events newer than its watermarks). They are caches: clearing the columns, the table
and the watermarks rebuilds them. Periods they cannot answer (longer than `MAX_FAST_DAYS`, not
whole local days, or reaching before the epoch before `max_epoch`) are computed from the event
log instead (bot/reach/report.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Table, bindparam, case, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.reach.models import ReachActionDay, ReachState
from bot.residents.events import EventKind
from bot.residents.models import Event, Resident

EPOCH_DAYS = 62  # bits 0…61 of a signed 64-bit integer, on both databases
# A period and the one before it must fit in this epoch and the previous one.
MAX_FAST_DAYS = EPOCH_DAYS // 2
# Event ids are handed out before their transaction commits (PostgreSQL), so a slow
# transaction can commit an id below the watermark: re-read this many ids each time.
# Re-reading is harmless: setting a bit twice is setting it once (and action days are
# counted afresh). SQLite needs none: its one writer at a time commits ids in order.
LOOKBACK_IDS = 5_000
BATCH = 20_000
# Event ids folded per statement. A batch's rows are folded in Python on the event loop
# without a pause, so batches stay small enough that other updates never wait long for it.
FOLD_BATCH = 2_000

REACHED_KINDS = frozenset(
    {
        EventKind.MESSAGE_DELIVERED,
        EventKind.ALERT_DELIVERED,
        EventKind.PUSH_DELIVERED,
        EventKind.ATTENDANCE_RECORDED,
    }
)
# Things a resident did themselves. Registering is left out: for an assisted resident a
# trainer did it, and a Telegram resident who signed up also chose a language and consented.
OWN_ACTION_KINDS = frozenset(
    {
        EventKind.CONSENTED,
        EventKind.AREA_SET,
        EventKind.LANGUAGE_SET,
        EventKind.BUTTON_TAPPED,
        EventKind.UNBLOCKED_BOT,
        EventKind.LESSON_STARTED,
        EventKind.STEP_REACHED,
        EventKind.QUIZ_ANSWERED,
        EventKind.LESSON_COMPLETED,
        EventKind.ALERT_ACKNOWLEDGED,
        EventKind.FEEDBACK_GIVEN,
        EventKind.ATTENDANCE_RECORDED,
    }
)
# Counted per day and area in `reach_action_days` (see the module docstring).
ACTION_KINDS = (EventKind.LESSON_COMPLETED, EventKind.ALERT_ACKNOWLEDGED)


def day_number(day: date) -> int:
    return day.toordinal()


def epoch_of(day: int) -> int:
    return day // EPOCH_DAYS


def first_kept_day(epoch: int) -> int:
    """The first day of the epoch before `epoch`: the oldest a fast report asks for."""
    return (epoch - 1) * EPOCH_DAYS


def day_start(day: int, tz: ZoneInfo) -> datetime:
    """The local midnight in `tz` that day number `day` starts at."""
    return datetime.combine(date.fromordinal(day), time(), tz)


@dataclass
class _Row:
    epoch: int
    reached: int = 0
    engaged: int = 0
    reached_before: int = 0
    engaged_before: int = 0

    def move_to(self, epoch: int) -> None:
        """Make `epoch` the current one (a newer epoch: the current bits become the before)."""
        if epoch <= self.epoch:
            return
        if epoch == self.epoch + 1:
            self.reached_before, self.engaged_before = self.reached, self.engaged
        else:
            self.reached_before = self.engaged_before = 0
        self.reached = self.engaged = 0
        self.epoch = epoch

    def add(self, day: int, reached: bool, engaged: bool) -> None:
        """Set the day's bits, moving to a newer epoch first if the day is in one."""
        epoch = epoch_of(day)
        self.move_to(epoch)
        bit = 1 << (day % EPOCH_DAYS)
        if epoch == self.epoch:
            self.reached |= bit if reached else 0
            self.engaged |= bit if engaged else 0
        elif epoch == self.epoch - 1:
            self.reached_before |= bit if reached else 0
            self.engaged_before |= bit if engaged else 0
        # Older days are beyond what a fast report asks for: nothing to keep.


async def _states(session: AsyncSession) -> dict[str, str]:
    return {
        key: value for key, value in await session.execute(select(ReachState.key, ReachState.value))
    }


async def _set_state(session: AsyncSession, key: str, value: str) -> None:
    insert_ = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    statement = insert_(ReachState).values(key=key, value=value)
    await session.execute(
        statement.on_conflict_do_update(index_elements=["key"], set_={"value": value})
    )


async def refresh(session: AsyncSession, tz: ZoneInfo) -> int:
    """Fold events newer than the watermarks into the rollups; return a count of rows read.

    The count is the event rows folded into the day bits (of the kinds they record, by
    residents still on file) plus every lesson and acknowledgement with an area on each
    local day whose action counts were recomputed, new or not (`_count_actions`). On
    PostgreSQL both start `LOOKBACK_IDS` below their watermark, so there it also counts
    events read before: a measure of the work done, not the number of new events.

    Runs in the caller's transaction. Writing the "lock" row of `reach_state` first makes
    two refreshes at once wait for each other instead of overwriting each other's bits.
    """
    read, _ = await refresh_epoch(session, tz)
    return read


async def refresh_epoch(session: AsyncSession, tz: ZoneInfo) -> tuple[int, int]:
    """`refresh`, returning (the count `refresh` returns, the rollup's epoch) for `fast_days`."""
    await _set_state(session, "lock", "refresh")  # a write first: serialises refreshes
    state = await _states(session)
    if state.get("tz") != tz.key:
        # Days are local days: another timezone means other days, so start over.
        await session.execute(
            update(Resident)
            .values(
                activity_epoch=None,
                reached_days=0,
                engaged_days=0,
                reached_days_before=0,
                engaged_days_before=0,
                updated_at=Resident.updated_at,  # a cache reset is no change to the person
            )
            .execution_options(synchronize_session=False)
        )
        await session.execute(delete(ReachActionDay))
        state = {"tz": tz.key, "event_id": "0", "action_event_id": "0", "max_epoch": "0"}
        for key, value in state.items():
            await _set_state(session, key, value)
    watermark = int(state.get("event_id") or 0)
    # Missing in a database the action rollup is newer than: it is then built from scratch.
    action_watermark = int(state.get("action_event_id") or 0)
    max_epoch = int(state.get("max_epoch") or 0)
    top = await session.scalar(select(func.max(Event.id)))
    lookback = 0 if session.get_bind().dialect.name == "sqlite" else LOOKBACK_IDS
    read = 0
    if top is not None and top > watermark:
        start = max(watermark - lookback, 0)
        read, max_epoch = await _fold_activity(session, tz, start, top, max_epoch)
        await _set_state(session, "event_id", str(top))
        await _set_state(session, "max_epoch", str(max_epoch))
    if top is not None and top > action_watermark:
        # Only the days `_align` keeps: with an empty watermark (after migration 0007, or
        # the caches cleared) the whole event log would be read otherwise, under the lock.
        since = first_kept_day(max_epoch) if max_epoch > 1 else None
        start = max(action_watermark - lookback, 0)
        read += await _count_actions(session, tz, start, top, since)
        await _set_state(session, "action_event_id", str(top))
    if state.get("aligned_epoch") != str(max_epoch):
        await _align(session, max_epoch)
        await _set_state(session, "aligned_epoch", str(max_epoch))
    return read, max_epoch


async def _fold_activity(
    session: AsyncSession, tz: ZoneInfo, start: int, top: int, max_epoch: int
) -> tuple[int, int]:
    """Set the day bits of events in (start, top]; return (events read, newest epoch)."""
    kinds = sorted(REACHED_KINDS | OWN_ACTION_KINDS)
    read = 0
    while start < top:
        end = min(start + FOLD_BATCH, top)
        rows = await session.execute(
            select(Resident.id, Event.at, Event.kind)
            .join(Resident, Resident.pseudonym == Event.subject)
            .where(Event.id > start, Event.id <= end, Event.kind.in_(kinds))
        )
        touched: dict[int, list[tuple[int, bool, bool]]] = {}
        for resident_id, at, kind in rows:
            day = day_number(at.astimezone(tz).date())
            touched.setdefault(resident_id, []).append(
                (day, kind in REACHED_KINDS, kind in OWN_ACTION_KINDS)
            )
            read += 1
        if touched:
            max_epoch = await _merge(session, touched, max_epoch)
        start = end
    return read, max_epoch


async def _merge(
    session: AsyncSession, touched: dict[int, list[tuple[int, bool, bool]]], max_epoch: int
) -> int:
    """Set the touched residents' day bits; return the newest epoch, which they are all in."""
    newest = max(max_epoch, *(epoch_of(d) for days in touched.values() for d, _, _ in days))
    ids = list(touched)
    existing: dict[int, _Row] = {}
    for start in range(0, len(ids), 5_000):
        rows = await session.execute(
            select(
                Resident.id,
                Resident.activity_epoch,
                Resident.reached_days,
                Resident.engaged_days,
                Resident.reached_days_before,
                Resident.engaged_days_before,
            ).where(Resident.id.in_(ids[start : start + 5_000]))
        )
        for rid, epoch, reached, engaged, reached_before, engaged_before in rows:
            if epoch is not None:
                existing[rid] = _Row(epoch, reached, engaged, reached_before, engaged_before)
    values = []
    for resident_id, days in touched.items():
        was = existing.get(resident_id)
        row = _Row(**vars(was)) if was else _Row(newest)
        for day, reached, engaged in sorted(days):
            row.add(day, reached, engaged)
        row.move_to(newest)  # every active resident in the newest epoch (module docstring)
        if row == was:
            # Most re-read (lookback) events set bits already set: write only what changed.
            continue
        values.append(
            {
                "rid": resident_id,
                "e": row.epoch,
                "r": row.reached,
                "g": row.engaged,
                "rb": row.reached_before,
                "gb": row.engaged_before,
            }
        )
    if not values:
        return newest
    table = Resident.__table__
    assert isinstance(table, Table)
    await session.execute(
        update(table)
        .where(table.c.id == bindparam("rid"))
        .values(
            activity_epoch=bindparam("e"),
            reached_days=bindparam("r"),
            engaged_days=bindparam("g"),
            reached_days_before=bindparam("rb"),
            engaged_days_before=bindparam("gb"),
            # Derived figures changed, not the person: keep `updated_at` as it was.
            updated_at=table.c.updated_at,
        ),
        values,
    )
    return newest


async def _align(session: AsyncSession, epoch: int) -> None:
    """Move residents last active before `epoch` into it; drop action days nobody asks for."""
    if epoch <= 0:
        return
    last = Resident.activity_epoch
    await session.execute(
        update(Resident)
        .where(last < epoch)
        .values(
            # The right-hand sides read the row as it was (SQL's rule for UPDATE).
            reached_days_before=case((last == epoch - 1, Resident.reached_days), else_=0),
            engaged_days_before=case((last == epoch - 1, Resident.engaged_days), else_=0),
            reached_days=0,
            engaged_days=0,
            activity_epoch=epoch,
            updated_at=Resident.updated_at,
        )
        .execution_options(synchronize_session=False)
    )
    # Fast reports reach back to the epoch before at most (`fast_days`).
    await session.execute(delete(ReachActionDay).where(ReachActionDay.day < first_kept_day(epoch)))


def _runs(days: list[int]) -> Iterator[tuple[int, int]]:
    """Consecutive stretches [first, last] of sorted day numbers."""
    if not days:
        return
    first = previous = days[0]
    for day in days[1:]:
        if day != previous + 1:
            yield first, previous
            first = day
        previous = day
    yield first, previous


async def _count_actions(
    session: AsyncSession, tz: ZoneInfo, start: int, top: int, since: int | None
) -> int:
    """Recount the action days from day `since` on that events in (start, top] fall on.

    Counts are not idempotent like bits, so the lookback cannot simply add again: each day
    an event touches is counted afresh from the event log (by kind and time, one index).
    With `start` 0 every day from `since` on is. Events before day `since` (None: no limit)
    are not read: those days are not kept (`_align`).

    Returns the number of events counted on the recounted days (all of each such day's
    lessons and acknowledgements with an area, not only those in (start, top]).
    """
    kinds = [kind.value for kind in ACTION_KINDS]
    runs: list[tuple[int | None, int | None]]
    if start == 0:
        # No watermark: every event is new, so every day from `since` on is recounted, as
        # one stretch (finding the days first would read each event twice).
        runs = [(since, None)]
    else:
        new = select(Event.at).where(Event.id > start, Event.id <= top, Event.kind.in_(kinds))
        if since is not None:
            new = new.where(Event.at >= day_start(since, tz))
        touched = {day_number(at.astimezone(tz).date()) for (at,) in await session.execute(new)}
        runs = list(_runs(sorted(touched)))
    table = ReachActionDay.__table__
    assert isinstance(table, Table)
    read = 0
    for first, last in runs:
        events: list[ColumnElement[bool]] = [Event.kind.in_(kinds), Event.area_code.is_not(None)]
        stored: list[ColumnElement[bool]] = []
        if first is not None:
            events.append(Event.at >= day_start(first, tz))
            stored.append(table.c.day >= first)
        if last is not None:
            events.append(Event.at < day_start(last + 1, tz))
            stored.append(table.c.day <= last)
        counts: dict[tuple[int, str], list[int]] = {}
        for at, kind, area in await session.execute(
            select(Event.at, Event.kind, Event.area_code).where(*events)
        ):
            if area is None:  # excluded by the query; tells the type checker so
                continue
            tally = counts.setdefault((day_number(at.astimezone(tz).date()), area), [0, 0])
            tally[0 if kind == EventKind.LESSON_COMPLETED.value else 1] += 1
            read += 1
        await session.execute(delete(table).where(*stored))
        values = [
            {"day": day, "area_code": area, "lessons_completed": n[0], "alerts_acknowledged": n[1]}
            for (day, area), n in counts.items()
        ]
        # Core, not the ORM's bulk insert: a rebuild inserts tens of thousands of rows.
        for i in range(0, len(values), BATCH):
            await session.execute(insert(table), values[i : i + BATCH])
    return read


@dataclass(frozen=True)
class Masks:
    """Bit masks of a period's days in the current epoch and the one before."""

    epoch: int
    now: int
    before: int


def masks(first_day: int, end_day: int, epoch: int) -> Masks:
    """Masks for the days [first_day, end_day) within `epoch` and `epoch − 1`.

    Days after `epoch` are left out: nothing has happened on them yet (`epoch` is the
    newest any event fell in, as `fast_days` gives it).
    """
    now = before = 0
    for day in range(first_day, end_day):
        if epoch_of(day) == epoch:
            now |= 1 << (day % EPOCH_DAYS)
        elif epoch_of(day) == epoch - 1:
            before |= 1 << (day % EPOCH_DAYS)
        elif epoch_of(day) < epoch - 1:
            raise ValueError("period outside the two epochs the rollup keeps")
    return Masks(epoch, now, before)


def fast_days(
    max_epoch: int, tz: ZoneInfo, start: datetime, end: datetime
) -> tuple[int, int, int] | None:
    """(first day, end day, `max_epoch`) when the rollup can answer for [start − length, end).

    `max_epoch` is the epoch the rollup is in, as `refresh_epoch` for `tz` just gave it.
    None when it cannot: not whole local days, too long, or reaching back before the epoch
    before the rollup's.
    """
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    if any(
        (t.hour, t.minute, t.second, t.microsecond) != (0, 0, 0, 0)
        for t in (local_start, local_end)
    ):
        return None
    first, last = day_number(local_start.date()), day_number(local_end.date())
    days = last - first
    if days <= 0 or days > MAX_FAST_DAYS:
        return None
    if epoch_of(first - days) < max_epoch - 1:
        return None
    return first, last, max_epoch
