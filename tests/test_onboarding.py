"""A resident signs up: language, area, privacy consent, menu, by buttons and by typing."""

from __future__ import annotations

from sqlalchemy import select

from bot.areas.importer import canonical_bangla
from bot.residents.models import Event, Resident
from tests.botkit import running_bot

KULAURA = canonical_bangla("কুলাউড়া")


async def resident_row(h, telegram_id: int) -> Resident | None:  # type: ignore[no-untyped-def]
    async with h.app.sessions() as session:
        found: Resident | None = await session.scalar(
            select(Resident).where(Resident.telegram_id == telegram_id)
        )
    return found


async def test_bangla_onboarding_with_buttons_only(db_url: str) -> None:
    async with running_bot(db_url) as h:
        rahim = h.person(5001, first_name="রহিম", username="rahim_mvb")
        [welcome] = await rahim.send("/start")
        assert "স্বাগতম" in welcome.text and "Welcome" in welcome.text
        assert [label for label, _ in welcome.buttons[0]] == ["বাংলা", "English", "সিলেটি (Sylheti)"]
        # Nothing is stored before the resident chooses anything.
        assert await resident_row(h, 5001) is None

        await rahim.tap("বাংলা")
        assert rahim.chat()[0].text.startswith("ভাষা: বাংলা")
        assert "আপনি কোথায় থাকেন" in rahim.last_with_buttons().text
        await rahim.tap("সিলেট")
        await rahim.tap("মৌলভীবাজার")
        await rahim.tap(KULAURA)
        unions = rahim.last_with_buttons()
        assert KULAURA in unions.text
        first_union = unions.buttons[0][0][0]
        await rahim.tap(first_union)
        assert any("আপনার এলাকা:" in m.text and first_union in m.text for m in rahim.chat())

        row = await resident_row(h, 5001)
        assert row is not None and row.area_code is not None and row.area_code.startswith("6058")
        # Before consent: the conversation's needs only, no name.
        assert row.consent_at is None and row.first_name is None and row.username is None

        notice = rahim.last_with_buttons()
        assert "গোপনীয়তা" in notice.text
        await rahim.tap("হ্যাঁ, আমি রাজি")
        menu = rahim.last()
        assert "মেনু" in menu.text and "স্বাগতম, রহিম" in menu.text
        assert [label for label, _ in menu.buttons[0]] == ["📘 পাঠ", "📢 সতর্কবার্তা"]

        row = await resident_row(h, 5001)
        assert row is not None and row.consent_at is not None and row.first_name == "রহিম"


async def test_english_onboarding_by_typing_only(db_url: str) -> None:
    async with running_bot(db_url) as h:
        amina = h.person(5002, first_name="Amina")
        await amina.send("/start")
        # The second choice: English. The confirmation and the next question arrive as one
        # message, to save a request on a weak link.
        [prompt] = await amina.send("2")
        assert prompt.text.startswith("Language: English.\n\nWhere do you live?")
        [notice] = await amina.send("moulvibazar")
        assert notice.text.startswith("Your area: Maulvibazar, Sylhet")
        assert "Your privacy" in notice.text
        [menu] = await amina.send("yes")
        assert menu.text.startswith("Thank you. You are signed up.")
        assert "Welcome, Amina!" in menu.text
        replies = await amina.send("help")
        assert "/forget" in replies[0].text


async def test_area_names_are_found_in_bangla_and_english_spellings(db_url: str) -> None:
    async with running_bot(db_url) as h:
        for n, typed in enumerate(["moulvibazar", "Maulvibazar", "মৌলভীবাজার"]):
            person = h.person(5100 + n)
            await person.send("/start")
            await person.send("English")
            replies = await person.send(typed)
            assert "Your area: Maulvibazar, Sylhet" in replies[0].text, typed


