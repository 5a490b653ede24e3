"""Coverage measured against people aged 15 and over, the total kept beside it; on SQLite and
PostgreSQL. A child-heavy haor upazila and a town compared both ways, unions, a report that
must fall back to everyone, and the figures in every output."""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.areas.importer import data_dir, ensure_areas, import_areas, read_population
from bot.areas.models import AreaPopulation
from bot.core.config import ConfigError, load_settings
from bot.core.i18n import Catalog
from bot.reach.chat import missing_chat, reach_chat
from bot.reach.csv_export import missing_csv, reach_csv
from bot.reach.digest import compose_digest, digest_for
from bot.reach.figures import (
    ADULTS,
    PREFER_TOTAL,
    TOTAL,
    Period,
    choose_denominator,
)
from bot.reach.missing import missing_report
from bot.reach.render import TextRenderer, missing_document, reach_document
from bot.reach.report import reach_report
from bot.reach.suppression import Suppressor
from tests import botkit
from tests.test_reach import NOW, TZ, person

SYLHET_DISTRICT = "6091"
# Companiganj: 264,962 people, 164,909 of them aged 15+ (62 %, among the fewest adults).
# Sylhet Sadar: 1,313,758 people, 974,959 of them aged 15+ (74 %).
COMPANIGANJ, SYLHET_SADAR = "609127", "609162"
MAULVIBAZAR, KULAURA = "6058", "605865"
TARGET = 10.0
# Reachable residents: Companiganj at 46 % of the target per person of any age, Sylhet Sadar
# at 50 %; per person aged 15+, Companiganj is at 74 % and Sylhet Sadar at 67 %.
PLANTED = {COMPANIGANJ: 122, SYLHET_SADAR: 657}


async def plant(session: AsyncSession) -> Period:
    for code, n in PLANTED.items():
        for _ in range(n):
            person(session, code)
    await session.commit()
    return Period.ending(NOW, 30, TZ)


def _order(report: Any) -> list[str]:
    return [row.area.code for row in report.ranked if row.area.code in PLANTED]


def test_the_shipped_figures_add_up() -> None:
    rows = read_population(data_dir() / "population.csv")
    latest = [r for r in rows if r["year"] == 2022]
    assert len(latest) == 616 and all(r["adults_15plus"] is not None for r in latest)
    # The 2011 tables shipped have no age bands: nothing is estimated in their place.
    assert all(r["adults_15plus"] is None for r in rows if r["year"] == 2011)
    assert all(0 < r["adults_15plus"] < r["total"] for r in latest)
    sums: dict[str, int] = defaultdict(int)
    for r in latest:
        if len(r["code"]) == 6:
            sums[r["code"][:4]] += r["adults_15plus"]
            sums[r["code"][:2]] += r["adults_15plus"]
    assert {r["code"]: r["adults_15plus"] for r in latest if len(r["code"]) < 6} == dict(sums)
    assert sum(r["adults_15plus"] for r in latest if len(r["code"]) == 2) == 123_096_305


def test_one_denominator_for_everything_compared() -> None:
    assert choose_denominator("adults", [(10, 7), (20, 15), (None, None)]) == ADULTS
    # One area without the 15+ figure puts every row on the total.
    assert choose_denominator("adults", [(10, 7), (20, None)]) == TOTAL
    assert choose_denominator("total", [(10, 7)]) == TOTAL
    with pytest.raises(ValueError, match="preference"):
        choose_denominator("children", [])


