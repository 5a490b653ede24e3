"""Service alerts: who they reach, what residents see, queueing, cancelling, status, "got it".

An alert is a row in `alerts` plus one outbox row per recipient (job "alert:<id>"), in the
resident's language when the coordinator wrote one, else in Bangla. Recipients are consenting,
reachable residents whose area lies in (or below) one of the alert's areas, or who chose only
a wider area containing one of them (an upazila, not knowing their union: for safety, a few
too many is better than one missed), or whose area is not listed but whose typed words name
a district or upazila that meets the alert's areas; and who have not turned the alert's topic
off. Urgent alerts go out at once, quiet hours or not, ahead of other
messages; normal ones wait for the end of quiet hours. An alert past its validity is never
sent (the outbox drops expired rows). Delivery events come from the sender (ALERT_DELIVERED /
ALERT_FAILED by job kind); acknowledgements are recorded here. No aiogram in this module.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, delete, exists, false, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.alerts.models import Alert, AlertAck, ResidentTopic
from bot.alerts.queueing import QUEUEING as QUEUEING
from bot.alerts.queueing import claim_stalled, with_heartbeat
from bot.areas.search import AreaIndex
from bot.areas.tree import load_index
from bot.core.base import utcnow
from bot.core.i18n import LANGUAGES, Catalog, format_when
from bot.core.screens import Option, Screen, rows_of
from bot.delivery.outbox import (
    NORMAL,
    OUTBOX,
    URGENT,
    Job,
    JobProgress,
    Payload,
    Status,
    active_recipients,
    cancel_job,
    enqueue_for_recipients,
    job_progress,
    reachable,
)
from bot.lessons.pushes import QuietHours, out_of_quiet
from bot.residents.events import EventKind, record
from bot.residents.models import Resident
from bot.staff.audit import Act, record_audit
from bot.staff.roles import Role, Staff, is_area_code

JOB_KIND = "alert"
# Fixed on purpose: residents choose among these in settings, and each has a translated name
# in content/strings ("topic.<name>").
TOPICS = ("water", "power", "health", "flood", "scam")
NORMAL_URGENCY, URGENT_URGENCY = "normal", "urgent"
URGENCIES = (NORMAL_URGENCY, URGENT_URGENCY)
# Bangla is required: it is the language every resident can fall back to.
PRIMARY_LANGUAGE = "bn"
TEXT_LANGUAGES = ("bn", "en")
MAX_TEXT = 1500  # leaves room for the heading and validity line within one phone screen or two
MAX_AREAS = 20
ACK_PREFIX = "ak:"
TOPICS_PREFIX = "tp:"
# "queueing" (QUEUEING) until every recipient's outbox row exists; a crash in between leaves it
# so, and `resume_queueing` finishes the job at the next start or once the running bot sees it
# stalled (enqueueing is idempotent).
QUEUED, CANCELLED = "queued", "cancelled"

Translate = Callable[..., str]


class AlertError(ValueError):
    """An alert that cannot be queued; `key` names the message that explains why."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass(frozen=True)
class AlertSpec:
    """What a coordinator (or another system) asks for."""

    topic: str
    urgency: str
    area_codes: tuple[str, ...]
    texts: Mapping[str, str]
    send_at: datetime
    expires_at: datetime | None


def next_allowed_time(now: datetime, tz: ZoneInfo, quiet: QuietHours) -> datetime:
    """`now` itself, or the end of the quiet hours it falls in (aware, UTC)."""
    return out_of_quiet(now, tz, quiet)


def delivery_time(spec: AlertSpec, tz: ZoneInfo, quiet: QuietHours) -> datetime:
    """When an alert's messages may go out: urgent ones at once, normal ones not in quiet hours."""
    if spec.urgency == URGENT_URGENCY:
        return spec.send_at
    return next_allowed_time(spec.send_at, tz, quiet)