async def test_ambiguous_name_lists_matches_with_parents(db_url: str) -> None:
    async with running_bot(db_url) as h:
        karim = h.person(5003)
        await karim.send("/start")
        await karim.send("1")  # বাংলা
        [pick] = await karim.send("durgapur")
        assert "কয়েকটি জায়গা" in pick.text
        labels = [label for row in pick.buttons for label, _ in row]
        durgapurs = [label for label in labels if "," in label]
        assert len(durgapurs) >= 2 and len(set(durgapurs)) == len(durgapurs)
        # A number picks from the list, as a button would.
        replies = await karim.send("২")
        assert "আপনার এলাকা:" in replies[0].text
        assert durgapurs[1] in replies[0].text


async def test_unlisted_area_keeps_the_residents_words(db_url: str) -> None:
    async with running_bot(db_url) as h:
        jaber = h.person(5004)
        await jaber.send("/start")
        await jaber.tap("English")
        await jaber.tap("My area is not listed")
        assert "in your own words" in jaber.last().text
        replies = await jaber.send("Hakaluki haor <east bank> & char")
        assert "Hakaluki haor &lt;east bank&gt; &amp; char" in replies[0].html or (
            "Hakaluki haor <east bank> & char" in replies[0].text
        )
        assert "Your privacy" in replies[-1].text
        row = await resident_row(h, 5004)
        assert row is not None and row.area_code is None
        assert row.area_unlisted_text == "Hakaluki haor <east bank> & char"


async def test_walking_the_list_pages_and_goes_up(db_url: str) -> None:
    async with running_bot(db_url) as h:
        mina = h.person(5005)
        await mina.send("/start")
        await mina.tap("English")
        await mina.tap("Sylhet")
        await mina.tap("Sunamganj")
        upazilas = mina.last_with_buttons()
        labels = [label for row in upazilas.buttons for label, _ in row]
        assert "More ▶" in labels
        await mina.tap("More ▶")
        page2 = [label for row in mina.last_with_buttons().buttons for label, _ in row]
        assert "◀ Back" in page2
        first_page_places = {label for label in labels[:8]}
        assert first_page_places.isdisjoint(page2[:8])
        await mina.tap("⬆ Up one level")
        assert "Sylhet" in mina.last_with_buttons().text
        # Edits happen in place: the list is one message, not one per tap.
        assert len([m for m in mina.chat() if m.buttons]) <= 2


async def test_sylheti_falls_back_to_bangla(db_url: str) -> None:
    async with running_bot(db_url) as h:
        sufia = h.person(5006)
        await sufia.send("/start")
        await sufia.tap("সিলেটি")
        assert sufia.chat()[0].text.startswith("ভাষা: সিলেটি (Sylheti)")
        assert "আপনি কোথায় থাকেন" in sufia.last_with_buttons().text
        # Her phone is in Bangla: Telegram's Bangla list already fits, no extra request.
        assert h.emulator.commands(scope={"type": "chat", "chat_id": 5006}) == []
        # A phone set to English shows English commands unless the bot sets hers.
        hasan = h.person(5010, language_code="en")
        await hasan.send("/start")
        await hasan.tap("সিলেটি")
        commands = h.emulator.commands(scope={"type": "chat", "chat_id": 5010})
        assert commands and commands[0]["description"] == "শুরু করুন"
        await hasan.send("/language")
        await hasan.tap("English")
        assert h.emulator.commands(scope={"type": "chat", "chat_id": 5010}) == []


async def test_declining_consent_keeps_nothing(db_url: str) -> None:
    async with running_bot(db_url) as h:
        nur = h.person(5007)
        await nur.send("/start")
        await nur.send("English")
        await nur.send("Kulaura")
        replies = await nur.send("no")
        assert "We have not kept anything" in replies[0].text
        assert await resident_row(h, 5007) is None
        async with h.app.sessions() as session:
            events = (await session.scalars(select(Event))).all()
        assert all(e.subject is None or len(e.subject) == 32 for e in events)


