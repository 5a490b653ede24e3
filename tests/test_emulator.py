"""A real aiogram Bot against the Bot API emulator: answers and errors as Telegram gives them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.methods import SendMessage, TelegramMethod
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiohttp import web

from bot.devtools.emulator import Emulator, EmulatorError, EmulatorServer
from tests.botkit import serving

TOKEN = "123456789:" + "A" * 35
USER = 5


class LoopbackSession(AiohttpSession):
    """aiogram's session without the 250 ms pause it takes on close for TLS shutdown."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def make_bot(base_url: str, token: str = TOKEN) -> Bot:
    return Bot(token, session=LoopbackSession(api=TelegramAPIServer.from_base(base_url)))


@pytest.fixture
async def server() -> AsyncIterator[EmulatorServer]:
    async with EmulatorServer(Emulator(seed=7)) as running:
        running.emulator.add_user(USER, first_name="Rahim", username="rahim")
        yield running


@pytest.fixture
def emu(server: EmulatorServer) -> Emulator:
    return server.emulator


@pytest.fixture
async def bot(server: EmulatorServer) -> AsyncIterator[Bot]:
    client = make_bot(server.base_url)
    yield client
    await client.session.close()


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    buttons = [InlineKeyboardButton(text=text, callback_data=data) for text, data in pairs]
    return InlineKeyboardMarkup(inline_keyboard=[buttons])


class NoSuchMethod(TelegramMethod[bool]):
    __returning__ = bool
    __api_method__ = "noSuchMethod"


async def test_send_message_roundtrip(bot: Bot, emu: Emulator) -> None:
    sent = await bot.send_message(
        USER, "<b>Hi</b> 👋 <i>there</i>", parse_mode="HTML", reply_markup=keyboard(("Yes", "y"))
    )
    assert sent.text == "Hi 👋 there"
    assert sent.from_user is not None and sent.from_user.id == bot.id
    assert [(e.type, e.offset, e.length) for e in sent.entities or []] == [
        ("bold", 0, 2),
        ("italic", 6, 5),  # the emoji counts two UTF-16 units
    ]
    [shown] = emu.messages(USER)
    assert shown.message_id == sent.message_id
    assert shown.text == "Hi 👋 there"
    assert shown.html == "<b>Hi</b> 👋 <i>there</i>"
    assert shown.buttons == [[("Yes", "y")]]
    assert emu.requests[-1].method == "sendMessage" and emu.requests[-1].ok


