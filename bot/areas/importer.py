"""Load the shipped Bangladesh area hierarchy and census population into the database."""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.areas.models import Area, AreaPopulation
from bot.core.i18n import is_plain_number

LEVELS = ("division", "district", "upazila", "union")
BATCH = 500


@dataclass(frozen=True)
class ImportReport:
    areas: int
    populations: int


class AreaDataError(Exception):
    """The area files are malformed; the message names the file and line."""


def data_dir() -> Path:
    """Return the folder of the shipped Bangladesh reference data."""
    return Path(str(resources.files("bot.areas") / "data" / "bd"))


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        yield from enumerate(csv.DictReader(handle), start=2)


# NFC leaves ড়, ঢ়, য় as two code points (they are composition exclusions) while phone
# keyboards type one; store the one-code-point form so shown names match typed ones.
_NUKTA_LETTERS = {"\u09a1\u09bc": "\u09dc", "\u09a2\u09bc": "\u09dd", "\u09af\u09bc": "\u09df"}


def canonical_bangla(text: str) -> str:
    """Normalise Bangla text to NFC with nukta letters as single code points."""
    text = unicodedata.normalize("NFC", text)
    for pair, single in _NUKTA_LETTERS.items():
        text = text.replace(pair, single)
    return text


def read_areas(path: Path) -> list[dict[str, Any]]:
    """Read areas.csv, parents before children, checking each row."""
    areas: list[dict[str, Any]] = []
    for line, row in _rows(path):
        code, level = (row.get("code") or "").strip(), (row.get("level") or "").strip()
        if (
            not is_plain_number(code)
            or level not in LEVELS
            or not (row.get("name_en") or "").strip()
        ):
            raise AreaDataError(f"{path}:{line}: needs a numeric code, a level and name_en")
        areas.append(
            {
                "code": code,
                "parent_code": (row.get("parent_code") or "").strip() or None,
                "level": level,
                "name_en": row["name_en"].strip(),
                "name_bn": canonical_bangla((row.get("name_bn") or "").strip()) or None,
            }
        )
    areas.sort(key=lambda a: (LEVELS.index(a["level"]), a["code"]))
    return areas


def _optional(row: dict[str, str], column: str) -> int | None:
    value = (row.get(column) or "").strip()
    return int(value) if value else None


def read_population(path: Path) -> list[dict[str, Any]]:
    """Read population.csv into rows of the area_population table."""
    rows: list[dict[str, Any]] = []
    for line, row in _rows(path):
        try:
            total = int(row["population_total"])
            adults = _optional(row, "population_15plus")
            rows.append(
                {
                    "code": row["code"].strip(),
                    "year": int(row["year"]),
                    "total": total,
                    "male": _optional(row, "population_male"),
                    "female": _optional(row, "population_female"),
                    "adults_15plus": adults,
                }
            )
        except (KeyError, ValueError) as exc:
            raise AreaDataError(f"{path}:{line}: bad population row ({exc})") from exc
        if adults is not None and not 0 <= adults <= total:
            raise AreaDataError(f"{path}:{line}: population_15plus is not between 0 and the total")
    return rows


async def _upsert(session: AsyncSession, table: Any, rows: list[dict[str, Any]]) -> None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    keys = [c.name for c in table.__table__.primary_key.columns]
    for start in range(0, len(rows), BATCH):
        stmt = insert(table.__table__).values(rows[start : start + BATCH])
        updates = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
        await session.execute(stmt.on_conflict_do_update(index_elements=keys, set_=updates))


async def import_areas(
    sessions: async_sessionmaker[AsyncSession], folder: Path | None = None
) -> ImportReport:
    """Insert or update every area and population row; running it again changes nothing."""
    folder = folder or data_dir()
    areas = read_areas(folder / "areas.csv")
    population = read_population(folder / "population.csv")
    async with sessions() as session, session.begin():
        await _upsert(session, Area, areas)
        await _upsert(session, AreaPopulation, population)
    return ImportReport(areas=len(areas), populations=len(population))


async def ensure_areas(sessions: async_sessionmaker[AsyncSession]) -> ImportReport | None:
    """Import the areas on first start, or again when the database lacks the adult figures.

    A database imported before the shipped data had people aged 15 and over gets them at its
    next start (the import only inserts or updates). Return None when nothing was imported.
    """
    async with sessions() as session:
        count = await session.scalar(select(func.count()).select_from(Area))
        adults = await session.scalar(
            select(AreaPopulation.code).where(AreaPopulation.adults_15plus.is_not(None)).limit(1)
        )
    if count and adults is not None:
        return None
    if count and not any(
        row["adults_15plus"] is not None for row in read_population(data_dir() / "population.csv")
    ):
        return None
    return await import_areas(sessions)
