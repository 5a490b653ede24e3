"""Areas as the rest of the bot sees them: plain values read from the database.

Callers get frozen dataclasses, never ORM objects, so nothing they hold can lazy-load or be
flushed back by accident after the session that read it is gone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.areas.models import Area, AreaPopulation
from bot.areas.search import AreaIndex, AreaRecord

# Languages whose residents read Bangla script (Sylheti is written in it too).
BANGLA_SCRIPT_LANGUAGES = frozenset({"bn", "syl"})
# Deeper than a union there is nothing, so a longer chain means a cycle in bad data.
MAX_DEPTH = 4


@dataclass(frozen=True)
class AreaView:
    """An area as plain values."""

    code: str
    level: str
    name_en: str
    name_bn: str | None
    parent_code: str | None


class Named(Protocol):
    """Anything with an area's two names (AreaView, AreaMatch, AreaRef)."""

    @property
    def name_en(self) -> str: ...

    @property
    def name_bn(self) -> str | None: ...


# Bangla letters whose code points sit apart from the letter they are sorted with: ড় ঢ় য় come
# right after ড ঢ য in a Bangla dictionary, ৎ after ত, and the nukta forms (ড + ়) likewise.
_BANGLA_ORDER = str.maketrans(
    {
        "\u09dc": "\u09a1\uffff",  # ড় after ড
        "\u09dd": "\u09a2\uffff",  # ঢ় after ঢ
        "\u09df": "\u09af\uffff",  # য় after য
        "\u09ce": "\u09a4\uffff",  # ৎ after ত
        "\u09bc": "\uffff",  # the nukta of a decomposed ড় ঢ় য়
    }
)


def bangla_sort_key(name: str) -> str:
    """A key that puts Bangla names in dictionary order (অ আ … ক খ …, ড় after ড)."""
    return name.translate(_BANGLA_ORDER)


def area_order(language: str | None) -> Callable[[AreaView], tuple[str, str]]:
    """How a list of areas is sorted for a reader: by the name they see, in their script."""
    if language in BANGLA_SCRIPT_LANGUAGES:
        return lambda a: (bangla_sort_key(a.name_bn or a.name_en), a.code)
    return lambda a: (a.name_en.casefold(), a.code)


def display_name(area: Named, language: str | None) -> str:
    """Return the area's name in the resident's script, falling back to English."""
    if language in BANGLA_SCRIPT_LANGUAGES and area.name_bn:
        return area.name_bn
    return area.name_en


def describe(area: Named, ancestors: Sequence[Named], language: str | None) -> str:
    """Name an area with enough of its parents to tell it from namesakes.

    A union gets its upazila and district ("Durgapur, Kulaura, Maulvibazar"), an upazila its
    district ("Kulaura, Maulvibazar"), a district its division; `ancestors` is division first,
    as `AreaService.ancestors` returns it. The text is plain: escape it before putting it in HTML.
    """
    # Division first, so the nearest parents are at the end; the division itself is only
    # worth naming for a district, where it is the one parent there is.
    nearest = list(ancestors)[-2:] if len(ancestors) > 2 else list(ancestors)[-1:]
    parts = [area, *reversed(nearest)]
    return ", ".join(display_name(part, language) for part in parts)


def _view(area: Area) -> AreaView:
    return AreaView(
        code=area.code,
        level=area.level,
        name_en=area.name_en,
        name_bn=area.name_bn,
        parent_code=area.parent_code,
    )


