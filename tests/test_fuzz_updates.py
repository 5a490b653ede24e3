"""Hostile input: 10,000 generated updates through the real dispatcher, and the bot still works.

Hypothesis draws compact update *specs* (what kind, which person, which text or button data);
they are turned into Telegram-shaped updates by the emulator on the bot's event loop and fed
to the real dispatcher the way long polling hands them on: each raw update goes through the
polling path's per-update validation, so one the Bot API types reject is skipped there.
Each example carries a batch of updates so that one running bot sees all 10,000 in under a
minute. Besides what clients send, there are updates without a sender, from bot accounts,
with lone surrogates in text and names, and a schema-breaking one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from bot.channels.telegram.polling import SkipMalformedUpdates
from bot.core.callback_sign import CallbackSigner, load_secret
from bot.staff.roles import Role, grant_role
from handlers.throttle import ThrottleMiddleware
from tests.botkit import Harness, running_bot
from tests.onboard import signed_up

# SABAI_FUZZ_UPDATES=500 makes a quick local run; the default, 10,000, is the full hostile run.
TOTAL_UPDATES = int(os.environ.get("SABAI_FUZZ_UPDATES", "10000"))
PER_EXAMPLE = 50
EXAMPLES = TOTAL_UPDATES // PER_EXAMPLE
REGULARS = 150  # people who come back (so conversations get somewhere) but rarely flood
REGULAR_BASE = 5_550_000
STAFF = {0: (Role.ADMIN, ""), 1: (Role.TRAINER, "6058"), 2: (Role.COORDINATOR, "60")}
GROUP, SUPERGROUP, CHANNEL = -100_200, -1_009_876, -1_001_234_567
TELEGRAM_TEXT_LIMIT = 4096

COMMANDS = [
    "/start", "/menu", "/help", "/language", "/area", "/privacy", "/mydata", "/forget",
    "/whoami", "/invite", "/staff", "/start@sabai_emulated_bot", "/start@someotherbot",
    "/", "//start", "/START", "/ménu", "/invite trainer 6058", "/invite admin national 7d",
    "/invite trainer 99999999", "/invite coordinator 60 999d", "/invite resident 60",
    "/invite trainer 6090 ৭d", "/start inv-", "/start inv-aaaaaaaaaaaaaaaa",
    "/start inv-" + "z" * 60, "/start ref-123", "/staff list", "/whoami please",
]  # fmt: skip
WORDS = [
    "English", "বাংলা", "সিলেটি", "Kulaura", "কুলাউড়া", "Sylhet", "yes", "no", "হ্যাঁ", "না",
    "1", "২", "0", "-1", "99", "menu", "help", "lessons", "my data", "৯৯৯", "¹", "①", "٣",
]  # fmt: skip
RESIDENT_BUTTONS = [
    "lang:bn", "lang:en", "lang:syl", "lang:xx", "lang:", "br::0", "br:60:0", "br:6058:1",
    "br:6058:999", "br:xx:0", "br:60:-1", "as:60586565", "as:99999999", "as:", "as:6058",
    "au", "cy", "cn", "fy", "fn", "m:lessons", "m:help", "m:settings", "m:mydata", "m:back",
    "m:../../etc", "st:language", "st:area", "st:zzz", "zz", "", "br::²", "as:①", "n:¹", "q:¹",
]  # fmt: skip
STAFF_BUTTONS = ["stf:rv:1", "stf:rv:1|0|AAAAAAAAAAAA", "stf:rv:-5|zz|x", "stf:", "stf:rv:abc"]


# Lone UTF-16 surrogates arrive as JSON escapes ("\\ud800") from broken or hostile clients.
lone_surrogate = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
with_surrogates = st.lists(
    st.one_of(lone_surrogate, st.sampled_from(["a", "ক", " ", "😀", "Kulaura"])),
    min_size=1,
    max_size=12,
).map("".join)
text = st.one_of(
    st.sampled_from(COMMANDS),
    with_surrogates,
    st.tuples(st.sampled_from(COMMANDS), with_surrogates).map(" ".join),
    st.sampled_from(WORDS),
    st.text(min_size=1, max_size=40),
    st.tuples(st.sampled_from(COMMANDS), st.text(max_size=30)).map(" ".join),
    # Huge text from a few drawn characters: large input without a large example.
    st.tuples(st.text(min_size=1, max_size=6), st.integers(200, 2000)).map(
        lambda t: (t[0] * t[1])[:TELEGRAM_TEXT_LIMIT]
    ),
    st.sampled_from(["\u200d\u202e", "😀" * 1000, "<b>&amp;</i>", "{name}", "%s%n", "\n\n\t"]),
).map(lambda s: s if s.strip() else ".")  # Telegram never delivers an empty message

callback_data = st.one_of(
    st.sampled_from(RESIDENT_BUTTONS),
    st.sampled_from(STAFF_BUTTONS),
    st.text(max_size=64).filter(lambda s: len(s.encode()) <= 64),
)
person = st.one_of(
    st.integers(0, REGULARS - 1).map(lambda i: REGULAR_BASE + i),
    st.integers(10**6, 10**10),  # somebody the bot has never seen
)
spec = st.one_of(
    st.tuples(st.just("text"), person, text),
    st.tuples(st.just("text"), person, text),
    st.tuples(st.just("button"), person, callback_data, st.integers(0, 40)),
    st.tuples(st.just("old_button"), person, st.integers(0, 1000)),
    st.tuples(st.just("signed_button"), person, st.integers(0, 1000)),
    st.tuples(st.just("media"), person, st.sampled_from(["sticker", "photo", "voice",
              "contact", "location", "dice", "poll", "caption"])),
    st.tuples(st.just("edit"), person, text),
    st.tuples(st.just("group"), person, st.sampled_from([GROUP, SUPERGROUP]), text),
    st.tuples(st.just("group_edit"), person, st.sampled_from([GROUP, SUPERGROUP]), text),
    st.tuples(st.just("channel"), st.booleans(), text),
    st.tuples(st.just("member"), person, st.booleans()),
    st.tuples(st.just("inline"), person, text.map(lambda s: s[:256])),
    st.tuples(st.just("poll_answer"), person),
    st.tuples(st.just("reaction"), person),
    st.tuples(st.just("no_sender"), person, text),
    st.tuples(st.just("from_bot"), person, text),
    st.tuples(st.just("bot_button"), person, callback_data),
    st.tuples(st.just("group_button"), person, st.sampled_from([GROUP, SUPERGROUP]),
              callback_data),
    st.tuples(st.just("odd_name"), person, with_surrogates, text),
)  # fmt: skip


# One of every kind first, so each is fed whatever Hypothesis draws after.
EVERY_KIND: list[tuple[Any, ...]] = [
    ("text", REGULAR_BASE + 5, "/start"),
    ("button", REGULAR_BASE + 5, "lang:en", 1),
    ("old_button", REGULAR_BASE + 5, 3),
    ("signed_button", REGULAR_BASE, 7),
    *[("media", REGULAR_BASE + 6, kind) for kind in
      ("sticker", "photo", "voice", "contact", "location", "dice", "poll", "caption")],
    ("edit", REGULAR_BASE + 5, "/forget"),
    ("group", REGULAR_BASE + 5, GROUP, "/start"),
    ("group_edit", REGULAR_BASE + 5, SUPERGROUP, "hello"),
    ("channel", False, "news"),
    ("channel", True, "news, edited"),
    ("member", REGULAR_BASE + 7, True),
    ("button", REGULAR_BASE + 7, "m:help", 1),
    ("member", REGULAR_BASE + 7, False),
    ("inline", REGULAR_BASE + 5, "kulaura"),
    ("poll_answer", REGULAR_BASE + 5),
    ("reaction", REGULAR_BASE + 5),
    ("text", REGULAR_BASE + 1, "/invite trainer 60586565"),
    ("text", REGULAR_BASE, "/staff"),
    ("text", 9_876_543_210, "/start inv-aaaaaaaaaaaaaaaa"),
    ("no_sender", REGULAR_BASE + 8, "/start"),
    ("from_bot", REGULAR_BASE + 8, "/start"),
    ("bot_button", REGULAR_BASE + 8, "m:help"),
    ("group_button", REGULAR_BASE + 8, GROUP, "m:help"),
    ("odd_name", REGULAR_BASE + 9, "R\ud800hima", "/start"),
    ("text", REGULAR_BASE + 9, "Kula\udc00ura"),
    ("schema_breaking", REGULAR_BASE + 9),
    ("text", REGULAR_BASE + 9, "/start"),
]  # fmt: skip


class Feeder:
    """Turns specs into updates on the bot's loop and feeds them to the dispatcher."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.emu = h.emulator
        self.fed = 0
        self.known: set[int] = set()
        self.blocked: set[int] = set()
        self.signer: Any = None
        self.busy = 0.0  # seconds spent feeding, as opposed to generating
        self.polling = SkipMalformedUpdates()
        self.skipped = 0
        self.presses: list[str] = []  # callback query ids, each of which must be answered

    def _user(self, user_id: int) -> dict[str, Any]:
        if user_id not in self.known:
            self.emu.add_user(user_id, first_name=f"P{user_id % 97}", language_code="bn")
            self.known.add(user_id)
        return self.emu.state.users[user_id]

    async def _feed(self, update: dict[str, Any]) -> None:
        # As long polling sees it: a getUpdates answer, validated update by update.
        app = self.h.app
        parsed = self.polling.salvage(app.bot, {"ok": True, "result": [update]})
        self.skipped += 1 - len(parsed)
        for one in parsed:
            await app.dispatcher.feed_update(app.bot, one)
        if "callback_query" in update:
            self.presses.append(update["callback_query"]["id"])
        self.fed += 1

    def _private(
        self, user_id: int, content: dict[str, Any], sender: dict[str, Any] | None
    ) -> dict[str, Any]:
        """A message in the person's private chat, exactly as given (sender included)."""
        message: dict[str, Any] = {
            "message_id": 10**6 + self.fed,
            "date": 1_700_000_000,
            "chat": self.emu.state.chat(user_id).chat,
            **content,
        }
        if sender is not None:
            message["from"] = sender
        return self.emu.raw_update({"message": message})

    async def _unblock(self, user_id: int) -> None:
        # Someone who blocked the bot gets no answer (Telegram refuses it with 403), and the
        # fuzz checks that every press is answered; so such people unblock first, as
        # Telegram's "Restart" does.
        if user_id in self.blocked:
            self.blocked.discard(user_id)
            await self._feed(self.emu.bot_unblocked_by(user_id))

    async def feed_all(self, specs: list[tuple[Any, ...]]) -> None:
        started = time.perf_counter()
        for one in specs:
            await self.feed_one(one)
        self.busy += time.perf_counter() - started

    async def feed_one(self, one: tuple[Any, ...]) -> None:
        kind = one[0]
        emu = self.emu
        if kind == "channel":
            _, edited, body = one
            post = emu.channel_post(CHANNEL, body)
            if edited:
                post = {
                    "update_id": post["update_id"],
                    "edited_channel_post": {**post["channel_post"], "edit_date": 1},
                }
            await self._feed(post)
            return
        user_id = one[1]
        user = self._user(user_id)
        if kind == "member":
            if one[2]:
                self.blocked.add(user_id)
                await self._feed(emu.bot_blocked_by(user_id))
            else:
                await self._unblock(user_id)
            return
        await self._unblock(user_id)
        if kind == "text":
            await self._feed(emu.send_text(user_id, one[2]))
        elif kind == "button":
            await self._feed(emu.press_button(user_id, one[3], one[2], forge=True))
        elif kind == "old_button":
            buttons = [
                (m.message_id, data)
                for m in emu.messages(user_id)
                for row in m.buttons
                for _, data in row
            ]
            if not buttons:
                await self._feed(emu.send_text(user_id, "/start"))
                return
            message_id, data = buttons[one[2] % len(buttons)]
            await self._feed(emu.press_button(user_id, message_id, data, forge=True))
        elif kind == "signed_button":
            # Genuinely signed, but for somebody else or about a role that may be gone.
            other = REGULAR_BASE + one[2] % REGULARS
            data = self.signer.sign(f"stf:rv:{one[2] % 50}", other)
            await self._feed(emu.press_button(user_id, 1, data, forge=True))
        elif kind == "media":
            await self._feed(self._media(user_id, one[2]))
        elif kind == "edit":
            mine = [m for m in emu.messages(user_id, include_user=True) if not m.from_bot]
            texts = [m for m in mine if m.kind == "text"]
            if texts:
                await self._feed(emu.edit_text(user_id, texts[-1].message_id, one[2]))
            else:  # nothing to edit yet: every spec feeds at least one update
                await self._feed(emu.send_text(user_id, one[2]))
        elif kind == "group":
            await self._feed(emu.group_text(one[2], user_id, one[3]))
        elif kind == "group_edit":
            sent = emu.group_text(one[2], user_id, one[3])
            await self._feed(sent)
            edited = emu.edit_text(user_id, sent["message"]["message_id"], "edited", one[2])
            await self._feed(edited)
        elif kind in ("no_sender", "from_bot"):
            helper = {"id": user_id, "is_bot": True, "first_name": "Helper", "username": "h_bot"}
            sender = helper if kind == "from_bot" else None
            await self._feed(self._private(user_id, {"text": one[2]}, sender))
        elif kind == "bot_button":
            press = emu.press_button(user_id, 1, one[2], forge=True)
            press["callback_query"]["from"] = {**user, "is_bot": True}
            await self._feed(press)
        elif kind == "group_button":
            await self._feed(emu.press_button(user_id, 1, one[3], chat_id=one[2], forge=True))
        elif kind == "odd_name":
            # Only the update carries the name: the emulator's own records stay encodable.
            update = emu.send_text(user_id, one[3])
            update["message"]["from"] = {**user, "first_name": one[2]}
            await self._feed(update)
        elif kind == "schema_breaking":
            # A poll without its required fields: aiogram's types reject the whole update.
            await self._feed(self._private(user_id, {"poll": {"id": "5", "question": "?"}}, user))
        elif kind == "inline":
            await self._feed(
                emu.state.enqueue(
                    {
                        "inline_query": {
                            "id": str(10**12 + self.fed),
                            "from": user,
                            "query": one[2],
                            "offset": "",
                        }
                    }
                )
            )
        elif kind == "poll_answer":
            await self._feed(
                emu.state.enqueue(
                    {
                        "poll_answer": {
                            "poll_id": "p1",
                            "user": user,
                            "option_ids": [0],
                            "option_persistent_ids": ["0"],
                        }
                    }
                )
            )
        elif kind == "reaction":
            reaction = {
                "chat": emu.state.chat(user_id).chat,
                "message_id": 1,
                "user": user,
                "date": 1,
                "old_reaction": [],
                "new_reaction": [{"type": "emoji", "emoji": "👍"}],
            }
            await self._feed(emu.state.enqueue({"message_reaction": reaction}))

    def _media(self, user_id: int, kind: str) -> dict[str, Any]:
        emu = self.emu
        if kind == "sticker":
            return emu.send_sticker(user_id)
        if kind == "photo":
            return emu.send_photo(user_id)
        if kind == "caption":
            return emu.send_photo(user_id, caption="/start inv-aaaaaaaaaaaaaaaa")
        if kind == "voice":
            return emu.send_voice(user_id)
        if kind == "contact":
            return emu.send_contact(user_id, "+8801700000000")
        if kind == "location":
            return emu.share_location(user_id, 24.5, 91.7)
        content: dict[str, Any] = (
            {"dice": {"emoji": "🎲", "value": 3}}
            if kind == "dice"
            else {
                "poll": {
                    "id": "p1",
                    "question": "?",
                    "options": [{"persistent_id": "0", "text": "a", "voter_count": 0}],
                    "total_voter_count": 0,
                    "is_closed": False,
                    "is_anonymous": True,
                    "type": "regular",
                    "allows_multiple_answers": False,
                    "allows_revoting": False,
                    "members_only": False,
                }
            }
        )
        # The emulator has no helper for these; its generic message path stores them alike.
        return emu._user_message(user_id, None, content)


