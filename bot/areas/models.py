"""Tables of the area hierarchy and its census figures."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.core.base import Base


class Area(Base):
    """A unit of the administrative hierarchy; its BBS geocode is its id."""

    __tablename__ = "areas"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    parent_code: Mapped[str | None] = mapped_column(String(8), ForeignKey("areas.code"), index=True)
    level: Mapped[str] = mapped_column(String(16), index=True)
    name_en: Mapped[str] = mapped_column(String(128))
    name_bn: Mapped[str | None] = mapped_column(String(128))


class AreaPopulation(Base):
    """Census population of an area for one census year."""

    __tablename__ = "area_population"

    code: Mapped[str] = mapped_column(String(8), ForeignKey("areas.code"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    total: Mapped[int] = mapped_column(BigInteger)
    male: Mapped[int | None] = mapped_column(BigInteger)
    female: Mapped[int | None] = mapped_column(BigInteger)
