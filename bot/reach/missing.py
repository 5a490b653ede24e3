"""Missing communities: where Sabai reaches a smaller share of people than it should.

The benchmark is an absolute target when one is configured (`reach.target_per_10000`),
otherwise the deployment's own coverage: reachable residents per 10,000 people over the
districts where Sabai has anyone registered. "People" is the report's one denominator: those
aged 15 and over when every area compared (the listed ones and the benchmark's districts) has
that figure and the configuration prefers it, else everyone (`choose_denominator`). An area's
*expected* count is what it would have at that coverage (benchmark × its people / 10,000);
its *shortfall* is expected minus reachable. Areas behind are ranked by the share of the
benchmark they reach, lowest first (an area nobody reached comes first), ties to the larger
shortfall: a haor upazila at 5 % of the benchmark comes before a big town at 60 %, however
many more people the town lacks.
Coordinators' area tags (`priority`) put tagged areas first within a band of equal coverage.

Unions have no census figure. A union is compared with its siblings instead: expected is the
average reachable count of the unions of the same upazila, and the row says so
(`basis = "siblings"`).

Residents whose area is not listed are grouped by what they typed. Only a report of the whole
country lists them all; a narrower one lists the words that name a place inside its scope
(`attributed`): the typed text is the only clue, as onboarding keeps nothing of where the
resident had browsed to before choosing "not listed".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy import ColumnElement, and_, func, not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.areas.models import AreaPopulation
from bot.areas.search import AreaIndex
from bot.areas.tags import tags_by_area, tags_of
from bot.reach.figures import (
    ADULTS,
    LEVEL_LENGTH,
    PREFER_ADULTS,
    PREFER_TOTAL,
    TOTAL,
    AreaInfo,
    Census,
    Figures,
    Period,
    choose_denominator,
    coverage,
    fell_back,
)
from bot.reach.report import area_infos, figures_by_group, latest_populations
from bot.residents.models import Resident

CENSUS = "census"
SIBLINGS = "siblings"
# Engagement "fell by half or more" against the previous period.
FALL_RATIO = 0.5
# Figures grouped by district to find where the deployment is.
DISTRICT_LENGTH = LEVEL_LENGTH["district"]
# How surely typed words must name a place before a scoped report shows them (`attributed`):
# below this, fuzzy matching lands in the wrong district too often ("kulaura bazar" comes
# closest to Kurar Bazar, Sylhet), and the words would go to a coordinator of somewhere else.
ATTRIBUTION_SCORE = 0.9
ATTRIBUTION_CANDIDATES = 8
# Width of a band of "equal coverage" (a share of the benchmark) inside which tagged areas
# come first: tenths, so 0–10 %, 10–20 %…; nobody reached is a band of its own.
BAND_WIDTH = 0.1


@dataclass(frozen=True)
class MissingRow:
    """One area of the listed level, with what it has and what it would have at the benchmark."""

    area: AreaInfo
    current: Figures
    previous: Figures
    expected: int | None
    basis: str  # CENSUS or SIBLINGS
    # Expected before rounding: the share of the benchmark is measured against it.
    expected_exact: float | None = None
    tags: tuple[str, ...] = ()

    @property
    def registered(self) -> int:
        return self.current.registered

    @property
    def reachable(self) -> int:
        return self.current.reachable

    @property
    def coverage(self) -> float | None:
        return coverage(self.current.reachable, self.area.base)

    @property
    def shortfall(self) -> int | None:
        """People it would reach at the benchmark minus those it can reach (≥ 0)."""
        if self.expected is None:
            return None
        return max(self.expected - self.current.reachable, 0)

    @property
    def share(self) -> float | None:
        """Reachable as a share of expected (1.0 = at the benchmark); 0 when nobody is."""
        if self.current.reachable == 0:
            return 0.0
        exact = self.expected if self.expected_exact is None else self.expected_exact
        if not exact:
            return None
        return self.current.reachable / exact

    @property
    def populated(self) -> bool:
        return bool(self.area.population) or self.basis == SIBLINGS

    @property
    def behind(self) -> bool:
        """Below the benchmark, or nobody reachable where people live."""
        share = self.share
        if share == 0.0:
            return self.populated
        return share is not None and share < 1 and (self.shortfall or 0) > 0

    def band(self) -> int:
        """-1 for nobody reached, then tenths of the benchmark (see BAND_WIDTH)."""
        share = self.share
        if not share:
            return -1
        return int(share / BAND_WIDTH)


@dataclass(frozen=True)
class GenderRow:
    """Residents who told their gender in an area, against the census split."""

    area: AreaInfo
    female: int
    male: int
    population_female_share: float | None


@dataclass(frozen=True)
class MissingReport:
    period: Period
    level: str
    scope: tuple[str, ...]
    # Registered per 10,000 people where Sabai is deployed (None before anyone registers).
    benchmark: float | None
    rows: list[MissingRow] = field(default_factory=list)
    unknown: list[tuple[str, int]] = field(default_factory=list)
    gender: list[GenderRow] = field(default_factory=list)
    # Tags that put an area first within its coverage band (`--priority`, config).
    priority: tuple[str, ...] = ()
    # Whether the benchmark is the configured target (else the deployment's own coverage).
    target: bool = False
    # Residents placed at an area above the level itself ("all of Kulaura" in a union
    # report), per that area: part of its total, so part of complementary suppression.
    placed_above: dict[str, tuple[Figures, Figures]] = field(default_factory=dict)
    # What the benchmark and every census row are measured against, and what was preferred.
    denominator: str = TOTAL
    preferred: str = PREFER_TOTAL

    @property
    def fell_back(self) -> bool:
        """Adults were preferred, but some area compared has only the total."""
        return fell_back(self.preferred, self.denominator, [row.area for row in self.rows])

    @property
    def ranked(self) -> list[MissingRow]:
        """Areas behind the benchmark, the smallest share of it first (see module doc)."""
        priority = set(self.priority)

        def key(row: MissingRow) -> tuple[int, int, float, int, int, str]:
            tagged = 0 if priority & set(row.tags) else 1
            return (
                row.band(),
                tagged,
                row.share or 0.0,
                -(row.shortfall or 0),
                -(row.area.base or 0),
                row.area.code,
            )

        return sorted((row for row in self.rows if row.behind), key=key)

    @property
    def empty(self) -> list[MissingRow]:
        """Areas where people live and nobody is registered, biggest population first."""
        nobody = [
            row
            for row in self.rows
            if row.current.registered == 0 and (row.area.population or row.basis == SIBLINGS)
        ]
        return sorted(nobody, key=lambda r: (-(r.area.base or 0), r.area.code))

    def falling(self, k: int) -> list[MissingRow]:
        """Areas whose engaged residents fell by half or more (from at least k, so not noise)."""
        return [
            row
            for row in self.rows
            if row.previous.engaged >= k
            and row.current.engaged <= row.previous.engaged * FALL_RATIO
        ]


async def deployment_benchmark(
    session: AsyncSession,
    period: Period,
    target: float | None = None,
    denominator: str = ADULTS,
) -> float | None:
    """`target` if set, else reachable per 10,000 people where anyone is registered.

    "People" is `denominator`; None when a district counted lacks that figure (the benchmark
    is never averaged over two kinds of people).
    """
    if target is not None:
        return target
    by_district = await reachable_counts(session, DISTRICT_LENGTH, period)
    census = await _district_census(session, by_district)
    if denominator == ADULTS and any(c.adults_15plus is None for c in census.values()):
        return None
    return _benchmark(by_district, census, denominator)


async def _district_census(session: AsyncSession, by_district: dict[str, int]) -> dict[str, Census]:
    """The census of each district where anyone is reachable (those without one left out)."""
    districts = [code for code, n in by_district.items() if len(code) == DISTRICT_LENGTH and n]
    return await latest_populations(session, districts)


def _benchmark(
    by_district: dict[str, int], census: dict[str, Census], denominator: str
) -> float | None:
    people = sum(
        (c.adults_15plus or 0) if denominator == ADULTS else c.total for c in census.values()
    )
    reachable = sum(by_district[code] for code in census)
    return coverage(reachable, people)


async def reachable_counts(
    session: AsyncSession, length: int, period: Period, outside: Sequence[str] = ()
) -> dict[str, int]:
    """Reachable residents registered by the end of the period, per code prefix, country-wide.

    With `outside` (area codes, none inside another), only residents outside those areas:
    a missing report has counted the ones inside already. Only a count, grouped by the full
    code in index order and summed here: it must stay a plain pass over one index.
    """
    out: dict[str, int] = defaultdict(int)
    for where in _outside(outside, session.get_bind().dialect.name):
        rows = await session.execute(
            select(Resident.area_code, func.count())
            .where(
                Resident.area_code.is_not(None),
                Resident.consent_at.is_not(None),
                Resident.consent_at < period.end,
                Resident.status != "unreachable",
                Resident.registered_again.is_(False),
                *where,
            )
            .group_by(Resident.area_code)
        )
        for code, n in rows:
            if code is not None:
                out[code[:length]] += int(n)
    return dict(out)


def _outside(prefixes: Sequence[str], dialect: str) -> list[list[ColumnElement[bool]]]:
    """Conditions for "area code outside all `prefixes`", one query's worth each.

    On SQLite, the gaps between the prefixes' code ranges, each read as an index range (an OR
    of ranges in one query would read the whole index); elsewhere one NOT LIKE per prefix.
    """
    if "" in prefixes:
        return []  # the whole country is inside
    if not prefixes:
        return [[]]
    code = Resident.area_code
    if dialect != "sqlite":
        return [[and_(*(not_(code.like(p + "%")) for p in prefixes))]]
    gaps: list[list[ColumnElement[bool]]] = []
    low: str | None = None
    for prefix in sorted(prefixes):
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)  # as in bot.reach.report.in_area
        gaps.append([code < prefix] if low is None else [code >= low, code < prefix])
        low = upper
    # Bounded above too: on an open range SQLite's planner skip-scans the whole index by
    # consent time instead, however few codes lie in the range.
    gaps.append([code >= low, code < "\U0010ffff"])
    return gaps


def _expected_by_census(benchmark: float | None, people: int | None) -> float | None:
    if benchmark is None or people is None:
        return None
    return benchmark * people / 10_000


async def missing_report(
    session: AsyncSession,
    scope: Sequence[str],
    period: Period,
    level: str = "upazila",
    benchmark: float | None = None,
    *,
    index: AreaIndex | None = None,
    target: float | None = None,
    priority: Sequence[str] = (),
    prefer: str = PREFER_ADULTS,
) -> MissingReport:
    """The missing-communities report for the areas of `level` inside the `scope` codes.

    `target` (reachable per 10,000) replaces the deployment's own coverage as the benchmark.
    `priority` tags put tagged areas first within equal coverage bands. `index` places the
    words of residents whose area is not listed (see `attributed`); without one, a report
    narrower than the whole country leaves them out (the digest, which does not show them).
    `prefer` (`[reach] denominator`) asks for people aged 15 and over, or everyone.
    """
    if level not in LEVEL_LENGTH:
        raise ValueError(f"unknown level {level!r}")
    length = LEVEL_LENGTH[level]
    # A scope code deeper than the level has no areas of that level inside it.
    prefixes = sorted({code for code in scope if len(code) < length or code == ""})
    # Drop a prefix that another one already contains.
    prefixes = [p for p in prefixes if not any(p != q and p.startswith(q) for q in prefixes)]
    found = []
    for prefix in prefixes:
        areas = await area_infos(session, prefix, level)
        found.append((areas, await figures_by_group(session, prefix, length, period)))
    compared = [(a.population, a.population_15plus) for areas, _ in found for a in areas]
    by_district: dict[str, int] = {}
    census: dict[str, Census] = {}
    if target is None and benchmark is None:
        # The residents inside the scope are in the figures already: count only the others.
        by_district = await reachable_counts(session, DISTRICT_LENGTH, period, outside=prefixes)
        for _, figures in found:
            for key, (now, _) in figures.items():
                if len(key) >= DISTRICT_LENGTH and now.reachable:
                    district = key[:DISTRICT_LENGTH]
                    by_district[district] = by_district.get(district, 0) + now.reachable
        census = await _district_census(session, by_district)
        compared += [(c.total, c.adults_15plus) for c in census.values()]
    denominator = choose_denominator(prefer, compared)
    found = [([replace(a, denominator=denominator) for a in areas], f) for areas, f in found]
    if target is not None:
        benchmark = target
    elif benchmark is None:
        benchmark = _benchmark(by_district, census, denominator)
    tags = await tags_by_area(session)
    rows: list[MissingRow] = []
    gender: list[GenderRow] = []
    above: dict[str, tuple[Figures, Figures]] = {}
    for areas, figures in found:
        above.update({key: value for key, value in figures.items() if len(key) < length})
        if level == "union":
            rows.extend(_sibling_rows(areas, figures, tags))
        else:
            for area in areas:
                now, before = figures.get(area.code, (Figures(), Figures()))
                exact = _expected_by_census(benchmark, area.base)
                expected = None if exact is None else round(exact)
                rows.append(
                    MissingRow(area, now, before, expected, CENSUS, exact, tags_of(tags, area.code))
                )
        shares = await _female_shares(session, [a.code for a in areas])
        gender.extend(_gender_rows(areas, figures, shares))
    unknown: list[tuple[str, int]] = []
    if "" in prefixes:
        unknown = await unknown_areas(session, period)
    elif index is not None and prefixes:
        unknown = [
            (words, n)
            for words, n in await unknown_areas(session, period)
            if attributed(index, words, prefixes)
        ]
    return MissingReport(
        period,
        level,
        tuple(prefixes),
        benchmark,
        rows,
        unknown,
        gender,
        priority=tuple(priority),
        target=target is not None,
        placed_above=above,
        denominator=denominator,
        preferred=prefer,
    )


def _sibling_rows(
    areas: list[AreaInfo],
    figures: dict[str, tuple[Figures, Figures]],
    tags: dict[str, tuple[str, ...]],
) -> list[MissingRow]:
    """Unions against the average of their upazila's unions (no census figure for unions)."""
    by_parent: dict[str | None, list[AreaInfo]] = defaultdict(list)
    for area in areas:
        by_parent[area.parent_code].append(area)
    rows = []
    for siblings in by_parent.values():
        counts = [figures.get(a.code, (Figures(), Figures()))[0].reachable for a in siblings]
        exact = sum(counts) / len(counts) if counts else 0.0
        for area in siblings:
            now, before = figures.get(area.code, (Figures(), Figures()))
            rows.append(
                MissingRow(
                    area, now, before, round(exact), SIBLINGS, exact, tags_of(tags, area.code)
                )
            )
    return rows