def minimal_areas(codes: Iterable[str]) -> tuple[str, ...]:
    """Drop codes covered by another code in the list (an area includes all below it)."""
    kept: list[str] = []
    for code in sorted(set(codes), key=lambda c: (len(c), c)):
        if not any(code.startswith(outer) for outer in kept):
            kept.append(code)
    return tuple(sorted(kept))


def validate(
    spec: AlertSpec, known_area: Callable[[str], bool], tz: ZoneInfo, q: QuietHours
) -> None:
    """Raise AlertError unless the alert can be queued as asked."""
    if spec.topic not in TOPICS:
        raise AlertError("alerts.bad_topic", topic=html.escape(spec.topic[:16]))
    if spec.urgency not in URGENCIES:
        raise AlertError("alerts.bad_urgency")
    if not spec.area_codes or len(spec.area_codes) > MAX_AREAS:
        raise AlertError("alerts.no_areas")
    for code in spec.area_codes:
        if not is_area_code(code) or not known_area(code):
            raise AlertError("alerts.bad_area", code=html.escape(code[:16]))
    if not spec.texts.get(PRIMARY_LANGUAGE, "").strip():
        raise AlertError("alerts.need_bangla")
    for language, text in spec.texts.items():
        if language not in TEXT_LANGUAGES:
            raise AlertError("alerts.bad_language", language=html.escape(language[:8]))
        if len(text) > MAX_TEXT:
            raise AlertError("alerts.text_too_long", limit=MAX_TEXT)
    for moment in (spec.send_at, spec.expires_at):
        if moment is not None and moment.tzinfo is None:
            raise ValueError("alert times must be timezone-aware")
    if spec.expires_at is not None and spec.expires_at <= delivery_time(spec, tz, q):
        raise AlertError("alerts.expires_before_send")


def ancestors(area_codes: Sequence[str]) -> list[str]:
    """Every area above the given ones (division, district, upazila), nearest last."""
    return sorted({code[:n] for code in area_codes for n in (2, 4, 6) if n < len(code)})


def typed_words() -> ColumnElement[str]:
    """A resident's words for an unlisted area as they are grouped (trimmed, lower case)."""
    return func.lower(func.trim(func.coalesce(Resident.area_unlisted_text, "")))


def _inside(area_codes: Sequence[str]) -> ColumnElement[bool]:
    return or_(*(Resident.area_code.startswith(code, autoescape=True) for code in area_codes))


def _wider(area_codes: Sequence[str]) -> ColumnElement[bool]:
    above = ancestors(area_codes)
    return Resident.area_code.in_(above) if above else false()


def _by_words(words: Sequence[str]) -> ColumnElement[bool]:
    if not words:
        return false()
    return and_(Resident.area_code.is_(None), typed_words().in_(sorted(set(words))))


def audience(
    topic: str, area_codes: Sequence[str], urgency: str, words: Sequence[str] = ()
) -> list[ColumnElement[bool]]:
    """Conditions on residents: in (or below) one of the areas, in an area containing one of
    them, or not listed with `words` naming a place there; and, unless the alert is urgent,
    not opted out of its topic (urgent alerts reach everyone in the area)."""
    where = or_(_inside(area_codes), _wider(area_codes), _by_words(words))
    if urgency == URGENT_URGENCY:
        return [where]
    opted_out = exists().where(
        ResidentTopic.resident_id == Resident.id, ResidentTopic.topic == topic
    )
    return [where, ~opted_out]


# Typed words must name a place this surely (see bot.reach.missing.attributed).
WORDS_SCORE = 0.9
WORDS_CANDIDATES = 8
UPAZILA_LENGTH = 6


