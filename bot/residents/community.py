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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.models import Alert
from bot.alerts.service import JOB_KIND, PRIMARY_LANGUAGE, QUEUED, QUEUEING
from bot.core.base import utcnow
from bot.core.i18n import BABEL_LOCALE, Catalog, localize_digits
from bot.core.screens import Option, Screen, rows_of
from bot.delivery.outbox import OUTBOX, Status
from bot.reach.figures import AreaInfo, Figures, Period
from bot.reach.models import Feedback
from bot.reach.report import area_info, figures_by_group, in_area
from bot.reach.suppression import DEFAULT_K, Suppressor
from bot.residents.assisted import AGE_BANDS, GENDERS
from bot.residents.events import EventKind, record_for
from bot.residents.models import Event, Resident

FEEDBACK_AWAITING = "fb"  # Resident.awaiting while the bot waits for their feedback text
FEEDBACK_MAX = 500
COMMUNITY_DAYS = 30
TOP_LESSONS = 3
RECENT_ALERTS = 3
ALERT_TITLE_MAX = 80  # characters of an alert's first line; three lines fit one phone screen
# Recent events read to find the lessons taken; plenty for one area's month.
RECENT_EVENTS = 5_000
# Alerts of the whole deployment read per /community to find this area's: a month's worth.
RECENT_ALERTS_READ = 5_000
PROFILE_PREFIX = "pf:"


@dataclass(frozen=True)
class SentAlert:
    """An alert that went out to an area, as /community lists it."""

    topic: str
    texts: Mapping[str, str]
    delivered_at: datetime
    ended: bool  # past its validity now


@dataclass(frozen=True)
class CommunityView:
    area: AreaInfo
    period: Period
    figures: Figures
    alerts: int  # how many went out to the area in the period
    recent_alerts: list[SentAlert]  # the newest of them, newest first
    top_lessons: list[str]


@dataclass(frozen=True)
class FeedbackItem:
    area_code: str | None
    area_name_en: str | None
    area_name_bn: str | None
    text: str
    at: datetime


async def alerts_sent_to(
    session: AsyncSession,
    area_code: str,
    since: datetime,
    now: datetime,
    limit: int = RECENT_ALERTS,
) -> tuple[int, list[SentAlert]]:
    """Alerts sent to an area or an area above it since a moment: how many, and the newest.

    "Sent" means at least one message went out: an alert still scheduled, or cancelled or
    expired before its first message, is not news the area ever got. A cancelled alert is
    left out even if some messages went: coordinators stop an alert that was wrong, and
    /community should not repeat it. One that expired after going out is listed (as past).
    """
    went_out = exists().where(
        OUTBOX.c.job_kind == JOB_KIND,
        OUTBOX.c.job_id == Alert.id,
        OUTBOX.c.status == Status.SENT.value,
    )
    rows = await session.execute(
        select(Alert.id, Alert.area_codes)
        .where(
            Alert.status.in_((QUEUEING, QUEUED)),
            Alert.deliver_at >= since,
            Alert.deliver_at <= now,
            went_out,
        )
        .order_by(Alert.deliver_at.desc(), Alert.id.desc())
        .limit(RECENT_ALERTS_READ)
    )
    # Area lists are JSON, so "one of its areas contains this one" is checked here; the texts
    # are read afterwards for the few alerts shown only.
    ids = [alert_id for alert_id, codes in rows if any(area_code.startswith(c) for c in codes)]
    if not ids:
        return 0, []
    alerts = await session.scalars(
        select(Alert)
        .where(Alert.id.in_(ids[:limit]))
        .order_by(Alert.deliver_at.desc(), Alert.id.desc())
    )
    return len(ids), [
        SentAlert(
            a.topic,
            dict(a.texts),
            a.deliver_at,
            a.expires_at is not None and a.expires_at <= now,
        )
        for a in alerts
    ]


async def community_view(
    session: AsyncSession, area_code: str, now: datetime, tz: ZoneInfo
) -> CommunityView:
    """Figures, recent alerts and popular lessons of one area (everything below it too)."""
    info = await area_info(session, area_code)
    period = Period.ending(now, COMMUNITY_DAYS, tz)
    figures = await figures_by_group(session, area_code, len(area_code), period)
    now_figures = figures.get(area_code, (Figures(), Figures()))[0]
    alert_count, recent_alerts = await alerts_sent_to(session, area_code, period.start, now)
    dialect = session.get_bind().dialect.name
    rows = await session.scalars(
        select(Event.data)
        .where(
            Event.kind == EventKind.LESSON_COMPLETED.value,
            Event.at >= period.start,
            Event.at < period.end,
            in_area(Event.area_code, area_code, dialect),
        )
        .order_by(Event.at.desc())
        .limit(RECENT_EVENTS)
    )
    lessons: Counter[str] = Counter()
    for data in rows:
        if data and data.get("lesson"):
            lessons[str(data["lesson"])] += 1
    return CommunityView(
        info,
        period,
        now_figures,
        alert_count,
        recent_alerts,
        [lesson for lesson, _ in lessons.most_common(TOP_LESSONS)],
    )


