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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.alerts.audience import RecipientSplit, audience, minimal_areas, recipient_split, words_for
from bot.alerts.models import Alert
from bot.alerts.queueing import QUEUEING as QUEUEING
from bot.alerts.queueing import claim_stalled, with_heartbeat
from bot.alerts.sms import PREFIX as SMS_PREFIX
from bot.alerts.sms import SmsCost, SmsTextError, sms_cost, sms_texts
from bot.alerts.vocabulary import (
    ACK_PREFIX,
    CANCELLED,
    JOB_KIND,
    MAX_AREAS,
    MAX_TEXT,
    PRIMARY_LANGUAGE,
    QUEUED,
    TEXT_LANGUAGES,
    TOPICS,
    URGENCIES,
    URGENT_URGENCY,
    AlertError,
)
from bot.areas.search import AreaIndex
from bot.core.base import utcnow
from bot.core.i18n import LANGUAGES, Catalog, format_when
from bot.core.screens import Option, Screen
from bot.delivery.outbox import (
    NORMAL,
    SMS,
    URGENT,
    Job,
    Payload,
    active_recipients,
    cancel_job,
    count_reachable,
    enqueue_for_recipients,
    job_progress,
)
from bot.lessons.pushes import QuietHours, out_of_quiet
from bot.staff.audit import Act, record_audit
from bot.staff.roles import Role, Staff, is_area_code


@dataclass(frozen=True)
class AlertSpec:
    """What a coordinator (or another system) asks for."""

    topic: str
    urgency: str
    area_codes: tuple[str, ...]
    texts: Mapping[str, str]
    send_at: datetime
    expires_at: datetime | None
    # Short texts for residents on SMS, per language (optional; see bot/alerts/sms.py).
    sms_texts: Mapping[str, str] = field(default_factory=dict)


def next_allowed_time(now: datetime, tz: ZoneInfo, quiet: QuietHours) -> datetime:
    """`now` itself, or the end of the quiet hours it falls in (aware, UTC)."""
    return out_of_quiet(now, tz, quiet)


def delivery_time(spec: AlertSpec, tz: ZoneInfo, quiet: QuietHours) -> datetime:
    """When an alert's messages may go out: urgent ones at once, normal ones not in quiet hours."""
    if spec.urgency == URGENT_URGENCY:
        return spec.send_at
    return next_allowed_time(spec.send_at, tz, quiet)


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


def sms_payloads(catalog: Catalog, spec: AlertSpec) -> dict[str, str]:
    """The SMS text per "sms:<language>"; AlertError when one cannot be made."""
    try:
        return sms_texts(
            catalog, spec.topic, spec.urgency == URGENT_URGENCY, spec.texts, spec.sms_texts
        )
    except SmsTextError as exc:
        raise AlertError(exc.key, lang=exc.language, parts=exc.parts) from exc


async def sms_preview(session: AsyncSession, catalog: Catalog, spec: AlertSpec) -> list[SmsCost]:
    """SMS the alert would cost now, per language (recipients × parts); AlertError as above."""
    codes = minimal_areas(spec.area_codes)
    conditions = audience(spec.topic, codes, spec.urgency, await words_for(session, codes))
    if not await count_reachable(session, *conditions, channel=SMS) and not spec.sms_texts:
        return []
    return await sms_cost(session, conditions, sms_payloads(catalog, spec), PRIMARY_LANGUAGE)


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
    async with sessions() as session:
        sms_words = await words_for(session, codes, index)
        on_sms = await count_reachable(
            session, *audience(spec.topic, codes, spec.urgency, sms_words), channel=SMS
        )
    if on_sms or spec.sms_texts:
        sms_payloads(catalog, spec)  # raises AlertError when no SMS text can be made
    async with sessions.begin() as session:
        alert = Alert(
            topic=spec.topic,
            urgency=spec.urgency,
            area_codes=list(codes),
            texts={k: v.strip() for k, v in spec.texts.items() if v.strip()},
            sms_texts={k: v.strip() for k, v in spec.sms_texts.items() if v.strip()} or None,
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
    try:
        short = sms_payloads(catalog, spec)
    except AlertError:
        short = {}  # nobody was on SMS when the alert was checked
    if short:
        await enqueue_for_recipients(
            sessions,
            job,
            with_heartbeat(
                sessions,
                alert_id,
                active_recipients(
                    sessions,
                    *audience(spec.topic, spec.area_codes, spec.urgency, words),
                    channel=SMS,
                    language_prefix=SMS_PREFIX,
                ),
            ),
            {language: Payload(text) for language, text in short.items()},
            default_language=SMS_PREFIX + PRIMARY_LANGUAGE,
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
            sms_texts=dict(alert.sms_texts or {}),
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
