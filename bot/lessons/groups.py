"""Workshop groups: a trainer makes one for an area and gets a short join code.

Residents join with `/join CODE` or a start link (`/start join-CODE`). Staff summaries show
how many joined, never who: member rows point at residents, and only counts leave here.
"""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.base import utcnow
from bot.core.screens import Reply, Screen
from bot.lessons.models import GroupMember, WorkshopGroup
from bot.residents.conversation import Conversation

# No 0/O, 1/I/L: a code is read aloud in a workshop and typed on a feature phone keyboard.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
START_PREFIX = "join-"


@dataclass(frozen=True)
class GroupSummary:
    id: int
    name: str
    area_code: str
    join_code: str
    members: int


def new_join_code() -> str:
    """A random code of CODE_LENGTH letters and digits (31^6, about 890 million)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(typed: str) -> str:
    """Read a code as typed: any case, spaces and dashes ignored, "join-" prefix allowed."""
    code = typed.strip()
    if code.lower().startswith(START_PREFIX):
        code = code[len(START_PREFIX) :]
    return "".join(ch for ch in code.upper() if ch.isalnum())[:16]


async def create_group(
    session: AsyncSession, name: str, area_code: str, trainer_id: int, now: datetime | None = None
) -> WorkshopGroup:
    """Make a group with a fresh join code (permission is the caller's to check)."""
    for _ in range(5):
        code = new_join_code()
        taken = await session.scalar(
            select(WorkshopGroup.id).where(WorkshopGroup.join_code == code)
        )
        if taken is None:
            break
    group = WorkshopGroup(
        name=name[:128],
        area_code=area_code,
        join_code=code,
        created_by=trainer_id,
        created_at=now or utcnow(),
    )
    session.add(group)
    await session.flush()
    return group


async def group_by_code(session: AsyncSession, code: str) -> WorkshopGroup | None:
    return await session.scalar(
        select(WorkshopGroup).where(WorkshopGroup.join_code == normalize_code(code))
    )


async def groups_of(session: AsyncSession, trainer_id: int) -> list[GroupSummary]:
    """A trainer's groups with member counts."""
    members = (
        select(GroupMember.group_id, func.count().label("n"))
        .group_by(GroupMember.group_id)
        .subquery()
    )
    rows = await session.execute(
        select(WorkshopGroup, func.coalesce(members.c.n, 0))
        .outerjoin(members, members.c.group_id == WorkshopGroup.id)
        .where(WorkshopGroup.created_by == trainer_id)
        .order_by(WorkshopGroup.id)
    )
    return [GroupSummary(g.id, g.name, g.area_code, g.join_code, int(count)) for g, count in rows]


async def area_of_group(session: AsyncSession, group_id: int) -> str | None:
    group = await session.get(WorkshopGroup, group_id)
    return group.area_code if group else None


async def member_count(session: AsyncSession, group_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(GroupMember).where(GroupMember.group_id == group_id)
        )
        or 0
    )


async def join_reply(conversation: Conversation, typed: str | None) -> Reply:
    """A resident joins a group by code; before sign-up they are asked to sign up first."""
    t = conversation.t
    if not typed or not normalize_code(typed):
        return Reply([Screen(t("group.join_usage"))])
    code = normalize_code(typed)
    if not conversation.onboarded:
        onboarding = await conversation.start()
        return Reply([Screen(t("group.signup_first", code=code)), *onboarding.screens])
    group = await group_by_code(conversation.session, code)
    if group is None:
        return Reply([Screen(t("group.bad_code"))])
    resident = conversation.resident
    assert resident is not None
    name = html.escape(group.name)
    existing = await conversation.session.get(GroupMember, (group.id, resident.id))
    if existing is not None:
        return Reply([Screen(t("group.already", name=name))])
    try:
        async with conversation.session.begin_nested():
            conversation.session.add(
                GroupMember(group_id=group.id, resident_id=resident.id, joined_at=conversation.now)
            )
    except IntegrityError:
        # The same resident joining twice at once (two taps): the other one won.
        return Reply([Screen(t("group.already", name=name))])
    return Reply([Screen(t("group.joined", name=name))])
