"""Missing communities on a planted case; suppression in its outputs; the chart image."""

from __future__ import annotations

import json
import struct
import unicodedata
import zlib
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.areas.search import AreaIndex, AreaRecord
from bot.areas.tree import load_index
from bot.core.i18n import Catalog
from bot.reach.chart import MAX_BYTES, Bar, coverage_image
from bot.reach.csv_export import missing_csv
from bot.reach.figures import Period
from bot.reach.missing import SIBLINGS, attributed, deployment_benchmark, missing_report
from bot.reach.render import TextRenderer, missing_document
from bot.reach.suppression import Suppressor
from bot.residents.events import EventKind
from tests.test_reach import NOW, TZ, event, person

# Registered residents per Maulvibazar upazila (people aged 15+ in 2022, and of all ages).
PLANTED = {
    "605865": 10,  # Kulaura 319,485 (452,153): far behind
    "605814": 100,  # Barlekha 189,389 (272,340)
    "605883": 0,  # Sreemangal 257,784 (350,075): nobody
    "605835": 40,  # Juri 131,124 (186,995)
    "605856": 50,  # Kamalganj 204,095 (281,177)
    "605874": 60,  # Maulvi Bazar Sadar 294,755 (403,956)
    "605880": 40,  # Rajnagar 192,678 (271,288)
}
KULAURA_UNIONS = {"60586510": 8, "60586511": 2}
# What residents typed for an area not listed: a haor near Kulaura (Maulvibazar), a place in
# Dhaka, and words that name no place closely enough to say where.
UNLISTED = (
    ("Baro Haor, Kulaura", 3),
    (" baro haor, kulaura ", 1),
    ("Mirpur, Dhaka", 5),
    ("Char Para", 6),
)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


async def plant(session: AsyncSession) -> Period:
    p = Period.ending(NOW, 30, TZ)
    for upazila, count in PLANTED.items():
        for i in range(count):
            gender: str | None
            if upazila == "605865":
                area = "60586510" if i < 8 else "60586511"
                gender = "female" if i < 6 else "male"
            else:
                area = upazila
                gender = "female" if i < 60 else "male" if upazila == "605814" else None
            resident = person(session, area, gender=gender)
            if upazila == "605814" and i < 10:
                # Barlekha: 10 engaged before, 4 now (fell by more than half).
                event(session, resident, EventKind.BUTTON_TAPPED, p.start - timedelta(days=3))
                if i < 4:
                    event(session, resident, EventKind.BUTTON_TAPPED, p.start + timedelta(days=3))
            if upazila == "605835" and i < 6:
                # Juri: 6 before, 4 now: fell, but by less than half.
                event(session, resident, EventKind.QUIZ_ANSWERED, p.start - timedelta(days=3))
                if i < 4:
                    event(session, resident, EventKind.QUIZ_ANSWERED, p.start + timedelta(days=3))
    for words, n in UNLISTED:
        for _ in range(n):
            person(session, None, unlisted=words)
    await session.commit()
    return p


