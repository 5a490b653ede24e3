"""Reach and missing-communities reports as text, CSV and JSON, always through a Suppressor.

Every output starts from `area_row`/`missing_row`, which is where counts become `Count`s, so
no renderer can show a raw small number by accident. The JSON schema (versioned by its
`schema` field) is documented in docs/reach.md; CSV has the same fields, flattened.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Any

from bot.core.i18n import Catalog, format_number, localize_digits
from bot.reach.figures import (
    ADULTS,
    FIGURE_NAMES,
    AreaInfo,
    AreaReach,
    Figures,
    Period,
    ReachReport,
)
from bot.reach.missing import SIBLINGS, GenderRow, MissingReport, MissingRow
from bot.reach.suppression import Count, Suppressor, complementary

# /3: coverage, expected, shortfall and the benchmark are per 10,000 of the report's
# `denominator`, people aged 15 and over by default, no longer always everyone
# (docs/reach.md; /2 counted reachable residents instead of registered ones).
REACH_SCHEMA = "sabai.reach/3"
MISSING_SCHEMA = "sabai.missing/3"
# Member key of residents placed at the parent area itself, in complementary suppression.
PLACED_AT_PARENT = "@"
# Figures whose change against the previous period is reported.
CHANGED = ("registered", "reached", "engaged")
# Lines per list in chat, so a report fits one phone screen.
CHAT_TOP = 5


# ----- suppressed rows (the only way figures leave this module) --------------------------


def counts(figures: Figures, s: Suppressor, code: str | None = None) -> dict[str, Count]:
    """Each figure as staff may see it (`code` names the area, for complementary cells)."""
    if code is None:
        return {name: s.count(getattr(figures, name)) for name in FIGURE_NAMES}
    return {name: s.cell(code, name, getattr(figures, name)) for name in FIGURE_NAMES}


def _cells(now: Figures, before: Figures) -> dict[str, int]:
    cells = {name: getattr(now, name) for name in FIGURE_NAMES}
    cells.update({f"previous_{name}": getattr(before, name) for name in CHANGED})
    return cells


def protect_reach(report: ReachReport, s: Suppressor) -> Suppressor:
    """`s`, also hiding the cells that would let a hidden child be worked out from the total."""
    if not report.children:
        return s
    group = {c.area.code: _cells(c.current, c.previous) for c in report.children}
    group[report.total.area.code + PLACED_AT_PARENT] = _cells(
        report.unplaced, report.unplaced_previous
    )
    return s.forcing(complementary([group], s))


def protect_missing(report: MissingReport, s: Suppressor) -> Suppressor:
    """The same cells hidden as in the reach report of each listed area's parent."""
    groups: dict[str | None, dict[str, dict[str, int]]] = {}
    for row in report.rows:
        groups.setdefault(row.area.parent_code, {})[row.area.code] = _cells(
            row.current, row.previous
        )
    for parent, members in groups.items():
        if parent is not None and parent in report.placed_above:
            now, before = report.placed_above[parent]
            members[parent + PLACED_AT_PARENT] = _cells(now, before)
    return s.forcing(complementary(groups.values(), s))


def _area_fields(area: AreaInfo) -> dict[str, Any]:
    return {
        "area_code": area.code,
        "name_en": area.name_en,
        "name_bn": area.name_bn,
        "level": area.level,
        "parent_code": area.parent_code,
        "parent_name_en": area.parent_name_en,
        "parent_name_bn": area.parent_name_bn,
        "population": area.population,
        "population_year": area.population_year,
        "population_15plus": area.population_15plus,
        "denominator": area.measured_against,
    }


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def coverage_shown(reach: AreaReach, s: Suppressor) -> float | None:
    """Reachable per 10,000 of the denominator, withheld when the reachable count is hidden."""
    code, reachable = reach.area.code, reach.current.reachable
    if s.hidden(code, "reachable", reachable):
        return None
    return s.rate(reachable, reach.area.base, 10_000)


def change_shown(reach: AreaReach, name: str, s: Suppressor) -> float | None:
    """The relative change of a figure, withheld when either count is hidden."""
    code = reach.area.code
    now, before = getattr(reach.current, name), getattr(reach.previous, name)
    if s.hidden(code, name, now) or s.hidden(code, f"previous_{name}", before):
        return None
    return s.change(now, before)


