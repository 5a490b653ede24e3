"""The coordinator's alert preview says who is reached and why: in the chosen union, in the
upazila that contains it, by the place a resident typed; in English and Bangla, on SQLite and
PostgreSQL, with small counts never shown nor derivable from the total."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.base import utcnow
from bot.residents.models import Resident
from tests.botkit import Harness, Person, running_bot
from tests.test_alerts import make_coordinator, move
from tests.test_alerts_targeting import BALAGANJ, BHUKSHIMAIL, KULAURA

Sessions = async_sessionmaker[AsyncSession]  # asked for so the database starts clean


@dataclass(frozen=True)
class Words:
    """What a coordinator taps and types, and what the preview says, in one language."""

    language: str
    topic: str
    urgent: str
    union: str
    done: str
    text: str
    skip_en: str
    now: str
    total: str
    split: str


ENGLISH = Words(
    language="English",
    topic="Water supply",
    urgent="Urgent",
    union="Bhukshimail",
    done="Done with areas",
    text="আজ বিকেলে পানি সরবরাহ বন্ধ থাকবে।",
    skip_en="Skip English",
    now="Now",
    total="Will reach {total} residents",
    split=(
        "In the chosen areas: {inside} · in a wider area that contains them: {wider} · "
        "by the place they typed: {typed}"
    ),
)
BANGLA = Words(
    language="বাংলা",
    topic="পানি সরবরাহ",
    urgent="জরুরি",
    union="ভূকশিমইল",
    done="এলাকা বাছাই শেষ",
    text="আজ বিকেলে পানি সরবরাহ বন্ধ থাকবে।",
    skip_en="ইংরেজি বাদ দিন",
    now="এখনই",
    total="{total} জন বাসিন্দার কাছে পৌঁছাবে",
    split="বাছাই করা এলাকায়: {inside} · সেগুলো যে বড় এলাকার মধ্যে: {wider} · লেখা জায়গার নাম অনুযায়ী: {typed}",
)
BY_LANGUAGE = pytest.mark.parametrize("words", [ENGLISH, BANGLA], ids=["en", "bn"])


async def add_residents(
    h: Harness, first_id: int, area: str | None = None, typed: str | None = None, n: int = 1
) -> None:
    """`n` consented residents in `area`, or with no listed area and `typed` as their place."""
    async with h.app.sessions.begin() as session:
        for offset in range(n):
            session.add(
                Resident(
                    telegram_id=first_id + offset,
                    language="bn",
                    area_code=area,
                    area_unlisted_text=typed,
                    consent_at=utcnow(),
                )
            )


async def preview_for_the_union(coordinator: Person, words: Words) -> str:
    """Compose an urgent water alert for Bhukshimail union, up to the preview; its summary."""
    await coordinator.send("/alert")
    await coordinator.tap(words.topic)
    await coordinator.tap(words.urgent)
    await coordinator.send(words.union)
    [chosen] = await coordinator.tap(words.union)
    assert words.union in chosen.text
    await coordinator.tap(words.done)
    await coordinator.send(words.text)
    await coordinator.tap(words.skip_en)
    [until] = await coordinator.tap(words.now)
    # The first validity button, whatever its label in this language.
    preview = await coordinator.press(until.message_id, until.buttons[0][0][1])
    return preview[-1].text


async def coordinator_elsewhere(h: Harness, words: Words) -> Person:
    """A Sylhet division coordinator who lives outside the alert's area."""
    coordinator = await make_coordinator(h, 9700, language=words.language)
    await move(h, 9700, BALAGANJ)
    return coordinator


@BY_LANGUAGE
async def test_the_preview_counts_the_union_the_upazila_and_the_typed_place(
    db_url: str, sessions: Sessions, words: Words
) -> None:
    async with running_bot(db_url) as h:
        coordinator = await coordinator_elsewhere(h, words)
        await add_residents(h, 100, area=BHUKSHIMAIL, n=5)
        await add_residents(h, 200, area=KULAURA, n=6)
        await add_residents(h, 300, typed="Kulaura")
        await add_residents(h, 301, typed="  kulaura ")
        await add_residents(h, 302, typed="Baro Haor, Kulaura", n=5)
        await add_residents(h, 400, typed="by the river", n=5)
        await add_residents(h, 500, area=BALAGANJ, n=5)

        summary = await preview_for_the_union(coordinator, words)

    total = "১৮" if words is BANGLA else "18"
    assert words.total.format(total=total) in summary
    if words is BANGLA:
        expected = words.split.format(inside="৫", wider="৬", typed="৭")
    else:
        expected = words.split.format(inside="5", wider="6", typed="7")
    assert expected in summary


@BY_LANGUAGE
async def test_one_resident_by_typed_place_is_neither_shown_nor_derivable(
    db_url: str, sessions: Sessions, words: Words
) -> None:
    async with running_bot(db_url) as h:
        coordinator = await coordinator_elsewhere(h, words)
        await add_residents(h, 100, area=BHUKSHIMAIL, n=5)
        await add_residents(h, 200, area=KULAURA, n=6)
        await add_residents(h, 300, typed="Kulaura")

        summary = await preview_for_the_union(coordinator, words)

    # The total is shown, so the smaller shown part is hidden too: 12 − 6 leaves "<5" + "<5".
    if words is BANGLA:
        assert words.total.format(total="১২") in summary
        assert words.split.format(inside="<৫", wider="৬", typed="<৫") in summary
    else:
        assert words.total.format(total="12") in summary
        assert words.split.format(inside="<5", wider="6", typed="<5") in summary
