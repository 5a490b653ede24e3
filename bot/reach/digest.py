"""The weekly digest for coordinators: the week's reach, the most missing areas, new feedback.

`compose_digest` is pure (figures in, text out); `weekly_digest_job` gathers the figures for
each coordinator and hands the text to `send` (the scheduler passes one that sends it at once,
after the transaction that recorded it). The job is safe to run often, and the scheduler runs
it at start and every full hour: it sends only when due (Monday 09:00 local by default, or
later that week if that run was missed) and at most once per coordinator and week, which it
remembers in `reach_state`, so restarts and a change of scheduler process repeat nothing.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.i18n import Catalog, format_number, localize_digits
from bot.reach.figures import ADULTS, PREFER_ADULTS, TOTAL, AreaReach, Period, UnknownArea
from bot.reach.missing import MissingRow, missing_report
from bot.reach.models import ReachState
from bot.reach.render import protect_missing, shortfall_shown
from bot.reach.report import reach_report
from bot.reach.suppression import DEFAULT_K, Suppressor
from bot.residents.community import FeedbackItem, recent_feedback
from bot.residents.models import Resident
from bot.staff.models import RoleGrant, StaffAccount
from bot.staff.roles import Role, minimal_scopes

MONDAY = 0
DIGEST_HOUR = 9
TOP_MISSING = 5
# Areas with nobody registered are always named, up to this many; beyond, only counted.
MAX_EMPTY_NAMED = 10
MAX_FEEDBACK = 5

Send = Callable[[int, str], Awaitable[None]]


@dataclass(frozen=True)
class DigestInput:
    """Everything one coordinator's digest says, as plain values."""

    language: str
    period: Period
    areas: list[AreaReach]
    missing: list[MissingRow]
    feedback: list[FeedbackItem]
    # Every area of the scope where nobody is registered (named however far down it ranks).
    empty: list[MissingRow] = field(default_factory=list)
    # Cells hidden by complementary suppression in the missing rows (see render.protect_missing).
    hidden: frozenset[tuple[str, str]] = frozenset()
    # What the shortfalls are measured against (bot.reach.figures.choose_denominator).
    denominator: str = TOTAL


def week_of(now: datetime, tz: ZoneInfo, weekday: int = MONDAY) -> Period:
    """The seven local days before the latest `weekday` (Monday to Sunday by default)."""
    today = now.astimezone(tz).date()
    last_start = today - timedelta(days=(today.weekday() - weekday) % 7)
    return Period.days_to(last_start - timedelta(days=1), 7, tz)


def is_due(now: datetime, tz: ZoneInfo, weekday: int = MONDAY, hour: int = DIGEST_HOUR) -> bool:
    """True from `weekday` at `hour` local on, for the rest of that week."""
    local = now.astimezone(tz)
    days_since = (local.weekday() - weekday) % 7
    return days_since > 0 or local.hour >= hour


def compose_digest(data: DigestInput, catalog: Catalog, s: Suppressor, tz: ZoneInfo) -> str:
    """The digest text (Telegram HTML) in the coordinator's language, suppressed."""
    lang = catalog.resolve(data.language)
    bangla = lang in ("bn", "syl")

    def t(key: str, **params: object) -> str:
        return catalog.text(lang, key, **params)

    def count(n: int) -> str:
        return html.escape(s.count(n).text(lang))

    def day(moment: datetime) -> str:
        return localize_digits(moment.astimezone(tz).date().isoformat(), lang)

    last_day = data.period.end - timedelta(seconds=1)
    lines = [t("digest.title", start=day(data.period.start), end=day(last_day))]
    for area in data.areas:
        a = area.area
        place = (a.name_bn if bangla and a.name_bn else a.name_en) or a.code
        change = s.change(area.current.registered, area.previous.registered)
        shown = (
            t("digest.change_none")
            if change is None
            else ("+" if change >= 0 else "−") + _percent(abs(change), lang)
        )
        lines.append(
            t(
                "digest.area",
                place=html.escape(place),
                registered=count(area.current.registered),
                change_registered=shown,
                reached=count(area.current.reached),
                engaged=count(area.current.engaged),
            )
        )

    def name_of(row: MissingRow) -> str:
        a = row.area
        return html.escape((a.name_bn if bangla and a.name_bn else a.name_en) or a.code)

    if data.missing:
        lines.append("")
        adults = data.denominator == ADULTS
        lines.append(t("digest.missing_head_adults" if adults else "digest.missing_head"))
        protected = s.forcing(data.hidden)
        for row in data.missing:
            shortfall = shortfall_shown(row, protected)
            lines.append(
                t(
                    "digest.missing_line",
                    name=name_of(row),
                    shortfall=t("reach.withheld") if shortfall is None else count(shortfall),
                )
            )
    if data.empty:
        if len(data.empty) > MAX_EMPTY_NAMED:
            lines.append(t("digest.empty_count", count=len(data.empty)))
        else:
            lines.append(t("digest.empty", names=", ".join(name_of(r) for r in data.empty)))
    lines.append("")
    if data.feedback:
        lines.append(t("feedback.head", count=len(data.feedback)))
        for item in data.feedback[:MAX_FEEDBACK]:
            place = (
                item.area_name_bn if bangla and item.area_name_bn else item.area_name_en
            ) or "?"
            lines.append(t("feedback.line", place=html.escape(place), text=html.escape(item.text)))
    else:
        lines.append(t("digest.no_feedback"))
    lines.append("")
    lines.append(t("reach.small_note", k=s.k))
    return "\n".join(lines)


