"""Staff roles and their scopes: who may do what, and where.

Every resident is a `Role.RESIDENT`; staff roles are `TRAINER` < `COORDINATOR` < `ADMIN`, each
granted in a *scope*: an area code, covering that area and everything below it (BBS geocodes:
a child's code starts with its parent's). "" is the whole country, for national admins only.
A higher role includes the powers of the lower ones in the same scope: a coordinator of Sylhet
division may do what a trainer of Sylhet division may.

Calling it from a service (plain values in, `NotAllowed` out)::

    staff = await require(session, telegram_id, Role.TRAINER, area_code)  # raises NotAllowed
    record_audit(session, staff.pseudonym, Act.LESSON_PUSHED, area_code, {"lesson": slug})

    scopes = await staff_scope(session, telegram_id, Role.COORDINATOR)  # e.g. ["60"]
    if any(covers(scope, district) for scope in scopes): ...

    staff = await staff_of(session, telegram_id)  # Staff | None, one query
    staff.can(Role.TRAINER, "60586565"); staff.scopes(Role.TRAINER); staff.pseudonym

Calling it from a router: `handlers.roles_filter.HasRole(Role.TRAINER)` as a router-level
filter; it loads the caller's roles once per update and hands handlers `staff: Staff`.
Use `staff.pseudonym` (never a Telegram id) as the audit actor. Roles are given by
`grant_role` (the CLI's bootstrap, and invitations in `bot.staff.invitations`) and taken by
`revoke_grant`/`revoke_roles`; all of them write the audit log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.areas.models import Area
from bot.core.base import utcnow
from bot.staff.audit import Act, record_audit
from bot.staff.models import RoleGrant, StaffAccount

# Lengths of division, district, upazila and union codes.
AREA_CODE_LENGTHS = frozenset({2, 4, 6, 8})
NATIONAL = ""


class Role(StrEnum):
    RESIDENT = "resident"
    TRAINER = "trainer"
    COORDINATOR = "coordinator"
    ADMIN = "admin"


RANK = {Role.RESIDENT: 0, Role.TRAINER: 1, Role.COORDINATOR: 2, Role.ADMIN: 3}
STAFF_ROLES = (Role.TRAINER, Role.COORDINATOR, Role.ADMIN)


class NotAllowed(Exception):
    """The person lacks the role in a scope covering the area they acted on."""

    def __init__(self, role: Role, area_code: str) -> None:
        super().__init__(f"needs {role.value} covering area {area_code or 'national'!r}")
        self.role = role
        self.area_code = area_code


class BadScope(ValueError):
    """An area code that is no area, or a national scope for a role that cannot have one."""


class UnknownStaff(LookupError):
    """No such staff member or role grant (or it was revoked already)."""


def parse_role(text: str) -> Role | None:
    """Read a staff role's name as typed ("Trainer", "coordinator"); None if it is none."""
    try:
        role = Role(text.strip().lower())
    except ValueError:
        return None
    return role if role in STAFF_ROLES else None


def covers(scope_code: str, area_code: str) -> bool:
    """Tell whether a role in `scope_code` reaches `area_code` ("" covers the whole country)."""
    if scope_code == NATIONAL:
        return True
    # isascii: str.isdigit() also takes "¹" and "৬", which are no area codes.
    return area_code.startswith(scope_code) and area_code.isascii() and area_code.isdigit()


def is_area_code(code: str) -> bool:
    """Tell whether `code` is shaped like a BBS geocode (not whether the area exists)."""
    return code.isascii() and code.isdigit() and len(code) in AREA_CODE_LENGTHS


@dataclass(frozen=True)
class Grant:
    id: int
    role: Role
    scope: str


@dataclass(frozen=True)
class Staff:
    """A staff member's active roles, as plain values."""

    account_id: int
    pseudonym: str
    name: str | None
    grants: tuple[Grant, ...]

    def can(self, role: Role, area_code: str) -> bool:
        """Tell whether some grant at least as high as `role` covers `area_code`."""
        return any(RANK[g.role] >= RANK[role] and covers(g.scope, area_code) for g in self.grants)

    def scopes(self, role: Role) -> list[str]:
        """Area codes where the person acts as `role` or higher, without covered duplicates."""
        return minimal_scopes(g.scope for g in self.grants if RANK[g.role] >= RANK[role])

    @property
    def highest(self) -> Role:
        return max((g.role for g in self.grants), key=RANK.__getitem__, default=Role.RESIDENT)


