"""Reach and missing-communities reports as CSV, every figure through the Suppressor."""

from __future__ import annotations

import csv
import io
from typing import Any

from bot.reach.figures import FIGURE_NAMES, ReachReport
from bot.reach.missing import MissingReport
from bot.reach.render import missing_document, missing_row, protect_missing, reach_document
from bot.reach.suppression import Suppressor

CSV_AREA = (
    "area_code",
    "name_en",
    "name_bn",
    "level",
    "parent_code",
    "parent_name_en",
    "parent_name_bn",
    "population",
    "population_year",
    "population_15plus",
    "denominator",
    *FIGURE_NAMES,
    "coverage",
    "registered_previous",
    "reached_previous",
    "engaged_previous",
    "registered_change",
    "reached_change",
    "engaged_change",
)


def _csv_value(row: dict[str, Any], name: str, s: Suppressor) -> str:
    """A cell: "<k" where a count is suppressed, empty where a value is withheld or unknown."""
    if name.endswith("_previous"):
        base = name.removesuffix("_previous")
        if row["suppressed"].get(f"previous_{base}"):
            return f"<{s.k}"
        value = row["previous"][base]
    elif name.endswith("_change"):
        value = row["change"][name.removesuffix("_change")]
    else:
        if row.get("suppressed", {}).get(name):
            return f"<{s.k}"
        value = row.get(name)
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _csv(rows: list[dict[str, Any]], columns: tuple[str, ...], s: Suppressor) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(_csv_value(row, name, s) for name in columns)
    return out.getvalue()


def reach_csv(report: ReachReport, s: Suppressor) -> str:
    """The area itself first, then one line per child area."""
    document = reach_document(report, s)
    return _csv([document["area"], *document["children"]], CSV_AREA, s)


def missing_csv(report: MissingReport, s: Suppressor, top: int | None = None) -> str:
    """The ranked missing list, then areas with nobody registered that it leaves out.

    The text and JSON forms list both; the `list` column says which each line belongs to.
    """
    columns = (
        "rank",
        *CSV_AREA,
        "benchmark_coverage",
        "basis",
        "expected",
        "shortfall",
        "share_of_benchmark",
        "tags",
        "list",
    )
    ranked = missing_document(report, s, top)["ranked"]
    listed = {row["area_code"] for row in ranked}
    protected = protect_missing(report, s)
    empty = [row for row in report.empty if row.area.code not in listed]
    rows = [{**row, "list": "ranked"} for row in ranked] + [
        {**missing_row(row, report.benchmark, protected), "rank": None, "list": "nobody_registered"}
        for row in (empty[:top] if top else empty)
    ]
    return _csv(rows, columns, s)
