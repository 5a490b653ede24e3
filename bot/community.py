"""What a resident sees of their own community, what they tell coordinators, and their profile.

Services only (no aiogram): `/community` gets a `CommunityView` of the resident's area
(figures suppressed like any staff output, since residents see them too), the alerts sent
there lately and the lessons most taken there; `save_feedback` stores what the resident says
Sabai should teach or warn about, per area and without any link to the resident; the
profile functions keep the optional gender and age band.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.assisted import AGE_BANDS, GENDERS
from bot.events import EventKind, record
from bot.i18n import Catalog, format_when
from bot.models import Event, Resident, utcnow
from bot.reach import AreaInfo, Figures, Period, area_info, figures_by_group, in_area
from bot.reach_models import Feedback
from bot.screens import Option, Screen, rows_of
from bot.suppression import Suppressor

FEEDBACK_AWAITING = "fb"  # Resident.awaiting while the bot waits for their feedback text
FEEDBACK_MAX = 500
COMMUNITY_DAYS = 30
TOP_LESSONS = 3
# Recent events read to find alerts and lessons; plenty for one area's month.
RECENT_EVENTS = 5_000
PROFILE_PREFIX = "pf:"


@dataclass(frozen=True)
class CommunityView:
    area: AreaInfo
    period: Period
    figures: Figures
    alerts: int
    last_alert_at: datetime | None
    top_lessons: list[str]


@dataclass(frozen=True)
class FeedbackItem:
    area_code: str | None
    area_name_en: str | None
    area_name_bn: str | None
    text: str
    at: datetime


async def community_view(
    session: AsyncSession, area_code: str, now: datetime, tz: ZoneInfo
) -> CommunityView:
    """Figures, recent alerts and popular lessons of one area (everything below it too)."""
    info = await area_info(session, area_code)
    period = Period.ending(now, COMMUNITY_DAYS, tz)
    figures = await figures_by_group(session, area_code, len(area_code), period)
    now_figures = figures.get(area_code, (Figures(), Figures()))[0]
    dialect = session.get_bind().dialect.name
    rows = await session.execute(
        select(Event.kind, Event.at, Event.data)
        .where(
            Event.kind.in_((EventKind.ALERT_DELIVERED.value, EventKind.LESSON_COMPLETED.value)),
            Event.at >= period.start,
            Event.at < period.end,
            in_area(Event.area_code, area_code, dialect),
        )
        .order_by(Event.at.desc())
        .limit(RECENT_EVENTS)
    )
    alerts: set[str] = set()
    last_alert: datetime | None = None
    lessons: Counter[str] = Counter()
    for kind, at, data in rows:
        data = data or {}
        if kind == EventKind.ALERT_DELIVERED.value:
            alerts.add(str(data.get("job", at.isoformat())))
            last_alert = max(last_alert, at) if last_alert else at
        elif data.get("lesson"):
            lessons[str(data["lesson"])] += 1
    return CommunityView(
        info,
        period,
        now_figures,
        len(alerts),
        last_alert,
        [lesson for lesson, _ in lessons.most_common(TOP_LESSONS)],
    )


def community_screen(
    view: CommunityView,
    catalog: Catalog,
    language: str,
    s: Suppressor,
    tz: ZoneInfo,
    lesson_title: dict[str, str] | None = None,
) -> Screen:
    """The /community message: suppressed figures, alerts, lessons and the feedback button."""

    def t(key: str, **params: object) -> str:
        return catalog.text(language, key, **params)

    def count(n: int) -> str:
        return html.escape(s.count(n).text(language))

    bangla = language in ("bn", "syl")
    place = view.area.name_bn if bangla and view.area.name_bn else view.area.name_en
    days = round(view.period.days)
    f = view.figures
    lines = [
        t("community.title", place=html.escape(place), days=days),
        t(
            "community.figures",
            registered=count(f.registered),
            reached=count(f.reached),
            lessons=count(f.lessons_completed),
        ),
    ]
    last = ""
    if view.last_alert_at is not None:
        day = format_when(view.last_alert_at, language, tz).rsplit(",", 1)[0]
        last = t("community.alerts_last", date=day)
    lines.append(t("community.alerts", count=view.alerts, last=last))
    if view.top_lessons:
        lines.append(t("community.lessons_head"))
        for lesson in view.top_lessons:
            title = (lesson_title or {}).get(lesson, lesson)
            # Lesson titles are HTML already (rendered from the lesson's Markdown).
            lines.append(t("community.lesson_line", title=title))
    else:
        lines.append(t("community.no_lessons"))
    lines.append("")
    lines.append(t("community.ask"))
    return Screen("\n".join(lines), ((Option(t("community.tell"), "cm:fb"),),))


def ask_feedback(resident: Resident) -> None:
    """Wait for the resident's next message as their feedback."""
    resident.awaiting = FEEDBACK_AWAITING


