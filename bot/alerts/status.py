"""Where an alert stands: queueing, waiting, sending, done, cancelled or expired, with counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.models import Alert, AlertAck
from bot.alerts.queueing import QUEUEING as QUEUEING
from bot.alerts.vocabulary import CANCELLED, JOB_KIND
from bot.core.base import utcnow
from bot.delivery.outbox import (
    Job,
    JobProgress,
    Status,
    job_progress,
)

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