def places_named(index: AreaIndex, words: str) -> list[str]:
    """The districts or upazilas the words name surely enough (namesakes equally good: all).

    A union named (or matched with its upazila named too, "Baro Haor, Kulaura") stands for
    its upazila; a division is too wide to stand for anyone's place.
    """
    matches = index.search(words, limit=WORDS_CANDIDATES) if words.strip() else []
    if not matches or not (matches[0].exact or matches[0].score >= WORDS_SCORE):
        return []
    best = (matches[0].exact, matches[0].score)
    tied = [m.code for m in matches if (m.exact, m.score) == best]
    if len(tied) == WORDS_CANDIDATES:
        return []
    return sorted({code[:UPAZILA_LENGTH] for code in tied if len(code) > 2})


def meets(code: str, area_codes: Sequence[str]) -> bool:
    """Whether an area lies in one of the areas or contains one of them."""
    return any(code.startswith(c) or c.startswith(code) for c in area_codes)


async def words_for(
    session: AsyncSession, area_codes: Sequence[str], index: AreaIndex | None = None
) -> list[str]:
    """What residents with an unlisted area typed that names a place meeting the areas."""
    typed = list(
        await session.scalars(
            select(typed_words())
            .where(Resident.area_code.is_(None), Resident.consent_at.is_not(None))
            .distinct()
        )
    )
    typed = [w for w in typed if w]
    if not typed:
        return []
    index = index or await load_index(session)
    return [w for w in typed if any(meets(c, area_codes) for c in places_named(index, w))]


@dataclass(frozen=True)
class RecipientSplit:
    """Who an alert would reach now: in the chosen areas, in a wider area, by typed words."""

    inside: int
    wider: int
    typed: int

    @property
    def total(self) -> int:
        return self.inside + self.wider + self.typed


async def recipient_split(
    session: AsyncSession,
    topic: str,
    area_codes: Sequence[str],
    urgency: str,
    index: AreaIndex | None = None,
    *,
    words: Sequence[str] | None = None,
) -> RecipientSplit:
    """How many residents an alert would reach now, by why they are reached."""
    codes = minimal_areas(area_codes)
    if words is None:
        words = await words_for(session, codes, index)
    inside, wider = _inside(codes), _wider(codes)
    kind = case((inside, 0), (wider, 1), else_=2)
    query = (
        select(kind, func.count())
        .select_from(Resident)
        .where(*reachable(), *audience(topic, codes, urgency, words))
        .group_by(kind)
    )
    found = {int(k): int(n) for k, n in await session.execute(query)}
    return RecipientSplit(found.get(0, 0), found.get(1, 0), found.get(2, 0))


async def count_recipients(
    session: AsyncSession, topic: str, area_codes: Sequence[str], urgency: str
) -> int:
    """How many residents an alert would reach now (the same filter the outbox stream uses)."""
    return (await recipient_split(session, topic, area_codes, urgency)).total


# -- what residents see -----------------------------------------------------------------------


def message_text(
    catalog: Catalog,
    language: str,
    topic: str,
    urgency: str,
    text: str,
    expires_at: datetime | None,
    tz: ZoneInfo,
) -> str:
    """The alert as residents of `language` read it (the coordinator's words escaped)."""
    until = ""
    if expires_at is not None:
        until = catalog.text(
            language, "alerts.valid_until", when=format_when(expires_at, language, tz)
        )
    key = "alerts.message_urgent" if urgency == URGENT_URGENCY else "alerts.message_normal"
    return catalog.text(
        language,
        key,
        topic=catalog.text(language, f"topic.{topic}"),
        text=html.escape(text.strip()),
        until=until,
    )


def message_screens(
    catalog: Catalog, spec: AlertSpec, tz: ZoneInfo, ack_action: str
) -> dict[str, Screen]:
    """The alert per language the coordinator wrote, with its "got it" button."""
    screens = {}
    for language in TEXT_LANGUAGES:
        text = spec.texts.get(language, "").strip()
        if not text:
            continue
        body = message_text(catalog, language, spec.topic, spec.urgency, text, spec.expires_at, tz)
        button = Option(catalog.text(language, "alerts.got_it"), ack_action)
        screens[language] = Screen(body, ((button,),))
    return screens


