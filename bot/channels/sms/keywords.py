"""Words that always work by SMS, whatever the conversation waits for."""

from __future__ import annotations

import enum
import re

from bot.core.i18n import to_latin_digits


class Keyword(enum.StrEnum):
    STOP = "stop"
    START = "start"
    JOIN = "join"
    HELP = "help"
    INFO = "info"
    DELETE = "delete"
    AREA = "area"
    LANG = "lang"


# Operators and phones also send the usual English variants; STOP-like words must never miss.
WORDS: dict[Keyword, frozenset[str]] = {
    Keyword.STOP: frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "বন্ধ"}),
    Keyword.START: frozenset({"start", "resume", "চালু"}),
    Keyword.JOIN: frozenset({"join", "যোগ", "যোগ দিন"}),
    Keyword.HELP: frozenset({"help", "সাহায্য"}),
    Keyword.INFO: frozenset({"info", "তথ্য"}),
    Keyword.DELETE: frozenset({"delete", "মুছুন", "মুছে ফেলুন"}),
    Keyword.AREA: frozenset({"area", "এলাকা"}),
    Keyword.LANG: frozenset({"lang", "language", "ভাষা"}),
}
_BY_WORD = {word: keyword for keyword, words in WORDS.items() for word in words}


def keyword_of(text: str) -> Keyword | None:
    """The keyword `text` is, ignoring case, spacing and trailing punctuation."""
    cleaned = re.sub(r"\s+", " ", to_latin_digits(text).strip().lower()).strip(" .!?।")
    return _BY_WORD.get(cleaned)