def minimal_scopes(scopes: Iterable[str]) -> list[str]:
    """Drop scopes that another scope in the list covers; sorted."""
    unique = sorted(set(scopes), key=lambda s: (len(s), s))
    kept: list[str] = []
    for scope in unique:
        if not any(_scope_within(outer, scope) for outer in kept):
            kept.append(scope)
    return sorted(kept)


def may_grant(staff: Staff, role: Role, scope: str) -> bool:
    """Tell whether `staff` may hand `role` in `scope` to someone (by invitation).

    Admins may give any role within their scope; coordinators may give the trainer role
    within theirs; trainers give none.
    """
    if role not in STAFF_ROLES:
        return False
    if scope == NATIONAL and role != Role.ADMIN:
        return False
    if any(g.role == Role.ADMIN and _scope_within(g.scope, scope) for g in staff.grants):
        return True
    return role == Role.TRAINER and any(
        g.role == Role.COORDINATOR and _scope_within(g.scope, scope) for g in staff.grants
    )


def may_manage(staff: Staff, grant: Grant) -> bool:
    """Tell whether `staff` may revoke `grant` (an admin whose scope covers the grant's)."""
    return any(g.role == Role.ADMIN and _scope_within(g.scope, grant.scope) for g in staff.grants)


def _scope_within(outer: str, inner: str) -> bool:
    # A national scope is within only another national one.
    return outer == NATIONAL or (inner != NATIONAL and covers(outer, inner))


async def staff_of(session: AsyncSession, telegram_id: int) -> Staff | None:
    """Load a person's active staff roles in one query; None if they have none."""
    rows = (
        await session.execute(
            select(StaffAccount, RoleGrant)
            .join(RoleGrant, RoleGrant.account_id == StaffAccount.id)
            .where(StaffAccount.telegram_id == telegram_id, RoleGrant.revoked_at.is_(None))
            .order_by(RoleGrant.id)
        )
    ).all()
    if not rows:
        return None
    account = rows[0][0]
    return Staff(
        account_id=account.id,
        pseudonym=account.pseudonym,
        name=account.name,
        grants=tuple(Grant(g.id, Role(g.role), g.scope) for _, g in rows),
    )


async def staff_scope(session: AsyncSession, telegram_id: int, role: Role) -> list[str]:
    """Area codes where the person acts as `role` or higher ([] if nowhere; [""] if national)."""
    staff = await staff_of(session, telegram_id)
    return staff.scopes(role) if staff else []


async def require(session: AsyncSession, telegram_id: int, role: Role, area_code: str) -> Staff:
    """Return the person's roles if one at least as high as `role` covers `area_code`.

    Raise NotAllowed otherwise. Use "" as `area_code` for acts on the whole country.
    """
    staff = await staff_of(session, telegram_id)
    if staff is None or not staff.can(role, area_code):
        raise NotAllowed(role, area_code)
    return staff


async def check_scope(session: AsyncSession, role: Role, scope: str) -> None:
    """Raise BadScope unless `scope` is an existing area (or "" for a national admin)."""
    if scope == NATIONAL:
        if role != Role.ADMIN:
            raise BadScope("only admins may be national")
        return
    if not is_area_code(scope) or await session.get(Area, scope) is None:
        raise BadScope(f"no area with code {scope[:16]!r}")


