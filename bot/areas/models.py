"""Tables of the area hierarchy and its census figures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.core.base import Base, UTCDateTime, utcnow


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
    # People aged 15 and over, where the census table has age bands (not for every year).
    # 15, not 18: five-year bands give 15+ exactly, and no shipped table splits 15–19.
    adults_15plus: Mapped[int | None] = mapped_column(BigInteger)


class AreaTag(Base):
    """A coordinator's mark on an area ("haor", "char"): puts it first among equal coverage."""

    __tablename__ = "area_tags"

    area_code: Mapped[str] = mapped_column(
        String(8), ForeignKey("areas.code", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    # Who tagged it: the operator (`cli:<user>`) or a staff pseudonym.
    tagged_by: Mapped[str] = mapped_column(String(64))
    tagged_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
