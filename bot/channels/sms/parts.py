"""How many SMS a text costs: GSM-7 when every character allows it, UCS-2 otherwise."""

from __future__ import annotations

from dataclasses import dataclass

# The GSM 03.38 default alphabet; the extension table costs an escape, so two septets each.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
MAX_PARTS = 3


@dataclass(frozen=True)
class Encoded:
    """A text as the gateway sends it: its coding (0 GSM-7, 2 UCS-2) and parts."""

    coding: int
    units: int
    parts: int

    @property
    def is_unicode(self) -> bool:
        return self.coding == 2


def is_gsm7(text: str) -> bool:
    """Whether every character of `text` is in the GSM-7 alphabet (with its extension)."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _ucs2_units(text: str) -> int:
    # Characters outside the Basic Multilingual Plane take two UTF-16 units.
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def encode(text: str) -> Encoded:
    """The coding and number of parts `text` needs."""
    if is_gsm7(text):
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        single, part, coding = GSM7_SINGLE, GSM7_PART, 0
    else:
        units = _ucs2_units(text)
        single, part, coding = UCS2_SINGLE, UCS2_PART, 2
    if units <= single:
        return Encoded(coding, units, 1 if units else 0)
    return Encoded(coding, units, -(-units // part))


def parts(text: str) -> int:
    """How many SMS `text` takes."""
    return encode(text).parts


def shorten(text: str, max_parts: int) -> str | None:
    """`text` cut at a word to fit `max_parts`, ending in "…"; None if no cut fits."""
    if parts(text) <= max_parts:
        return text
    words = text.split()
    while len(words) > 1:
        words.pop()
        candidate = " ".join(words).rstrip(",;:") + "…"
        if parts(candidate) <= max_parts:
            return candidate
    return None
