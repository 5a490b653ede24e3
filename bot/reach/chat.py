"""Reach and missing reports as chat replies: short text plus a small chart, suppressed.

Handlers call these with plain values and send what comes back; nothing here knows aiogram.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.areas.search import AreaIndex
from bot.core.i18n import Catalog, format_number, is_plain_number, to_latin_digits
from bot.reach.chart import Bar, coverage_image
from bot.reach.figures import ADULTS, DEFAULT_DAYS, PREFER_ADULTS, Period, child_level
from bot.reach.missing import deployment_benchmark, missing_report
from bot.reach.render import TextRenderer, protect_missing, protect_reach
from bot.reach.report import area_info, reach_report
from bot.reach.suppression import Suppressor

SEARCH_LIMIT = 6


@dataclass(frozen=True)
class ChatReport:
    text: str
    image: bytes | None = None
    caption: str | None = None


def find_area(index: AreaIndex, typed: str) -> str | None:
    """The area a coordinator means by a code or a name (exact names first), or None."""
    words = to_latin_digits(typed.strip())
    if is_plain_number(words):
        return words if index.search(words, limit=1) or len(words) in (2, 4, 6, 8) else None
    matches = index.search(words, limit=SEARCH_LIMIT)
    if not matches:
        return None
    exact = [m for m in matches if m.exact]
    # The widest exact match ("Kulaura" the upazila, not a union of the same name).
    return min(exact or matches[:1], key=lambda m: len(m.code)).code


async def reach_chat(
    session: AsyncSession,
    code: str,
    now: datetime,
    tz: ZoneInfo,
    catalog: Catalog,
    language: str,
    s: Suppressor,
    target: float | None = None,
    prefer: str = PREFER_ADULTS,
) -> ChatReport:
    """`/reach`: the area's figures, its child areas, and a coverage chart of them."""
    period = Period.ending(now, DEFAULT_DAYS, tz)
    report = await reach_report(session, code or None, period, prefer)
    text = TextRenderer(catalog, language, s, markup=True).reach(report)
    if not report.children:
        return ChatReport(text)
    benchmark = await deployment_benchmark(session, period, target, report.denominator)
    ranked = sorted(report.children, key=lambda c: (-c.current.registered, c.area.code))
    bars = [Bar(c.area.code, c.current.reachable, c.area.base) for c in ranked]
    image = coverage_image(bars, benchmark, protect_reach(report, s))
    return ChatReport(text, image, _caption(catalog, language, benchmark, report.denominator))


async def missing_chat(
    session: AsyncSession,
    code: str,
    now: datetime,
    tz: ZoneInfo,
    catalog: Catalog,
    language: str,
    s: Suppressor,
    index: AreaIndex,
    target: float | None = None,
    priority: tuple[str, ...] = (),
    prefer: str = PREFER_ADULTS,
) -> ChatReport:
    """`/missing`: the missing list one level down (upazilas, or unions inside an upazila).

    Unlisted areas typed by residents are shown only where `index` places them inside the
    area asked for (all of them for the whole country): see `bot.reach.missing.attributed`.
    """
    info = await area_info(session, code or None)
    level = child_level(None if info.level == "country" else info.level) or "union"
    if level in ("division", "district"):
        level = "upazila"
    period = Period.ending(now, DEFAULT_DAYS, tz)
    report = await missing_report(
        session,
        [code],
        period,
        level=level,
        index=index,
        target=target,
        priority=priority,
        prefer=prefer,
    )
    bangla = language in ("bn", "syl")
    place = (info.name_bn if bangla and info.name_bn else info.name_en) or code
    text = TextRenderer(catalog, language, s, markup=True).missing(report, place)
    ranked = report.ranked[:20]
    if not ranked:
        return ChatReport(text)
    bars = [Bar(r.area.code, r.current.reachable, r.area.base, r.expected) for r in ranked]
    image = coverage_image(bars, report.benchmark, protect_missing(report, s))
    return ChatReport(
        text, image, _caption(catalog, language, report.benchmark, report.denominator)
    )


def _caption(catalog: Catalog, language: str, benchmark: float | None, denominator: str) -> str:
    shown = format_number(round(benchmark, 1), language) if benchmark is not None else "—"
    key = "reach.chart_caption_adults" if denominator == ADULTS else "reach.chart_caption"
    return catalog.text(language, key, benchmark=shown)