async def test_a_child_heavy_upazila_ranks_by_its_adults(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        p = await plant(session)
        adults = await missing_report(session, [SYLHET_DISTRICT], p, target=TARGET)
        everyone = await missing_report(
            session, [SYLHET_DISTRICT], p, target=TARGET, prefer=PREFER_TOTAL
        )
    # Per person of any age Companiganj looks further behind; most of the gap is children,
    # whom Sabai does not sign up: per person aged 15+ Sylhet Sadar is further behind.
    assert _order(everyone) == [COMPANIGANJ, SYLHET_SADAR]
    assert _order(adults) == [SYLHET_SADAR, COMPANIGANJ]
    rows = {row.area.code: row for row in adults.rows}
    assert (rows[COMPANIGANJ].expected, rows[COMPANIGANJ].shortfall) == (165, 43)
    assert (rows[SYLHET_SADAR].expected, rows[SYLHET_SADAR].shortfall) == (975, 318)
    old = {row.area.code: row for row in everyone.rows}
    assert (old[COMPANIGANJ].expected, old[COMPANIGANJ].shortfall) == (265, 143)
    assert adults.denominator == ADULTS and everyone.denominator == TOTAL
    assert not adults.fell_back and not everyone.fell_back

    document = missing_document(adults, Suppressor(5))
    assert (document["denominator"], document["denominator_fallback"]) == (ADULTS, False)
    row = next(r for r in document["ranked"] if r["area_code"] == COMPANIGANJ)
    # The total stays beside the figure coverage is measured against.
    assert (row["population"], row["population_15plus"]) == (264_962, 164_909)
    assert row["denominator"] == ADULTS and row["coverage"] == 7.4  # 122 per 164,909
    assert row["share_of_benchmark"] == 0.74
    total_doc = missing_document(everyone, Suppressor(5))
    old_row = next(r for r in total_doc["ranked"] if r["area_code"] == COMPANIGANJ)
    assert old_row["denominator"] == TOTAL and old_row["coverage"] == 4.6
    assert old_row["population_15plus"] == 164_909  # still shown, just not the denominator

    renderer = TextRenderer(Catalog.load(), "en", Suppressor(5), markup=False)
    text = renderer.missing(adults, "S", top=20)
    assert "the target of 10 reachable per 10,000 people aged 15 or over" in text
    assert "Companiganj, Sylhet: 164,909 people aged 15 or over (264,962 in all)" in text
    plain = renderer.missing(everyone, "S", top=20)
    assert "Companiganj, Sylhet: 264,962 people, 122 reachable" in plain
    assert "aged 15" not in plain
    found = {
        r["area_code"]: r for r in csv.DictReader(io.StringIO(missing_csv(adults, Suppressor(5))))
    }
    assert found[COMPANIGANJ]["population_15plus"] == "164909"
    assert found[COMPANIGANJ]["denominator"] == ADULTS


async def test_the_deployment_average_is_over_people_aged_15_and_over(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        p = await plant(session)
        adults = await missing_report(session, [SYLHET_DISTRICT], p)
        everyone = await missing_report(session, [SYLHET_DISTRICT], p, prefer=PREFER_TOTAL)
    # Sylhet district: 3,233,390 people aged 15 and over, 4,609,848 in all.
    assert adults.benchmark == pytest.approx(779 * 10_000 / 3_233_390)
    assert everyone.benchmark == pytest.approx(779 * 10_000 / 4_609_848)


async def test_unions_have_no_denominator_and_say_so(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        for _ in range(6):
            person(session, "60586510")
        await session.commit()
        p = Period.ending(NOW, 30, TZ)
        report = await reach_report(session, KULAURA, p)
        unions = await missing_report(session, [KULAURA], p, level="union")
    document = reach_document(report, Suppressor(5))
    area = document["area"]
    assert (area["population"], area["population_15plus"]) == (452_153, 319_485)
    assert area["denominator"] == ADULTS and area["coverage"] == 0.2  # 6 per 319,485
    assert document["denominator"] == ADULTS and document["denominator_fallback"] is False
    # Unions: no census figure of any kind, so no denominator, and no fallback note.
    assert {c["denominator"] for c in document["children"]} == {None}
    assert {c["population_15plus"] for c in document["children"]} == {None}
    union_doc = missing_document(unions, Suppressor(5))
    assert {(r["basis"], r["denominator"]) for r in union_doc["ranked"]} == {("siblings", None)}
    assert not unions.fell_back
    text = TextRenderer(Catalog.load(), "en", Suppressor(5), markup=False).reach(report)
    assert "People: 452,153, of whom 319,485 aged 15 or over (census 2022)" in text
    assert "Coverage: 0.19 per 10,000 people aged 15 or over" in text
    assert "coverage per 10,000 aged 15 or over" in text
    assert "all ages" not in text


@pytest.fixture
async def kulaura_on_2011(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Kulaura's latest census is the 2011 one (no age bands) until the test ends."""
    async with sessions() as session:
        await session.execute(
            delete(AreaPopulation).where(
                AreaPopulation.code == KULAURA, AreaPopulation.year == 2022
            )
        )
        await session.commit()
    try:
        yield sessions
    finally:
        await import_areas(sessions)  # the reference data is shared by every test


async def test_one_area_without_adults_puts_the_report_on_everyone(
    kulaura_on_2011: async_sessionmaker[AsyncSession],
) -> None:
    sessions = kulaura_on_2011
    async with sessions() as session:
        for code in (KULAURA, "605814"):
            for _ in range(20):
                person(session, code)
        await session.commit()
        p = Period.ending(NOW, 30, TZ)
        missing = await missing_report(session, [MAULVIBAZAR], p, target=TARGET)
        reach = await reach_report(session, MAULVIBAZAR, p)
        # A district whose areas all have the figure is not affected.
        sylhet = await missing_report(session, [SYLHET_DISTRICT], p, target=TARGET)
    assert missing.denominator == TOTAL and missing.fell_back
    rows = {row.area.code: row for row in missing.rows}
    assert rows[KULAURA].area.population_year == 2011
    assert rows[KULAURA].expected == 360  # 2011: 360,195 people
    assert rows["605814"].expected == 272  # everyone, not Barlekha's 189,389 aged 15+
    document = missing_document(missing, Suppressor(5))
    assert document["denominator"] == TOTAL and document["denominator_fallback"] is True
    assert {r["denominator"] for r in document["ranked"]} == {TOTAL}
    barlekha = next(r for r in document["ranked"] if r["area_code"] == "605814")
    assert barlekha["population_15plus"] == 189_389  # still shown
    assert reach.denominator == TOTAL and reach.fell_back
    assert reach_document(reach, Suppressor(5))["denominator_fallback"] is True
    for lang, note in (
        ("en", "Coverage here counts people of all ages"),
        ("bn", "সব বয়সের মানুষের হিসাবে"),
    ):
        renderer = TextRenderer(Catalog.load(), lang, Suppressor(5), markup=False)
        assert note in renderer.missing(missing, "M") and note in renderer.reach(reach)
    assert sylhet.denominator == ADULTS and not sylhet.fell_back


async def test_chat_chart_digest_and_csv_name_the_denominator(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    catalog = Catalog.load()
    s = Suppressor(5)
    async with sessions() as session:
        p = await plant(session)
        args = (session, SYLHET_DISTRICT, NOW, TZ, catalog)
        reach_en = await reach_chat(*args, "en", s, TARGET)
        reach_bn = await reach_chat(*args, "bn", s, TARGET)
        reach_total = await reach_chat(*args, "en", s, TARGET, prefer=PREFER_TOTAL)
        missing = await missing_chat(
            session, SYLHET_DISTRICT, NOW, TZ, catalog, "syl", s, await _index(session)
        )
        digest = await digest_for(session, "en", [SYLHET_DISTRICT], p, target=TARGET)
        old_digest = await digest_for(
            session, "en", [SYLHET_DISTRICT], p, target=TARGET, prefer=PREFER_TOTAL
        )
        report = await reach_report(session, SYLHET_DISTRICT, p)
    assert "People: 4,609,848, of whom 3,233,390 aged 15 or over" in reach_en.text
    assert "per 10,000 people aged 15 or over" in (reach_en.caption or "")
    assert "১৫ বছর বা তার বেশি বয়সী ৩২,৩৩,৩৯০" in reach_bn.text
    assert "১৫ বছর বা তার বেশি" in (reach_bn.caption or "")
    assert "aged 15" not in (reach_total.caption or "")
    assert "Coverage: " in reach_total.text and "per 10,000 people\n" in reach_total.text
    # The map is coloured against adults: Companiganj at 74 % of the target, not 46 %.
    assert reach_en.image and reach_total.image and reach_en.image != reach_total.image
    # Sylheti falls back to the reviewed Bangla strings.
    assert "১৫ বছর বা তার বেশি বয়সী" in missing.text
    assert "১৫ বছর বা তার বেশি" in (missing.caption or "")
    text = compose_digest(digest, catalog, s, TZ)
    assert "Most missing (counted against people aged 15 or over):" in text
    assert "Most missing:" in compose_digest(old_digest, catalog, s, TZ)
    rows = list(csv.DictReader(io.StringIO(reach_csv(report, s))))
    assert (rows[0]["population"], rows[0]["population_15plus"]) == ("4609848", "3233390")
    assert {r["denominator"] for r in rows} == {ADULTS}


async def _index(session: AsyncSession) -> Any:
    from bot.areas.tree import load_index

    return await load_index(session)


async def test_the_configuration_chooses_everyone(
    sessions: async_sessionmaker[AsyncSession], db_url: str
) -> None:
    from bot.cli import reach as cli_reach

    async with sessions() as session:
        await plant(session)
    documents = {}
    for preference in ("adults", "total"):
        out = io.StringIO()
        args = argparse.Namespace(
            command="reach",
            area=SYLHET_DISTRICT,
            period="30d",
            format="json",
            language="en",
            unsuppressed=False,
        )
        settings = botkit.test_settings(db_url, reach_denominator=preference)
        assert await cli_reach.run(args, settings, out) == 0
        documents[preference] = json.loads(out.getvalue())
    assert documents["adults"]["schema"] == "sabai.reach/3"
    assert documents["adults"]["denominator"] == ADULTS
    assert documents["total"]["denominator"] == TOTAL
    assert documents["total"]["denominator_fallback"] is False  # asked for, not a fallback
    assert documents["adults"]["area"]["coverage"] == 2.4  # 779 per 3,233,390
    assert documents["total"]["area"]["coverage"] == 1.7  # 779 per 4,609,848


def test_config_reach_denominator(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("")
    assert load_settings(path, environ={}).reach_denominator == "adults"
    path.write_text('[reach]\ndenominator = "total"\n')
    assert load_settings(path, environ={}).reach_denominator == "total"
    path.write_text('[reach]\ndenominator = "18plus"\n')
    with pytest.raises(ConfigError, match=r"reach\.denominator"):
        load_settings(path, environ={})


async def test_a_database_imported_without_adults_gets_them_at_start(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        await session.execute(update(AreaPopulation).values(adults_15plus=None))
        await session.commit()
    try:
        report = await ensure_areas(sessions)
        assert report is not None and report.populations == 1232
        assert await ensure_areas(sessions) is None  # only once
        async with sessions() as session:
            adults = await session.scalar(
                select(AreaPopulation.adults_15plus).where(
                    AreaPopulation.code == KULAURA, AreaPopulation.year == 2022
                )
            )
        assert adults == 319_485
    finally:
        await import_areas(sessions)
