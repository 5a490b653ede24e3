"""Reach figures for an area and a period, computed with a few aggregate queries.

The definitions (also in docs/reach.md) for an area, everything below it included, and a
period [start, end):

* population: the latest census figure of the area and its year (none for unions), with
  the people aged 15 and over where that census has age bands;
* registered: residents who finished signing up (consented) before the end of the period
  and have not asked to be forgotten (a forgotten resident's row is deleted, so they drop out
  of every figure, past periods included); split into own phone (Telegram) and assisted;
* reached: registered residents with at least one message delivered to them in the period
  (`REACHED_KINDS`), or, for anyone, a recorded workshop attendance in the period;
* engaged: registered residents with at least one action of their own in the period
  (`OWN_ACTION_KINDS`; attendance counts too);
* lessons completed, alerts acknowledged: events of those kinds by registered residents;
* unreachable: registered residents who have blocked the bot (their status now);
* reachable: registered minus unreachable, each person once (an assisted person registered
  again at another workshop counts once);
* coverage: reachable per 10,000 people aged 15 and over of the latest census, or per 10,000
  people of all ages where a report's areas lack that figure (one denominator per report,
  `bot.reach.figures.choose_denominator`) or the configuration prefers it.

Residents are placed by their current area: a resident who moves takes their history along.
Codes are BBS geocodes where a child's code starts with its parent's, so "everything below
area X, grouped by child" is `GROUP BY substr(area_code, 1, len(child))` over
`area_code LIKE 'X%'`: one query per figure family, however deep the area is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.areas.models import Area, AreaPopulation
from bot.reach.activity import (
    OWN_ACTION_KINDS,
    REACHED_KINDS,
    Masks,
    fast_days,
    masks,
    refresh_epoch,
)
from bot.reach.figures import (
    LEVEL_LENGTH,
    PREFER_ADULTS,
    AreaInfo,
    AreaReach,
    Census,
    Figures,
    Period,
    ReachReport,
    UnknownArea,
    child_level,
    choose_denominator,
)
from bot.reach.models import ReachActionDay
from bot.residents.events import EventKind
from bot.residents.models import Event, Resident

# Code length of each level; a child's code is its parent's plus two digits.
# ----- queries --------------------------------------------------------------------------


def in_area(column: Any, prefix: str, dialect: str) -> ColumnElement[bool]:
    """`column` is the area `prefix` or below it (any code for the whole country).

    On SQLite a range on the code uses the index (LIKE would not, being case-insensitive
    there); codes are digits, so the range ends at the prefix with its last digit raised.
    PostgreSQL compares text by locale, where such a range is unsafe: LIKE it is.
    """
    if not prefix:
        return column.is_not(None)  # type: ignore[no-any-return]
    if dialect == "sqlite":
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return and_(column >= prefix, column < upper)
    return column.like(prefix + "%")  # type: ignore[no-any-return]


def _flag(*conds: ColumnElement[bool]) -> ColumnElement[int]:
    return func.max(case((and_(*conds), 1), else_=0))


def _tally(*conds: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows meet the conditions.

    `count(CASE WHEN … THEN 1 END)`: on SQLite measurably cheaper over 100,000 residents
    than summing the comparison (or a CASE with an ELSE), and standard SQL everywhere.
    """
    return func.count(case((and_(*conds), 1)))


def _registration_columns(period: Period) -> list[ColumnElement[Any]]:
    before = Resident.consent_at < period.start  # registered by the end of the previous period
    return [
        func.count().label("reg"),
        _tally(Resident.channel == "assisted").label("assisted"),
        _tally(Resident.status == "unreachable").label("unreachable"),
        _tally(Resident.gender == "female").label("female"),
        _tally(Resident.gender == "male").label("male"),
        _tally(before).label("reg_prev"),
        _tally(Resident.status != "unreachable", Resident.registered_again.is_(False)).label(
            "reachable"
        ),
        # count(column) counts the rows where it is set: no CASE to evaluate per resident.
        func.count(Resident.telegram_id).label("telegram"),
        func.count(Resident.phone).label("sms"),
        _tally(Resident.channel == "assisted", Resident.phone.is_(None)).label("no_phone"),
    ]


