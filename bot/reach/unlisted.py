"""Residents whose area is not listed: what they typed, for coordinators to place them.

A coordinator sees the groups of words whose place lies inside their scope (the whole
country sees all: `bot.reach.missing.attributed`) and can place one: every resident who typed
those words moves into the area, each is told in their language (through the outbox, after
the move is committed), and the move is audited under the area with a count, not the words.
Counts are suppressed like every staff output; the words carry no date, name or id.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.alerts.service import typed_words
from bot.areas.models import Area
from bot.areas.search import AreaIndex
from bot.areas.tree import display_name
from bot.core.base import utcnow
from bot.core.i18n import LANGUAGES, Catalog, to_latin_digits
from bot.delivery.outbox import (
    OUTBOX,
    Job,
    Payload,
    Recipient,
    enqueue_for_recipients,
    reachable,
)
from bot.reach.missing import attributed
from bot.reach.suppression import Suppressor
from bot.residents.events import EventKind, record_for
from bot.residents.models import Resident
from bot.staff.audit import record_audit

JOB_KIND = "unlisted"
UNLISTED_ASSIGNED = "unlisted_assigned"
MAX_WORDS = 200
LIST_SHOWN = 20  # groups listed in chat: one phone screen


class PlacementError(ValueError):
    """Words or an area that cannot be used; `key` names a message, `detail` is for operators."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(detail)
        self.key = key
        self.detail = detail


@dataclass(frozen=True)
class UnlistedGroup:
    words: str  # trimmed, lower case; "" when nothing was typed
    count: int


@dataclass(frozen=True)
class Placed:
    moved: int
    notified: int


def normalise_words(words: str) -> str:
    """Words as they are grouped: spaces collapsed, trimmed, lower case."""
    return " ".join(words.split()).lower()[:MAX_WORDS]


async def unlisted_groups(
    session: AsyncSession, scopes: Sequence[str], index: AreaIndex | None
) -> list[UnlistedGroup]:
    """Groups of words the scopes may see, most common first (every group for the country)."""
    words = typed_words()
    rows = await session.execute(
        select(words, func.count())
        .where(Resident.area_code.is_(None), Resident.consent_at.is_not(None))
        .group_by(words)
    )
    groups = [UnlistedGroup(" ".join(str(w).split()), int(n)) for w, n in rows]
    merged: dict[str, int] = {}
    for group in groups:
        merged[group.words] = merged.get(group.words, 0) + group.count
    if "" not in scopes:
        if index is None:
            return []
        merged = {w: n for w, n in merged.items() if w and attributed(index, w, scopes)}
    return [UnlistedGroup(w, n) for w, n in sorted(merged.items(), key=lambda i: (-i[1], i[0]))]


async def _movers(session: AsyncSession, words: str) -> list[Resident]:
    rows = await session.scalars(
        select(Resident).where(Resident.area_code.is_(None), Resident.consent_at.is_not(None))
    )
    # Compared here with the same folding as the groups (SQL trims only spaces).
    return [r for r in rows if normalise_words(r.area_unlisted_text or "") == words]