async def test_ranking_by_shortfall_against_the_deployment(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        p = await plant(session)
        report = await missing_report(session, ["6058"], p, level="upazila")
        # The benchmark counts the residents outside the scope too (Sylhet's 5 here).
        for _ in range(5):
            person(session, "609162")
        await session.commit()
        wider = await missing_report(session, ["6058"], p, level="upazila")
    # Over the people aged 15 and over of Maulvibazar and Sylhet districts.
    assert wider.benchmark == pytest.approx(305 * 10_000 / (1_589_310 + 3_233_390))
    # 300 registered over Maulvibazar's 1,589,310 people aged 15 and over.
    assert report.benchmark == pytest.approx(300 * 10_000 / 1_589_310)
    assert report.denominator == "population_15plus" and not report.fell_back
    ranked = [(row.area.code, row.expected, row.registered, row.shortfall) for row in report.ranked]
    # By the share of the benchmark reached: Sreemangal (nobody) first, then Kulaura (17 %).
    assert ranked == [("605883", 49, 0, 49), ("605865", 60, 10, 50)]
    assert [row.area.code for row in report.empty] == ["605883"]
    assert [row.area.code for row in report.falling(5)] == ["605814"]
    assert report.unknown == []  # no index given: words are not placed, so not shown
    kulaura = next(row for row in report.ranked if row.area.code == "605865")
    assert kulaura.area.parent_name_en == "Maulvibazar" and nfc(kulaura.area.name_bn or "") == nfc(
        "কুলাউড়া"
    )


async def test_unlisted_areas_only_where_the_words_place_them(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        p = await plant(session)
        index = await load_index(session)
        country = await missing_report(session, [""], p, level="district", index=index)
        maulvibazar = await missing_report(session, ["6058"], p, index=index)
        kulaura = await missing_report(session, ["605865"], p, level="union", index=index)
        sylhet = await missing_report(session, ["6091"], p, index=index)
        dhaka = await missing_report(session, ["30"], p, index=index)
        unindexed_country = await missing_report(session, [""], p, level="district")
        benchmark = await deployment_benchmark(session, p)
    # However the scope splits the residents, the benchmark is the deployment's.
    reports = (country, maulvibazar, kulaura, sylhet, dhaka)
    assert [r.benchmark for r in reports] == [pytest.approx(benchmark)] * len(reports)
    # The whole country: everything typed, most common first, index or not.
    everything = [("char para", 6), ("mirpur, dhaka", 5), ("baro haor, kulaura", 4)]
    assert country.unknown == unindexed_country.unknown == everything
    # A coordinator of Maulvibazar sees the words naming a place there, not Dhaka's.
    assert maulvibazar.unknown == kulaura.unknown == [("baro haor, kulaura", 4)]
    assert sylhet.unknown == []
    assert dhaka.unknown == [("mirpur, dhaka", 5)]


def test_attribution_needs_a_close_match_inside_the_scope() -> None:
    index = AreaIndex.build(
        [
            AreaRecord("30", None, "division", "Dhaka", None),
            AreaRecord("3026", "30", "district", "Dhaka", None),
            AreaRecord("302648", "3026", "upazila", "Mirpur", None),
            AreaRecord("60", None, "division", "Sylhet", None),
            AreaRecord("6058", "60", "district", "Maulvibazar", None),
            AreaRecord("605865", "6058", "upazila", "Kulaura", None),
            AreaRecord("60586510", "605865", "union", "Mirpur", None),
        ]
    )
    assert attributed(index, "kulaura", ["6058"]) and not attributed(index, "kulaura", ["30"])
    # Namesakes equally good: the words could be either, so neither district sees them;
    # a scope holding both (here the whole country) does.
    assert not attributed(index, "mirpur", ["6058"]) and not attributed(index, "mirpur", ["3026"])
    assert attributed(index, "mirpur", ["6058", "3026"]) and attributed(index, "mirpur", [""])
    # A parent named with it picks one namesake out.
    assert attributed(index, "mirpur, dhaka", ["30"])
    assert not attributed(index, "mirpur, dhaka", ["6058"])
    # Nothing close, or nothing typed: no scope gets the words.
    assert not attributed(index, "by the river", ["", "30", "60"])
    assert not attributed(index, "", ["60"])


async def test_unions_are_compared_with_their_siblings(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        p = await plant(session)
        report = await missing_report(session, ["605865"], p, level="union")
    assert {row.basis for row in report.rows} == {SIBLINGS}
    assert len(report.rows) == 14
    # 10 residents over 14 unions: an average of 1; 12 unions have nobody.
    assert len(report.ranked) == 12 and all(row.shortfall == 1 for row in report.ranked)
    assert "60586510" not in {row.area.code for row in report.ranked}
    assert len(report.empty) == 12
    assert all(row.area.population is None for row in report.rows)


async def test_missing_outputs_suppress_small_counts(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        p = await plant(session)
        index = await load_index(session)
        report = await missing_report(session, ["6058"], p, level="upazila", index=index)
        unions = await missing_report(session, ["605865"], p, level="union")
    s = Suppressor(5)
    document = missing_document(report, s)
    assert document["schema"] == "sabai.missing/3"
    first = document["ranked"][1]
    assert (first["rank"], first["area_code"], first["shortfall"]) == (2, "605865", 50)
    # 10 per 319,485 people aged 15 and over; the total is still there.
    assert first["registered"] == 10 and first["coverage"] == 0.3
    assert (first["population"], first["population_15plus"]) == (452_153, 319_485)
    assert first["denominator"] == document["denominator"] == "population_15plus"
    assert document["unknown_areas"] == [
        {"typed": "baro haor, kulaura", "count": None, "suppressed": True}
    ]
    gender = {g["area_code"]: g for g in document["gender"]}
    assert gender["605865"]["male"] is None and gender["605865"]["gap"] is None  # 4 men
    # Kulaura's 4 men are hidden, so the next fewest men (Barlekha's 40) are hidden too:
    # Maulvibazar's total of men minus Barlekha's would give Kulaura's away.
    assert gender["605814"]["male"] is None and gender["605814"]["female_share"] is None
    open_gender = {g["area_code"]: g for g in missing_document(report, Suppressor.off())["gender"]}
    assert open_gender["605814"]["female_share"] == 0.6
    assert open_gender["605814"]["gap"] == pytest.approx(144148 / 272340 - 0.6, abs=0.001)
    # Union level: every union ranked has nobody (0 is shown, never hidden).
    union_doc = missing_document(unions, s, top=None)
    assert {row["registered"] for row in union_doc["ranked"]} == {0}
    csv_rows = missing_csv(unions, s).splitlines()
    assert csv_rows[0].startswith("rank,area_code") and len(csv_rows) == 13
    text = TextRenderer(Catalog.load(), "en", s, markup=True).missing(report, "Maulvibazar")
    assert "baro haor" in text and "&lt;5" in text and "mirpur" not in text
    assert "Kulaura, Maulvibazar" in text and "short by 50" in text
    assert "Sreemangal" in text  # nobody registered
    assert "Barlekha" in text  # engagement fell
    assert len(text) < 3000
    open_document = missing_document(report, Suppressor.off())
    assert {"typed": "baro haor, kulaura", "count": 4, "suppressed": False} in open_document[
        "unknown_areas"
    ]


async def test_missing_text_in_bangla(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        p = await plant(session)
        report = await missing_report(session, ["6058"], p, level="upazila")
    text = TextRenderer(Catalog.load(), "bn", Suppressor(5), markup=True).missing(
        report, "মৌলভীবাজার"
    )
    assert nfc("কুলাউড়া") in nfc(text) and "ঘাটতি ৫০" in text
    assert not any(ch.isascii() and ch.isdigit() for ch in text.replace("10,000", ""))


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks.append((kind, body))
        offset += 12 + length
    return chunks


@pytest.mark.parametrize("codes", [list(PLANTED), [*KULAURA_UNIONS, "60586513"]])
def test_chart_is_a_valid_small_png(codes: list[str]) -> None:
    bars = [
        Bar(code, n, 300_000 if len(code) == 6 else None, None if len(code) == 6 else 5)
        for code, n in zip(codes, (10, 100, 0, 40, 50, 60, 40), strict=False)
    ]
    image = coverage_image(bars, 1.35, Suppressor(5))
    assert len(image) < MAX_BYTES
    chunks = _png_chunks(image)
    kinds = [kind for kind, _ in chunks]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    width, height = struct.unpack(">II", chunks[0][1][:8])
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(raw) == height * (width + 1)
    assert len(set(raw)) > 3  # more than background and borders: areas are coloured


def test_chart_hides_what_suppression_hides() -> None:
    s = Suppressor(5)
    # An area with 3 registered is drawn exactly like one with no census figure.
    small = coverage_image([Bar("605865", 3, 452_153)], 1.0, s)
    unknown = coverage_image([Bar("605865", 40, None)], 1.0, s)
    assert small == unknown


async def test_cli_json_schema(sessions: async_sessionmaker[AsyncSession], db_url: str) -> None:
    import argparse
    import io

    from bot.cli import reach as cli_reach
    from tests.botkit import test_settings

    async with sessions() as session:
        await plant(session)
    out = io.StringIO()
    args = argparse.Namespace(
        command="missing",
        area="6058",
        level="upazila",
        top=1,
        period="30d",
        format="json",
        language="en",
        unsuppressed=False,
    )
    assert await cli_reach.run(args, test_settings(db_url), out) == 0
    document = json.loads(out.getvalue())
    assert [row["area_code"] for row in document["ranked"]] == ["605883"]
    for key in (
        "area_code",
        "name_en",
        "name_bn",
        "level",
        "population",
        "population_year",
        "population_15plus",
        "denominator",
        "registered",
        "reached",
        "engaged",
        "coverage",
        "shortfall",
        "suppressed",
    ):
        assert key in document["ranked"][0]
    out = io.StringIO()
    args.command, args.format = "reach", "csv"
    assert await cli_reach.run(args, test_settings(db_url), out) == 0
    assert out.getvalue().startswith("area_code,name_en,name_bn,level")


async def test_only_an_admin_covering_the_area_exports_unsuppressed_figures(
    sessions: async_sessionmaker[AsyncSession], db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse
    import io

    from bot.cli import reach as cli_reach
    from bot.staff.audit import Act, audit_entries
    from bot.staff.roles import Role, grant_role, staff_of
    from tests.botkit import test_settings

    async with sessions() as session:
        await plant(session)
        await grant_role(session, 9101, Role.ADMIN, "6058", "cli:test")
        await grant_role(session, 9102, Role.ADMIN, "6090", "cli:test")
        await grant_role(session, 9103, Role.COORDINATOR, "6058", "cli:test")
        await session.commit()

    async def export(admin: int | None, unsuppressed: bool = True) -> tuple[int, str]:
        out = io.StringIO()
        args = argparse.Namespace(
            command="reach",
            area="6058",
            period="30d",
            format="csv",
            language="en",
            unsuppressed=unsuppressed,
            admin=admin,
        )
        return await cli_reach.run(args, test_settings(db_url), out), out.getvalue()

    status, suppressed = await export(None, unsuppressed=False)
    assert status == 0 and "<5" in suppressed
    for who in (None, 9102, 9103, 9999):  # nobody, another district's admin, a coordinator
        status, text = await export(who)
        assert (status, text) == (2, ""), who
        assert "admin covering area 6058" in capsys.readouterr().err
    status, full = await export(9101)
    assert status == 0 and "<5" not in full and full != suppressed
    async with sessions() as session:
        admin = await staff_of(session, 9101)
        exports = [e for e in await audit_entries(session) if e.act == Act.EXPORT_UNSUPPRESSED]
    assert admin is not None
    assert [(e.actor, e.scope) for e in exports] == [(admin.pseudonym, "6058")]
    assert exports[0].details is not None and str(exports[0].details["via"]).startswith("cli:")
