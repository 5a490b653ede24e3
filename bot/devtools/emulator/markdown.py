"""Parse Telegram's MarkdownV2 and legacy Markdown the way the Bot API server does.

Follows tdlib's `parse_markdown_v2` and `parse_markdown` closely enough to reproduce the errors
bots meet in practice ("Character '.' is reserved and must be escaped...", "Can't find end of
Bold entity at byte offset 0"). Expandable-blockquote markers (`**>` ... `||`) are not handled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.devtools.emulator.html_entities import entity_error, utf16_len

_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "code": "Code",
    "pre": "Pre",
}


@dataclass
class _Open:
    kind: str
    offset: int
    begin_byte: int
    language: str = ""


class _Builder:
    """Accumulate plain text while tracking the UTF-16 position entities refer to."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.parts: list[str] = []
        self.position = 0
        self.entities: list[dict[str, Any]] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.position += utf16_len(text)

    def byte(self, index: int) -> int:
        return len(self.source[:index].encode("utf-8", "surrogatepass"))

    def entity(self, kind: str, offset: int, **extra: Any) -> None:
        length = self.position - offset
        if length > 0:
            self.entities.append({"type": kind, "offset": offset, "length": length, **extra})

    def result(self) -> tuple[str, list[dict[str, Any]]]:
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), self.entities


def _ends(kind: str, text: str, i: int) -> bool:
    char, following = text[i], text[i + 1 : i + 2]
    return {
        "bold": char == "*",
        "italic": char == "_",
        "underline": char == "_" and following == "_",
        "strikethrough": char == "~",
        "spoiler": char == "|" and following == "|",
        "code": char == "`",
        "pre": text.startswith("```", i),
        "text_link": char == "]",
        "custom_emoji": char == "]",
    }[kind]


def parse_markdown_v2(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Return the plain text and entities of a MarkdownV2 text, or raise ApiError."""
    out = _Builder(text)
    nested: list[_Open] = []
    quote_start: int | None = None
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            out.add(text[i + 1])
            i += 2
            continue
        in_code = bool(nested) and nested[-1].kind in ("code", "pre")
        if in_code and char != "`":
            out.add(char)
            i += 1
            continue
        if char == "\n" and quote_start is not None and not text.startswith(">", i + 1):
            out.entity("blockquote", quote_start)
            quote_start = None
        if char == ">" and (i == 0 or text[i - 1] == "\n") and not in_code:
            if quote_start is None:
                quote_start = out.position
            i += 1
            continue
        if char not in _RESERVED:
            out.add(char)
            i += 1
            continue
        if nested and _ends(nested[-1].kind, text, i):
            i = _close(text, i, nested.pop(), out)
            continue
        i = _open(text, i, nested, out)
    if nested:
        last = nested[-1]
        raise entity_error(
            f"Can't find end of {_NAMES[last.kind]} entity at byte offset {last.begin_byte}"
        )
    if quote_start is not None:
        out.entity("blockquote", quote_start)
    return out.result()


def _open(text: str, i: int, nested: list[_Open], out: _Builder) -> int:
    char, following = text[i], text[i + 1 : i + 2]
    begin = out.byte(i)
    language = ""
    if char == "_" and following == "_":
        kind, i = "underline", i + 2
    elif char in "_*~":
        kind, i = {"_": "italic", "*": "bold", "~": "strikethrough"}[char], i + 1
    elif char == "|" and following == "|":
        kind, i = "spoiler", i + 2
    elif char == "[":
        kind, i = "text_link", i + 1
    elif char == "!" and following == "[":
        kind, i = "custom_emoji", i + 2
    elif text.startswith("```", i):
        kind, i = "pre", i + 3
        newline = text.find("\n", i)
        first_line = text[i:newline] if newline >= 0 else ""
        if newline >= 0 and not any(c.isspace() or c == "`" for c in first_line):
            language, i = first_line, newline + 1
    elif char == "`":
        kind, i = "code", i + 1
    else:
        raise entity_error(
            f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
        )
    nested.append(_Open(kind, out.position, begin, language))
    return i


def _close(text: str, i: int, opened: _Open, out: _Builder) -> int:
    if opened.kind in ("text_link", "custom_emoji"):
        url, i = _read_url(text, i + 1, out)
        if opened.kind == "custom_emoji":
            emoji_id = url.partition("id=")[2]
            if emoji_id:
                out.entity("custom_emoji", opened.offset, custom_emoji_id=emoji_id)
        elif url:
            out.entity("text_link", opened.offset, url=url)
        return i
    if opened.kind == "pre":
        extra = {"language": opened.language} if opened.language else {}
        out.entity("pre", opened.offset, **extra)
        return i + 3
    out.entity(opened.kind, opened.offset)
    return i + (2 if opened.kind in ("underline", "spoiler") else 1)


def _read_url(text: str, i: int, out: _Builder) -> tuple[str, int]:
    """Read `(url)` right after a link's closing ']'; return the URL and the index after it."""
    if not text.startswith("(", i):
        return "", i
    begin = i
    url: list[str] = []
    i += 1
    while i < len(text) and text[i] != ")":
        if text[i] == "\\" and i + 1 < len(text):
            i += 1
        url.append(text[i])
        i += 1
    if i >= len(text):
        raise entity_error(f"Can't find end of a URL at byte offset {out.byte(begin)}")
    return "".join(url), i + 1


def parse_markdown(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Return the plain text and entities of a legacy Markdown text, or raise ApiError."""
    out = _Builder(text)
    kinds = {"_": "italic", "*": "bold", "`": "code", "[": "text_link"}
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and text[i + 1] in kinds:
            out.add(text[i + 1])
            i += 2
            continue
        if char not in kinds:
            out.add(char)
            i += 1
            continue
        begin = i
        kind, end = kinds[char], {"[": "]"}.get(char, char)
        i += 1
        language = ""
        if char == "`" and text.startswith("``", i):
            kind, end = "pre", "```"
            i += 2
            newline = text.find("\n", i)
            if newline >= 0 and not any(c.isspace() for c in text[i:newline]):
                language, i = text[i:newline], newline + 1
        offset = out.position
        close = text.find(end, i)
        if close < 0:
            raise entity_error(
                f"Can't find end of the entity starting at byte offset {out.byte(begin)}"
            )
        out.add(text[i:close])
        i = close + len(end)
        if kind == "text_link":
            url, i = _read_url(text, i, out)
            if url:
                out.entity("text_link", offset, url=url)
        elif kind == "pre" and language:
            out.entity("pre", offset, language=language)
        else:
            out.entity(kind, offset)
    return out.result()
