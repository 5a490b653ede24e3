"""Tables for staff work: roles, invitations, the brute-force guard, audit, aggregates, secrets.

Staff are known by a pseudonym ("st-" and 8 hex digits) everywhere staff can read, so the audit
log and staff lists never carry a Telegram id; the id is kept only to recognise the person.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.core.base import Base, UTCDateTime, utcnow

_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER keys only


def new_staff_pseudonym() -> str:
    """Return a short random name that stands for a staff member in anything staff read."""
    return "st-" + uuid.uuid4().hex[:8]


class StaffAccount(Base):
    """A person who holds (or held) a staff role."""

    __tablename__ = "staff_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    pseudonym: Mapped[str] = mapped_column(String(16), unique=True, default=new_staff_pseudonym)
    # A name an admin chose, or the first name given when the invitation was used, so that
    # admins can tell their colleagues apart without seeing Telegram ids.
    name: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RoleGrant(Base):
    """One role in one scope; revoked grants stay, with who revoked them and when."""

    __tablename__ = "staff_roles"
    __table_args__ = (Index("ix_staff_roles_account_active", "account_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("staff_accounts.id", ondelete="CASCADE")
    )
    role: Mapped[str] = mapped_column(String(16))
    # An area code; "" is the whole country (national admins only).
    scope: Mapped[str] = mapped_column(String(8))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    granted_by: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(64))


class Invitation(Base):
    """A one-time code that grants a role; only its hash is stored."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(8))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The staff pseudonym of the person who used it, never their Telegram id.
    used_by: Mapped[str | None] = mapped_column(String(16))


class InviteAttempts(Base):
    """Wrong invitation codes from one person, to slow down and then refuse guessing.

    Kept in the database (not in memory) so that several bot processes, or a restart,
    do not reset a guesser's count. Never shown to anyone; a row goes on success and is
    swept once it has been quiet for a day.
    """

    __tablename__ = "invite_attempts"

    telegram_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEntry(Base):
    """One privileged act, appended and never edited."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A staff pseudonym, or "cli:<operating-system user>".
    actor: Mapped[str] = mapped_column(String(64))
    act: Mapped[str] = mapped_column(String(32))
    # The area the act concerned; "" for the whole country or none in particular.
    scope: Mapped[str] = mapped_column(String(8))
    details: Mapped[dict[str, object] | None] = mapped_column(JSON)


class EventAggregate(Base):
    """Events of one kind in one area in one month, kept after the raw events are purged.

    `subjects` counts distinct residents within this month, area and kind only: distinct
    counts cannot be added across months or kinds (one person would count twice), which is
    why the retention job writes whole months once, plus the "*reached" and "*engaged" rows
    that count distinct residents across the kinds that make them.
    """

    __tablename__ = "event_aggregates"

    # First day of the month, "YYYY-MM".
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    # "" when the events had no area (resident's area unknown).
    area_code: Mapped[str] = mapped_column(String(8), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    events: Mapped[int] = mapped_column(BigInteger)
    subjects: Mapped[int] = mapped_column(BigInteger)


class AppSecret(Base):
    """A secret the bot made for itself on first start (when the environment gives none)."""

    __tablename__ = "app_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