def _percent(value: float, language: str) -> str:
    return format_number(round(value * 100), language) + "%"


async def coordinators(session: AsyncSession) -> list[tuple[int, int, list[str]]]:
    """(account id, Telegram id, scopes) of everyone with an active coordinator role."""
    rows = await session.execute(
        select(StaffAccount.id, StaffAccount.telegram_id, RoleGrant.scope)
        .join(RoleGrant, RoleGrant.account_id == StaffAccount.id)
        .where(RoleGrant.revoked_at.is_(None), RoleGrant.role == Role.COORDINATOR.value)
        .order_by(StaffAccount.id)
    )
    found: dict[int, tuple[int, list[str]]] = {}
    for account_id, telegram_id, scope in rows:
        found.setdefault(account_id, (telegram_id, []))[1].append(scope)
    return [(a, tg, minimal_scopes(scopes)) for a, (tg, scopes) in found.items()]


async def digest_for(
    session: AsyncSession,
    language: str,
    scopes: list[str],
    period: Period,
    *,
    k: int = DEFAULT_K,
    target: float | None = None,
    priority: tuple[str, ...] = (),
    prefer: str = PREFER_ADULTS,
) -> DigestInput:
    """Gather one coordinator's digest figures."""
    areas = []
    for scope in scopes:
        try:
            areas.append((await reach_report(session, scope or None, period, prefer)).total)
        except UnknownArea:
            continue
    level = "upazila"
    missing = await missing_report(
        session, scopes, period, level=level, target=target, priority=priority, prefer=prefer
    )
    feedback = await recent_feedback(session, scopes, period.start, k=k)
    return DigestInput(
        language,
        period,
        areas,
        missing.ranked[:TOP_MISSING],
        feedback,
        empty=missing.empty,
        hidden=protect_missing(missing, Suppressor(k)).forced,
        denominator=missing.denominator,
    )


async def weekly_digest_job(
    sessions: async_sessionmaker[AsyncSession],
    send: Send,
    now: datetime,
    *,
    catalog: Catalog,
    tz: ZoneInfo,
    k: int,
    weekday: int = MONDAY,
    hour: int = DIGEST_HOUR,
    target: float | None = None,
    priority: tuple[str, ...] = (),
    prefer: str = PREFER_ADULTS,
) -> int:
    """Send each coordinator this week's digest if due and not yet sent; return how many."""
    if not is_due(now, tz, weekday, hour):
        return 0
    period = week_of(now, tz, weekday)
    week = period.start.astimezone(tz).date()
    s = Suppressor(k)
    sent = 0
    async with sessions() as session:
        people = await coordinators(session)
    for account_id, telegram_id, scopes in people:
        key = f"digest:{account_id}:{_week_key(week)}"
        async with sessions() as session:
            if await session.get(ReachState, key) is not None:
                continue
            language = await session.scalar(
                select(Resident.language).where(Resident.telegram_id == telegram_id)
            )
            data = await digest_for(
                session,
                language or catalog.default_language,
                scopes,
                period,
                k=k,
                target=target,
                priority=priority,
                prefer=prefer,
            )
            text = compose_digest(data, catalog, s, tz)
            # Remember first, then send: a crash between the two loses one digest rather
            # than sending it twice. The outbox makes the send itself durable.
            session.add(ReachState(key=key, value=now.isoformat()[:64]))
            await session.commit()
        await send(telegram_id, text)
        sent += 1
    return sent


def _week_key(monday: date) -> str:
    return monday.isoformat()
