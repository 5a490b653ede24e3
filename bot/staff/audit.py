"""The audit log: every privileged act, who did it, when, what and where.

Call `record_audit(session, actor, act, scope, details)` in the same session (and so the same
transaction) as the act itself, so an act that is rolled back leaves no entry and an entry
never goes missing for an act that happened. `actor` is a staff pseudonym (`staff.pseudonym`)
or `cli_actor()`; `scope` is the area code the act concerned ("" for national or none).
Details must not identify residents: keys that would carry a Telegram id, username or name
are refused, because staff read this log.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.base import utcnow
from bot.staff.models import AuditEntry

# Keys that would put a person's identity into a log staff can read.
FORBIDDEN_DETAIL_KEYS = frozenset(
    {"telegram_id", "user_id", "chat_id", "username", "first_name", "phone", "name"}
)


class Act(StrEnum):
    ROLE_GRANTED = "role_granted"
    ROLE_REVOKED = "role_revoked"
    INVITE_CREATED = "invite_created"
    INVITE_USED = "invite_used"
    LESSON_PUSHED = "lesson_pushed"
    COURSE_PUSHED = "course_pushed"
    ALERT_SENT = "alert_sent"
    ALERT_CANCELLED = "alert_cancelled"
    EXPORT_UNSUPPRESSED = "export_unsuppressed"
    EXPORT_PERSONAL_DATA = "export_personal_data"
    RETENTION_PURGE = "retention_purge"
    PERSON_REGISTERED = "person_registered"


def cli_actor(user: str | None = None) -> str:
    """Name the operator at the command line as an audit actor ("cli:<os user>")."""
    if user is None:
        try:
            user = getpass.getuser()
        except (OSError, KeyError):
            user = "unknown"
    return f"cli:{user}"[:64]


def record_audit(
    session: AsyncSession,
    actor: str,
    act: Act | str,
    scope: str,
    details: Mapping[str, object] | None = None,
    at: datetime | None = None,
) -> None:
    """Append an audit entry to the session; it is written when the session commits."""
    clean = dict(details or {})
    bad = FORBIDDEN_DETAIL_KEYS.intersection(clean)
    if bad:
        raise ValueError(f"audit details must not identify people: {sorted(bad)}")
    session.add(
        AuditEntry(
            at=at or utcnow(),
            actor=actor[:64],
            act=str(act),
            scope=scope,
            details=clean or None,
        )
    )


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    actor: str
    act: str
    scope: str
    details: Mapping[str, object]


async def audit_entries(
    session: AsyncSession,
    since: datetime | None = None,
    *,
    act: Act | str | None = None,
    limit: int | None = None,
    newest: bool = False,
) -> list[AuditRecord]:
    """Audit entries in the order they were written, optionally from `since` on.

    With `limit`, the first `limit` entries, or the last ones when `newest` is set (still in
    the order they were written).
    """
    query = select(AuditEntry)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if act is not None:
        query = query.where(AuditEntry.act == str(act))
    if limit is not None and newest:
        query = query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
        found = list(await session.scalars(query))
        found.reverse()
    else:
        query = query.order_by(AuditEntry.at, AuditEntry.id)
        if limit is not None:
            query = query.limit(limit)
        found = list(await session.scalars(query))
    return [AuditRecord(e.at, e.actor, e.act, e.scope, dict(e.details or {})) for e in found]