async def grant_role(
    session: AsyncSession,
    telegram_id: int,
    role: Role,
    scope: str,
    actor: str,
    *,
    name: str | None = None,
    now: datetime | None = None,
    via: str | None = None,
) -> tuple[Staff, bool]:
    """Give a person a role in a scope (audited); return their roles and whether it was new."""
    if role not in STAFF_ROLES:
        raise BadScope(f"{role.value} is not a staff role")
    await check_scope(session, role, scope)
    now = now or utcnow()
    account = await session.scalar(
        select(StaffAccount).where(StaffAccount.telegram_id == telegram_id)
    )
    if account is None:
        account = StaffAccount(telegram_id=telegram_id, name=(name or "")[:64] or None)
        session.add(account)
        await session.flush()
    elif name and not account.name:
        account.name = name[:64]
    existing = await session.scalar(
        select(RoleGrant).where(
            RoleGrant.account_id == account.id,
            RoleGrant.role == role.value,
            RoleGrant.scope == scope,
            RoleGrant.revoked_at.is_(None),
        )
    )
    created = existing is None
    if created:
        session.add(
            RoleGrant(
                account_id=account.id,
                role=role.value,
                scope=scope,
                granted_at=now,
                granted_by=actor,
            )
        )
        details: dict[str, object] = {"staff": account.pseudonym, "role": role.value}
        if via:
            details["via"] = via
        record_audit(session, actor, Act.ROLE_GRANTED, scope, details, at=now)
        await session.flush()
    staff = await staff_of(session, telegram_id)
    assert staff is not None
    return staff, created


async def revoke_grant(
    session: AsyncSession, grant_id: int, actor: str, *, now: datetime | None = None
) -> Grant:
    """Revoke one active grant (audited); raise UnknownStaff if there is none by that id."""
    now = now or utcnow()
    row = await session.get(RoleGrant, grant_id)
    if row is None or row.revoked_at is not None:
        raise UnknownStaff(grant_id)
    account = await session.get(StaffAccount, row.account_id)
    row.revoked_at = now
    row.revoked_by = actor
    record_audit(
        session,
        actor,
        Act.ROLE_REVOKED,
        row.scope,
        {"staff": account.pseudonym if account else None, "role": row.role},
        at=now,
    )
    await session.flush()
    return Grant(row.id, Role(row.role), row.scope)


async def grant_by_id(session: AsyncSession, grant_id: int) -> Grant | None:
    """Return an active grant by id, or None."""
    row = await session.get(RoleGrant, grant_id)
    if row is None or row.revoked_at is not None:
        return None
    return Grant(row.id, Role(row.role), row.scope)


async def find_account(
    session: AsyncSession, *, telegram_id: int | None = None, pseudonym: str | None = None
) -> StaffAccount | None:
    """Find a staff account by Telegram id (operators) or pseudonym (what staff see)."""
    if telegram_id is not None:
        return await session.scalar(
            select(StaffAccount).where(StaffAccount.telegram_id == telegram_id)
        )
    if pseudonym is not None:
        return await session.scalar(select(StaffAccount).where(StaffAccount.pseudonym == pseudonym))
    return None


async def revoke_roles(
    session: AsyncSession,
    account: StaffAccount,
    actor: str,
    *,
    role: Role | None = None,
    scope: str | None = None,
    now: datetime | None = None,
) -> list[Grant]:
    """Revoke a person's active grants, all or those of one role and/or scope (audited)."""
    query = select(RoleGrant.id).where(
        RoleGrant.account_id == account.id, RoleGrant.revoked_at.is_(None)
    )
    if role is not None:
        query = query.where(RoleGrant.role == role.value)
    if scope is not None:
        query = query.where(RoleGrant.scope == scope)
    ids = list(await session.scalars(query.order_by(RoleGrant.id)))
    return [await revoke_grant(session, grant_id, actor, now=now) for grant_id in ids]


@dataclass(frozen=True)
class StaffListing:
    pseudonym: str
    name: str | None
    grants: tuple[Grant, ...]


async def list_staff(session: AsyncSession, within: str = NATIONAL) -> list[StaffListing]:
    """Everyone with an active grant whose scope lies within `within` ("" for everyone)."""
    rows = (
        await session.execute(
            select(StaffAccount, RoleGrant)
            .join(RoleGrant, RoleGrant.account_id == StaffAccount.id)
            .where(RoleGrant.revoked_at.is_(None))
            .order_by(StaffAccount.id, RoleGrant.id)
        )
    ).all()
    people: dict[int, StaffListing] = {}
    for account, grant in rows:
        if not _scope_within(within, grant.scope):
            continue
        listing = people.get(account.id) or StaffListing(account.pseudonym, account.name, ())
        people[account.id] = StaffListing(
            listing.pseudonym,
            listing.name,
            (*listing.grants, Grant(grant.id, Role(grant.role), grant.scope)),
        )
    return list(people.values())