def _registered_where(prefix: str, period: Period, dialect: str) -> list[ColumnElement[bool]]:
    return [
        Resident.consent_at.is_not(None),
        Resident.consent_at < period.end,
        in_area(Resident.area_code, prefix, dialect),
    ]


def _registration_figures(row: Any) -> tuple[Figures, Figures]:
    reg, asst = int(row.reg), int(row.assisted or 0)
    return (
        Figures(
            registered=reg,
            own_phone=reg - asst,
            assisted=asst,
            unreachable=int(row.unreachable or 0),
            female=int(row.female or 0),
            male=int(row.male or 0),
            reachable=int(row.reachable or 0),
            telegram=int(row.telegram or 0),
            sms=int(row.sms or 0),
            assisted_no_phone=int(row.no_phone or 0),
        ),
        # Of the previous period only the number registered is kept (for the change).
        Figures(registered=int(row.reg_prev or 0)),
    )


async def _fast(session: AsyncSession, period: Period) -> tuple[int, int, int] | None:
    """Bring the rollups up to date and say whether they can answer for `period`."""
    if period.tz is None:
        return None
    _, epoch = await refresh_epoch(session, period.tz)
    return fast_days(epoch, period.tz, period.start, period.end)


async def _people(
    session: AsyncSession,
    prefix: str,
    length: int,
    period: Period,
    fast: tuple[int, int, int] | None,
) -> dict[str, tuple[Figures, Figures]]:
    """Registered, reached, engaged… per child prefix: (this period, the period before).

    From the activity rollup when `fast` (see `_fast`) says it can answer (one pass over the
    residents' index), otherwise from the event log.
    """
    if fast is None:
        return await _people_from_events(session, prefix, length, period)
    dialect = session.get_bind().dialect.name
    first, last, epoch = fast
    days = last - first
    now, before = masks(first, last, epoch), masks(first - days, first, epoch)

    def hit(bits: Any, bits_before: Any, m: Masks) -> ColumnElement[int]:
        # Every resident with activity is in the rollup's epoch (bot/reach/activity.py), so
        # the test is the same for all: any of the period's days set, now or before.
        # Every operation counts over 100,000 rows: terms for an empty mask are left out, the
        # second term is tested only when the first fails (CASE), and on SQLite the bits
        # themselves are the condition (non-zero is true), one comparison less each.
        terms = [bits.op("&")(m.now)] if m.now else []
        if m.before:
            terms.append(bits_before.op("&")(m.before))
        if not terms:
            return func.sum(0)
        if dialect != "sqlite":
            terms = [term != 0 for term in terms]
        return func.count(case(*((term, 1) for term in terms)))

    # Grouped by the full code, in index order (no sort), then summed up per prefix here:
    # a few hundred rows at most.
    query = (
        select(
            Resident.area_code.label("g"),
            *_registration_columns(period),
            hit(Resident.reached_days, Resident.reached_days_before, now).label("rc"),
            hit(Resident.engaged_days, Resident.engaged_days_before, now).label("ec"),
            hit(Resident.reached_days, Resident.reached_days_before, before).label("rp"),
            hit(Resident.engaged_days, Resident.engaged_days_before, before).label("ep"),
        )
        .where(*_registered_where(prefix, period, dialect))
        .group_by(Resident.area_code)
    )
    sums: dict[str, list[int]] = {}
    for g, *counts in await session.execute(query):
        # Plain integers here: this loop runs once per area code in the report.
        tally = sums.setdefault(g[:length], [0] * len(counts))
        for i, n in enumerate(counts):
            tally[i] += int(n or 0)
    out: dict[str, tuple[Figures, Figures]] = {}
    for key, (
        reg,
        asst,
        unreachable,
        female,
        male,
        reg_prev,
        reach,
        telegram,
        sms,
        no_phone,
        rc,
        ec,
        rp,
        ep,
    ) in sums.items():
        out[key] = (
            Figures(
                registered=reg,
                own_phone=reg - asst,
                assisted=asst,
                reached=rc,
                engaged=ec,
                unreachable=unreachable,
                female=female,
                male=male,
                reachable=reach,
                telegram=telegram,
                sms=sms,
                assisted_no_phone=no_phone,
            ),
            # Of the previous period only registered, reached and engaged are kept.
            Figures(registered=reg_prev, reached=rp, engaged=ep),
        )
    return out


