"""Bad input never crashes the bot: a polite, translated answer, or ignored by design."""

from __future__ import annotations

import logging

import pytest

from tests.botkit import Harness, running_bot
from tests.onboard import signed_up


def _no_errors(caplog: pytest.LogCaptureFixture) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


async def test_unknown_command_and_media_get_polite_answers(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(db_url) as h:
        person = await signed_up(h, 7001)
        emu = h.emulator
        [answer] = await person.send("/frobnicate")
        assert "I don't know that command" in answer.text
        for update in (
            emu.send_sticker(7001),
            emu.send_photo(7001),
            emu.send_voice(7001),
            emu.send_contact(7001, "+8801700000000"),
        ):
            await h.feed(update)
            assert "I can only read text and buttons" in person.last_text()
        await h.feed(emu.share_location(7001, 24.48, 91.77))
        assert "type the name of your area" in person.last_text()
        _no_errors(caplog)


async def test_bad_input_in_bangla_is_answered_in_bangla(db_url: str) -> None:
    async with running_bot(db_url) as h:
        person = await signed_up(h, 7002, language="বাংলা", area="কুলাউড়া")
        [answer] = await person.send("/nonsense")
        assert "এই কমান্ডটি আমি চিনি না" in answer.text
        await h.feed(h.emulator.send_sticker(7002))
        assert "শুধু লেখা আর বোতাম" in person.last_text()


async def test_free_text_where_a_button_is_expected(db_url: str) -> None:
    async with running_bot(db_url) as h:
        person = h.person(7003)
        await person.send("/start")
        [again] = await person.send("blah blah")
        assert "Choose your language" in again.text and again.buttons
        await person.send("English")
        await person.send("Kulaura")
        [notice] = await person.send("what is this?")
        assert "Your privacy" in notice.text and notice.buttons
        await person.send("yes")
        replies = await person.send("qwertyuiop")
        assert "Sorry, I did not understand" in replies[0].text
        assert "Menu" in replies[-1].text


async def test_very_long_and_odd_text(db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    async with running_bot(db_url) as h:
        person = h.person(7004)
        await person.send("/start")
        await person.send("English")
        [answer] = await person.send("আ" * 4096)
        assert "too long" in answer.text
        replies = await person.send("\u200d\u202e😀🏳️‍🌈 <b>&amp;")
        assert replies and replies[0].text  # an answer, not a crash
        replies = await person.send("   ")
        assert replies
        _no_errors(caplog)


async def test_stale_and_forged_buttons_expire_politely(db_url: str) -> None:
    async with running_bot(db_url) as h:
        person = await signed_up(h, 7005)
        menu = person.last_with_buttons()
        for forged in (
            "as:99999999",
            "br:xx:0",
            "br:60:999",
            "m:../../etc",
            "zz",
            "lang:fr",
            "fy",
            "st:" + "x" * 50,
        ):
            await person.press(menu.message_id, forged, forge=True)
            answer = h.emulator.callback_answer(person.last_callback_id)
            assert answer is not None and answer.show_alert, forged
            assert "This button has expired" in (answer.text or ""), forged
        # The resident is unharmed and the conversation goes on.
        [data] = await person.send("/mydata")
        assert "Kulaura" in data.text


async def test_a_button_from_an_old_screen_still_works_or_expires(db_url: str) -> None:
    async with running_bot(db_url) as h:
        person = h.person(7006)
        [welcome] = await person.send("/start")
        await person.tap("English", welcome)
        # Tapping the (now edited) language message's old button again: harmless.
        await person.press(welcome.message_id, "lang:bn", forge=True)
        assert "ভাষা: বাংলা" in " ".join(m.text for m in person.chat())


async def test_edits_groups_and_channels_are_ignored_by_design(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(db_url) as h:
        emu: Harness = h  # for brevity below
        person = await signed_up(h, 7007)
        before = len(person.chat())
        first_user_message = next(
            m for m in h.emulator.messages(7007, include_user=True) if not m.from_bot
        )
        await h.feed(h.emulator.edit_text(7007, first_user_message.message_id, "/forget"))
        assert len(person.chat()) == before

        group = h.emulator.add_group(-100200, title="Haor youth")
        assert group
        await h.feed(h.emulator.group_text(-100200, 7007, "hello everyone"))
        assert h.emulator.messages(-100200) == []
        await h.feed(h.emulator.group_text(-100200, 7007, "/start"))
        assert "private chat" in h.emulator.last_message(-100200).text

        h.emulator.add_channel(-1001234, title="News")
        await h.feed(h.emulator.channel_post(-1001234, "news of the day"))
        assert h.emulator.messages(-1001234) == []
        assert emu.app is h.app
        _no_errors(caplog)


async def test_blocking_the_bot_marks_the_resident_unreachable(db_url: str) -> None:
    async with running_bot(db_url) as h:
        person = await signed_up(h, 7008)
        await h.feed(h.emulator.bot_blocked_by(7008))
        await h.feed(h.emulator.bot_unblocked_by(7008))
        [data] = await person.send("/mydata")
        assert "Status: active" in data.text
        await h.feed(h.emulator.bot_blocked_by(7008))
        from sqlalchemy import select

        from bot.residents.models import Resident

        async with h.app.sessions() as session:
            row = await session.scalar(select(Resident).where(Resident.telegram_id == 7008))
        assert row is not None and row.status == "unreachable"


async def test_an_unexpected_failure_gets_a_polite_answer(
    db_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.residents.conversation import Conversation

    async def explode(self: Conversation, raw: str) -> None:
        raise RuntimeError("database on fire")

    async with running_bot(db_url) as h:
        person = await signed_up(h, 7009)
        monkeypatch.setattr(Conversation, "text", explode)
        with caplog.at_level(logging.ERROR):
            [answer] = await person.send("hello")
        assert "something went wrong on our side" in answer.text
        assert "database on fire" not in answer.text
        assert any("RuntimeError" in r.getMessage() for r in caplog.records)
        monkeypatch.undo()
        [menu] = await person.send("/menu")
        assert "Menu" in menu.text


async def test_a_tap_from_someone_who_blocked_the_bot_is_not_an_error(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy import select

    from bot.residents.models import Resident

    async with running_bot(db_url) as h:
        person = await signed_up(h, 7010)
        menu = person.last_with_buttons()
        h.emulator.bot_blocked_by(7010)  # Telegram refuses sends; the bot has not heard yet
        data = next(data for row in menu.buttons for label, data in row if "Help" in label)
        await person.press(menu.message_id, data)
        _no_errors(caplog)
        async with h.app.sessions() as session:
            row = await session.scalar(select(Resident).where(Resident.telegram_id == 7010))
        assert row is not None and row.status == "unreachable"