async def test_ten_thousand_hostile_updates_break_nothing(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(db_url) as h:
        feeder = Feeder(h)
        async with h.app.sessions() as session:
            for index, (role, scope) in STAFF.items():
                await grant_role(session, REGULAR_BASE + index, role, scope, "cli:test")
            await session.commit()
        h.emulator.add_group(GROUP, title="Haor youth")
        h.emulator.add_group(SUPERGROUP, title="Union forum", supergroup=True)
        h.emulator.add_channel(CHANNEL, title="News")
        async with h.app.sessions() as session:
            feeder.signer = CallbackSigner(await load_secret(session, os.environ))
            await session.commit()
        loop = asyncio.get_running_loop()

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            # Shrinking would replay batches against a bot whose state has moved on, for
            # minutes; the failing batch is printed as it is instead.
            phases=(Phase.explicit, Phase.generate),
        )
        @example(EVERY_KIND)
        @given(st.lists(spec, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
        def throw(specs: list[tuple[Any, ...]]) -> None:
            asyncio.run_coroutine_threadsafe(feeder.feed_all(specs), loop).result()

        started = time.perf_counter()
        with caplog.at_level(logging.WARNING):
            await asyncio.to_thread(throw)
        elapsed = time.perf_counter() - started
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
        assert errors == [], [r.getMessage() for r in errors[:5]]
        assert feeder.fed >= TOTAL_UPDATES, feeder.fed
        assert feeder.skipped >= 1  # the schema-breaking update, skipped by the polling path
        spinning = [q for q in feeder.presses if h.emulator.callback_answer(q) is None]
        assert spinning == [], f"{len(spinning)} of {len(feeder.presses)} presses unanswered"
        [throttle] = [
            m for m in h.app.dispatcher.update.outer_middleware if isinstance(m, ThrottleMiddleware)
        ]
        # Most updates must reach the handlers, or the fuzz would only test the throttle.
        assert throttle.dropped < feeder.fed / 3
        logging.getLogger("sabai.tests").warning(
            "fuzz: %d updates (%d dropped by flood control) in %.1f s (%.1f s feeding)",
            feeder.fed,
            throttle.dropped,
            elapsed,
            feeder.busy,
        )

        # Afterwards the bot still greets a newcomer and takes them through sign-up.
        [welcome] = await h.person(4_040_404).send("/start")
        assert "Sabai" in welcome.text and len(welcome.buttons[0]) == 3
        resident = await signed_up(h, 4_040_405)
        assert "Menu" in resident.last_text()
        # (The fuzz's own regulars are still being slowed down for flooding.)
        async with h.app.sessions() as session:
            await grant_role(session, 4_040_406, Role.TRAINER, "6058", "cli:test")
            await session.commit()
        [who] = await h.person(4_040_406, language_code="en").send("/whoami")
        assert "trainer: Maulvibazar" in who.text


async def test_odd_digits_are_not_a_crash(db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    async with running_bot(db_url) as h:
        person = h.person(4_040_500, language_code="en")
        await person.send("/start")
        await person.send("¹")
        await person.press(person.last_with_buttons().message_id, "br::²", forge=True)
        assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