async def _people_from_events(
    session: AsyncSession, prefix: str, length: int, period: Period
) -> dict[str, tuple[Figures, Figures]]:
    """The same figures straight from the event log (any period; slower)."""
    dialect = session.get_bind().dialect.name
    group = func.substr(Resident.area_code, 1, length).label("g")
    registered = await registered_by_group(session, prefix, length, period)
    prev = period.previous()
    current = Event.at >= period.start
    earlier = Event.at < period.start
    reached = Event.kind.in_(sorted(REACHED_KINDS))
    own = Event.kind.in_(sorted(OWN_ACTION_KINDS))
    # Fold the two periods' events per subject first, then join the residents still
    # registered: that drops forgotten people and places each by their current area.
    per_subject = (
        select(
            Event.subject.label("subject"),
            _flag(current, reached).label("rc"),
            _flag(current, own).label("ec"),
            _flag(earlier, reached).label("rp"),
            _flag(earlier, own).label("ep"),
        )
        .where(
            Event.at >= prev.start,
            Event.at < period.end,
            Event.kind.in_(sorted(REACHED_KINDS | OWN_ACTION_KINDS)),
        )
        .group_by(Event.subject)
        .subquery()
    )
    activity = (
        select(
            group,
            func.sum(per_subject.c.rc),
            func.sum(per_subject.c.ec),
            func.sum(per_subject.c.rp),
            func.sum(per_subject.c.ep),
        )
        .join(Resident, Resident.pseudonym == per_subject.c.subject)
        .where(*_registered_where(prefix, period, dialect))
        .group_by(group)
    )
    out = dict(registered)
    for g, rc, ec, rp, ep in await session.execute(activity):
        now, before = out.get(g, (Figures(), Figures()))
        out[g] = (
            now + Figures(reached=int(rc), engaged=int(ec)),
            before + Figures(reached=int(rp), engaged=int(ep)),
        )
    return out


async def _actions(
    session: AsyncSession,
    prefix: str,
    length: int,
    period: Period,
    fast: tuple[int, int, int] | None,
) -> dict[str, tuple[Figures, Figures]]:
    """Lessons completed and alerts acknowledged per child prefix, now and before.

    Counted where they happened (the event's area), and kept after the person who did them
    asked to be forgotten: these are counts of actions, anonymous once the person is gone.
    """
    dialect = session.get_bind().dialect.name
    if fast is not None:
        # From the per-day rollup: the same counts, read from a few rows per area and day.
        first, last, _ = fast
        table = ReachActionDay
        current = table.day >= first
        query = (
            select(
                table.area_code,
                func.sum(case((current, table.lessons_completed), else_=0)),
                func.sum(case((current, table.alerts_acknowledged), else_=0)),
                func.sum(case((current, 0), else_=table.lessons_completed)),
                func.sum(case((current, 0), else_=table.alerts_acknowledged)),
            )
            .where(
                table.day >= first - (last - first),
                table.day < last,
                in_area(table.area_code, prefix, dialect),
            )
            .group_by(table.area_code)
        )
    else:
        current = Event.at >= period.start
        lesson = Event.kind == EventKind.LESSON_COMPLETED.value
        ack = Event.kind == EventKind.ALERT_ACKNOWLEDGED.value
        group = func.substr(Event.area_code, 1, length).label("g")
        query = (
            select(
                group,
                _tally(current, lesson),
                _tally(current, ack),
                _tally(~current, lesson),
                _tally(~current, ack),
            )
            .where(
                Event.kind.in_(
                    (EventKind.LESSON_COMPLETED.value, EventKind.ALERT_ACKNOWLEDGED.value)
                ),
                Event.at >= period.previous().start,
                Event.at < period.end,
                in_area(Event.area_code, prefix, dialect),
            )
            .group_by(group)
        )
    sums: dict[str, list[int]] = {}
    for g, lc, ac, lp, ap in await session.execute(query):
        tally = sums.setdefault(g[:length], [0, 0, 0, 0])
        for i, n in enumerate((lc, ac, lp, ap)):
            tally[i] += int(n or 0)
    return {
        key: (
            Figures(lessons_completed=lc, alerts_acknowledged=ac),
            Figures(lessons_completed=lp, alerts_acknowledged=ap),
        )
        for key, (lc, ac, lp, ap) in sums.items()
    }