def _payload(screen: Screen) -> Payload:
    markup = {
        "inline_keyboard": [
            [{"text": o.label, "callback_data": o.action} for o in row] for row in screen.rows
        ]
    }
    return Payload(screen.text, markup)


def fallback_note_languages(spec: AlertSpec) -> list[str]:
    """Languages whose residents get the Bangla text because nothing was written for them."""
    return [lang for lang in LANGUAGES if not spec.texts.get(lang, "").strip()]


# -- queueing and cancelling -------------------------------------------------------------------


@dataclass(frozen=True)
class Queued:
    alert_id: int
    recipients: int
    deliver_at: datetime
    # Why they are reached, counted just before queueing (`recipients` is what was queued).
    split: RecipientSplit | None = None


async def create_alert(
    sessions: async_sessionmaker[AsyncSession],
    spec: AlertSpec,
    actor: str,
    catalog: Catalog,
    tz: ZoneInfo,
    quiet: QuietHours,
    *,
    known_area: Callable[[str], bool],
    staff: Staff | None = None,
    progress: tuple[int, int, str] | None = None,
    index: AreaIndex | None = None,
) -> Queued:
    """Record the alert (audited) and queue one message per recipient; return its id and reach.

    `staff` (from chat) must cover every area; the command line passes None, acting as the
    operator who holds the database. `progress` is the (chat, message, language) of the
    coordinator's confirmation message, edited later by bot/alerts/progress.py.
    """
    validate(spec, known_area, tz, quiet)
    codes = minimal_areas(spec.area_codes)
    if staff is not None and not all(staff.can(Role.COORDINATOR, code) for code in codes):
        raise AlertError("alerts.not_your_area")
    deliver_at = delivery_time(spec, tz, quiet)
    async with sessions.begin() as session:
        alert = Alert(
            topic=spec.topic,
            urgency=spec.urgency,
            area_codes=list(codes),
            texts={k: v.strip() for k, v in spec.texts.items() if v.strip()},
            send_at=spec.send_at,
            deliver_at=deliver_at,
            expires_at=spec.expires_at,
            status=QUEUEING,
            recipients=0,
            created_by=actor,
            created_at=utcnow(),
            progress_chat_id=progress[0] if progress else None,
            progress_message_id=progress[1] if progress else None,
            progress_language=progress[2] if progress else None,
            progress_final=False,
        )
        session.add(alert)
        await session.flush()
        alert_id = alert.id
        details: dict[str, object] = {
            "alert": alert_id,
            "topic": spec.topic,
            "urgency": spec.urgency,
            "areas": list(codes),
        }
        # One entry per area, so each area's coordinators see it under their scope.
        for code in codes:
            record_audit(session, actor, Act.ALERT_SENT, code, details)
    async with sessions() as session:
        words = await words_for(session, codes, index)
        split = await recipient_split(session, spec.topic, codes, spec.urgency, words=words)
    total = await _fill(
        sessions, catalog, tz, alert_id, replace(spec, area_codes=codes), deliver_at, words
    )
    return Queued(alert_id, total, deliver_at, split)


async def _fill(
    sessions: async_sessionmaker[AsyncSession],
    catalog: Catalog,
    tz: ZoneInfo,
    alert_id: int,
    spec: AlertSpec,
    deliver_at: datetime,
    words: Sequence[str] | None = None,
) -> int:
    """Queue the alert's outbox rows (again, after a crash: only missing ones are added).

    `words`: typed words of unlisted residents it reaches (found again when not given).
    """
    job = Job(JOB_KIND, alert_id)
    screens = message_screens(catalog, spec, tz, f"{ACK_PREFIX}{alert_id}")
    if words is None:
        async with sessions() as session:
            words = await words_for(session, spec.area_codes)
    await enqueue_for_recipients(
        sessions,
        job,
        with_heartbeat(
            sessions,
            alert_id,
            active_recipients(
                sessions, *audience(spec.topic, spec.area_codes, spec.urgency, words)
            ),
        ),
        {language: _payload(screen) for language, screen in screens.items()},
        default_language=PRIMARY_LANGUAGE,
        priority=URGENT if spec.urgency == URGENT_URGENCY else NORMAL,
        not_before=deliver_at,
        expires_at=spec.expires_at,
    )
    async with sessions.begin() as session:
        # Counted from the outbox, so a re-run after a crash still records the whole reach.
        total = (await job_progress(session, job)).total
        await session.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.status == QUEUEING)
            .values(recipients=total, status=QUEUED)
        )
        # Cancelled while the rows were still streaming in: drop what arrived after the cancel.
        alert = await session.get(Alert, alert_id)
        if alert is not None and alert.status == CANCELLED:
            await cancel_job(session, job)
    return total