async def place_unlisted(
    sessions: async_sessionmaker[AsyncSession],
    words: str,
    area_code: str,
    actor: str,
    catalog: Catalog,
    *,
    scopes: Sequence[str] = ("",),
    index: AreaIndex | None = None,
) -> Placed:
    """Move every resident who typed `words` into the area, audited; tell each of them.

    `scopes`: what the actor covers (the operator: the whole country). The area must lie in
    them, and the words must be a group they can see. Raises PlacementError.
    """
    wanted = normalise_words(words)
    if not wanted:
        raise PlacementError("unlisted.no_words", "give the words exactly as listed")
    async with sessions.begin() as session:
        area = await session.get(Area, area_code)
        if area is None:
            raise PlacementError("unlisted.bad_area", f"no area with code {area_code[:16]!r}")
        if not any(scope == "" or area_code.startswith(scope) for scope in scopes):
            raise PlacementError("unlisted.outside", f"area {area_code} is outside your areas")
        visible = {g.words for g in await unlisted_groups(session, scopes, index)}
        if wanted not in visible:
            raise PlacementError(
                "unlisted.unknown_words",
                f"nobody you may see typed {wanted[:80]!r} (see `sabai unlisted list`)",
            )
        movers = await _movers(session, wanted)
        ids = [r.id for r in movers]
        now = utcnow()
        await session.execute(
            update(Resident)
            .where(Resident.id.in_(ids))
            .values(area_code=area_code, area_unlisted_text=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        for r in movers:
            record_for(
                session, EventKind.AREA_SET, r.pseudonym, area_code, {"placed": True}, at=now
            )
        record_audit(session, actor, UNLISTED_ASSIGNED, area_code, {"people": len(ids)})
        job_id = (
            int(
                await session.scalar(
                    select(func.coalesce(func.max(OUTBOX.c.job_id), 0)).where(
                        OUTBOX.c.job_kind == JOB_KIND
                    )
                )
                or 0
            )
            + 1
        )
        recipients = [
            Recipient(r.telegram_id, r.id, r.pseudonym, area_code, r.language)
            for r in await session.scalars(
                select(Resident).where(Resident.id.in_(ids), *reachable())
            )
            if r.telegram_id is not None
        ]
    payloads = {
        lang: Payload(
            catalog.text(lang, "unlisted.placed", place=html.escape(display_name(area, lang)))
        )
        for lang in LANGUAGES
    }
    notified = await enqueue_for_recipients(
        sessions,
        Job(JOB_KIND, job_id),
        recipients,
        payloads,
        default_language="bn",
    )
    return Placed(len(ids), notified)


# ----- chat: `/unlisted` and `/unlisted NUMBER AREA` ------------------------------------------


@dataclass(frozen=True)
class UnlistedRequest:
    """What a coordinator typed after /unlisted: nothing (the list) or a group and an area."""

    number: int | None = None
    area: str = ""


def parse_request(args: str) -> UnlistedRequest | None:
    """`""` → the list; `"2 Kulaura"` → group 2 into Kulaura; anything else → None."""
    text = args.strip()
    if not text:
        return UnlistedRequest()
    first, _, rest = text.partition(" ")
    digits = to_latin_digits(first)
    if not (digits.isascii() and digits.isdigit()) or not rest.strip() or len(digits) > 4:
        return None
    return UnlistedRequest(int(digits), rest.strip())


def list_text(
    groups: Sequence[UnlistedGroup], catalog: Catalog, language: str, s: Suppressor
) -> str:
    """The numbered groups of words (escaped), counts suppressed."""
    if not groups:
        return catalog.text(language, "unlisted.none")
    lines = [catalog.text(language, "unlisted.head")]
    for n, group in enumerate(groups[:LIST_SHOWN], start=1):
        words = html.escape(group.words) or catalog.text(language, "missing.unknown_blank")
        count = html.escape(s.count(group.count).text(language))
        lines.append(catalog.text(language, "unlisted.line", n=n, words=words, count=count))
    return "\n".join(lines)


async def unlisted_chat(
    sessions: async_sessionmaker[AsyncSession],
    request: UnlistedRequest,
    code: str | None,
    actor: str,
    scopes: Sequence[str],
    index: AreaIndex,
    catalog: Catalog,
    language: str,
    s: Suppressor,
) -> str:
    """The coordinator's answer: the list, or the group placed into `code` (None: not found)."""
    async with sessions() as session:
        groups = await unlisted_groups(session, scopes, index)
    if request.number is None:
        return list_text(groups, catalog, language, s)
    if code is None:
        return catalog.text(language, "reach.unknown_area", query=html.escape(request.area[:80]))
    if not 1 <= request.number <= min(len(groups), LIST_SHOWN):
        return catalog.text(language, "unlisted.bad_number", n=request.number)
    try:
        placed = await place_unlisted(
            sessions,
            groups[request.number - 1].words,
            code,
            actor,
            catalog,
            scopes=scopes,
            index=index,
        )
    except PlacementError as exc:
        return catalog.text(language, exc.key)
    async with sessions() as session:
        area = await session.get(Area, code)
    place = html.escape(display_name(area, language)) if area else code
    return catalog.text(
        language, "unlisted.done", moved=placed.moved, place=place, notified=placed.notified
    )
