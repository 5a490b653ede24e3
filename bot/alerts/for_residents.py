"""What residents do with alerts: "got it", their topics, the alerts valid for their area now."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.models import Alert, AlertAck, ResidentTopic
from bot.alerts.queueing import QUEUEING as QUEUEING
from bot.alerts.service import message_text
from bot.alerts.vocabulary import (
    ACK_PREFIX,
    JOB_KIND,
    QUEUED,
    TOPICS,
    TOPICS_PREFIX,
    AlertError,
    Translate,
)
from bot.core.base import utcnow
from bot.core.i18n import Catalog
from bot.core.screens import Option, Screen, rows_of
from bot.delivery.outbox import (
    OUTBOX,
    Status,
)
from bot.residents.events import EventKind, record
from bot.residents.models import Resident

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
