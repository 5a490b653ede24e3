"""Coordinators' tags on areas ("haor", "char", "hill"): need they know and the census does not.

Sabai ships no tag list: which upazilas are haor is the coordinators' call (docs/reach.md and
the README say how to tag them). A tag on an area covers everything below it, so tagging a
district tags its upazilas and unions. Tagging is audited under the area.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.areas.models import Area, AreaTag
from bot.staff.audit import record_audit

AREA_TAGGED = "area_tagged"
AREA_UNTAGGED = "area_untagged"
_TAG = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class TagError(ValueError):
    """A tag or an area code that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class TaggedArea:
    code: str
    name_en: str
    level: str
    tag: str


def normalise_tag(tag: str) -> str:
    """The tag as stored (lower case), or TagError naming the rule it breaks."""
    cleaned = tag.strip().lower()
    if not _TAG.match(cleaned):
        raise TagError(
            f"tag {tag[:40]!r} must start with a letter and hold only a-z, 0-9, '-' or '_' "
            "(at most 32)"
        )
    return cleaned


def parse_codes(text: str) -> list[str]:
    """Area codes from "605865,605814" (spaces allowed), or TagError."""
    codes = [c.strip() for c in text.split(",") if c.strip()]
    if not codes:
        raise TagError("give at least one area code, e.g. --area 605865,605814")
    bad = [c for c in codes if not (c.isascii() and c.isdigit() and len(c) in (2, 4, 6, 8))]
    if bad:
        raise TagError(f"{bad[0][:16]!r} is not an area code (2, 4, 6 or 8 digits)")
    return codes


async def _known(session: AsyncSession, codes: Sequence[str]) -> None:
    found = set(await session.scalars(select(Area.code).where(Area.code.in_(codes))))
    missing = [c for c in codes if c not in found]
    if missing:
        raise TagError(f"no area with code {missing[0]!r} (see `sabai areas import`)")


async def tag_areas(session: AsyncSession, codes: Sequence[str], tag: str, actor: str) -> int:
    """Put `tag` on the areas (audited); return how many were newly tagged."""
    name = normalise_tag(tag)
    await _known(session, codes)
    have = set(
        await session.scalars(
            select(AreaTag.area_code).where(AreaTag.tag == name, AreaTag.area_code.in_(codes))
        )
    )
    added = 0
    for code in sorted(set(codes) - have):
        session.add(AreaTag(area_code=code, tag=name, tagged_by=actor[:64]))
        record_audit(session, actor, AREA_TAGGED, code, {"tag": name})
        added += 1
    await session.flush()
    return added


async def untag_areas(session: AsyncSession, codes: Sequence[str], tag: str, actor: str) -> int:
    """Take `tag` off the areas (audited); return how many had it."""
    name = normalise_tag(tag)
    await _known(session, codes)
    had = list(
        await session.scalars(
            select(AreaTag.area_code).where(AreaTag.tag == name, AreaTag.area_code.in_(codes))
        )
    )
    if had:
        await session.execute(
            delete(AreaTag).where(AreaTag.tag == name, AreaTag.area_code.in_(had))
        )
    for code in sorted(had):
        record_audit(session, actor, AREA_UNTAGGED, code, {"tag": name})
    return len(had)


async def list_tags(session: AsyncSession, tag: str | None = None) -> list[TaggedArea]:
    """Every tagged area (of one tag, if given), by tag then code."""
    query = (
        select(AreaTag.area_code, Area.name_en, Area.level, AreaTag.tag)
        .join(Area, Area.code == AreaTag.area_code)
        .order_by(AreaTag.tag, AreaTag.area_code)
    )
    if tag is not None:
        query = query.where(AreaTag.tag == normalise_tag(tag))
    return [TaggedArea(*row) for row in await session.execute(query)]


async def tags_by_area(session: AsyncSession) -> dict[str, tuple[str, ...]]:
    """The tags put on each area itself (a small table: read whole)."""
    out: dict[str, list[str]] = {}
    for code, tag in await session.execute(
        select(AreaTag.area_code, AreaTag.tag).order_by(AreaTag.tag)
    ):
        out.setdefault(code, []).append(tag)
    return {code: tuple(tags) for code, tags in out.items()}


def tags_of(tags: Mapping[str, tuple[str, ...]], code: str) -> tuple[str, ...]:
    """Tags of an area and of every area above it (a tag covers what lies below)."""
    found: list[str] = []
    for length in (2, 4, 6, 8):
        if length > len(code):
            break
        for tag in tags.get(code[:length], ()):
            if tag not in found:
                found.append(tag)
    return tuple(sorted(found))
