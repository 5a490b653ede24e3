"""What reach reports are made of: periods, figures per area, coverage, the area levels."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Code length of each level; a child's code is its parent's plus two digits.
LEVEL_LENGTH = {"division": 2, "district": 4, "upazila": 6, "union": 8}
LEVELS = tuple(LEVEL_LENGTH)
DEFAULT_DAYS = 30


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
)


@dataclass(frozen=True)
class AreaInfo:
    """An area's names, place in the hierarchy and latest census figure."""

    code: str
    level: str
    name_en: str
    name_bn: str | None
    parent_code: str | None
    parent_name_en: str | None = None
    parent_name_bn: str | None = None
    population: int | None = None
    population_year: int | None = None


@dataclass(frozen=True)
class AreaReach:
    """One area's figures for the period and the one before it."""

    area: AreaInfo
    current: Figures
    previous: Figures

    @property
    def coverage(self) -> float | None:
        """Reachable residents per 10,000 people (None without a census figure)."""
        return coverage(self.current.reachable, self.area.population)


@dataclass(frozen=True)
class ReachReport:
    """The whole area, then each child area, and residents placed at the area itself."""

    period: Period
    total: AreaReach
    children: list[AreaReach] = field(default_factory=list)
    # Residents who chose the area as a whole ("all of Kulaura"), not one of its children.
    unplaced: Figures = field(default_factory=Figures)
    unplaced_previous: Figures = field(default_factory=Figures)


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