async def test_get_me_takes_the_token_id(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == 123456789 and me.is_bot and me.username


BAD_REQUESTS: list[tuple[dict[str, Any], str]] = [
    ({"text": "x" * 4097}, "Bad Request: message is too long"),
    ({"text": ""}, "Bad Request: message text is empty"),
    ({"text": "<b></b>", "parse_mode": "HTML"}, "Bad Request: message text is empty"),
    ({"text": "x", "chat_id": ""}, "Bad Request: chat_id is empty"),
    ({"text": "x", "chat_id": 999}, "Bad Request: chat not found"),
    (
        {"text": "x", "reply_markup": keyboard(("Yes", "y" * 65))},
        "Bad Request: BUTTON_DATA_INVALID",
    ),
    (
        {"text": "<b>x", "parse_mode": "HTML"},
        "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"",
    ),
    (
        {"text": "Hello there <foo>x</foo>", "parse_mode": "HTML"},
        'Bad Request: can\'t parse entities: Unsupported start tag "foo" at byte offset 12',
    ),
    (
        {"text": "ok</b>", "parse_mode": "HTML"},
        "Bad Request: can't parse entities: Unexpected end tag at byte offset 2",
    ),
    ({"text": "x", "parse_mode": "HTMLX"}, "Bad Request: unsupported parse_mode"),
    (
        {"text": "v1.0", "parse_mode": "MarkdownV2"},
        "Bad Request: can't parse entities: Character '.' is reserved and must be escaped "
        "with the preceding '\\'",
    ),
]


@pytest.mark.parametrize(("fields", "description"), BAD_REQUESTS)
async def test_invalid_send_message_fails_like_telegram(
    bot: Bot, emu: Emulator, fields: dict[str, Any], description: str
) -> None:
    fields = {"chat_id": USER, **fields}
    with pytest.raises(TelegramBadRequest) as raised:
        await bot.send_message(**fields)
    assert raised.value.message == description
    assert emu.messages(USER) == []
    assert emu.requests[-1].error_code == 400


WRONG_TYPES: list[tuple[dict[str, Any], str]] = [
    ({"message_thread_id": "abc"}, 'Bad Request: parameter "message_thread_id" must be of type'),
    ({"disable_notification": "maybe"}, 'Bad Request: parameter "disable_notification" must'),
    ({"reply_markup": "not json"}, "Bad Request: can't parse reply keyboard markup JSON object"),
    (
        {"reply_markup": {"inline_keyboard": [{"text": "a", "callback_data": "b"}]}},
        'Bad Request: can\'t parse reply_markup: field "reply_markup.inline_keyboard[0]" must be',
    ),
    (
        {"reply_markup": {"inline_keyboard": [[{"text": "a"}]]}},
        "Bad Request: can't parse inline keyboard button: Text buttons are unallowed",
    ),
    (
        {"reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "b", "url": "x"}]]}},
        "Bad Request: can't parse inline keyboard button: exactly one of the fields",
    ),
    (
        {"link_preview_options": {"is_disabled": "sometimes"}},
        'Bad Request: can\'t parse link_preview_options: field "link_preview_options.is_disabled"',
    ),
    (
        {"reply_parameters": {"chat_id": USER}},
        "Bad Request: can't parse reply_parameters: Can't find field \"message_id\"",
    ),
]


@pytest.mark.parametrize(("fields", "description"), WRONG_TYPES)
async def test_wrong_types_are_refused(bot: Bot, fields: dict[str, Any], description: str) -> None:
    # model_construct skips aiogram's own validation, as a hand-written client would.
    method = SendMessage.model_construct(chat_id=USER, text="x", **fields)
    with pytest.raises(TelegramBadRequest) as raised:
        await bot(method)
    assert raised.value.message.startswith(description)


async def test_bad_token_and_unknown_method(server: EmulatorServer, bot: Bot) -> None:
    stranger = make_bot(server.base_url, "123456789:too-short")
    try:
        with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
            await stranger.get_me()
    finally:
        await stranger.session.close()
    with pytest.raises(TelegramNotFound, match="Not Found"):
        await bot(NoSuchMethod())


async def test_unsupported_method_says_so(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="method not supported by the emulator"):
        await bot.send_dice(USER)


async def test_injected_faults(bot: Bot, emu: Emulator) -> None:
    emu.inject("retry_after", method="sendMessage", retry_after=7)
    with pytest.raises(TelegramRetryAfter) as flood:
        await bot.send_message(USER, "one")
    assert flood.value.retry_after == 7
    assert "Too Many Requests: retry after 7" in flood.value.message
    await bot.send_message(USER, "two")  # the fault fired once
    emu.inject("server_error", chat_id=USER, count=2, status=502)
    for _ in range(2):
        with pytest.raises(TelegramServerError, match="Bad Gateway"):
            await bot.send_message(USER, "three")
    emu.inject("server_error")
    with pytest.raises(TelegramServerError, match="Internal Server Error"):
        await bot.send_chat_action(USER, "typing")
    assert [m.text for m in emu.messages(USER)] == ["two"]


async def test_slow_and_timeout_faults(bot: Bot, emu: Emulator) -> None:
    emu.inject("slow", method="sendMessage", delay=0.3)
    started = time.monotonic()
    await bot.send_message(USER, "late")
    assert time.monotonic() - started >= 0.3
    emu.inject("timeout", method="sendMessage", delay=1.3)
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(USER, "lost?", request_timeout=1)
    # Like Telegram, the request is carried out although the client gave up.
    messages = await emu.wait_for_messages(USER, 2, timeout=2)
    assert [m.text for m in messages] == ["late", "lost?"]


def test_seeded_probability_faults_are_reproducible() -> None:
    def pattern(seed: int) -> list[bool]:
        emu = Emulator(seed=seed)
        emu.inject("server_error", probability=0.5)
        return [emu._faults.take("sendMessage", 1) is not None for _ in range(40)]

    assert pattern(3) == pattern(3)
    assert pattern(3) != pattern(4)
    assert 5 < sum(pattern(3)) < 35


async def test_blocked_user(bot: Bot, emu: Emulator) -> None:
    update = emu.bot_blocked_by(USER)
    assert update["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    with pytest.raises(TelegramForbiddenError, match="Forbidden: bot was blocked by the user"):
        await bot.send_message(USER, "hello?")
    [queued] = await bot.get_updates()
    assert queued.my_chat_member is not None
    emu.bot_unblocked_by(USER)
    await bot.send_message(USER, "welcome back")


async def test_get_updates_offset_and_long_poll(bot: Bot, emu: Emulator) -> None:
    emu.send_text(USER, "/start")
    [first] = await bot.get_updates()
    assert first.message is not None and first.message.text == "/start"
    assert [(e.type, e.length) for e in first.message.entities or []] == [("bot_command", 6)]
    assert [u.update_id for u in await bot.get_updates()] == [first.update_id]  # not confirmed
    assert await bot.get_updates(offset=first.update_id + 1) == []
    assert emu.updates == []

    poll = asyncio.create_task(bot.get_updates(offset=first.update_id + 1, timeout=2))
    generation = emu.state.poll_generation
    await emu.wait_until(lambda: emu.state.poll_generation > generation or None, 2)
    started = time.monotonic()
    emu.send_text(USER, "hi")
    [second] = await poll
    assert time.monotonic() - started < 1
    assert second.message is not None and second.message.text == "hi"


async def test_allowed_updates_drop_other_kinds(bot: Bot, emu: Emulator) -> None:
    emu.send_text(USER, "text")
    emu.send_sticker(USER)
    sent = await bot.send_message(USER, "pick", reply_markup=keyboard(("A", "a")))
    emu.press_button(USER, sent.message_id, "a")
    updates = await bot.get_updates(allowed_updates=["callback_query"])
    assert [u.callback_query is not None for u in updates] == [True]


async def test_webhook_delivery_and_conflict(bot: Bot, emu: Emulator) -> None:
    received: asyncio.Queue[tuple[dict[str, Any], str | None]] = asyncio.Queue()

    async def hook(request: web.Request) -> web.Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        await received.put((await request.json(), secret))
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    async with serving(app) as base_url:
        url = f"{base_url}/hook"
        assert await bot.set_webhook(url, secret_token="s3cret_token")
        emu.send_text(USER, "via webhook")
        update, secret = await asyncio.wait_for(received.get(), 5)
        assert update["message"]["text"] == "via webhook"
        assert secret == "s3cret_token"
        with pytest.raises(TelegramConflictError, match="can't use getUpdates method while"):
            await bot.get_updates()
        info = await bot.get_webhook_info()
        assert info.url == url
        await emu.wait_idle(quiet=0.05)
        assert info.pending_update_count in (0, 1)
        assert (await bot.get_webhook_info()).pending_update_count == 0
        assert await bot.delete_webhook(drop_pending_updates=True)
        assert await bot.get_updates() == []


async def test_webhook_refuses_outside_hosts(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="bad webhook"):
        await bot.set_webhook("https://example.org/hook")


async def test_dispatcher_polling_end_to_end(bot: Bot, emu: Emulator) -> None:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer("Ready?", reply_markup=keyboard(("Yes", "yes"), ("No", "no")))

    @router.callback_query(F.data == "yes")
    async def yes(query: CallbackQuery) -> None:
        await query.answer("Great")
        assert isinstance(query.message, Message)
        await query.message.edit_text("You said <b>yes</b>", parse_mode="HTML")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    polling = asyncio.create_task(
        dispatcher.start_polling(bot, handle_signals=False, polling_timeout=1)
    )
    try:
        emu.send_text(USER, "/start")
        [question] = await emu.wait_for_messages(USER, 1)
        assert question.text == "Ready?"
        assert question.buttons == [[("Yes", "yes"), ("No", "no")]]
        update = emu.press_button(USER, question.message_id, "yes")
        answer = await emu.wait_for_callback_answer(update["callback_query"]["id"])
        assert answer.text == "Great" and not answer.show_alert
        await emu.wait_idle()
        edited = emu.last_message(USER)
        assert (edited.text, edited.html, edited.edited) == (
            "You said yes",
            "You said <b>yes</b>",
            True,
        )
        assert edited.buttons == []  # editing without reply_markup drops the keyboard
    finally:
        await dispatcher.stop_polling()
        await polling


async def test_feed_raw_update_without_queue(server: EmulatorServer, bot: Bot) -> None:
    emu = Emulator(queue_updates=False)
    server.emulator.reset()
    async with EmulatorServer(emu) as second:
        emu.add_user(USER)
        direct = make_bot(second.base_url)
        router = Router()

        @router.message()
        async def echo(message: Message) -> None:
            await message.answer(f"echo: {message.text}")

        dispatcher = Dispatcher()
        dispatcher.include_router(router)
        try:
            update = emu.send_text(USER, "ping")
            assert emu.updates == []
            await dispatcher.feed_raw_update(direct, update)
            assert emu.last_message(USER).text == "echo: ping"
        finally:
            await direct.session.close()


async def test_press_button_checks_the_keyboard(bot: Bot, emu: Emulator) -> None:
    sent = await bot.send_message(USER, "menu", reply_markup=keyboard(("A", "a")))
    with pytest.raises(EmulatorError, match="no inline button with callback_data 'zzz'"):
        emu.press_button(USER, sent.message_id, "zzz")
    with pytest.raises(EmulatorError, match="has no message 99"):
        emu.press_button(USER, 99, "a")
    forged = emu.press_button(USER, sent.message_id, "zzz", forge=True)
    assert forged["callback_query"]["data"] == "zzz"
    ghost = emu.press_button(USER, 99, "a", forge=True)
    assert ghost["callback_query"]["message"]["date"] == 0  # an inaccessible message
    [_, parsed] = (await bot.get_updates())[-2:]
    assert parsed.callback_query is not None and parsed.callback_query.data == "a"


async def test_editing_rules(bot: Bot, emu: Emulator) -> None:
    sent = await bot.send_message(USER, "v1", reply_markup=keyboard(("A", "a")))
    with pytest.raises(TelegramBadRequest, match="message is not modified: specified new"):
        await bot.edit_message_text(
            text="v1", chat_id=USER, message_id=sent.message_id, reply_markup=keyboard(("A", "a"))
        )
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(text="v2", chat_id=USER, message_id=404)
    changed = await bot.edit_message_reply_markup(
        chat_id=USER, message_id=sent.message_id, reply_markup=keyboard(("B", "b"))
    )
    assert isinstance(changed, Message) and changed.edit_date is not None
    assert emu.buttons(USER) == [[("B", "b")]]
    assert await bot.delete_message(USER, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(USER, sent.message_id)
    assert emu.messages(USER)[0].deleted
    user_update = emu.send_text(USER, "mine")
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text(
            text="x", chat_id=USER, message_id=user_update["message"]["message_id"]
        )
    edited = emu.edit_text(USER, user_update["message"]["message_id"], "mine, edited")
    assert edited["edited_message"]["text"] == "mine, edited"


async def test_callback_answers(bot: Bot, emu: Emulator) -> None:
    sent = await bot.send_message(USER, "menu", reply_markup=keyboard(("A", "a")))
    query_id = emu.press_button(USER, sent.message_id, "a")["callback_query"]["id"]
    with pytest.raises(TelegramBadRequest, match="MESSAGE_TOO_LONG"):
        await bot.answer_callback_query(query_id, text="x" * 201)
    assert emu.callback_answer(query_id) is None
    assert await bot.answer_callback_query(query_id, text="ok", show_alert=True)
    assert emu.callback_answer(query_id) is not None
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query_id)


async def test_commands_per_scope_and_language(bot: Bot, emu: Emulator) -> None:
    general = [BotCommand(command="start", description="Begin")]
    bangla = [BotCommand(command="start", description="শুরু")]
    scope = BotCommandScopeChat(chat_id=USER)
    assert await bot.set_my_commands(general)
    assert await bot.set_my_commands(bangla, scope=scope, language_code="bn")
    assert [c.description for c in await bot.get_my_commands()] == ["Begin"]
    got = await bot.get_my_commands(scope=scope, language_code="bn")
    assert [c.description for c in got] == ["শুরু"]
    assert emu.commands({"type": "chat", "chat_id": USER}, "bn")[0]["command"] == "start"
    assert await bot.delete_my_commands(scope=scope, language_code="bn")
    assert await bot.get_my_commands(scope=scope, language_code="bn") == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Start!", description="x")])
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_DESCRIPTION_INVALID"):
        await bot.set_my_commands([BotCommand(command="ok", description="x" * 257)])


async def test_media_chat_action_and_get_chat(bot: Bot, emu: Emulator) -> None:
    photo = BufferedInputFile(b"\x89PNG" + b"0" * 996, filename="map.png")
    sent = await bot.send_photo(USER, photo, caption="<i>Map</i>", parse_mode="HTML")
    assert sent.caption == "Map" and sent.photo is not None
    assert sent.photo[-1].file_size == 1000
    again = await bot.send_photo(USER, sent.photo[-1].file_id)
    assert again.photo is not None and again.photo[-1].file_size == 1000
    document = await bot.send_document(USER, "BQACAgIAAxkBAAIB", caption="guide")
    assert document.document is not None and document.caption == "guide"
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(USER, sent.photo[-1].file_id, caption="x" * 1025)
    assert [m.kind for m in emu.messages(USER)] == ["photo", "photo", "document"]
    assert await bot.send_chat_action(USER, "typing")
    assert emu.chat_action(USER) == "typing"
    chat = await bot.get_chat(USER)
    assert chat.type == "private" and chat.username == "rahim"


async def test_groups_and_channels(bot: Bot, emu: Emulator) -> None:
    emu.add_group(-42, "Ward 7")
    emu.add_channel(-1001234567890, "Alerts", username="sabai_alerts")
    update = emu.group_text(-42, USER, "hello group")
    assert update["message"]["chat"]["type"] == "group"
    post = emu.channel_post(-1001234567890, "news")
    assert "from" not in post["channel_post"]
    sent = await bot.send_message("@sabai_alerts", "alert!")
    assert sent.chat.id == -1001234567890 and sent.sender_chat is not None
    with pytest.raises(EmulatorError, match="channel ids start with -100"):
        emu.add_channel(-5)