def _gender_rows(
    areas: list[AreaInfo], figures: dict[str, tuple[Figures, Figures]], shares: dict[str, float]
) -> list[GenderRow]:
    rows = []
    for area in areas:
        now = figures.get(area.code, (Figures(), Figures()))[0]
        if now.female or now.male:
            rows.append(GenderRow(area, now.female, now.male, shares.get(area.code)))
    return rows


async def _female_shares(session: AsyncSession, codes: list[str]) -> dict[str, float]:
    query = (
        select(AreaPopulation.code, AreaPopulation.female, AreaPopulation.total)
        .where(AreaPopulation.code.in_(codes), AreaPopulation.female.is_not(None))
        .order_by(AreaPopulation.year)
    )
    return {
        code: female / total
        for code, female, total in await session.execute(query)
        if total and female is not None
    }


def attributed(index: AreaIndex, words: str, scope: Sequence[str]) -> bool:
    """Whether typed words name a place inside one of the `scope` codes, surely enough.

    The best match over the whole country must be an exact name or score at least
    `ATTRIBUTION_SCORE`, and lie inside the scope. When several matches are equally good
    (namesakes: "Mirpur" is in Dhaka and in Moulvibazar) the words could be any of them, so
    only a scope holding every one of them gets the words; if the candidates run out while
    still tied, more namesakes may lie beyond them, and only the whole country does.
    """
    matches = index.search(words, limit=ATTRIBUTION_CANDIDATES) if words else []
    if not matches:
        return False
    best = matches[0]
    if not best.exact and best.score < ATTRIBUTION_SCORE:
        return False
    tied = [m for m in matches if (m.exact, m.score) == (best.exact, best.score)]
    if len(tied) == ATTRIBUTION_CANDIDATES:
        return "" in scope
    return all(any(m.code.startswith(prefix) for prefix in scope) for m in tied)


async def unknown_areas(session: AsyncSession, period: Period) -> list[tuple[str, int]]:
    """Residents with no listed area, grouped by what they typed, most common first."""
    words = func.lower(func.trim(func.coalesce(Resident.area_unlisted_text, "")))
    query = (
        select(words.label("w"), func.count())
        .where(
            Resident.area_code.is_(None),
            Resident.consent_at.is_not(None),
            Resident.consent_at < period.end,
        )
        .group_by(words)
    )
    rows = [(str(w), int(n)) for w, n in await session.execute(query)]
    return sorted(rows, key=lambda r: (-r[1], r[0]))