def area_row(reach: AreaReach, s: Suppressor) -> dict[str, Any]:
    """One area's suppressed figures as JSON-ready values (None where withheld)."""
    code = reach.area.code
    now = counts(reach.current, s, code)
    before = {
        name: s.cell(code, f"previous_{name}", getattr(reach.previous, name)) for name in CHANGED
    }
    row = _area_fields(reach.area)
    row.update({name: count.json() for name, count in now.items()})
    row["coverage"] = _round(coverage_shown(reach, s))
    row["previous"] = {name: before[name].json() for name in CHANGED}
    row["change"] = {name: _round(change_shown(reach, name, s), 3) for name in CHANGED}
    row["suppressed"] = {name: count.suppressed for name, count in now.items()} | {
        f"previous_{name}": before[name].suppressed for name in CHANGED
    }
    return row


def shortfall_shown(row: MissingRow, s: Suppressor) -> int | None:
    """Expected minus reachable (≥ 0), withheld when the reachable count is hidden."""
    if row.expected is None or s.hidden(row.area.code, "reachable", row.reachable):
        return None
    return max(row.expected - row.reachable, 0)


def share_shown(row: MissingRow, s: Suppressor) -> float | None:
    """Reachable as a share of expected, withheld when the reachable count is hidden."""
    if s.hidden(row.area.code, "reachable", row.reachable):
        return None
    return row.share


def missing_row(row: MissingRow, benchmark: float | None, s: Suppressor) -> dict[str, Any]:
    """One area of the missing list, suppressed."""
    out = area_row(AreaReach(row.area, row.current, row.previous), s)
    out["benchmark_coverage"] = _round(benchmark)
    out["basis"] = row.basis
    out["expected"] = row.expected
    shortfall = shortfall_shown(row, s)
    out["shortfall"] = shortfall
    out["share_of_benchmark"] = _round(share_shown(row, s), 3)
    out["tags"] = list(row.tags)
    out["suppressed"]["shortfall"] = row.expected is not None and shortfall is None
    return out


def _gender_row(row: GenderRow, s: Suppressor) -> dict[str, Any]:
    told = row.female + row.male
    code = row.area.code
    female_hidden = s.hidden(code, "female", row.female)
    male_hidden = s.hidden(code, "male", row.male)
    share = s.rate(row.female, told) if not (female_hidden or male_hidden) else None
    gap = (
        None
        if share is None or row.population_female_share is None
        else round(row.population_female_share - share, 3)
    )
    return {
        "area_code": row.area.code,
        "name_en": row.area.name_en,
        "name_bn": row.area.name_bn,
        "female": s.cell(code, "female", row.female).json(),
        "male": s.cell(code, "male", row.male).json(),
        "female_share": _round(share, 3),
        "population_female_share": _round(row.population_female_share, 3),
        "gap": gap,
        "suppressed": {"female": female_hidden, "male": male_hidden},
    }


def _period(period: Period) -> dict[str, Any]:
    return {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "days": round(period.length.total_seconds() / 86400, 3),
    }


def reach_document(report: ReachReport, s: Suppressor) -> dict[str, Any]:
    """The reach report as the documented JSON object."""
    s = protect_reach(report, s)
    unplaced_code = report.total.area.code + PLACED_AT_PARENT
    return {
        "schema": REACH_SCHEMA,
        "period": _period(report.period),
        "suppression": {"k": s.k, "applied": s.enabled},
        "denominator": report.denominator,
        "denominator_fallback": report.fell_back,
        "area": area_row(report.total, s),
        "children": [area_row(child, s) for child in report.children],
        "unplaced": {
            name: count.json() for name, count in counts(report.unplaced, s, unplaced_code).items()
        },
    }


def missing_document(
    report: MissingReport, s: Suppressor, top: int | None = None
) -> dict[str, Any]:
    """The missing-communities report as the documented JSON object."""
    s = protect_missing(report, s)
    ranked = report.ranked[:top] if top else report.ranked
    return {
        "schema": MISSING_SCHEMA,
        "period": _period(report.period),
        "level": report.level,
        "scope": list(report.scope),
        "suppression": {"k": s.k, "applied": s.enabled},
        "benchmark_coverage": _round(report.benchmark),
        "benchmark": "target" if report.target else "deployment",
        "denominator": report.denominator,
        "denominator_fallback": report.fell_back,
        "priority_tags": list(report.priority),
        "ranked": [
            {"rank": n, **missing_row(row, report.benchmark, s)}
            for n, row in enumerate(ranked, start=1)
        ],
        "nobody_registered": [_area_fields(row.area) for row in report.empty],
        "engagement_fell": [missing_row(row, report.benchmark, s) for row in report.falling(s.k)],
        "unknown_areas": [
            {"typed": words, "count": s.count(n).json(), "suppressed": s.count(n).suppressed}
            for words, n in report.unknown
        ],
        "gender": [_gender_row(row, s) for row in report.gender],
    }