class AreaService:
    """Read the area hierarchy and census figures within one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, code: str) -> AreaView | None:
        """Return the area with this code, or None if there is none."""
        area = await self._session.get(Area, code)
        return _view(area) if area is not None else None

    async def children(
        self, parent_code: str | None, offset: int = 0, limit: int = 8, language: str | None = None
    ) -> tuple[list[AreaView], int]:
        """Return one page of an area's children by name, and how many there are.

        None as the parent gives the divisions. Bangla readers get them in Bangla order.
        """
        where: ColumnElement[bool]
        if parent_code is None:
            where = Area.parent_code.is_(None)
        else:
            where = Area.parent_code == parent_code
        # A parent has at most a few hundred children, so sorting here is cheap, and it keeps
        # the order the same on SQLite (binary) and PostgreSQL (locale collation).
        rows = await self._session.scalars(select(Area).where(where))
        views = sorted((_view(area) for area in rows), key=area_order(language))
        start = max(offset, 0)
        return views[start : start + max(limit, 0)], len(views)

    async def ancestors(self, code: str) -> list[AreaView]:
        """Return the areas above this one, division first; [] for a division or unknown code."""
        chain: list[AreaView] = []
        area = await self._session.get(Area, code)
        while area is not None and area.parent_code is not None and len(chain) < MAX_DEPTH:
            area = await self._session.get(Area, area.parent_code)
            if area is not None:
                chain.append(_view(area))
        chain.reverse()
        return chain

    async def latest_population(self, code: str) -> tuple[int, int] | None:
        """Return (census year, total population) of the latest census counting this area."""
        row = (
            await self._session.execute(
                select(AreaPopulation.year, AreaPopulation.total)
                .where(AreaPopulation.code == code)
                .order_by(AreaPopulation.year.desc())
                .limit(1)
            )
        ).first()
        return (row.year, row.total) if row is not None else None


class AreaTree:
    """The whole hierarchy in memory: reference data that never changes while the bot runs,
    so walking it (browse buttons, "Kulaura, Maulvibazar" labels) costs no query."""

    def __init__(self, areas: Sequence[AreaView]) -> None:
        self._by_code = {area.code: area for area in areas}
        self._children: dict[str | None, list[AreaView]] = {}
        self._bangla_children: dict[str | None, list[AreaView]] = {}
        for area in sorted(areas, key=lambda a: (a.name_en.casefold(), a.code)):
            self._children.setdefault(area.parent_code, []).append(area)

    def __len__(self) -> int:
        return len(self._by_code)

    def get(self, code: str) -> AreaView | None:
        """Return the area with this code, or None if there is none."""
        return self._by_code.get(code)

    def children(
        self, parent_code: str | None, offset: int = 0, limit: int = 8, language: str | None = None
    ) -> tuple[list[AreaView], int]:
        """Return one page of an area's children by name (Bangla order for Bangla readers)."""
        views = self._children.get(parent_code, [])
        if language in BANGLA_SCRIPT_LANGUAGES:
            views = self._bangla_children.setdefault(
                parent_code, sorted(views, key=area_order(language))
            )
        start = max(offset, 0)
        return views[start : start + max(limit, 0)], len(views)

    def ancestors(self, code: str) -> list[AreaView]:
        """Return the areas above this one, division first; [] for a division or unknown code."""
        chain: list[AreaView] = []
        area = self._by_code.get(code)
        while area is not None and area.parent_code is not None and len(chain) < MAX_DEPTH:
            area = self._by_code.get(area.parent_code)
            if area is not None:
                chain.append(area)
        chain.reverse()
        return chain


async def load_tree(session: AsyncSession) -> AreaTree:
    """Read every area once into an AreaTree."""
    return AreaTree([_view(area) for area in await session.scalars(select(Area))])


async def load_index(session: AsyncSession) -> AreaIndex:
    """Build the search index from every area and its latest population."""
    population: dict[str, int] = {}
    # Ascending years, so the latest census overwrites older ones.
    for code, total in await session.execute(
        select(AreaPopulation.code, AreaPopulation.total).order_by(AreaPopulation.year)
    ):
        population[code] = total
    rows = await session.execute(
        select(Area.code, Area.parent_code, Area.level, Area.name_en, Area.name_bn)
    )
    return AreaIndex.build(
        AreaRecord(
            code=code,
            parent_code=parent_code,
            level=level,
            name_en=name_en,
            name_bn=name_bn,
            population=population.get(code),
        )
        for code, parent_code, level, name_en, name_bn in rows
    )
