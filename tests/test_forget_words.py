"""/forget takes the resident's own typed words with them, and unlinks their events.

Feedback and "my area is not listed" words are stored without the resident's name, yet people
write their name and number into them; /forget must find and delete them all the same.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select, text

from bot.reach.models import Feedback
from bot.residents.events import EventKind
from bot.residents.models import Event, Resident
from bot.residents.words import mask_numbers
from tests.botkit import Harness, Person, running_bot
from tests.onboard import signed_up
from tests.test_privacy import _scan_for

NAME = "Zarina"
NUMBER = "01711234567"


async def _feedback(person: Person, words: str) -> None:
    await person.send("/community")
    await person.tap("Tell us what is missing")
    [thanks] = await person.send(words)
    assert "without your name" in thanks.text


async def _not_listed(person: Person, words: str) -> None:
    await person.send("/area")
    await person.tap("not listed")
    await person.send(words)


async def _events(h: Harness) -> list[tuple[str, str | None]]:
    async with h.app.sessions() as session:
        return [(k, s) for k, s in await session.execute(select(Event.kind, Event.subject))]


async def test_forget_deletes_the_residents_words_and_unlinks_their_events(db_url: str) -> None:
    async with running_bot(db_url) as h:
        other = await signed_up(h, 8401, first_name="Runa")
        await _feedback(other, "Teach us about flood shelters")
        zarina = await signed_up(h, 8402, first_name=NAME)
        await _feedback(zarina, f"I am {NAME}, call me on {NUMBER} about sewing lessons")
        await _feedback(zarina, f"{NAME} again: safe water please")
        await _not_listed(zarina, f"Baro Haor near {NAME}'s house")
        async with h.app.sessions() as session:
            ours = await session.scalar(select(Resident).where(Resident.telegram_id == 8402))
            runa = await session.scalar(select(Resident).where(Resident.telegram_id == 8401))
            assert ours is not None and runa is not None
            pseudonym, kept_subject = ours.pseudonym, runa.pseudonym
        before = await _events(h)
        assert sum(1 for _, s in before if s == pseudonym) > 3

        await zarina.send("/forget")
        replies = await zarina.tap("Yes, delete everything")
        assert "Everything that identified you has been deleted" in replies[0].text

        async with h.app.engine.connect() as conn:
            assert await _scan_for(conn, [NAME, NUMBER, "sewing", "safe water"]) == []
            left = (await conn.execute(text("SELECT text FROM feedback"))).scalars().all()
        assert left == ["Teach us about flood shelters"]
        after = await _events(h)
        # The counts stay: every event is still there (and one more says someone left)...
        added = Counter(k for k, _ in after) - Counter(k for k, _ in before)
        assert added == Counter({EventKind.FORGOTTEN.value: 1})
        assert not Counter(k for k, _ in before) - Counter(k for k, _ in after)
        # ...but none of the forgotten resident's events names a subject any more, so they
        # cannot be put back in sequence as one person's.
        assert {s for _, s in after} <= {kept_subject, None}
        assert [k for k, s in after if s == kept_subject] == [
            k for k, s in before if s == kept_subject
        ]


async def test_phone_numbers_are_masked_before_free_text_is_stored(db_url: str) -> None:
    async with running_bot(db_url) as h:
        person = await signed_up(h, 8411, language="বাংলা", area="কুলাউড়া")
        await person.send("/community")
        await person.tap("কী নেই")
        await person.send("আমাকে ফোন করুন ০১৭১১২৩৪৫৬৭ অথবা +880 1811-234567")
        await person.send("/area")
        await person.tap("তালিকায় নেই")
        [saved] = await person.send("বড় হাওর, 01911 234567")
        assert "“বড় হাওর, ***”" in saved.text
        async with h.app.sessions() as session:
            [stored] = (await session.scalars(select(Feedback.text))).all()
            resident = await session.scalar(select(Resident).where(Resident.telegram_id == 8411))
        assert stored == "আমাকে ফোন করুন *** অথবা ***"
        assert resident is not None and resident.area_unlisted_text == "বড় হাওর, ***"
        # Someone with no area yet, whose words stand for their area.
        newcomer = h.person(8412)
        await newcomer.send("/start")
        await newcomer.send("English")
        await newcomer.tap("not listed")
        [saved] = await newcomer.send("Baro Haor, call +8801911234567")
        assert "“Baro Haor, call ***”" in saved.text
        async with h.app.sessions() as session:
            unplaced = await session.scalar(select(Resident).where(Resident.telegram_id == 8412))
        assert unplaced is not None and unplaced.area_code is None
        assert unplaced.area_unlisted_text == "Baro Haor, call ***"


def test_what_is_masked() -> None:
    for number in (
        "01711234567",
        "+8801711234567",
        "+880 1711-234567",
        "01711 234567",
        "০১৭১১২৩৪৫৬৭",
        "+৮৮০ ১৭১১ ২৩৪৫৬৭",
        "(017) 11-23-45-67",
        "02-9123456",
        "1990123456789",
    ):
        assert mask_numbers(f"call {number} now") == "call *** now", number
    kept = "In 2026, 45 families in area 605865 paid 5000 taka on 12/05/2026"
    assert mask_numbers(kept) == kept
