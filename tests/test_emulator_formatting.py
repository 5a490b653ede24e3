"""The emulator's parsers and validation on their own: formatting, spec checks, raw HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram.types import Update
from aiohttp import ClientSession, FormData
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.devtools.emulator import ApiError, Emulator, EmulatorServer
from bot.devtools.emulator.entities import entities_to_html, parse_text
from bot.devtools.emulator.html_entities import parse_html, utf16_len
from bot.devtools.emulator.spec import load_spec

TOKEN = "42:" + "b" * 35


def error_of(text: str, mode: str) -> str:
    with pytest.raises(ApiError) as raised:
        parse_text(text, mode)
    assert raised.value.error_code == 400
    return raised.value.description


def test_html_offsets_are_utf16_and_errors_use_utf8_bytes() -> None:
    text, entities = parse_html("আমি <b>ভালো</b> 😀 <a href='https://x.org/?a=1&amp;b=2'>link</a>")
    assert text == "আমি ভালো 😀 link"
    assert entities == [
        {"offset": 4, "length": 4, "type": "bold"},
        {"offset": 12, "length": 4, "type": "text_link", "url": "https://x.org/?a=1&b=2"},
    ]
    # "আমি " is 10 bytes in UTF-8.
    assert error_of("আমি <x>", "HTML").endswith('Unsupported start tag "x" at byte offset 10')


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("<b>bold <i>both</b></i>", 'Unmatched end tag at byte offset 15, expected "</i>"'),
        ("x <b", "Unclosed start tag at byte offset 2"),
        ("<span>s</span>", 'Tag "span" must have class "tg-spoiler"'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
    ],
)
def test_html_errors(html: str, error: str) -> None:
    assert error in error_of(html, "HTML")


def test_html_entities_and_every_tag() -> None:
    text, entities = parse_html(
        "&lt;&#65;&#x42;&quot;&amp;&unknown; <u>u</u><s>s</s><tg-spoiler>p</tg-spoiler>"
        '<code>c</code><pre><code class="language-py">x</code></pre>'
        '<blockquote expandable>q</blockquote><tg-emoji emoji-id="5">e</tg-emoji>'
    )
    assert text == '<AB"&&unknown; uspcxqe'
    assert [e["type"] for e in entities] == [
        "underline", "strikethrough", "spoiler", "code", "pre", "expandable_blockquote",
        "custom_emoji",
    ]  # fmt: skip
    assert entities[4]["language"] == "py"
    assert "language" not in entities[3]


def test_entities_render_back_to_html() -> None:
    source = '<b>a <i>b</i></b> 1 &lt; 2 <a href="https://x.org">l</a>'
    text, entities = parse_html(source)
    assert entities_to_html(text, entities) == source
    assert utf16_len("😀a") == 3


# Plain text with what makes offsets hard: Bangla, letters outside the BMP (two UTF-16 units)
# and characters that must be escaped.
_PLAIN = st.text(alphabet=st.sampled_from(list('ab কা😀𝕏<>&"\n')), max_size=12).map(
    lambda t: t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
)
_TAGS = ("b", "i", "u", "s", "code", "tg-spoiler", 'a href="https://x.org"')


def _wrapped(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    def wrap(tag: str, body: str) -> str:
        return f"<{tag}>{body}</{tag.split()[0]}>"

    return st.builds(wrap, st.sampled_from(_TAGS), inner)


_HTML = st.recursive(
    _PLAIN, lambda inner: _wrapped(inner) | st.lists(inner, max_size=3).map("".join), max_leaves=8
)


@settings(max_examples=300, deadline=None)
@given(_HTML)
def test_formatted_text_survives_rendering_back_to_html(source: str) -> None:
    # What a chat shows (entities_to_html) must parse back to what the bot sent. Entities
    # spanning the same text come back in either order, as nesting them either way shows.
    text, entities = parse_html(source)
    again, entities_again = parse_html(entities_to_html(text, entities))
    assert again == text
    assert _in_order(entities_again) == _in_order(entities)


def _in_order(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"], e["type"]))


def test_markdown_v2() -> None:
    text, entities = parse_text(
        "*b* _i_ __u__ ~s~ ||sp|| [l](https://x.org) `c` 1\\.0\n```python\nx\n```", "MarkdownV2"
    )
    assert text == "b i u s sp l c 1.0\nx\n"
    assert [e["type"] for e in entities] == [
        "bold", "italic", "underline", "strikethrough", "spoiler", "text_link", "code", "pre",
    ]  # fmt: skip
    assert entities[-1]["language"] == "python"
    assert error_of("*open", "MarkdownV2").endswith(
        "Can't find end of Bold entity at byte offset 0"
    )
    assert "Character '!' is reserved" in error_of("Hi!", "MarkdownV2")
    quote_text, quote = parse_text(">quoted\n>lines\nafter", "MarkdownV2")
    assert quote_text == "quoted\nlines\nafter"
    assert quote == [{"type": "blockquote", "offset": 0, "length": 12}]


def test_legacy_markdown() -> None:
    text, entities = parse_text("*b* _i_ `c` [t](http://a) 2\\*3", "Markdown")
    assert text == "b i c t 2*3"
    assert [e["type"] for e in entities] == ["bold", "italic", "code", "text_link"]
    assert "Can't find end of the entity starting at byte offset 0" in error_of("*x", "Markdown")


def test_spec_validates_nested_objects_and_unions() -> None:
    spec = load_spec()
    method = spec.method("SETMYCOMMANDS")
    assert method is not None
    params = spec.validate(
        method,
        {
            "commands": '[{"command": "help", "description": "Help"}]',
            "scope": '{"type": "chat_member", "chat_id": "@group", "user_id": 7}',
        },
    )
    assert params["scope"]["user_id"] == 7
    with pytest.raises(ApiError, match='Can\'t find field "user_id"'):
        spec.validate(method, {"commands": "[]", "scope": '{"type": "chat_member", "chat_id": 1}'})
    send = spec.method("sendMessage")
    assert send is not None
    keyboard = '{"keyboard": [[{"text": "Share", "request_location": true}]], "is_persistent": 1}'
    with pytest.raises(ApiError, match="is_persistent"):
        spec.validate(send, {"chat_id": "1", "text": "x", "reply_markup": keyboard})


@pytest.fixture
async def http() -> AsyncIterator[tuple[Emulator, str, ClientSession]]:
    async with EmulatorServer() as server, ClientSession() as session:
        server.emulator.add_user(5)
        yield server.emulator, server.base_url, session


async def call(
    http: tuple[Emulator, str, ClientSession], method: str, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    _, base_url, session = http
    verb = "GET" if "params" in kwargs else "POST"
    async with session.request(verb, f"{base_url}/bot{TOKEN}/{method}", **kwargs) as response:
        return response.status, await response.json()


async def test_raw_http_json_form_and_get(http: tuple[Emulator, str, ClientSession]) -> None:
    status, body = await call(http, "SENDMESSAGE", json={"chat_id": 5, "text": "json body"})
    assert status == 200 and body["result"]["text"] == "json body"
    status, body = await call(http, "sendMessage", data={"chat_id": "5", "text": "form body"})
    assert status == 200 and body["result"]["message_id"] == 2
    status, body = await call(http, "getMe", params={})
    assert status == 200 and body["result"]["id"] == 42
    status, body = await call(http, "sendMessage", json={"chat_id": 5})
    assert (status, body) == (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"},
    )
    form = FormData()
    form.add_field("chat_id", "5")
    form.add_field("document", b"%PDF" * 10, filename="guide.pdf", content_type="application/pdf")
    status, body = await call(http, "sendDocument", data=form)
    assert status == 200
    assert body["result"]["document"] == {
        "file_id": body["result"]["document"]["file_id"],
        "file_unique_id": body["result"]["document"]["file_unique_id"],
        "file_size": 40,
        "file_name": "guide.pdf",
        "mime_type": "application/pdf",
    }
    status, body = await call(http, "getUpdates", params={"timeout": "0"})
    assert status == 200 and body["result"] == []


def test_every_user_action_parses_as_an_aiogram_update() -> None:
    emu = Emulator()
    emu.add_user(5, "Rina", username="rina", last_name="Das")
    emu.add_group(-77, "Para committee", supergroup=False)
    emu.add_channel(-1009, "News")
    updates = [
        emu.send_text(5, "/start ref"),
        emu.share_location(5, 23.81, 90.41),
        emu.send_sticker(5),
        emu.send_photo(5, caption="flood"),
        emu.send_voice(5),
        emu.send_contact(5, "+8801700000000"),
        emu.edit_text(5, 1, "/start again"),
        emu.group_text(-77, 5, "hi all"),
        emu.channel_post(-1009, "bulletin"),
        emu.bot_blocked_by(5),
        emu.send_text(5, "back"),  # writing again unblocks
        emu.press_button(5, 1, "anything", forge=True),
    ]
    parsed = [Update.model_validate(update) for update in updates]
    assert [p.event_type for p in parsed] == [
        "message", "message", "message", "message", "message", "message", "edited_message",
        "message", "channel_post", "my_chat_member", "message", "callback_query",
    ]  # fmt: skip
    assert [u["update_id"] for u in emu.updates] == list(range(1, 14))  # and the unblock
    assert not emu.state.chat(5).blocked
