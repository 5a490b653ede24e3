"""Parse Telegram's HTML formatting the way the Bot API server does.

Follows tdlib's `parse_html` (td/telegram/MessageEntity.cpp): only Telegram's tags are allowed,
tags must nest and close properly, and errors name the UTF-8 byte offset of the offending tag.
Entity offsets and lengths are counted in UTF-16 code units, as in the Bot API.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

from bot.devtools.emulator.errors import ApiError, bad_request

_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
        "tg-emoji", "tg-time", "code", "pre", "blockquote",
    }
)  # fmt: skip
_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "code": "code",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_MARKUP_START = re.compile(r"[<&]")
_ENTITY_RE = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|(lt|gt|amp|quot));")


def utf16_len(text: str) -> int:
    """Return the length of `text` in UTF-16 code units, the unit of Bot API entity offsets."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def entity_error(detail: str) -> ApiError:
    """Return Telegram's error for text whose formatting cannot be parsed."""
    return bad_request(f"can't parse entities: {detail}")


@dataclass
class _OpenTag:
    tag: str
    offset: int  # UTF-16 offset in the plain text where the tag's content starts
    attributes: dict[str, str] = field(default_factory=dict)


class _ByteOffsets:
    """Map character indexes to UTF-8 byte offsets, which Telegram uses in its error texts."""

    def __init__(self, text: str) -> None:
        self._text = text

    def __call__(self, index: int) -> int:
        return len(self._text[:index].encode("utf-8", "surrogatepass"))


def _decode_entity(text: str, index: int) -> tuple[str, int] | None:
    match = _ENTITY_RE.match(text, index)
    if match is None:
        # Telegram keeps an unknown "&..." literally instead of failing.
        return None
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        return _NAMED_ENTITIES[name], match.end()
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), match.end()


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Return the plain text and the entities of Telegram-flavoured HTML, or raise ApiError."""
    byte_offset = _ByteOffsets(text)
    plain: list[str] = []
    position = 0  # UTF-16 length of `plain`
    nested: list[_OpenTag] = []
    entities: list[dict[str, Any]] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char not in "<&":
            # A run of plain characters is copied at once; counting code units per
            # character made long Bangla messages the emulator's biggest cost.
            special = _MARKUP_START.search(text, i)
            end = special.start() if special is not None else n
            run = text[i:end]
            plain.append(run)
            position += utf16_len(run)
            i = end
            continue
        if char == "&":
            decoded = _decode_entity(text, i)
            plain.append(decoded[0] if decoded is not None else char)
            position += utf16_len(plain[-1])
            i = decoded[1] if decoded is not None else i + 1
            continue
        begin = i
        if i + 1 < n and text[i + 1] == "/":
            i = _close_tag(text, i, nested, entities, position, byte_offset(begin))
            continue
        j = i + 1
        while j < n and not text[j].isspace() and text[j] != ">":
            j += 1
        if j >= n:
            raise entity_error(f"Unclosed start tag at byte offset {byte_offset(begin)}")
        tag = text[i + 1 : j].lower()
        if tag not in _TAGS:
            raise entity_error(f'Unsupported start tag "{tag}" at byte offset {byte_offset(begin)}')
        attributes, j = _parse_attributes(text, j, tag, byte_offset(begin))
        if tag == "span" and attributes.get("class") != "tg-spoiler":
            raise entity_error(
                f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(begin)}'
            )
        nested.append(_OpenTag(tag, position, attributes))
        i = j + 1
    if nested:
        raise entity_error(f'Can\'t find end tag corresponding to start tag "{nested[-1].tag}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(plain), entities


def _parse_attributes(text: str, j: int, tag: str, begin_byte: int) -> tuple[dict[str, str], int]:
    """Parse `name="value"` pairs up to the start tag's '>'; return them and the '>' index."""
    attributes: dict[str, str] = {}
    n = len(text)
    while True:
        while j < n and text[j].isspace():
            j += 1
        if j >= n:
            raise entity_error(f"Unclosed start tag at byte offset {begin_byte}")
        if text[j] == ">":
            return attributes, j
        name_start = j
        while j < n and not text[j].isspace() and text[j] not in "=>":
            j += 1
        name = text[name_start:j].lower()
        if not name:
            raise entity_error(
                f'Empty attribute name in the tag "{tag}" at byte offset {begin_byte}'
            )
        while j < n and text[j].isspace():
            j += 1
        if j >= n or text[j] != "=":
            if tag == "blockquote" and name == "expandable":
                attributes[name] = ""
                continue
            raise entity_error(
                "Expected equal sign in declaration of an attribute of the tag "
                f'"{tag}" at byte offset {begin_byte}'
            )
        j += 1
        while j < n and text[j].isspace():
            j += 1
        if j >= n:
            raise entity_error(f"Unclosed start tag at byte offset {begin_byte}")
        if text[j] in "'\"":
            quote = text[j]
            end = text.find(quote, j + 1)
            if end < 0:
                raise entity_error(f"Unclosed start tag at byte offset {begin_byte}")
            attributes[name] = html.unescape(text[j + 1 : end])
            j = end + 1
        else:
            value_start = j
            while j < n and (text[j].isalnum() or text[j] in ".-"):
                j += 1
            if j >= n or not (text[j].isspace() or text[j] == ">"):
                raise entity_error(f"Unexpected end of name token at byte offset {begin_byte}")
            attributes[name] = text[value_start:j].lower()