async def resume_queueing(
    sessions: async_sessionmaker[AsyncSession],
    catalog: Catalog,
    tz: ZoneInfo,
    *,
    stalled_after: timedelta | None = None,
    now: datetime | None = None,
) -> int:
    """Finish queueing alerts a crash interrupted; return how many were resumed.

    At start-up (no `stalled_after`) every alert still queueing is taken; in a running bot only
    those nobody has been queueing for `stalled_after`, each by one process.
    """
    query = select(Alert).where(Alert.status == QUEUEING).order_by(Alert.id)
    if stalled_after is not None:
        ids = await claim_stalled(sessions, now, stalled_after)
        if not ids:
            return 0
        query = query.where(Alert.id.in_(ids))
    async with sessions() as session:
        alerts = list(await session.scalars(query))
    for alert in alerts:
        spec = AlertSpec(
            topic=alert.topic,
            urgency=alert.urgency,
            area_codes=tuple(alert.area_codes),
            texts=dict(alert.texts),
            send_at=alert.send_at,
            expires_at=alert.expires_at,
        )
        await _fill(sessions, catalog, tz, alert.id, spec, alert.deliver_at)
    return len(alerts)


async def cancel_alert(
    session: AsyncSession, alert_id: int, actor: str, *, staff: Staff | None = None
) -> int:
    """Stop an alert: drop its messages not yet sent (audited); return how many were dropped.

    Raise AlertError when there is no such alert, it was cancelled already, or `staff` does not
    cover all of its areas.
    """
    alert = await session.get(Alert, alert_id)
    if alert is None:
        raise AlertError("alerts.unknown", id=alert_id)
    if staff is not None and not all(staff.can(Role.COORDINATOR, c) for c in alert.area_codes):
        raise AlertError("alerts.not_your_area")
    if alert.status == CANCELLED:
        raise AlertError("alerts.already_cancelled", id=alert_id)
    alert.status = CANCELLED
    alert.cancelled_at = utcnow()
    alert.cancelled_by = actor
    dropped = await cancel_job(session, Job(JOB_KIND, alert_id))
    for code in alert.area_codes:
        record_audit(
            session, actor, Act.ALERT_CANCELLED, code, {"alert": alert_id, "dropped": dropped}
        )
    return dropped


# -- status -------------------------------------------------------------------------------------

SCHEDULED, SENDING, DONE, EXPIRED = "scheduled", "sending", "done", "expired"


@dataclass(frozen=True)
class AlertStatus:
    """An alert with its delivery figures, as coordinators and the CLI see it."""

    id: int
    topic: str
    urgency: str
    area_codes: tuple[str, ...]
    texts: Mapping[str, str]
    send_at: datetime
    deliver_at: datetime
    expires_at: datetime | None
    state: str
    recipients: int
    sent: int
    failed: int
    remaining: int
    dropped: Mapping[str, int] = field(default_factory=dict)
    acknowledged: int = 0
    eta_seconds: float | None = None
    created_by: str = ""
    created_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.state in (DONE, EXPIRED, CANCELLED)


