"""How the terminal chat shows a message: wrapped to the terminal, styled, buttons numbered."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from bot.devtools.emulator.state import ChatMessage

_BOLD, _ITALIC, _RESET = "\033[1m", "\033[3m", "\033[0m"


def display_width(text: str) -> int:
    """Return how many terminal cells `text` takes (combining marks 0, wide characters 2)."""
    width = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def wrap_spans(text: str, width: int) -> list[tuple[int, int]]:
    """Split one line of `text` into (start, end) spans no wider than `width` cells, at spaces.

    Spans index into `text`, so styling by character position survives the wrapping; a word
    wider than the line is cut where it overflows. `width` <= 0 means no wrapping.
    """
    if width <= 0 or display_width(text) <= width:
        return [(0, len(text))]
    spans: list[tuple[int, int]] = []
    start, n = 0, len(text)
    while start < n:
        while start < n and text[start] == " ":
            start += 1
        if start >= n:
            break
        used, end, last_space = 0, start, -1
        while end < n:
            cell = display_width(text[end])
            if used + cell > width and end > start:
                break
            if text[end] == " ":
                last_space = end
            used += cell
            end += 1
        if end < n and last_space > start:
            end = last_space
        stop = end
        while stop > start and text[stop - 1] == " ":
            stop -= 1
        spans.append((start, stop))
        start = end
    return spans or [(0, 0)]


def _styles(text: str, entities: list[dict[str, Any]]) -> list[str]:
    """Return an ANSI style prefix per character ("" for plain), from bold/italic entities.

    Entity offsets count UTF-16 code units, as Telegram's do.
    """
    styles = [""] * len(text)
    if not entities:
        return styles
    unit_to_index: dict[int, int] = {}
    units = 0
    for index, char in enumerate(text):
        unit_to_index[units] = index
        units += 2 if ord(char) > 0xFFFF else 1
    unit_to_index[units] = len(text)
    codes = {"bold": _BOLD, "italic": _ITALIC}
    for entity in entities:
        code = codes.get(str(entity.get("type")))
        offset, length = int(entity.get("offset", 0)), int(entity.get("length", 0))
        first, last = unit_to_index.get(offset), unit_to_index.get(offset + length)
        if code is None or first is None or last is None:
            continue
        for index in range(first, last):
            if code not in styles[index]:
                styles[index] += code
    return styles


def render_text(text: str, entities: list[dict[str, Any]], width: int, styled: bool) -> list[str]:
    """Return the lines a terminal shows for a message text, indented by two spaces."""
    styles = _styles(text, entities) if styled else [""] * len(text)
    lines: list[str] = []
    offset = 0
    for paragraph in text.split("\n"):
        for start, end in wrap_spans(paragraph, width - 2):
            out, current = [], ""
            for index in range(start, end):
                style = styles[offset + index]
                if style != current:
                    out.append(_RESET + style if current else style)
                    current = style
                out.append(paragraph[index])
            if current:
                out.append(_RESET)
            lines.append("  " + "".join(out))
        offset += len(paragraph) + 1
    return lines


@dataclass(frozen=True)
class Choice:
    """One numbered inline button: a press sends `data`, or the button opens `url`."""

    number: int
    label: str
    data: str | None
    url: str | None


def choices_of(message: ChatMessage) -> list[list[Choice]]:
    """Number a message's inline buttons in reading order, as the bot numbers its options."""
    markup = message.reply_markup or {}
    rows: list[list[Choice]] = []
    number = 0
    for row in markup.get("inline_keyboard", []):
        out = []
        for button in row:
            number += 1
            out.append(
                Choice(number, str(button.get("text", "")), button.get("callback_data"),
                       button.get("url"))
            )  # fmt: skip
        rows.append(out)
    return rows


def render_choices(rows: list[list[Choice]], width: int) -> list[str]:
    """Lay numbered buttons out under a message: `  [1] বাংলা   [2] English`."""
    lines: list[str] = []
    for row in rows:
        line = ""
        for choice in row:
            cell = f"[{choice.number}] {choice.label}"
            if choice.url:
                cell += f" ({choice.url})"
            candidate = f"{line}   {cell}" if line else f"  {cell}"
            if line and width > 0 and display_width(candidate) > width:
                lines.append(line)
                candidate = f"  {cell}"
            line = candidate
        if line:
            lines.append(line)
    return lines


def render_message(message: ChatMessage, width: int, styled: bool, *, edited: bool) -> str:
    """Return the block a terminal shows for one bot message."""
    header = "Sabai (edited):" if edited else "Sabai:"
    lines = [_BOLD + header + _RESET if styled else header]
    if message.kind not in ("text", "other"):
        lines.append(f"  [{message.kind}]")
    if message.text:
        lines.extend(render_text(message.text, message.entities, width, styled))
    lines.extend(render_choices(choices_of(message), width))
    if message.reply_keyboard:
        keys = "   ".join(f"[{label}]" for row in message.reply_keyboard for label in row)
        lines.append(f"  keyboard (type a label to send it): {keys}")
    return "\n".join(lines) + "\n"


def excerpt(text: str, limit: int = 40) -> str:
    line = text.split("\n", 1)[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"