def alert_title(alert: SentAlert, language: str) -> str:
    """The alert's first line in the language (Bangla when not written in it), shortened."""
    texts = alert.texts
    text = texts.get(language) or texts.get(PRIMARY_LANGUAGE) or next(iter(texts.values()), "")
    first = next((line for line in text.splitlines() if line.strip()), "")
    words = " ".join(first.split())
    if len(words) <= ALERT_TITLE_MAX:
        return words
    cut = words[: ALERT_TITLE_MAX - 1]
    # End at a word boundary when one is near, so no word is left half-written.
    if " " in cut[ALERT_TITLE_MAX // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-–—") + "…"


def day_and_month(moment: datetime, language: str, tz: ZoneInfo) -> str:
    """A local date as "12 May" (Bangla month and digits in Bangla); the period is a month."""
    locale = BABEL_LOCALE.get(language, "en")
    return localize_digits(format_datetime(moment, "d MMMM", tzinfo=tz, locale=locale), language)


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
        shown = s.count(n)
        # Residents read "fewer than 5 people", not staff's "<5" shorthand.
        if shown.suppressed:
            return t("community.fewer", k=shown.k)
        return html.escape(shown.text(language))

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
    if view.recent_alerts:
        lines.append(t("community.alerts_head"))
        for alert in view.recent_alerts:
            lines.append(
                t(
                    "community.alert_line_ended" if alert.ended else "community.alert_line",
                    date=day_and_month(alert.delivered_at, language, tz),
                    topic=t(f"topic.{alert.topic}"),
                    title=html.escape(alert_title(alert, language)),
                )
            )
        if view.alerts > len(view.recent_alerts):
            lines.append(t("community.alerts_more", count=view.alerts - len(view.recent_alerts)))
    else:
        lines.append(t("community.no_alerts"))
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
    """Store the resident's words for their area's coordinators, without their identity.

    The event that counts it names only the area and the day: no subject, so neither the
    words nor the event lead back to the resident.
    """
    resident.awaiting = None
    words = " ".join(text.split())[:FEEDBACK_MAX]
    if not words:
        return False
    day = _day((now or utcnow()).astimezone(UTC))
    session.add(
        Feedback(area_code=resident.area_code, language=resident.language, text=words, at=day)
    )
    record_for(session, EventKind.FEEDBACK_GIVEN, None, resident.area_code, at=day)
    return True


def week_start(moment: datetime) -> datetime:
    """The Monday 00:00 UTC of the moment's week: the finest date coordinators see."""
    day = _day(moment.astimezone(UTC))
    return day - timedelta(days=day.weekday())


def _folded(counts: Mapping[str, int], code: str, floor: int, k: int) -> str:
    """The area an item is shown under: its own, or the nearest wider one holding k items.

    `floor` is the length of the scope code the reader covers: nothing is folded above it.
    """
    while len(code) > max(floor, 2):
        if sum(n for c, n in counts.items() if c.startswith(code)) >= k:
            return code
        code = code[:-2]
    return code


async def recent_feedback(
    session: AsyncSession,
    scopes: list[str],
    since: datetime,
    limit: int = 20,
    k: int = DEFAULT_K,
) -> list[FeedbackItem]:
    """Feedback from areas inside the scopes since a moment, newest first; no names.

    An area with fewer than k items is shown folded into the nearest wider area with k (no
    wider than the reader's scope), and every date is cut to its week.
    """
    from bot.areas.models import Area

    dialect = session.get_bind().dialect.name
    query = (
        select(Feedback.area_code, Feedback.text, Feedback.at)
        .where(Feedback.at >= _day(since.astimezone(UTC)))
        .order_by(Feedback.at.desc(), Feedback.id.desc())
    )
    if "" not in scopes:
        from sqlalchemy import or_

        query = query.where(or_(*(in_area(Feedback.area_code, s, dialect) for s in scopes)))
    rows = list(await session.execute(query))
    counts: Counter[str] = Counter(code for code, _, _ in rows if code)
    shown: list[tuple[str | None, str, datetime]] = []
    for code, text, at in rows[:limit]:
        if code:
            floor = max((len(s) for s in scopes if code.startswith(s)), default=0)
            code = _folded(counts, code, floor, k)
        shown.append((code, text, week_start(at)))
    codes = {code for code, _, _ in shown if code}
    names = {
        code: (en, bn)
        for code, en, bn in await session.execute(
            select(Area.code, Area.name_en, Area.name_bn).where(Area.code.in_(sorted(codes)))
        )
    }
    items = []
    for code, text, at in shown:
        name_en, name_bn = names.get(code or "", (None, None))
        items.append(FeedbackItem(code, name_en, name_bn, text, at))
    return items


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
    return Screen(catalog.text(language, "profile.age"), rows_of(options, 2))


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


def profile_done_screen(resident: Resident, catalog: Catalog, language: str) -> Screen:
    """The profile's last word, with the way back to the menu."""
    back = ((Option(catalog.text(language, "settings.back"), "m:back"),),)
    return Screen(profile_done_text(resident, catalog, language), back)


def recent(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)