async def figures_by_group(
    session: AsyncSession, prefix: str, length: int, period: Period
) -> dict[str, tuple[Figures, Figures]]:
    """All figures per child prefix: (this period, the period before)."""
    fast = await _fast(session, period)
    people = await _people(session, prefix, length, period, fast)
    actions = await _actions(session, prefix, length, period, fast)
    out: dict[str, tuple[Figures, Figures]] = {}
    for key in people.keys() | actions.keys():
        p_now, p_prev = people.get(key, (Figures(), Figures()))
        a_now, a_prev = actions.get(key, (Figures(), Figures()))
        out[key] = (p_now + a_now, p_prev + a_prev)
    return out


async def registered_by_group(
    session: AsyncSession, prefix: str, length: int, period: Period
) -> dict[str, tuple[Figures, Figures]]:
    """Registration counts only, per child prefix (cheap: reads one index, no events)."""
    dialect = session.get_bind().dialect.name
    out: dict[str, tuple[Figures, Figures]] = {}
    # By full code in index order, summed per prefix here (see _people).
    for row in await session.execute(
        select(Resident.area_code.label("g"), *_registration_columns(period))
        .where(*_registered_where(prefix, period, dialect))
        .group_by(Resident.area_code)
    ):
        now, before = _registration_figures(row)
        key = row.g[:length]
        old_now, old_prev = out.get(key, (Figures(), Figures()))
        out[key] = (old_now + now, old_prev + before)
    return out


async def latest_populations(
    session: AsyncSession, codes: Iterable[str] | None = None
) -> dict[str, Census]:
    """Latest census figures per area code (of `codes`, or of every area)."""
    query = select(
        AreaPopulation.code, AreaPopulation.year, AreaPopulation.total, AreaPopulation.adults_15plus
    ).order_by(AreaPopulation.year)
    if codes is not None:
        query = query.where(AreaPopulation.code.in_(sorted(set(codes))))
    out: dict[str, Census] = {}
    for code, year, total, adults in await session.execute(query):
        out[code] = Census(year, total, adults)  # ascending years: the latest wins
    return out


def _info(
    code: str,
    level: str,
    names: tuple[str, str | None],
    parent: tuple[str | None, str | None, str | None],
    census: Census | None,
) -> AreaInfo:
    return AreaInfo(
        code,
        level,
        names[0],
        names[1],
        *parent,
        population=census.total if census else None,
        population_year=census.year if census else None,
        population_15plus=census.adults_15plus if census else None,
    )