def _close_tag(
    text: str,
    i: int,
    nested: list[_OpenTag],
    entities: list[dict[str, Any]],
    position: int,
    begin_byte: int,
) -> int:
    """Handle `</tag>` at index `i`; append the finished entity; return the index after '>'."""
    if not nested:
        raise entity_error(f"Unexpected end tag at byte offset {begin_byte}")
    n = len(text)
    j = i + 2
    while j < n and not text[j].isspace() and text[j] != ">":
        j += 1
    end_name = text[i + 2 : j].lower()
    while j < n and text[j].isspace():
        j += 1
    if j >= n or text[j] != ">":
        raise entity_error(f"Unclosed end tag at byte offset {begin_byte}")
    opened = nested.pop()
    if end_name and end_name != opened.tag:
        raise entity_error(
            f'Unmatched end tag at byte offset {begin_byte}, expected "</{opened.tag}>", '
            f'found "</{end_name}>"'
        )
    length = position - opened.offset
    entity = _make_entity(opened, length)
    if entity is not None and entity["type"] == "code" and not (nested and nested[-1].tag == "pre"):
        # Only a pre entity carries a language; a lone <code class="language-x"> drops it.
        entity.pop("language", None)
    if entity is not None:
        if entity["type"] == "pre" and entities:
            # <pre><code class="language-x"> is one pre entity with a language, as in Telegram.
            last = entities[-1]
            same_span = last["offset"] == entity["offset"] and last["length"] == length
            if last["type"] == "code" and same_span:
                entities.pop()
                if "language" in last:
                    entity["language"] = last["language"]
        entities.append(entity)
    return j + 1


def _make_entity(opened: _OpenTag, length: int) -> dict[str, Any] | None:
    if length <= 0:
        return None
    entity: dict[str, Any] = {"offset": opened.offset, "length": length}
    attrs = opened.attributes
    if opened.tag in _SIMPLE:
        entity["type"] = _SIMPLE[opened.tag]
        language = attrs.get("class", "")
        if opened.tag == "code" and language.startswith("language-"):
            entity["language"] = language.removeprefix("language-")
    elif opened.tag == "pre":
        entity["type"] = "pre"
    elif opened.tag == "blockquote":
        entity["type"] = "expandable_blockquote" if "expandable" in attrs else "blockquote"
    elif opened.tag == "a":
        href = attrs.get("href", "")
        if not href:
            return None
        entity["type"] = "text_link"
        entity["url"] = href
    elif opened.tag == "tg-emoji":
        if "emoji-id" not in attrs:
            return None
        entity["type"] = "custom_emoji"
        entity["custom_emoji_id"] = attrs["emoji-id"]
    else:  # tg-time
        unix = attrs.get("unix", "")
        if not unix.isdigit():
            return None
        entity["type"] = "date_time"
        entity["unix_time"] = int(unix)
        if attrs.get("format"):
            entity["date_time_format"] = attrs["format"]
    return entity
