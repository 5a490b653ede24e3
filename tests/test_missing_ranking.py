"""Missing communities measured right: reachable people once, ranked by the share of the
benchmark, an absolute target, coordinators' priority tags, the digest's lists; on SQLite and
PostgreSQL."""

from __future__ import annotations

import argparse
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.areas.tags import TagError, list_tags, tag_areas, tags_of, untag_areas
from bot.core.config import Settings
from bot.core.i18n import Catalog
from bot.reach.csv_export import missing_csv
from bot.reach.digest import compose_digest, digest_for
from bot.reach.figures import Period
from bot.reach.missing import missing_report
from bot.reach.render import TextRenderer, missing_document
from bot.reach.suppression import Suppressor
from tests import botkit
from tests.test_reach import NOW, TZ, person

KULAURA, BARLEKHA, SREEMANGAL, JURI = "605865", "605814", "605883", "605835"
KAMALGANJ, SADAR, RAJNAGAR = "605856", "605874", "605880"
# Reachable per 10,000 people aged 15 and over: Kulaura (319,485 of them) should have 319.
TARGET = 10.0

# (reachable, unreachable) per upazila of Maulvibazar, against TARGET:
PLANTED = {
    KULAURA: (96, 0),  # 30 % of its 319: short by 223, more than any area reached
    BARLEKHA: (9, 0),  # 5 % of 189 (4.75 %)
    SREEMANGAL: (0, 0),  # nobody registered
    JURI: (79, 0),  # 60 % of 131
    KAMALGANJ: (0, 6),  # 6 registered, all blocked the bot: nobody reachable
    SADAR: (500, 0),  # above the target
    RAJNAGAR: (19, 0),  # 10 % of 193 (9.86 %)
}


async def plant(session: AsyncSession) -> Period:
    for code, (reachable, unreachable) in PLANTED.items():
        for _ in range(reachable):
            person(session, code)
        for _ in range(unreachable):
            person(session, code, status="unreachable")
    # An assisted person registered again: registered twice, reachable once.
    for again in (False, True):
        person(session, SADAR, channel="assisted").registered_again = again
    await session.commit()
    return Period.ending(NOW, 30, TZ)


