"""Updates no ordinary client sends: no sender, a bot as sender, text that cannot be encoded,
and button presses nobody's handler wants. Each is ignored or answered, never a traceback."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select

from bot.core.clean_text import clean_json, clean_text
from bot.devtools.emulator.state import CallbackRecord
from bot.reach.models import Feedback
from bot.residents.models import Resident
from tests.botkit import Harness, running_bot
from tests.onboard import signed_up

GROUP = -100_300
ANONYMOUS_ADMIN = {"id": 1_087_968_824, "is_bot": True, "first_name": "Group"}


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def _start(chat: dict[str, Any], sender: dict[str, Any] | None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": 77,
        "date": 1_700_000_000,
        "chat": chat,
        "text": "/start",
        "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
    }
    if sender is not None:
        message["from"] = sender
    return {"message": message}


def _sent_to(h: Harness, chat_id: int) -> list[str]:
    return [
        str(r.params.get("text")) for r in h.emulator.requests if r.params.get("chat_id") == chat_id
    ]


async def test_updates_without_a_person_are_ignored(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(db_url) as h:
        emu = h.emulator
        private = {"id": 8301, "type": "private", "first_name": "Nobody"}
        await h.feed(emu.raw_update(_start(private, None)))
        helper_bot = {"id": 8302, "is_bot": True, "first_name": "Helper", "username": "x_bot"}
        await h.feed(emu.raw_update(_start({**private, "id": 8302}, helper_bot)))
        assert _sent_to(h, 8301) == [] and _sent_to(h, 8302) == []
        assert _tracebacks(caplog) == []
        async with h.app.sessions() as session:
            assert (await session.scalars(select(Resident))).all() == []


async def test_a_person_without_a_user_account_is_answered(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(db_url) as h:
        emu = h.emulator
        emu.add_group(GROUP, title="Haor youth")
        # A group admin writing anonymously: Telegram names a stand-in bot and the group.
        group = {"id": GROUP, "type": "group", "title": "Haor youth"}
        anonymous = _start(group, ANONYMOUS_ADMIN)
        anonymous["message"]["sender_chat"] = group
        await h.feed(emu.raw_update(anonymous))
        [pointer] = _sent_to(h, GROUP)
        assert "ব্যক্তিগত চ্যাটে" in pointer
        assert _tracebacks(caplog) == []


async def test_lone_surrogates_are_cleaned_on_the_way_in(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(db_url) as h:
        person = h.person(8311, first_name="Runa")
        for typed in ("/start", "English", "Kulaura", "yes"):
            update = h.emulator.send_text(8311, typed)
            # Only the update carries the broken name: the emulator keeps its users clean.
            update["message"]["from"]["first_name"] = "Ru\ud800na"
            await h.feed(update)
        await person.send("/start")
        assert "Ru\ufffdna" in person.last_text()
        await person.send("/area")
        [not_found] = await person.send("Qq\udc00xz")
        assert "could not find a place called “Qq\ufffdxz”" in not_found.text
        await person.send("/community")
        await person.tap("Tell us what is missing")
        [thanks] = await person.send("Teach us \ud83d about\x00 shelters")
        assert "without your name" in thanks.text
        assert _tracebacks(caplog) == []
        async with h.app.sessions() as session:
            [stored] = (await session.scalars(select(Feedback))).all()
            assert stored.text == "Teach us \ufffd about shelters"
            resident = await session.scalar(select(Resident).where(Resident.telegram_id == 8311))
            assert resident is not None and resident.first_name == "Ru\ufffdna"


def test_clean_text_keeps_good_text_and_replaces_what_cannot_be_encoded() -> None:
    assert clean_text("কুলাউড়া 😀 ok") == "কুলাউড়া 😀 ok"
    assert clean_text("a\ud800b\udfffc") == "a\ufffdb\ufffdc"
    assert clean_text("nul\x00here") == "nulhere"
    assert clean_json({"t": ["x\ud800", 5, None], "n": {"k": "\x00"}}) == {
        "t": ["x\ufffd", 5, None],
        "n": {"k": ""},
    }


def _inline_tap(h: Harness, user_id: int, data: str) -> tuple[str, dict[str, Any]]:
    """A press on a button of an inline message (no chat message attached), and its id."""
    emu = h.emulator
    query_id = f"inline-{user_id}-{len(emu.requests)}"
    query = {
        "id": query_id,
        "from": emu.state.user(user_id),
        "inline_message_id": "AAAA",
        "chat_instance": "42",
        "data": data,
    }
    # The emulator only answers presses it has recorded; inline messages are not its own.
    emu.state.callbacks[query_id] = CallbackRecord(query)
    return query_id, emu.raw_update({"callback_query": query})


async def test_every_button_press_is_answered(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(db_url, flood_updates=5, flood_window_seconds=60) as h:
        emu = h.emulator
        person = await signed_up(h, 8321, language="বাংলা", area="কুলাউড়া")
        emu.add_group(GROUP, title="Haor youth")
        in_group = emu.press_button(8321, 1, "m:help", chat_id=GROUP, forge=True)
        await h.feed(in_group)
        answer = emu.callback_answer(in_group["callback_query"]["id"])
        assert answer is not None and answer.text is not None and "মেয়াদ" in answer.text
        inline_id, inline = _inline_tap(h, 8321, "m:help")
        await h.feed(inline)
        assert emu.callback_answer(inline_id) is not None
        # A flood of presses: those beyond the limit are dropped, but none is left spinning.
        menu = person.last_with_buttons()
        presses = [emu.press_button(8321, menu.message_id, "m:help", forge=True) for _ in range(9)]
        for press in presses:
            await h.feed(press)
        assert all(emu.callback_answer(p["callback_query"]["id"]) for p in presses)
        assert _tracebacks(caplog) == []


async def test_a_press_whose_handler_fails_is_answered(
    db_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.residents.conversation import Conversation

    async def explode(self: Conversation, data: str) -> None:
        raise RuntimeError("database on fire")

    async with running_bot(db_url) as h:
        person = await signed_up(h, 8331)
        menu = person.last_with_buttons()
        monkeypatch.setattr(Conversation, "action", explode)
        with caplog.at_level(logging.ERROR):
            await person.press(menu.message_id, "m:help", forge=True)
        assert h.emulator.callback_answer(person.last_callback_id) is not None
        assert "something went wrong on our side" in person.last_text()