def state_of(alert: Alert, progress: JobProgress, now: datetime) -> str:
    """Name where an alert stands: queueing, scheduled, sending, done, expired or cancelled."""
    if alert.status == CANCELLED:
        return CANCELLED
    if alert.status == QUEUEING:
        # Not every recipient's row exists yet, so "remaining" would undercount.
        return QUEUEING
    if progress.remaining:
        if alert.expires_at is not None and alert.expires_at <= now:
            return EXPIRED  # the rows left are dropped at the sender's next round
        return SCHEDULED if alert.deliver_at > now else SENDING
    if progress.counts.get(Status.SENT, 0) == 0 and progress.dropped_by_reason.get("expired"):
        return EXPIRED
    return DONE


async def alert_status(
    session: AsyncSession, alert_id: int, now: datetime | None = None
) -> AlertStatus | None:
    """An alert's status and delivery counts, or None if there is no such alert."""
    alert = await session.get(Alert, alert_id)
    if alert is None:
        return None
    return await status_of(session, alert, now or utcnow())


async def status_of(session: AsyncSession, alert: Alert, now: datetime) -> AlertStatus:
    """An alert's status from its outbox rows and "got it" taps."""
    progress = await job_progress(session, Job(JOB_KIND, alert.id), now)
    acks = await session.scalar(
        select(func.count()).select_from(AlertAck).where(AlertAck.alert_id == alert.id)
    )
    return AlertStatus(
        id=alert.id,
        topic=alert.topic,
        urgency=alert.urgency,
        area_codes=tuple(alert.area_codes),
        texts=dict(alert.texts),
        send_at=alert.send_at,
        deliver_at=alert.deliver_at,
        expires_at=alert.expires_at,
        state=state_of(alert, progress, now),
        recipients=max(alert.recipients, progress.total),
        sent=progress.counts.get(Status.SENT, 0),
        failed=progress.counts.get(Status.FAILED, 0),
        remaining=progress.remaining,
        dropped=dict(progress.dropped_by_reason),
        acknowledged=int(acks or 0) + (alert.forgotten_acks or 0),
        eta_seconds=progress.eta_seconds,
        created_by=alert.created_by,
        created_at=alert.created_at,
    )


async def list_alerts(
    session: AsyncSession,
    *,
    within: Sequence[str] | None = None,
    limit: int = 20,
    now: datetime | None = None,
) -> list[AlertStatus]:
    """The latest alerts, newest first; with `within`, only those inside these scopes."""
    now = now or utcnow()
    found: list[AlertStatus] = []
    query = select(Alert).order_by(Alert.id.desc())
    # Scopes are checked in Python (area lists are JSON); read a bounded number of alerts.
    for alert in await session.scalars(query.limit(limit * 10 if within is not None else limit)):
        if within is not None and not all(
            any(code.startswith(scope) for scope in within) for code in alert.area_codes
        ):
            continue
        found.append(await status_of(session, alert, now))
        if len(found) >= limit:
            break
    return found


# -- residents: "got it" and topics --------------------------------------------------------------


def parse_ack(data: str) -> int | None:
    """The alert id of "ak:<id>" button data, or None."""
    number = data.removeprefix(ACK_PREFIX)
    if not data.startswith(ACK_PREFIX) or not (number.isascii() and number.isdigit()):
        return None
    return int(number) if len(number) < 10 else None


