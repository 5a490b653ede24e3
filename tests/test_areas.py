"""Finding areas the way residents type them, and reading the hierarchy from the database."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.areas.importer import data_dir, read_areas, read_population
from bot.areas.search import AreaIndex, AreaRecord
from bot.areas.tokens import MAX_QUERY_CHARS
from bot.areas.tree import AreaService, AreaView, describe, display_name, load_index

MAULVIBAZAR = "6058"
SUNAMGANJ = "6090"
SREEMANGAL = "605883"


@pytest.fixture(scope="module")
def index() -> AreaIndex:
    """The index over the shipped areas, built without a database."""
    population: dict[str, int] = {}
    for row in sorted(read_population(data_dir() / "population.csv"), key=lambda r: r["year"]):
        population[row["code"]] = row["total"]
    return AreaIndex.build(
        AreaRecord(population=population.get(a["code"]), **a)
        for a in read_areas(data_dir() / "areas.csv")
    )


def first_code(index: AreaIndex, query: str) -> str | None:
    found = index.search(query)
    return found[0].code if found else None


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("moulvibazar", MAULVIBAZAR),
        ("Maulvibazar", MAULVIBAZAR),
        ("maulvi bazar", MAULVIBAZAR),
        ("Moulvibazar district", MAULVIBAZAR),
        ("Moulvibazar zila", MAULVIBAZAR),
        ("মৌলভীবাজার", MAULVIBAZAR),
        ("মৌলভী বাজার", MAULVIBAZAR),
        ("মৌলভীবাজার জেলা", MAULVIBAZAR),
        ("মৌলভী\u200cবাজার", MAULVIBAZAR),  # a ZWNJ from the keyboard
        ("moulovibazar", MAULVIBAZAR),
        ("  MOULVIBAZAR!!  ", MAULVIBAZAR),
        ("moulvi", MAULVIBAZAR),  # still typing
        ("sylet", "60"),
        ("sylhet", "60"),
        ("সিলেট", "60"),
        ("sunamgonj", SUNAMGANJ),
        ("sunamganj", SUNAMGANJ),
        ("শুনামগঞ্জ", SUNAMGANJ),
        ("সুনামগঞ্জ", SUNAMGANJ),
        ("srimongol", SREEMANGAL),
        ("sreemangal", SREEMANGAL),
        ("Srimangal upazila", SREEMANGAL),
        ("শ্রীমঙ্গল", SREEMANGAL),
        ("kulaura", "605865"),
        ("কুলাউড়া", "605865"),
        ("kamalganj", "605856"),
        ("kamalgonj", "605856"),
        ("jagannathpur", "609047"),
        ("jaganathpur", "609047"),
        ("tahirpur", "609092"),
        ("tahirpoor", "609092"),
        ("তাহিরপুর", "609092"),
        ("hobigonj", "6036"),
        ("comilla", "2019"),
        ("cumilla", "2019"),  # renamed in 2018
        ("chattogram", "20"),
        ("Maulvibazar Sadar", "605874"),
        ("moulvibazar sadar upazila", "605874"),
        ("Sadar, Moulvibazar", "605874"),  # words turned round
        ("Kulaura, Maulvibazar", "605865"),
        ("বায়েজিদ বোস্তামী", "201506"),  # a metro thana with no Bangla name in the data
    ],
)
def test_resident_queries_find_the_right_area_first(
    index: AreaIndex, query: str, code: str
) -> None:
    assert first_code(index, query) == code


def test_district_comes_before_its_sadar_upazila(index: AreaIndex) -> None:
    found = index.search("Maulvibazar")
    assert [m.code for m in found[:2]] == [MAULVIBAZAR, "605874"]
    assert found[0].exact and found[0].score == 1.0
    assert found[0].parents[0].name_en == "Sylhet"


def test_sylhet_lists_the_division_and_the_district(index: AreaIndex) -> None:
    codes = [m.code for m in index.search("sylet")]
    assert codes[:2] == ["60", "6091"]


def test_match_carries_its_parent_chain_division_first(index: AreaIndex) -> None:
    union = next(m for m in index.search("kulaura") if m.level == "union")
    assert [p.level for p in union.parents] == ["division", "district", "upazila"]
    assert [p.code for p in union.parents] == ["60", MAULVIBAZAR, "605865"]
    assert union.parents[1].name_bn == "মৌলভীবাজার"


def test_ambiguous_union_name_lists_every_namesake_with_its_parents(index: AreaIndex) -> None:
    found = [m for m in index.search("Durgapur", limit=30) if m.score == 1.0]
    assert len(found) >= 10
    assert {m.name_en for m in found} == {"Durgapur"}
    # Bigger units first, then the unions; each namesake has a different parent.
    assert found[0].level == "upazila"
    chains = {tuple(p.code for p in m.parents) for m in found}
    assert len(chains) == len(found)


def test_parent_named_after_the_area_picks_the_namesake(index: AreaIndex) -> None:
    found = index.search("durgapur, netrokona")
    assert found
    assert all(any(p.code == "4572" for p in m.parents) for m in found)
    found = index.search("durgapur rajshahi")
    assert found[0].code == "508131"


@pytest.mark.parametrize(
    "query", ["asdfgh", "😀", "😀😀😀", "", "   ", "?!.,", "district", "upazila", "zzzz", "12345"]
)
def test_garbage_finds_nothing(index: AreaIndex, query: str) -> None:
    assert index.search(query) == []


def test_numbers_in_names_are_not_folded_together(index: AreaIndex) -> None:
    found = index.search("ward no 1", limit=50)
    assert found
    assert {m.name_en for m in found if m.exact} == {"Ward No-01"}


def test_a_whole_telegram_message_is_cheap_and_harmless(index: AreaIndex) -> None:
    assert first_code(index, "Maulvibazar" + " " * 4085) == MAULVIBAZAR
    assert index.search("x" * 4096) == []
    long = "মৌলভীবাজার " * 400
    assert len(long) > MAX_QUERY_CHARS
    assert isinstance(index.search(long), list)


def test_limit_is_respected(index: AreaIndex) -> None:
    assert len(index.search("pur", limit=3)) == 3
    assert index.search("sylhet", limit=0) == []


@settings(max_examples=150, deadline=None)
@given(query=st.text(max_size=200))
def test_any_text_is_answered_without_error(index: AreaIndex, query: str) -> None:
    found = index.search(query, limit=5)
    assert len(found) <= 5
    assert all(0 < m.score <= 1 for m in found)


def test_build_accepts_missing_parents_and_bangla_names() -> None:
    index = AreaIndex.build(
        [
            AreaRecord("99", None, "division", "Testland", None),
            AreaRecord("9901", "99", "district", "Foo Sadar", "ফু সদর"),
            AreaRecord("990101", "9999", "upazila", "Orphan", None),
        ]
    )
    assert len(index) == 3
    assert index.search("foo")[0].code == "9901"
    assert index.search("ফু")[0].parents[0].code == "99"
    assert index.search("orphan")[0].parents == ()


# --- names for display ------------------------------------------------------------------------

KULAURA = AreaView("605865", "upazila", "Kulaura", "কুলাউড়া", MAULVIBAZAR)
CHAIN = [
    AreaView("60", "division", "Sylhet", "সিলেট", None),
    AreaView(MAULVIBAZAR, "district", "Maulvibazar", "মৌলভীবাজার", "60"),
]


def test_display_name_follows_the_script_of_the_language() -> None:
    assert display_name(KULAURA, "en") == "Kulaura"
    assert display_name(KULAURA, "bn") == "কুলাউড়া"
    assert display_name(KULAURA, "syl") == "কুলাউড়া"
    assert display_name(KULAURA, None) == "Kulaura"
    thana = AreaView("201506", "upazila", "Bayejid Bostami", None, "2015")
    assert display_name(thana, "bn") == "Bayejid Bostami"


def test_describe_names_the_parent_district() -> None:
    assert describe(KULAURA, CHAIN, "en") == "Kulaura, Maulvibazar"
    assert describe(KULAURA, CHAIN, "bn") == "কুলাউড়া, মৌলভীবাজার"
    union = AreaView("60586565", "union", "Kulaura", "কুলাউড়া", "605865")
    assert describe(union, [*CHAIN, KULAURA], "en") == "Kulaura, Kulaura, Maulvibazar"
    assert describe(CHAIN[1], CHAIN[:1], "en") == "Maulvibazar, Sylhet"
    assert describe(CHAIN[0], [], "en") == "Sylhet"


# --- the database -----------------------------------------------------------------------------


async def test_get_returns_plain_values(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        service = AreaService(session)
        area = await service.get(MAULVIBAZAR)
        assert area == AreaView(MAULVIBAZAR, "district", "Maulvibazar", "মৌলভীবাজার", "60")
        assert await service.get("00") is None


async def test_children_of_nothing_are_the_divisions(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        divisions, total = await AreaService(session).children(None, 0, 20)
    assert total == 8
    assert [d.name_en for d in divisions] == [
        "Barisal",
        "Chittagong",
        "Dhaka",
        "Khulna",
        "Mymensingh",
        "Rajshahi",
        "Rangpur",
        "Sylhet",
    ]
    assert all(d.level == "division" and d.parent_code is None for d in divisions)


async def test_children_come_in_pages(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        service = AreaService(session)
        first, total = await service.children(MAULVIBAZAR, 0, 3)
        second, _ = await service.children(MAULVIBAZAR, 3, 3)
        last, _ = await service.children(MAULVIBAZAR, 6, 3)
        beyond, _ = await service.children(MAULVIBAZAR, 9, 3)
        none, no_total = await service.children("60586565", 0, 3)
    assert total == 7
    assert [a.name_en for a in first + second + last] == [
        "Barlekha",
        "Juri",
        "Kamalganj",
        "Kulaura",
        "Maulvi Bazar Sadar",
        "Rajnagar",
        "Sreemangal",
    ]
    assert len(last) == 1
    assert beyond == []
    assert (none, no_total) == ([], 0)


async def test_ancestors_are_division_first(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        service = AreaService(session)
        chain = await service.ancestors("60586565")
        assert [a.code for a in chain] == ["60", MAULVIBAZAR, "605865"]
        assert await service.ancestors("60") == []
        assert await service.ancestors("00") == []
        union = await service.get("60586565")
    assert union is not None
    assert describe(union, chain, "en") == "Kulaura, Kulaura, Maulvibazar"


async def test_latest_population(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        service = AreaService(session)
        assert await service.latest_population(MAULVIBAZAR) == (2022, 2217984)
        assert await service.latest_population("60586565") is None  # unions have no figures


async def test_index_loads_from_the_database(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        index = await load_index(session)
    assert len(index) == 5776
    assert index.search("moulvibazar")[0].code == MAULVIBAZAR
    assert index.search("শ্রীমঙ্গল")[0].code == SREEMANGAL
