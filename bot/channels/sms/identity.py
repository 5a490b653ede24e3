"""Phone numbers as Sabai keeps them: E.164 with a leading "+", Bangladesh by default."""

from __future__ import annotations

import re

from bot.core.i18n import to_latin_digits

# Bangladeshi mobile numbers: 01 then an operator digit 3-9, then 8 digits.
_BD_LOCAL = re.compile(r"^01[3-9]\d{8}$")
_E164 = re.compile(r"^[1-9]\d{7,14}$")


class BadNumber(ValueError):
    """Not a phone number Sabai can send SMS to."""


def normalize_number(raw: str) -> str:
    """`raw` as "+8801…" (or another E.164 number); raise BadNumber when it is none."""
    text = to_latin_digits(raw).strip()
    digits = re.sub(r"[\s\-().]", "", text)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if _BD_LOCAL.match(digits):
        return "+88" + digits
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("880"):
        pass
    else:
        raise BadNumber(f"not a phone number: {raw[:32]!r}")
    if not _E164.match(digits):
        raise BadNumber(f"not a phone number: {raw[:32]!r}")
    if digits.startswith("880") and not _BD_LOCAL.match("0" + digits[3:]):
        raise BadNumber(f"not a Bangladeshi mobile number: {raw[:32]!r}")
    return "+" + digits


def chat_id_of(number: str) -> int:
    """The outbox chat id of a normalized number: its digits."""
    return int(number.lstrip("+"))


def number_of(chat_id: int) -> str:
    """The number an SMS outbox row goes to."""
    return f"+{chat_id}"