async def test_ranked_by_share_of_the_benchmark_nobody_reached_first(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        p = await plant(session)
        report = await missing_report(session, ["6058"], p, target=TARGET)
    ranked = [(r.area.code, r.reachable, r.expected, r.shortfall) for r in report.ranked]
    assert ranked == [
        (SREEMANGAL, 0, 258, 258),  # nobody reached; the larger shortfall of the two
        (KAMALGANJ, 0, 204, 204),
        (BARLEKHA, 9, 189, 180),  # 5 % before 10 % before 30 % before 60 %
        (RAJNAGAR, 19, 193, 174),
        (KULAURA, 96, 319, 223),
        (JURI, 79, 131, 52),
    ]
    assert report.target and report.benchmark == TARGET
    # Nobody registered: listed apart too, and ranked.
    assert [r.area.code for r in report.empty] == [SREEMANGAL]
    kamalganj = next(r for r in report.rows if r.area.code == KAMALGANJ)
    sadar = next(r for r in report.rows if r.area.code == SADAR)
    assert (kamalganj.registered, kamalganj.reachable) == (6, 0)
    assert (sadar.registered, sadar.reachable) == (502, 501)
    document = missing_document(report, Suppressor(5))
    assert document["schema"] == "sabai.missing/3" and document["benchmark"] == "target"
    first = document["ranked"][0]
    assert (first["area_code"], first["rank"], first["share_of_benchmark"]) == (SREEMANGAL, 1, 0)
    assert {"expected", "shortfall", "registered", "reachable", "tags"} <= set(first)
    assert document["ranked"][1]["registered"] == 6 and document["ranked"][1]["reachable"] == 0
    header = missing_csv(report, Suppressor(5)).splitlines()[0].split(",")
    assert {"expected", "shortfall", "share_of_benchmark", "tags", "reachable"} <= set(header)


async def test_an_absolute_target_shows_when_every_area_is_far_behind(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from bot.reach.report import area_infos

    async with sessions() as session:
        # Every upazila at the same 0.1 % (1 per 1,000 people aged 15 and over): level with
        # the average.
        for area in await area_infos(session, "6058", "upazila"):
            for _ in range((area.population_15plus or 0) // 1000):
                person(session, area.code)
        await session.commit()
        p = Period.ending(NOW, 30, TZ)
        own = await missing_report(session, ["6058"], p)
        target = await missing_report(session, ["6058"], p, target=50.0)
    assert all((row.share or 0) > 0.99 for row in own.ranked)
    assert len(target.ranked) == 7 and all(0.19 < (r.share or 0) < 0.21 for r in target.ranked)
    text = TextRenderer(Catalog.load(), "en", Suppressor(5), markup=True).missing(target, "M")
    assert "the target of 50 reachable per 10,000" in text


async def test_priority_tags_first_within_a_coverage_band(
    sessions: async_sessionmaker[AsyncSession], db_url: str
) -> None:
    async with sessions() as session:
        p = await plant(session)
        assert await tag_areas(session, [RAJNAGAR, KAMALGANJ], "Haor", "cli:test") == 2
        assert await tag_areas(session, [RAJNAGAR], "haor", "cli:test") == 0  # already
        await session.commit()
        plain = await missing_report(session, ["6058"], p, target=TARGET)
        first = await missing_report(session, ["6058"], p, target=TARGET, priority=["haor"])
    order = [r.area.code for r in plain.ranked]
    assert order.index(BARLEKHA) < order.index(RAJNAGAR)
    tagged = [r.area.code for r in first.ranked]
    # Within a band the tagged come first: Kamalganj ahead of Sreemangal (nobody reached),
    # Rajnagar (10 %) ahead of Barlekha (5 %); no area leaves its band.
    assert tagged == [KAMALGANJ, SREEMANGAL, RAJNAGAR, BARLEKHA, KULAURA, JURI]
    text = TextRenderer(Catalog.load(), "en", Suppressor(5), markup=True).missing(first, "M")
    assert "Rajnagar, Maulvibazar" in text and "[haor]" in text
    # The command line: --priority, and the config's target.
    settings = botkit.test_settings(db_url, reach_target_per_10000=TARGET)
    document = await _missing_cli(settings, priority="haor")
    assert [r["area_code"] for r in document["ranked"]][:4] == tagged[:4]
    assert document["ranked"][2]["tags"] == ["haor"] and document["priority_tags"] == ["haor"]
    config_priority = botkit.test_settings(
        db_url, reach_target_per_10000=TARGET, reach_priority_tags=("haor",)
    )
    assert (await _missing_cli(config_priority))["ranked"][2]["area_code"] == RAJNAGAR


async def _missing_cli(settings: Settings, priority: str | None = None) -> dict[str, Any]:
    from bot.cli import reach as cli_reach

    out = io.StringIO()
    args = argparse.Namespace(
        command="missing",
        area="6058",
        level="upazila",
        top=None,
        period="30d",
        format="json",
        language="en",
        unsuppressed=False,
        priority=priority,
    )
    assert await cli_reach.run(args, settings, out) == 0
    document: dict[str, Any] = json.loads(out.getvalue())
    return document


async def test_tags_are_checked_listed_inherited_and_audited(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from bot.staff.audit import audit_entries

    async with sessions() as session:
        with pytest.raises(TagError, match="no area with code '999999'"):
            await tag_areas(session, ["999999"], "haor", "cli:test")
        with pytest.raises(TagError, match="must start with a letter"):
            await tag_areas(session, [KULAURA], "9 haor!", "cli:test")
        await tag_areas(session, ["6090"], "haor", "cli:test")  # Sunamganj district
        await session.commit()
        assert [(t.code, t.tag) for t in await list_tags(session)] == [("6090", "haor")]
        assert tags_of({"6090": ("haor",)}, "609018") == ("haor",)  # an upazila inside
        assert await untag_areas(session, ["6090"], "haor", "cli:test") == 1
        await session.commit()
        acts = [(e.act, e.scope) for e in await audit_entries(session)]
    assert ("area_tagged", "6090") in acts and ("area_untagged", "6090") in acts


def test_areas_tag_commands_from_the_shell(db_url: str) -> None:
    import asyncio

    from bot.cli import area_tags

    settings = botkit.test_settings(db_url)

    def run(*argv: str) -> tuple[int, str]:
        out = io.StringIO()
        parser = argparse.ArgumentParser()
        area_tags.add_commands(parser.add_subparsers(dest="areas_command"))
        args = parser.parse_args(argv)
        return asyncio.run(area_tags.run(args, settings, out)), out.getvalue()

    assert run("tag", "--tag", "haor", "--area", f"{KULAURA},{JURI}") == (
        0,
        "tagged 2 areas 'haor'\n",
    )
    status, listing = run("tags")
    assert status == 0 and f"haor\t{KULAURA}\tupazila\tKulaura" in listing
    assert run("untag", "--tag", "haor", "--area", JURI) == (0, "untagged 1 areas\n")
    assert run("tag", "--tag", "haor", "--area", "12x")[0] == 2


async def test_digest_top_five_and_every_area_nobody_registered(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    catalog = Catalog.load()
    async with sessions() as session:
        p = await plant(session)
        week = Period(p.end - timedelta(days=7), p.end, TZ)
        data = await digest_for(session, "en", ["6058"], week, target=TARGET)
        wide = await digest_for(session, "en", ["60"], week, target=TARGET)
    assert [r.area.code for r in data.missing] == [
        SREEMANGAL,
        KAMALGANJ,
        BARLEKHA,
        RAJNAGAR,
        KULAURA,
    ]
    text = compose_digest(data, catalog, Suppressor(5), TZ)
    assert "Nobody registered yet: Sreemangal" in text
    # The Sylhet division: more than 10 upazilas with nobody, so only how many.
    wide_text = compose_digest(wide, catalog, Suppressor(5), TZ)
    assert len(wide.empty) > 10
    assert f"Nobody registered yet in {len(wide.empty)} areas." in wide_text


def test_config_reach_section() -> None:
    from pathlib import Path
    from tempfile import TemporaryDirectory

    from bot.core.config import ConfigError, load_settings

    with TemporaryDirectory() as folder:
        path = Path(folder) / "config.toml"
        path.write_text('[reach]\ntarget_per_10000 = 50\npriority_tags = ["Haor"]\n')
        settings = load_settings(path, environ={})
        assert settings.reach_target_per_10000 == 50.0
        assert settings.reach_priority_tags == ("haor",)
        path.write_text("[reach]\ntarget_per_10000 = -1\n")
        with pytest.raises(ConfigError, match=r"reach\.target_per_10000"):
            load_settings(path, environ={})
        path.write_text("")
        assert load_settings(path, environ={}).reach_target_per_10000 is None
