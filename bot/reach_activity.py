"""Which days each resident was reached or engaged: a compact rollup of the event log.

Reach counts distinct people over a period, which straight from the event log means reading
every delivery of two periods (hundreds of thousands of rows for one division) on each report.
Instead, each resident row carries two bitmaps per flag: bit d of `reached_days` is set when
they were reached on day d of their current 62-day *epoch* (`activity_epoch`, local calendar
days), and `reached_days_before` holds the epoch before it. A report then reads one index
entry per resident (ix_residents_reach holds these columns) and tests a period with bit masks.

The rollup is brought up to date from the event log by `refresh` (called before each report;
it only reads events newer than its watermark). It is a cache: clearing the columns and the
watermark rebuilds it. Periods it cannot answer (longer than `MAX_FAST_DAYS`, not whole local
days, or ending in an older epoch) are computed from the event log instead (bot/reach.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.events import EventKind
from bot.models import Event, Resident
from bot.reach_models import ReachState

EPOCH_DAYS = 62  # bits 0…61 of a signed 64-bit integer, on both databases
# A period and the one before it must fit in this epoch and the previous one.
MAX_FAST_DAYS = EPOCH_DAYS // 2
# Event ids are handed out before their transaction commits (PostgreSQL), so a slow
# transaction can commit an id below the watermark: re-read this many ids each time.
# Re-reading is harmless: setting a bit twice is setting it once.
LOOKBACK_IDS = 5_000
BATCH = 20_000

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


def day_number(day: date) -> int:
    return day.toordinal()


def epoch_of(day: int) -> int:
    return day // EPOCH_DAYS


@dataclass
class _Row:
    epoch: int
    reached: int = 0
    engaged: int = 0
    reached_before: int = 0
    engaged_before: int = 0

    def add(self, day: int, reached: bool, engaged: bool) -> None:
        """Set the day's bits, moving to a newer epoch first if the day is in one."""
        epoch = epoch_of(day)
        if epoch > self.epoch:
            if epoch == self.epoch + 1:
                self.reached_before, self.engaged_before = self.reached, self.engaged
            else:
                self.reached_before = self.engaged_before = 0
            self.reached = self.engaged = 0
            self.epoch = epoch
        bit = 1 << (day % EPOCH_DAYS)
        if epoch == self.epoch:
            self.reached |= bit if reached else 0
            self.engaged |= bit if engaged else 0
        elif epoch == self.epoch - 1:
            self.reached_before |= bit if reached else 0
            self.engaged_before |= bit if engaged else 0
        # Older days are beyond what a fast report asks for: nothing to keep.


async def _state(session: AsyncSession, key: str) -> str | None:
    return await session.scalar(select(ReachState.value).where(ReachState.key == key))


async def _set_state(session: AsyncSession, key: str, value: str) -> None:
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    statement = insert(ReachState).values(key=key, value=value)
    await session.execute(
        statement.on_conflict_do_update(index_elements=["key"], set_={"value": value})
    )


async def refresh(session: AsyncSession, tz: ZoneInfo) -> int:
    """Fold events newer than the watermark into the rollup; return how many were read.

    Runs in the caller's transaction. Taking the watermark row for writing first makes
    two refreshes at once wait for each other instead of overwriting each other's bits.
    """
    await _set_state(session, "lock", "refresh")  # a write first: serialises refreshes
    if await _state(session, "tz") != tz.key:
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
        await _set_state(session, "tz", tz.key)
        await _set_state(session, "event_id", "0")
        await _set_state(session, "max_epoch", "0")
    watermark = int(await _state(session, "event_id") or 0)
    top = await session.scalar(select(func.max(Event.id)))
    if top is None or top <= watermark:
        return 0
    max_epoch = int(await _state(session, "max_epoch") or 0)
    kinds = sorted(REACHED_KINDS | OWN_ACTION_KINDS)
    start = max(watermark - LOOKBACK_IDS, 0)
    read = 0
    while start < top:
        end = min(start + BATCH, top)
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
            max_epoch = max(max_epoch, await _merge(session, touched))
        start = end
    await _set_state(session, "event_id", str(top))
    await _set_state(session, "max_epoch", str(max_epoch))
    return read


async def _merge(session: AsyncSession, touched: dict[int, list[tuple[int, bool, bool]]]) -> int:
    """Set the touched residents' day bits; return the newest epoch written."""
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
    newest = 0
    for resident_id, days in touched.items():
        row = existing.get(resident_id) or _Row(epoch_of(max(d for d, _, _ in days)))
        for day, reached, engaged in sorted(days):
            row.add(day, reached, engaged)
        newest = max(newest, row.epoch)
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


@dataclass(frozen=True)
class Masks:
    """Bit masks of a period's days in the current epoch and the one before."""

    epoch: int
    now: int
    before: int


def masks(first_day: int, end_day: int, epoch: int) -> Masks:
    """Masks for the days [first_day, end_day) within `epoch` and `epoch − 1`."""
    now = before = 0
    for day in range(first_day, end_day):
        if epoch_of(day) == epoch:
            now |= 1 << (day % EPOCH_DAYS)
        elif epoch_of(day) == epoch - 1:
            before |= 1 << (day % EPOCH_DAYS)
        else:
            raise ValueError("period outside the two epochs the rollup keeps")
    return Masks(epoch, now, before)


async def fast_days(
    session: AsyncSession, tz: ZoneInfo, start: datetime, end: datetime
) -> tuple[int, int, int] | None:
    """(first day, end day, epoch) when the rollup can answer for [start − length, end).

    None when it cannot: not whole local days, too long, or newer activity already moved
    some residents past the epoch the period ends in.
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
    epoch = epoch_of(last - 1)
    max_epoch = int(await _state(session, "max_epoch") or 0)
    if max_epoch > epoch or epoch_of(first - days) < epoch - 1:
        return None
    return first, last, epoch
