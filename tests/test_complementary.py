"""Complementary suppression: a parent's total minus its shown children never reveals a hidden
child, in chat, CSV, JSON, the chart and the digest; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.i18n import Catalog
from bot.reach.chart import Bar, coverage_image
from bot.reach.chat import reach_chat
from bot.reach.csv_export import reach_csv
from bot.reach.digest import compose_digest, digest_for
from bot.reach.figures import Period
from bot.reach.missing import missing_report
from bot.reach.render import TextRenderer, missing_document, reach_document
from bot.reach.report import reach_report
from bot.reach.suppression import Suppressor, complementary
from tests.test_reach import NOW, TZ, person

KULAURA, BARLEKHA, JURI, RAJNAGAR = "605865", "605814", "605835", "605880"


async def plant(session: AsyncSession, kulaura: int = 3, rajnagar: int = 0) -> Period:
    for code, n in ((KULAURA, kulaura), (BARLEKHA, 20), (JURI, 40), (RAJNAGAR, rajnagar)):
        for _ in range(n):
            person(session, code)
    await session.commit()
    return Period.ending(NOW, 30, TZ)


def test_one_hidden_member_hides_the_next_smallest() -> None:
    s = Suppressor(5)
    group = {"a": {"n": 3}, "b": {"n": 20}, "c": {"n": 40}, "d": {"n": 0}}
    assert complementary([group], s) == {("b", "n")}
    # Two hidden already: neither can be worked out alone.
    assert complementary([group | {"d": {"n": 2}}], s) == set()
    assert complementary([group], Suppressor.off()) == set()


async def test_the_next_smallest_child_is_hidden_everywhere(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    s = Suppressor(5)
    async with sessions() as session:
        p = await plant(session)
        report = await reach_report(session, "6058", p)
        chat = await reach_chat(session, "6058", NOW, TZ, Catalog.load(), "en", s)
        missing = await missing_report(session, ["6058"], p, target=10.0)
        digest = await digest_for(
            session, "en", ["6058"], Period(p.end - timedelta(days=7), p.end, TZ), target=10.0
        )
    document = reach_document(report, s)
    assert document["area"]["registered"] == 63  # the total stays: coordinators need it
    children = {c["area_code"]: c for c in document["children"]}
    # Kulaura's 3 are hidden; 63 − 40 − 20 would give them away, so Barlekha's 20 go too.
    assert children[KULAURA]["registered"] is None
    assert children[BARLEKHA]["registered"] is None and children[BARLEKHA]["coverage"] is None
    assert children[BARLEKHA]["suppressed"]["registered"] is True
    assert children[JURI]["registered"] == 40
    assert '"registered": 20' not in json.dumps(document)
    rows = {line.split(",")[0]: line for line in reach_csv(report, s).splitlines()}
    assert ",<5," in rows[BARLEKHA] and ",20," not in rows[BARLEKHA]
    text = TextRenderer(Catalog.load(), "en", s, markup=False).reach(report, top=20)
    assert "Barlekha: <5" in text and "Juri: 40" in text and ": 20," not in text
    assert "Barlekha: &lt;5" in chat.text
    # The chart draws Barlekha grey, like an area without a census figure; coverage is per
    # people aged 15 and over (Juri 131,124, Kulaura 319,485).
    bars = [Bar(JURI, 40, 131_124), Bar(BARLEKHA, 20, None), Bar(KULAURA, 3, 319_485)]
    zero = [Bar(c.area.code, 0, c.area.population_15plus) for c in report.children]
    shown = [b for b in zero if b.code not in {JURI, BARLEKHA, KULAURA}]
    from bot.reach.missing import deployment_benchmark

    async with sessions() as session:
        benchmark = await deployment_benchmark(session, p)
    assert chat.image == coverage_image([*bars, *shown], benchmark, s)
    # The missing report and the digest hide the same cells.
    missing_doc = {r["area_code"]: r for r in missing_document(missing, s)["ranked"]}
    assert missing_doc[BARLEKHA]["shortfall"] is None and missing_doc[BARLEKHA]["reachable"] is None
    assert missing_doc[JURI]["shortfall"] == 91  # 10 per 10,000 of 131,124, minus 40
    assert (BARLEKHA, "reachable") in digest.hidden
    barlekha = next(r for r in missing.rows if r.area.code == BARLEKHA)
    digest_text = compose_digest(replace(digest, missing=[barlekha]), Catalog.load(), s, TZ)
    assert "Barlekha: short by withheld" in digest_text and "169" not in digest_text


async def test_nothing_extra_hidden_when_two_are_small(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        p = await plant(session, rajnagar=2)
        report = await reach_report(session, "6058", p)
    children = {c["area_code"]: c for c in reach_document(report, Suppressor(5))["children"]}
    assert children[BARLEKHA]["registered"] == 20
    assert children[KULAURA]["registered"] is None and children[RAJNAGAR]["registered"] is None
