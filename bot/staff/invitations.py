"""One-time invitations that give a staff role, and the guard against guessing their codes.

An admin (any role within their scope) or a coordinator (trainers within theirs) creates an
invitation; the code is shown once, as `/start inv-CODE` and a t.me start link, and only its
SHA-256 is stored. Plain SHA-256 is enough because the codes are random (about 79 bits), not
chosen by people: there is no dictionary to try. A code works once, before it expires.

Guessing is slowed down per person: after `free_failures` wrong codes each further try must
wait twice as long as the last, and after `max_failures` the person is refused for `lockout`.
While someone must wait, their tries are answered without looking at the code at all.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.base import utcnow
from bot.staff.audit import Act, record_audit
from bot.staff.models import Invitation, InviteAttempts
from bot.staff.roles import NotAllowed, Role, Staff, check_scope, grant_role, may_grant

# No 0/o, 1/l/i: a code may be read out over a phone call.
CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
CODE_LENGTH = 16
START_PREFIX = "inv-"
DEFAULT_TTL = timedelta(days=7)
MAX_TTL = timedelta(days=30)
_DURATION = re.compile(r"^\s*(\d{1,4})\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class InvitationRefused(Exception):
    """The code did not give a role; `reason` says why, `until` how long to wait."""

    def __init__(self, reason: str, until: datetime | None = None) -> None:
        super().__init__(reason)
        self.reason = reason  # invalid, expired, used, wait, locked
        self.until = until


@dataclass(frozen=True)
class GuardPolicy:
    free_failures: int = 3
    base_delay: timedelta = timedelta(seconds=10)
    max_failures: int = 8
    lockout: timedelta = timedelta(hours=1)
    # A quiet day forgives earlier mistakes.
    forget_after: timedelta = timedelta(days=1)


@dataclass(frozen=True)
class GuardState:
    failures: int
    last_failure_at: datetime
    locked_until: datetime | None = None


def guard_verdict(
    state: GuardState | None, policy: GuardPolicy, now: datetime
) -> tuple[str, datetime | None]:
    """Whether a person may try a code now: ("ok", None), ("wait", until) or ("locked", until)."""
    if state is None:
        return "ok", None
    if state.locked_until is not None and now < state.locked_until:
        return "locked", state.locked_until
    if now - state.last_failure_at >= policy.forget_after:
        return "ok", None
    if state.failures >= policy.free_failures:
        delay = policy.base_delay * 2 ** (state.failures - policy.free_failures)
        until = state.last_failure_at + delay
        if now < until:
            return "wait", until
    return "ok", None


def after_failure(state: GuardState | None, policy: GuardPolicy, now: datetime) -> GuardState:
    """The guard's state after one more wrong code."""
    fresh = (
        state is None
        or now - state.last_failure_at >= policy.forget_after
        or (state.locked_until is not None and now >= state.locked_until)
    )
    failures = 1 if fresh or state is None else state.failures + 1
    locked = now + policy.lockout if failures >= policy.max_failures else None
    return GuardState(failures, now, locked)


def parse_duration(text: str) -> timedelta | None:
    """Read "7d", "12h", "90m" or "2w"; None if it is none of those or longer than MAX_TTL."""
    match = _DURATION.match(text)
    if not match:
        return None
    amount = int(match.group(1))
    value = timedelta(**{_UNITS[match.group(2).lower()]: amount})
    return value if timedelta(0) < value <= MAX_TTL else None


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def normalise_code(raw: str) -> str | None:
    """The code part of what a person sent ("inv-ABCD…" or the bare code); None if malformed."""
    code = raw.strip().lower()
    if code.startswith(START_PREFIX):
        code = code[len(START_PREFIX) :]
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return code


@dataclass(frozen=True)
class IssuedInvitation:
    id: int
    code: str
    role: Role
    scope: str
    expires_at: datetime

    @property
    def start_payload(self) -> str:
        return START_PREFIX + self.code

    def link(self, bot_username: str) -> str:
        return f"https://t.me/{bot_username}?start={self.start_payload}"