async def acknowledge(session: AsyncSession, alert_id: int, resident: Resident) -> bool | None:
    """Count a "got it" tap once per resident; True if new, False if again, None if not theirs.

    Only a resident the alert was sent to can acknowledge it, so forged taps count nothing.
    """
    mine = [
        OUTBOX.c.job_kind == JOB_KIND,
        OUTBOX.c.job_id == alert_id,
        OUTBOX.c.resident_id == resident.id,
        OUTBOX.c.status == Status.SENT.value,
    ]
    if resident.telegram_id is not None:
        # Naming the chat lets the unique (chat, job) index find the one row; otherwise SQLite
        # walks every sent row of the alert, which grows with its audience.
        mine.append(OUTBOX.c.chat_id == resident.telegram_id)
    sent_to = await session.scalar(select(OUTBOX.c.id).where(*mine))
    if sent_to is None:
        return None
    values = {"alert_id": alert_id, "resident_id": resident.id, "at": utcnow()}
    # Insert-or-nothing, so two quick taps (or two processes) count once.
    stmt: Any
    if session.get_bind().dialect.name == "postgresql":
        stmt = postgresql.insert(AlertAck).values(values).on_conflict_do_nothing()
    else:
        stmt = sqlite.insert(AlertAck).values(values).on_conflict_do_nothing()
    result = await session.execute(stmt)
    if not getattr(result, "rowcount", 0):
        return False
    record(session, EventKind.ALERT_ACKNOWLEDGED, resident, {"job": f"{JOB_KIND}:{alert_id}"})
    return True


async def topics_off(session: AsyncSession, resident_id: int) -> set[str]:
    """Topics the resident turned off."""
    rows = await session.scalars(
        select(ResidentTopic.topic).where(ResidentTopic.resident_id == resident_id)
    )
    return set(rows)


async def toggle_topic(session: AsyncSession, resident: Resident, topic: str) -> bool:
    """Turn a topic off if on, on if off; return whether it is on now (events recorded)."""
    if topic not in TOPICS:
        raise AlertError("alerts.bad_topic", topic=html.escape(topic[:16]))
    result = await session.execute(
        delete(ResidentTopic).where(
            ResidentTopic.resident_id == resident.id, ResidentTopic.topic == topic
        )
    )
    if getattr(result, "rowcount", 0):
        record(session, EventKind.BUTTON_TAPPED, resident, {"topic_on": topic})
        return True
    session.add(ResidentTopic(resident_id=resident.id, topic=topic, changed_at=utcnow()))
    record(session, EventKind.OPTED_OUT, resident, {"topic": topic})
    return False


def topics_screen(t: Translate, off: set[str], back_action: str = "m:settings") -> Screen:
    """The resident's topics, each a button that turns it on or off."""
    options = [
        Option(
            t("topics.off" if topic in off else "topics.on", name=t(f"topic.{topic}")),
            f"{TOPICS_PREFIX}t:{topic}",
        )
        for topic in TOPICS
    ]
    back = t("topics.back_settings") if back_action == "m:settings" else t("settings.back")
    rows = (*rows_of(options, 1), (Option(back, back_action),))
    return Screen(t("topics.title"), rows)


# -- residents: the alerts menu -----------------------------------------------------------------

RECENT_SHOWN = 3


async def current_alerts(
    session: AsyncSession, area_code: str | None, now: datetime, limit: int = RECENT_SHOWN
) -> list[Alert]:
    """Alerts still valid for an area (one of their areas contains it), newest first."""
    if not area_code:
        return []
    query = (
        select(Alert)
        .where(Alert.status == QUEUED, Alert.deliver_at <= now)
        .where(or_(Alert.expires_at.is_(None), Alert.expires_at > now))
        .order_by(Alert.id.desc())
        .limit(limit * 20)
    )
    found = []
    # Area lists are JSON, so containment is checked here, over a bounded number of alerts.
    for alert in await session.scalars(query):
        if any(area_code.startswith(code) for code in alert.area_codes):
            found.append(alert)
            if len(found) >= limit:
                break
    return found


def current_alerts_screen(
    catalog: Catalog, language: str, alerts: Sequence[Alert], tz: ZoneInfo
) -> Screen:
    """The valid alerts for a resident's area as one message, or the "none now" note."""
    if not alerts:
        return Screen(catalog.text(language, "menu.alerts_empty"))
    parts = []
    for alert in alerts:
        text = (
            alert.texts.get(language) or alert.texts.get("bn") or next(iter(alert.texts.values()))
        )
        parts.append(
            message_text(catalog, language, alert.topic, alert.urgency, text, alert.expires_at, tz)
        )
    return Screen("\n\n".join(parts))