async def area_infos(session: AsyncSession, prefix: str, level: str) -> list[AreaInfo]:
    """Every area of `level` under `prefix`, with its parent's names and latest population."""
    parent = Area.__table__.alias("parent")
    query = (
        select(
            Area.code,
            Area.level,
            Area.name_en,
            Area.name_bn,
            Area.parent_code,
            parent.c.name_en,
            parent.c.name_bn,
        )
        .outerjoin(parent, parent.c.code == Area.parent_code)
        .where(Area.level == level)
    )
    if prefix:
        query = query.where(Area.code.like(prefix + "%"))
    rows = list(await session.execute(query))
    population = await latest_populations(session, [row[0] for row in rows])
    infos = [
        _info(code, lvl, (name_en, name_bn), (parent_code, p_en, p_bn), population.get(code))
        for code, lvl, name_en, name_bn, parent_code, p_en, p_bn in rows
    ]
    infos.sort(key=lambda a: a.code)
    return infos


def _country(divisions: Iterable[Census]) -> Census | None:
    """The divisions' sum when they all come from one census (15+ only if each has it)."""
    divisions = list(divisions)
    years = {c.year for c in divisions}
    if len(years) != 1:
        return None
    adults = [c.adults_15plus for c in divisions]
    return Census(
        years.pop(),
        sum(c.total for c in divisions),
        None if None in adults else sum(a or 0 for a in adults),
    )


async def area_info(session: AsyncSession, code: str | None) -> AreaInfo:
    """One area's info, or the whole country for None; raise UnknownArea for a bad code."""
    if code is None:
        top = (await session.scalars(select(Area.code).where(Area.parent_code.is_(None)))).all()
        census = _country((await latest_populations(session, top)).values())
        return _info("", "country", ("Bangladesh", "বাংলাদেশ"), (None, None, None), census)
    area = await session.get(Area, code)
    if area is None:
        raise UnknownArea(code)
    parent = await session.get(Area, area.parent_code) if area.parent_code else None
    population = await latest_populations(session, [code])
    return _info(
        area.code,
        area.level,
        (area.name_en, area.name_bn),
        (
            area.parent_code,
            parent.name_en if parent else None,
            parent.name_bn if parent else None,
        ),
        population.get(code),
    )


def _reach_of(info: AreaInfo, figures: Mapping[str, tuple[Figures, Figures]]) -> AreaReach:
    now, before = figures.get(info.code, (Figures(), Figures()))
    return AreaReach(info, now, before)


async def reach_report(
    session: AsyncSession,
    area_code: str | None,
    period: Period,
    prefer: str = PREFER_ADULTS,
) -> ReachReport:
    """Figures for an area (None: the whole country) and each of its child areas.

    Coverage is measured against people aged 15 and over when `prefer` says so and the area
    and every child with a census figure have it; otherwise against everyone, for all rows.
    """
    info = await area_info(session, area_code)
    prefix = info.code
    level = None if info.level == "country" else info.level
    below = child_level(level)
    if below is None:
        # A union has no children: one group, the union itself.
        denominator = choose_denominator(prefer, [(info.population, info.population_15plus)])
        figures = await figures_by_group(session, prefix, len(prefix), period)
        now, before = figures.get(prefix, (Figures(), Figures()))
        return ReachReport(
            period,
            AreaReach(replace(info, denominator=denominator), now, before),
            denominator=denominator,
            preferred=prefer,
        )
    figures = await figures_by_group(session, prefix, LEVEL_LENGTH[below], period)
    infos = await area_infos(session, prefix, below)
    denominator = choose_denominator(
        prefer, [(a.population, a.population_15plus) for a in (info, *infos)]
    )
    children = [_reach_of(replace(child, denominator=denominator), figures) for child in infos]
    total_now, total_before = Figures(), Figures()
    for now, before in figures.values():
        total_now, total_before = total_now + now, total_before + before
    unplaced = figures.get(prefix, (Figures(), Figures())) if prefix else (Figures(), Figures())
    return ReachReport(
        period,
        AreaReach(replace(info, denominator=denominator), total_now, total_before),
        children,
        unplaced=unplaced[0],
        unplaced_previous=unplaced[1],
        denominator=denominator,
        preferred=prefer,
    )
