"""Turn formatted text into Telegram's plain text + entities, and entities back into HTML."""

from __future__ import annotations

import html
from typing import Any

from bot.emulator.errors import bad_request
from bot.emulator.html_entities import parse_html, utf16_len
from bot.emulator.markdown import parse_markdown, parse_markdown_v2

_HTML_TAGS = {
    "bold": ("<b>", "</b>"),
    "italic": ("<i>", "</i>"),
    "underline": ("<u>", "</u>"),
    "strikethrough": ("<s>", "</s>"),
    "spoiler": ("<tg-spoiler>", "</tg-spoiler>"),
    "code": ("<code>", "</code>"),
    "blockquote": ("<blockquote>", "</blockquote>"),
    "expandable_blockquote": ("<blockquote expandable>", "</blockquote>"),
}


def parse_text(
    text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Return (plain text, entities) for `text` sent with `parse_mode` or explicit `entities`."""
    mode = (parse_mode or "").lower()
    if not mode:
        return text, list(entities or [])
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return parse_markdown(text)
    raise bad_request("unsupported parse_mode")


def _open_tag(entity: dict[str, Any]) -> tuple[str, str]:
    kind = entity["type"]
    if kind in _HTML_TAGS:
        return _HTML_TAGS[kind]
    if kind == "pre":
        language = entity.get("language")
        if language:
            return f'<pre><code class="language-{html.escape(language)}">', "</code></pre>"
        return "<pre>", "</pre>"
    if kind == "text_link":
        return f'<a href="{html.escape(entity["url"])}">', "</a>"
    if kind == "text_mention":
        return f'<a href="tg://user?id={entity["user"]["id"]}">', "</a>"
    if kind == "custom_emoji":
        return f'<tg-emoji emoji-id="{html.escape(entity["custom_emoji_id"])}">', "</tg-emoji>"
    if kind == "date_time":
        return f'<tg-time unix="{entity["unix_time"]}">', "</tg-time>"
    # mention, hashtag, url, bot_command... are detected by clients; they carry no markup.
    return "", ""


def entities_to_html(text: str, entities: list[dict[str, Any]]) -> str:
    """Render plain text and its entities as Telegram HTML (what the user would see formatted)."""
    opens: dict[int, list[tuple[int, str, str]]] = {}
    for entity in sorted(entities, key=_key):
        start, end = _open_tag(entity)
        if start:
            opens.setdefault(entity["offset"], []).append(
                (entity["offset"] + entity["length"], start, end)
            )
    stack: list[tuple[int, str]] = []  # (UTF-16 end position, closing tag)
    out: list[str] = []
    position = 0
    for char in text:
        while stack and stack[-1][0] <= position:
            out.append(stack.pop()[1])
        for end_position, start, end in opens.get(position, []):
            out.append(start)
            stack.append((end_position, end))
        out.append(html.escape(char, quote=False))
        position += utf16_len(char)
    while stack:
        out.append(stack.pop()[1])
    return "".join(out)


def _key(entity: dict[str, Any]) -> tuple[int, int]:
    return entity["offset"], -entity["length"]