def to_json(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2)


# ----- text (chat and terminal) -------------------------------------------------------------


class TextRenderer:
    """Reports as short text in a language: HTML-escaped for chat, plain for a terminal."""

    def __init__(self, catalog: Catalog, language: str, s: Suppressor, markup: bool) -> None:
        self.catalog = catalog
        self.language = catalog.resolve(language)
        self.s = s
        self.escape: Callable[[str], str] = html.escape if markup else str

    def t(self, key: str, **params: object) -> str:
        return self.catalog.text(self.language, key, **params)

    def name(self, area: AreaInfo, with_parent: bool = False) -> str:
        bangla = self.language in ("bn", "syl")
        own = (area.name_bn if bangla and area.name_bn else area.name_en) or area.code
        if with_parent and area.parent_name_en:
            parent = area.parent_name_bn if bangla and area.parent_name_bn else area.parent_name_en
            own = f"{own}, {parent}"
        return self.escape(own)

    def count(self, n: int) -> str:
        return self.escape(self.s.count(n).text(self.language))

    def cell(self, s: Suppressor, code: str, name: str, n: int) -> str:
        return self.escape(s.cell(code, name, n).text(self.language))

    def number(self, value: float, digits: int = 1) -> str:
        return format_number(round(value, digits), self.language)

    def rate(self, value: float | None) -> str:
        if value is None:
            return self.t("reach.withheld")
        # Early on, rates are fractions of one per 10,000: "0.04", never a bare "0".
        digits = 1
        while 0 < abs(value) < 10 ** (1 - digits) and digits < 4:
            digits += 1
        return self.number(value, digits)

    def change(self, reach: AreaReach, name: str, s: Suppressor) -> str:
        change = change_shown(reach, name, s)
        if change is None:
            return ""
        sign = "+" if change >= 0 else "−"
        return self.t("reach.change", change=sign + self.number(abs(change) * 100, 0) + "%")

    def reach(self, report: ReachReport, top: int = CHAT_TOP) -> str:
        s = protect_reach(report, self.s)
        total = report.total
        area, now = total.area, total.current
        code = area.code

        def cell(name: str) -> str:
            return self.cell(s, code, name, getattr(now, name))

        days = round(report.period.length.total_seconds() / 86400)
        adults = report.denominator == ADULTS
        lines = [self.t("reach.title", place=self.name(area, True), days=days)]
        lines.append(self.population(area))
        if report.fell_back:
            lines.append(self.t("reach.denominator_fallback"))
        lines.append(
            self.t(
                "reach.registered",
                registered=cell("registered"),
                own_phone=cell("own_phone"),
                assisted=cell("assisted"),
                change=self.change(total, "registered", s),
            )
        )
        lines.append(self.t("reach.reachable", reachable=cell("reachable")))
        lines.append(
            self.t(
                "reach.channels",
                telegram=cell("telegram"),
                sms=cell("sms"),
                no_phone=cell("assisted_no_phone"),
            )
        )
        coverage = coverage_shown(total, s)
        key = "reach.coverage_adults" if adults else "reach.coverage"
        lines.append(
            self.t(f"{key}_withheld")
            if coverage is None
            else self.t(key, coverage=self.rate(coverage))
        )
        lines.append(
            self.t(
                "reach.reached", reached=cell("reached"), change=self.change(total, "reached", s)
            )
        )
        lines.append(
            self.t(
                "reach.engaged", engaged=cell("engaged"), change=self.change(total, "engaged", s)
            )
        )
        lines.append(
            self.t(
                "reach.activity",
                lessons=cell("lessons_completed"),
                acks=cell("alerts_acknowledged"),
                unreachable=cell("unreachable"),
            )
        )
        children = sorted(report.children, key=lambda c: (-(c.current.registered), c.area.code))
        if children:
            lines.append("")
            lines.append(self.t("reach.children_head_adults" if adults else "reach.children_head"))
            for n, child in enumerate(children[:top], start=1):
                c = child.area.code
                lines.append(
                    self.t(
                        "reach.child_line",
                        n=n,
                        name=self.name(child.area),
                        registered=self.cell(s, c, "registered", child.current.registered),
                        reached=self.cell(s, c, "reached", child.current.reached),
                        coverage=self.rate(coverage_shown(child, s)),
                    )
                )
            if len(children) > top:
                lines.append(self.t("reach.more", count=len(children) - top))
        lines.append("")
        lines.append(self.t("reach.small_note", k=self.s.k))
        return "\n".join(lines)

    def population(self, area: AreaInfo) -> str:
        """The census line: everyone, and those aged 15 and over where the census has them."""
        if area.population is None or area.population_year is None:
            return self.t("reach.population_unknown")
        year = localize_digits(str(area.population_year), self.language)
        if area.population_15plus is None:
            return self.t("reach.population", population=area.population, year=year)
        return self.t(
            "reach.population_adults",
            population=area.population,
            adults=area.population_15plus,
            year=year,
        )

    def missing(self, report: MissingReport, place: str, top: int = CHAT_TOP) -> str:
        s = protect_missing(report, self.s)
        lines = [
            self.t("missing.title", place=self.escape(place), level=self.t(f"level.{report.level}"))
        ]
        if report.benchmark is None:
            lines.append(self.t("missing.benchmark_none"))
        else:
            key = "missing.benchmark_target" if report.target else "missing.benchmark"
            if report.denominator == ADULTS:
                key += "_adults"
            lines.append(self.t(key, benchmark=self.rate(report.benchmark)))
        if report.fell_back:
            lines.append(self.t("reach.denominator_fallback"))
        ranked = report.ranked[:top]
        if ranked:
            lines.append("")
            lines.append(self.t("missing.ranked_head"))
        for n, row in enumerate(ranked, start=1):
            lines.append(self._missing_line(n, row, report.benchmark, s))
        if not ranked:
            lines.append(self.t("missing.none"))
        empty = report.empty
        if empty:
            lines.append("")
            lines.append(
                self.t(
                    "missing.empty",
                    count=len(empty),
                    names=", ".join(self.name(row.area) for row in empty[:top])
                    + ("…" if len(empty) > top else ""),
                )
            )
        falling = report.falling(self.s.k)
        if falling:
            lines.append(
                self.t("missing.falling", names=", ".join(self.name(r.area) for r in falling[:top]))
            )
        if report.unknown:
            lines.append("")
            lines.append(self.t("missing.unknown_head"))
            for words, n in report.unknown[:top]:
                shown = self.escape(words) if words else self.t("missing.unknown_blank")
                lines.append(self.t("missing.unknown_line", words=shown, count=self.count(n)))
        gaps = [g for g in (_gender_row(row, s) for row in report.gender) if g["gap"] is not None]
        if gaps:
            gaps.sort(key=lambda g: -abs(g["gap"]))
            lines.append("")
            lines.append(self.t("missing.gender_head"))
            for g in gaps[:top]:
                bangla = self.language in ("bn", "syl")
                name = g["name_bn"] if bangla and g["name_bn"] else g["name_en"]
                lines.append(
                    self.t(
                        "missing.gender_line",
                        name=self.escape(name),
                        share=self.number(g["female_share"] * 100, 0) + "%",
                        census=self.number(g["population_female_share"] * 100, 0) + "%",
                    )
                )
        lines.append("")
        lines.append(self.t("reach.small_note", k=self.s.k))
        return "\n".join(lines)

    def _missing_line(self, n: int, row: MissingRow, benchmark: float | None, s: Suppressor) -> str:
        shortfall = shortfall_shown(row, s)
        shown_shortfall = self.t("reach.withheld") if shortfall is None else self.count(shortfall)
        reachable = self.cell(s, row.area.code, "reachable", row.reachable)
        tags = self.t("missing.tags", tags=self.escape(", ".join(row.tags))) if row.tags else ""
        if row.basis == SIBLINGS:
            return self.t(
                "missing.line_siblings",
                n=n,
                name=self.name(row.area, True),
                registered=reachable,
                expected=row.expected or 0,
                shortfall=shown_shortfall,
                tags=tags,
            )
        share = share_shown(row, s)
        adults = row.area.measured_against == ADULTS
        return self.t(
            "missing.line_adults" if adults else "missing.line",
            n=n,
            name=self.name(row.area, True),
            population=row.area.population or 0,
            adults=row.area.population_15plus or 0,
            registered=reachable,
            coverage=self.rate(coverage_shown(AreaReach(row.area, row.current, row.previous), s)),
            benchmark=self.rate(benchmark),
            share=self.t("reach.withheld")
            if share is None
            else self.t("missing.share", share=self.number(share * 100, 0) + "%"),
            shortfall=shown_shortfall,
            tags=tags,
        )