async def create_invitation(
    session: AsyncSession,
    actor: str,
    role: Role,
    scope: str,
    *,
    creator: Staff | None,
    ttl: timedelta = DEFAULT_TTL,
    now: datetime | None = None,
) -> IssuedInvitation:
    """Make an invitation (audited). `creator` None means the CLI operator, who may give any.

    Raise NotAllowed when the creator may not give this role here, BadScope for no such area.
    """
    if creator is not None and not may_grant(creator, role, scope):
        raise NotAllowed(role, scope)
    await check_scope(session, role, scope)
    if not timedelta(0) < ttl <= MAX_TTL:
        raise ValueError(f"an invitation lasts between a minute and {MAX_TTL.days} days")
    now = now or utcnow()
    code = new_code()
    row = Invitation(
        code_hash=hash_code(code),
        role=role.value,
        scope=scope,
        created_by=actor,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(row)
    await session.flush()
    record_audit(
        session,
        actor,
        Act.INVITE_CREATED,
        scope,
        {"invitation": row.id, "role": role.value, "expires_at": row.expires_at.isoformat()},
        at=now,
    )
    return IssuedInvitation(row.id, code, role, scope, row.expires_at)


async def _fail(
    session: AsyncSession,
    telegram_id: int,
    guard: InviteAttempts | None,
    policy: GuardPolicy,
    now: datetime,
    reason: str,
) -> InvitationRefused:
    state = GuardState(guard.failures, guard.last_failure_at, guard.locked_until) if guard else None
    new = after_failure(state, policy, now)
    if guard is None:
        session.add(
            InviteAttempts(
                telegram_id=telegram_id,
                failures=new.failures,
                last_failure_at=new.last_failure_at,
                locked_until=new.locked_until,
            )
        )
    else:
        guard.failures = new.failures
        guard.last_failure_at = new.last_failure_at
        guard.locked_until = new.locked_until
    return InvitationRefused(reason)


async def redeem(
    session: AsyncSession,
    telegram_id: int,
    raw_code: str,
    *,
    name: str | None = None,
    now: datetime | None = None,
    policy: GuardPolicy | None = None,
) -> tuple[Staff, Role, str]:
    """Use an invitation: give its role to the person (audited) and return (staff, role, scope).

    Raise InvitationRefused (its failure counted, so commit the session) otherwise.
    """
    now = now or utcnow()
    policy = policy or GuardPolicy()
    guard = await session.get(InviteAttempts, telegram_id)
    state = GuardState(guard.failures, guard.last_failure_at, guard.locked_until) if guard else None
    verdict, until = guard_verdict(state, policy, now)
    if verdict != "ok":
        raise InvitationRefused(verdict, until)
    code = normalise_code(raw_code)
    invitation = (
        await session.scalar(select(Invitation).where(Invitation.code_hash == hash_code(code)))
        if code
        else None
    )
    if invitation is None:
        raise await _fail(session, telegram_id, guard, policy, now, "invalid")
    if invitation.used_at is not None:
        raise await _fail(session, telegram_id, guard, policy, now, "used")
    if invitation.expires_at <= now:
        raise await _fail(session, telegram_id, guard, policy, now, "expired")
    # Claim it with a conditional UPDATE, so that of two people using the same code at
    # once exactly one wins, on SQLite and PostgreSQL alike.
    result = await session.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.used_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if cast(Any, result).rowcount != 1:
        raise await _fail(session, telegram_id, guard, policy, now, "used")
    role = Role(invitation.role)
    staff, _ = await grant_role(
        session,
        telegram_id,
        role,
        invitation.scope,
        invitation.created_by,
        name=name,
        now=now,
        via=f"invitation:{invitation.id}",
    )
    await session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id)
        .values(used_by=staff.pseudonym)
        .execution_options(synchronize_session=False)
    )
    if guard is not None:
        await session.delete(guard)
    record_audit(
        session,
        staff.pseudonym,
        Act.INVITE_USED,
        invitation.scope,
        {"invitation": invitation.id, "role": role.value, "staff": staff.pseudonym},
        at=now,
    )
    return staff, role, invitation.scope


async def forget_stale_attempts(
    session: AsyncSession, now: datetime | None = None, policy: GuardPolicy | None = None
) -> int:
    """Delete guard rows that no longer hold anyone back; return how many."""
    now = now or utcnow()
    policy = policy or GuardPolicy()
    result = await session.execute(
        delete(InviteAttempts)
        .where(
            InviteAttempts.last_failure_at < now - policy.forget_after,
            or_(
                InviteAttempts.locked_until.is_(None),
                and_(InviteAttempts.locked_until.is_not(None), InviteAttempts.locked_until < now),
            ),
        )
        .execution_options(synchronize_session=False)
    )
    return int(cast(Any, result).rowcount or 0)
