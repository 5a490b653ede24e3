"""Turn formatted text into Telegram's plain text + entities, and entities back into HTML."""

from __future__ import annotations

import bisect
import html
from typing import Any

from bot.devtools.emulator.errors import bad_request
from bot.devtools.emulator.html_entities import parse_html, utf16_len
from bot.devtools.emulator.markdown import parse_markdown, parse_markdown_v2

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
    # Entity offsets count UTF-16 units; work in string indexes, and escape the text
    # between two tag positions a run at a time rather than a character at a time.
    units = _Units(text)
    opens: dict[int, list[tuple[int, str, str]]] = {}  # index → (close index, tags)
    for entity in sorted(entities, key=_key):
        start, end = _open_tag(entity)
        first = units.index_at(entity["offset"])
        if not start or first is None:  # an entity must start on a character to show
            continue
        # A tag opens before its character and is closed from the next character on.
        close = max(units.index_from(entity["offset"] + entity["length"]), first + 1)
        opens.setdefault(first, []).append((close, start, end))
    stops = set(opens).union(close for found in opens.values() for close, _, _ in found)
    stack: list[tuple[int, str]] = []  # (close index, closing tag)
    out: list[str] = []
    done = 0
    for index in sorted(stops):
        if index >= len(text):
            break
        out.append(html.escape(text[done:index], quote=False))
        done = index
        while stack and stack[-1][0] <= index:
            out.append(stack.pop()[1])
        for close, start, end in opens.get(index, []):
            out.append(start)
            stack.append((close, end))
    out.append(html.escape(text[done:], quote=False))
    while stack:
        out.append(stack.pop()[1])
    return "".join(out)


class _Units:
    """Where each character of a text starts, counted in UTF-16 units."""

    def __init__(self, text: str) -> None:
        self._length = len(text)
        self._starts: list[int] | None = None  # None: nothing outside the BMP, units = indexes
        if utf16_len(text) != len(text):
            self._starts = []
            position = 0
            for char in text:
                self._starts.append(position)
                position += 2 if ord(char) > 0xFFFF else 1

    def index_from(self, offset: int) -> int:
        """Index of the first character starting at or after `offset` (the length if none)."""
        if self._starts is None:
            return min(max(offset, 0), self._length)
        return bisect.bisect_left(self._starts, offset)

    def index_at(self, offset: int) -> int | None:
        """Index of the character starting exactly at `offset`, if there is one."""
        index = self.index_from(offset)
        if index >= self._length:
            return None
        starts_at = index if self._starts is None else self._starts[index]
        return index if starts_at == offset else None


def _key(entity: dict[str, Any]) -> tuple[int, int]:
    return entity["offset"], -entity["length"]
