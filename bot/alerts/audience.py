"""Who an alert reaches: residents in its areas, in wider areas that contain them, or who
typed a place in them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, exists, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.models import ResidentTopic
from bot.alerts.queueing import QUEUEING as QUEUEING
from bot.alerts.vocabulary import URGENT_URGENCY
from bot.areas.search import AreaIndex
from bot.areas.tree import load_index
from bot.delivery.outbox import (
    reachable,
)
from bot.residents.models import Resident


def minimal_areas(codes: Iterable[str]) -> tuple[str, ...]:
    """Drop codes covered by another code in the list (an area includes all below it)."""
    kept: list[str] = []
    for code in sorted(set(codes), key=lambda c: (len(c), c)):
        if not any(code.startswith(outer) for outer in kept):
            kept.append(code)
    return tuple(sorted(kept))


def ancestors(area_codes: Sequence[str]) -> list[str]:
    """Every area above the given ones (division, district, upazila), nearest last."""
    return sorted({code[:n] for code in area_codes for n in (2, 4, 6) if n < len(code)})


def typed_words() -> ColumnElement[str]:
    """A resident's words for an unlisted area as they are grouped (trimmed, lower case)."""
    return func.lower(func.trim(func.coalesce(Resident.area_unlisted_text, "")))


def _inside(area_codes: Sequence[str]) -> ColumnElement[bool]:
    return or_(*(Resident.area_code.startswith(code, autoescape=True) for code in area_codes))


def _wider(area_codes: Sequence[str]) -> ColumnElement[bool]:
    above = ancestors(area_codes)
    return Resident.area_code.in_(above) if above else false()


def _by_words(words: Sequence[str]) -> ColumnElement[bool]:
    if not words:
        return false()
    return and_(Resident.area_code.is_(None), typed_words().in_(sorted(set(words))))


def audience(
    topic: str, area_codes: Sequence[str], urgency: str, words: Sequence[str] = ()
) -> list[ColumnElement[bool]]:
    """Conditions on residents: in (or below) one of the areas, in an area containing one of
    them, or not listed with `words` naming a place there; and, unless the alert is urgent,
    not opted out of its topic (urgent alerts reach everyone in the area)."""
    where = or_(_inside(area_codes), _wider(area_codes), _by_words(words))
    if urgency == URGENT_URGENCY:
        return [where]
    opted_out = exists().where(
        ResidentTopic.resident_id == Resident.id, ResidentTopic.topic == topic
    )
    return [where, ~opted_out]


# Typed words must name a place this surely (see bot.reach.missing.attributed).
WORDS_SCORE = 0.9
WORDS_CANDIDATES = 8
UPAZILA_LENGTH = 6


def places_named(index: AreaIndex, words: str) -> list[str]:
    """The districts or upazilas the words name surely enough (namesakes equally good: all).

    A union named (or matched with its upazila named too, "Baro Haor, Kulaura") stands for
    its upazila; a division is too wide to stand for anyone's place.
    """
    matches = index.search(words, limit=WORDS_CANDIDATES) if words.strip() else []
    if not matches or not (matches[0].exact or matches[0].score >= WORDS_SCORE):
        return []
    best = (matches[0].exact, matches[0].score)
    tied = [m.code for m in matches if (m.exact, m.score) == best]
    if len(tied) == WORDS_CANDIDATES:
        return []
    return sorted({code[:UPAZILA_LENGTH] for code in tied if len(code) > 2})


def meets(code: str, area_codes: Sequence[str]) -> bool:
    """Whether an area lies in one of the areas or contains one of them."""
    return any(code.startswith(c) or c.startswith(code) for c in area_codes)


async def words_for(
    session: AsyncSession, area_codes: Sequence[str], index: AreaIndex | None = None
) -> list[str]:
    """What residents with an unlisted area typed that names a place meeting the areas."""
    typed = list(
        await session.scalars(
            select(typed_words())
            .where(Resident.area_code.is_(None), Resident.consent_at.is_not(None))
            .distinct()
        )
    )
    typed = [w for w in typed if w]
    if not typed:
        return []
    index = index or await load_index(session)
    return [w for w in typed if any(meets(c, area_codes) for c in places_named(index, w))]


@dataclass(frozen=True)
class RecipientSplit:
    """Who an alert would reach now: in the chosen areas, in a wider area, by typed words."""

    inside: int
    wider: int
    typed: int

    @property
    def total(self) -> int:
        return self.inside + self.wider + self.typed


async def recipient_split(
    session: AsyncSession,
    topic: str,
    area_codes: Sequence[str],
    urgency: str,
    index: AreaIndex | None = None,
    *,
    words: Sequence[str] | None = None,
) -> RecipientSplit:
    """How many residents an alert would reach now, by why they are reached."""
    codes = minimal_areas(area_codes)
    if words is None:
        words = await words_for(session, codes, index)
    inside, wider = _inside(codes), _wider(codes)
    kind = case((inside, 0), (wider, 1), else_=2)
    query = (
        select(kind, func.count())
        .select_from(Resident)
        .where(*reachable(), *audience(topic, codes, urgency, words))
        .group_by(kind)
    )
    found = {int(k): int(n) for k, n in await session.execute(query)}
    return RecipientSplit(found.get(0, 0), found.get(1, 0), found.get(2, 0))


async def count_recipients(
    session: AsyncSession, topic: str, area_codes: Sequence[str], urgency: str
) -> int:
    """How many residents an alert would reach now (the same filter the outbox stream uses)."""
    return (await recipient_split(session, topic, area_codes, urgency)).total