def _day(moment: datetime) -> datetime:
    # Cut to the UTC day, so feedback cannot be matched to the resident's events by time.
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def save_feedback(
    session: AsyncSession, resident: Resident, text: str, now: datetime | None = None
) -> bool:
    """Store the resident's words for their area's coordinators, without their identity."""
    resident.awaiting = None
    words = " ".join(text.split())[:FEEDBACK_MAX]
    if not words:
        return False
    now = now or utcnow()
    session.add(
        Feedback(
            area_code=resident.area_code,
            language=resident.language,
            text=words,
            at=_day(now.astimezone(UTC)),
        )
    )
    record(session, EventKind.FEEDBACK_GIVEN, resident, at=now)
    return True


async def recent_feedback(
    session: AsyncSession, scopes: list[str], since: datetime, limit: int = 20
) -> list[FeedbackItem]:
    """Feedback from areas inside the scopes since a moment, newest first; no names."""
    from bot.models import Area

    dialect = session.get_bind().dialect.name
    query = (
        select(Feedback.area_code, Area.name_en, Area.name_bn, Feedback.text, Feedback.at)
        .outerjoin(Area, Area.code == Feedback.area_code)
        .where(Feedback.at >= _day(since.astimezone(UTC)))
        .order_by(Feedback.at.desc(), Feedback.id.desc())
        .limit(limit)
    )
    if "" not in scopes:
        from sqlalchemy import or_

        query = query.where(or_(*(in_area(Feedback.area_code, s, dialect) for s in scopes)))
    return [FeedbackItem(*row) for row in await session.execute(query)]


# ----- profile: optional gender and age band ------------------------------------------------


def profile_gender_screen(catalog: Catalog, language: str) -> Screen:
    """Why we ask, then the gender choices (or skip)."""
    options = [
        Option(catalog.text(language, f"profile.gender_{g}"), f"{PROFILE_PREFIX}g:{g}")
        for g in GENDERS
    ]
    options.append(Option(catalog.text(language, "profile.skip"), f"{PROFILE_PREFIX}g:-"))
    return Screen(catalog.text(language, "profile.why"), rows_of(options, 2))


def profile_age_screen(catalog: Catalog, language: str) -> Screen:
    options = [
        Option(catalog.text(language, f"profile.age_{band}"), f"{PROFILE_PREFIX}a:{band}")
        for band in AGE_BANDS
    ]
    options.append(Option(catalog.text(language, "profile.skip"), f"{PROFILE_PREFIX}a:-"))
    return Screen(catalog.text(language, "register.age"), rows_of(options, 2))


def apply_profile_choice(resident: Resident, token: str) -> str | None:
    """Apply a profile button ("pf:g:female", "pf:a:-"); return the next step or None.

    Raises ValueError for a token that is no profile choice (stale or forged).
    """
    kind, _, value = token.removeprefix(PROFILE_PREFIX).partition(":")
    if kind == "open":
        return "gender"
    if kind == "g" and (value in GENDERS or value == "-"):
        resident.gender = None if value == "-" else value
        return "age"
    if kind == "a" and (value in AGE_BANDS or value == "-"):
        resident.age_band = None if value == "-" else value
        return None
    raise ValueError(token)


def profile_done_text(resident: Resident, catalog: Catalog, language: str) -> str:
    told = resident.gender is not None or resident.age_band is not None
    return catalog.text(language, "profile.saved" if told else "profile.cleared")


def recent(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)