async def test_restart_resumes_where_the_resident_stopped(db_url: str) -> None:
    async with running_bot(db_url) as h:
        lipi = h.person(5008)
        await lipi.send("/start")
        await lipi.send("English")
        await lipi.tap("Sylhet")
    # A new process: nothing kept in memory, the conversation goes on from the database.
    async with running_bot(db_url) as h2:
        h2.emulator.add_user(5008, first_name="Lipi")
        lipi2 = h2.person(5008, first_name="Lipi")
        replies = await lipi2.send("3")  # third district of Sylhet on the list it saw
        assert replies, "the bot answered"
        assert "Your area" in replies[0].text or "Choose your area in" in replies[-1].text


async def test_commands_registered_per_language(db_url: str) -> None:
    from handlers.commands import register_commands

    async with running_bot(db_url) as h:
        await register_commands(h.app.bot, h.app.ctx.catalog)
        bangla = h.emulator.commands(language_code="bn")
        english = h.emulator.commands(language_code="en")
        assert [c["command"] for c in english][:2] == ["start", "menu"]
        assert english[1]["description"] == "Main menu"
        assert bangla[1]["description"] == "প্রধান মেনু"


async def test_changing_language_and_area_after_signing_up(db_url: str) -> None:
    from tests.onboard import signed_up

    async with running_bot(db_url) as h:
        person = await signed_up(h, 5009, first_name="Rina")
        [notice] = await person.send("/privacy")
        # No question after consent: the notice ends with the way back to the menu.
        assert "Your privacy" in notice.text and "Do you agree?" not in notice.text
        assert [label for row in notice.buttons for label, _ in row] == ["◀ Menu"]
        await person.send("/language")
        replies = await person.tap("বাংলা")
        assert any(m.text.startswith("ভাষা: বাংলা") for m in replies)
        assert "মেনু" in person.last().text
        await person.send("/area")
        replies = await person.send("শ্রীমঙ্গল")
        assert "আপনার এলাকা:" in replies[0].text and "শ্রীমঙ্গল" in replies[0].text
        assert "মেনু" in replies[-1].text
        [data] = await person.send("/mydata")
        assert "শ্রীমঙ্গল" in data.text and "বাংলা" in data.text
        # The settings menu reaches the same screens by buttons.
        await person.send("/menu")
        await person.tap("সেটিংস")
        await person.tap("ভাষা বদলান")
        replies = await person.tap("English")
        assert any(m.text.startswith("Language: English.") for m in replies)


async def test_menu_alerts_show_what_is_valid_for_the_area(db_url: str) -> None:
    from datetime import timedelta

    from bot.alerts.models import Alert
    from bot.core.base import utcnow
    from tests.onboard import signed_up

    async with running_bot(db_url) as h:
        person = await signed_up(h, 5011)
        replies = await person.tap("📢")
        assert "There are no alerts for your area right now" in replies[0].text
        now = utcnow()
        async with h.app.sessions() as session:
            session.add_all(
                [
                    Alert(
                        topic="water",
                        urgency="normal",
                        area_codes=["6058"],
                        texts={"bn": "পানি বন্ধ", "en": "Water off until 5 pm"},
                        send_at=now,
                        deliver_at=now,
                        expires_at=now + timedelta(hours=6),
                        created_by="test",
                    ),
                    Alert(
                        topic="power",
                        urgency="normal",
                        area_codes=["3026"],
                        texts={"bn": "বিদ্যুৎ নেই", "en": "Power cut in Dhaka"},
                        send_at=now,
                        deliver_at=now,
                        expires_at=now + timedelta(hours=6),
                        created_by="test",
                    ),
                ]
            )
            await session.commit()
        replies = await person.tap("📢")
        assert "Water off until 5 pm" in replies[0].text
        assert "Power cut in Dhaka" not in replies[0].text
        await person.send("/menu")
        await person.tap("⚙")
        labels = [label for row in person.last_with_buttons().buttons for label, _ in row]
        assert any("About me" in label for label in labels)
        assert len(labels) == 5
