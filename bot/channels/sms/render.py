"""Screens as SMS: plain text, options numbered so a reply of "2" picks the second."""

from __future__ import annotations

import html
import re

from bot.channels.sms.parts import MAX_PARTS, parts, shorten
from bot.core.i18n import localize_digits
from bot.core.screens import Screen

_TAG = re.compile(r"<[^>]+>")


def plain(text: str) -> str:
    """Telegram HTML as the plain text an SMS carries."""
    return html.unescape(_TAG.sub("", text)).strip()


def numbered(screen: Screen, language: str) -> str:
    """A screen's text followed by its options, one per line, numbered in local digits."""
    lines = [plain(screen.text)]
    for number, option in enumerate(screen.options(), start=1):
        lines.append(f"{localize_digits(str(number), language)} {plain(option.label)}")
    return "\n".join(line for line in lines if line)


def fit(text: str) -> str:
    """`text` within the 3-part ceiling, cut at a word when it is longer."""
    if parts(text) <= MAX_PARTS:
        return text
    return shorten(text, MAX_PARTS) or text[:190]
