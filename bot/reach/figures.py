"""What reach reports are made of: periods, figures per area, coverage, the area levels."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Code length of each level; a child's code is its parent's plus two digits.
LEVEL_LENGTH = {"division": 2, "district": 4, "upazila": 6, "union": 8}
LEVELS = tuple(LEVEL_LENGTH)
DEFAULT_DAYS = 30
# What coverage is measured against, named by the AreaInfo/JSON field that holds it: people
# aged 15 and over where the census has age bands, else everyone. (15, not 18: the census
# tables give five-year bands, so 15+ is exact and 18+ is not.)
ADULTS = "population_15plus"
TOTAL = "population"
# The `[reach] denominator` setting: which of the two to prefer.
PREFER_ADULTS = "adults"
PREFER_TOTAL = "total"
PREFERENCES = (PREFER_ADULTS, PREFER_TOTAL)


class UnknownArea(Exception):
    """No area has this code."""


@dataclass(frozen=True)
class Period:
    """A half-open time span [start, end) in UTC; `tz` names the local days it is made of."""

    start: datetime
    end: datetime
    tz: ZoneInfo | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a period needs timezone-aware datetimes")
        if self.end <= self.start:
            raise ValueError("a period must end after it starts")

    @classmethod
    def days_to(cls, last_day: date, days: int, tz: ZoneInfo) -> Period:
        """`days` whole local days ending with `last_day` (included)."""
        end = datetime.combine(last_day + timedelta(days=1), time(), tz)
        start = datetime.combine(last_day - timedelta(days=days - 1), time(), tz)
        return cls(start.astimezone(UTC), end.astimezone(UTC), tz)

    @classmethod
    def ending(cls, now: datetime, days: int = DEFAULT_DAYS, tz: ZoneInfo | None = None) -> Period:
        """The last `days` local days, today included (whole days in `tz`, default UTC)."""
        zone = tz or ZoneInfo("UTC")
        return cls.days_to(now.astimezone(zone).date(), days, zone)

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    @property
    def days(self) -> float:
        return self.length.total_seconds() / 86400

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.start - self.length, self.start, self.tz)


@dataclass(frozen=True)
class Figures:
    """Raw counts for one area and one period (not suppressed: see bot/reach/suppression.py)."""

    registered: int = 0
    own_phone: int = 0
    assisted: int = 0
    reached: int = 0
    engaged: int = 0
    lessons_completed: int = 0
    alerts_acknowledged: int = 0
    unreachable: int = 0
    # Residents who chose to tell their gender (for the gender gap; others are not counted).
    female: int = 0
    male: int = 0
    # Registered minus those who cannot be reached (blocked the bot, chat gone), each person
    # once (an assisted person registered again elsewhere is not counted twice).
    reachable: int = 0
    # By channel: on Telegram, with a phone number for SMS (their own channel or assisted
    # with a number), and assisted without any phone Sabai can send to.
    telegram: int = 0
    sms: int = 0
    assisted_no_phone: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def as_tuple(self) -> tuple[int, ...]:
        return (
            self.registered,
            self.own_phone,
            self.assisted,
            self.reached,
            self.engaged,
            self.lessons_completed,
            self.alerts_acknowledged,
            self.unreachable,
            self.female,
            self.male,
            self.reachable,
            self.telegram,
            self.sms,
            self.assisted_no_phone,
        )


FIGURE_NAMES = (
    "registered",
    "own_phone",
    "assisted",
    "reached",
    "engaged",
    "lessons_completed",
    "alerts_acknowledged",
    "unreachable",
    "female",
    "male",
    "reachable",
    "telegram",
    "sms",
    "assisted_no_phone",
)


@dataclass(frozen=True)
class Census:
    """An area's latest census figures: the year, everyone, and people aged 15 and over."""

    year: int
    total: int
    adults_15plus: int | None = None


@dataclass(frozen=True)
class AreaInfo:
    """An area's names, place in the hierarchy and latest census figures."""

    code: str
    level: str
    name_en: str
    name_bn: str | None
    parent_code: str | None
    parent_name_en: str | None = None
    parent_name_bn: str | None = None
    population: int | None = None
    population_year: int | None = None
    population_15plus: int | None = None
    # Which figure coverage is measured against: chosen once per report (`choose_denominator`).
    denominator: str = TOTAL

    @property
    def base(self) -> int | None:
        """The people coverage is measured against (None without that census figure)."""
        return self.population_15plus if self.denominator == ADULTS else self.population

    @property
    def measured_against(self) -> str | None:
        """The denominator this area's coverage uses, or None when it has no census figure."""
        return self.denominator if self.base is not None else None


@dataclass(frozen=True)
class AreaReach:
    """One area's figures for the period and the one before it."""

    area: AreaInfo
    current: Figures
    previous: Figures

    @property
    def coverage(self) -> float | None:
        """Reachable residents per 10,000 of the area's denominator (None without a figure)."""
        return coverage(self.current.reachable, self.area.base)


@dataclass(frozen=True)
class ReachReport:
    """The whole area, then each child area, and residents placed at the area itself."""

    period: Period
    total: AreaReach
    children: list[AreaReach] = field(default_factory=list)
    # Residents who chose the area as a whole ("all of Kulaura"), not one of its children.
    unplaced: Figures = field(default_factory=Figures)
    unplaced_previous: Figures = field(default_factory=Figures)
    # The one denominator of every row (see `choose_denominator`), and what was preferred.
    denominator: str = TOTAL
    preferred: str = PREFER_TOTAL

    @property
    def fell_back(self) -> bool:
        """Adults were preferred, but some area here has only the total."""
        areas = [self.total.area, *(child.area for child in self.children)]
        return fell_back(self.preferred, self.denominator, areas)


def coverage(people: int, population: int | None) -> float | None:
    """People per 10,000 of the population, or None when the population is unknown or zero."""
    if not population:
        return None
    return people * 10_000 / population


def child_level(level: str | None) -> str | None:
    """The level below `level` (None for the country gives divisions; unions have none)."""
    if level is None:
        return LEVELS[0]
    index = LEVELS.index(level)
    return LEVELS[index + 1] if index + 1 < len(LEVELS) else None


def choose_denominator(preferred: str, figures: Iterable[tuple[int | None, int | None]]) -> str:
    """ADULTS when preferred and every (total, 15+) pair with a total has its 15+ figure.

    A report compares its rows with each other and with one benchmark, so all of them must
    be measured against the same people: one area without the 15+ figure (a census year
    without age bands) puts the whole report on the total. Areas with no census figure at
    all (unions) are compared otherwise and do not count.
    """
    if preferred not in PREFERENCES:
        raise ValueError(f"unknown denominator preference {preferred!r}")
    if preferred == PREFER_TOTAL:
        return TOTAL
    known = all(adults is not None for total, adults in figures if total is not None)
    return ADULTS if known else TOTAL


def fell_back(preferred: str, denominator: str, areas: Iterable[AreaInfo]) -> bool:
    """Whether a report measured against everyone although adults were preferred."""
    return (
        preferred == PREFER_ADULTS
        and denominator == TOTAL
        and any(a.population is not None for a in areas)
    )
