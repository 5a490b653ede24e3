"""How typed words become comparable keys: Latin and Bangla folding, transliteration, tokens.

Residents type area names in Bangla or romanised, with or without spaces and with typos;
both scripts are folded to a Latin key (and a consonant skeleton) so that either can match.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from bot.core.i18n import is_plain_number

# Soft words ("Sadar", "Paurashava") are part of official names but residents often leave
# them out; matching without them is right, but slightly less right than matching in full.
SOFT_WEIGHT = 0.97
# A Telegram message can be 4,096 characters; no area name is longer than this, so the rest
# of a long message is noise that would only cost time.
MAX_QUERY_CHARS = 100

# --- Latin folding -------------------------------------------------------------------------

# Words that say what kind of unit a name is, not which one.
_GENERIC_LATIN = {
    "district",
    "dist",
    "distric",
    "zila",
    "zilla",
    "jela",
    "jila",
    "zela",
    "upazila",
    "upazilla",
    "upozila",
    "upojela",
    "upazela",
    "upzila",
    "thana",
    "union",
    "unian",
    "division",
    "divison",
    "div",
    "bibhag",
    "bivag",
    "bibag",
    "bd",
    "bangladesh",
}
_SOFT_LATIN = {
    "sadar",
    "sador",
    "shadar",
    "paurashava",
    "pourashava",
    "paurasava",
    "pourasava",
    "pourashova",
    "municipality",
    "part",
}

# Order matters: each rule sees the output of the ones before it. Plain replacements are
# many times faster than regular expressions, and the index folds every name at start-up.
_LATIN_REPLACEMENTS: tuple[tuple[str, str], ...] = (
    ("ph", "f"),
    ("chh", "\0"),
    ("ch", "\0"),
    ("c", "k"),  # Comilla / Kumilla
    ("\0", "c"),
    ("q", "k"),
    ("x", "ks"),  # Laxmipur / Lakshmipur
    ("z", "j"),  # Bazar / Bajar: জ and য are both romanised either way
    ("sh", "s"),  # শ, ষ and স are one sound for most speakers
    ("ou", "u"),  # Moulvi / Maulvi / Mowlvi
    ("au", "u"),
    ("ow", "u"),
    ("aw", "u"),
    ("oo", "u"),
    ("ee", "i"),  # Sreemangal / Srimangal, Sylhet / Silhet
    ("ea", "i"),
    ("ie", "i"),
    ("y", "i"),
    ("o", "a"),  # the inherent vowel is written a or o: gonj / ganj
    ("w", "b"),  # Bangla has one letter (ব/ভ) for both
    ("v", "b"),
)
# Aspiration is dropped (th/t, dh/d, kh/k, bh/b; also Sylhet / Sylet), then doubled letters
# (Comilla / Comila), but not doubled digits: ward 1 is not ward 11.
_ASPIRATION = re.compile("([^aeiu])h")
_DOUBLES = re.compile(r"(\D)\1+")
_VOWELS = re.compile("[aeiu]")


@lru_cache(maxsize=16384)
def _fold_latin(token: str) -> str:
    for old, new in _LATIN_REPLACEMENTS:
        if old in token:
            token = token.replace(old, new)
    return _DOUBLES.sub(r"\1", _ASPIRATION.sub(r"\1", token))


def consonant_skeleton(folded: str) -> str:
    """Drop vowels (keeping a leading one) so vowel spelling stops mattering."""
    if not folded:
        return ""
    return _DOUBLES.sub(r"\1", folded[0] + _VOWELS.sub("", folded[1:]))


_GENERIC_LATIN_FOLDED = {_fold_latin(w) for w in _GENERIC_LATIN}
_SOFT_LATIN_FOLDED = {_fold_latin(w) for w in _SOFT_LATIN}


# --- Bangla folding and transliteration ----------------------------------------------------

_HASANTA = "\u09cd"
_NUKTA = "\u09bc"
# NFC keeps ড়, ঢ় and য় decomposed (they are composition exclusions); one code point each
# is easier to map.
_NUKTA_FORMS = {
    "\u09a1" + _NUKTA: "\u09dc",
    "\u09a2" + _NUKTA: "\u09dd",
    "\u09af" + _NUKTA: "\u09df",
}
_BN_DIGITS = str.maketrans("০১২৩৪৫৬৭৮৯", "0123456789")
_BN_FOLD = str.maketrans(
    {
        "শ": "স",
        "ষ": "স",
        "ঈ": "ই",
        "ী": "ি",
        "ঊ": "উ",
        "ূ": "ু",
        "ণ": "ন",
        "য": "জ",
        "\u09dc": "র",  # ড়
        "\u09dd": "র",  # ঢ়
        "ং": "ঙ",
        "ৎ": "ত",
        "ৌ": "ো",
        "ঔ": "ও",
        "ঋ": "রি",
        "ৃ": "রি",
        "ঁ": None,
        _HASANTA: None,
    }
)
_GENERIC_BN = {"জেলা", "জিলা", "উপজেলা", "উপজিলা", "থানা", "ইউনিয়ন", "বিভাগ", "বাংলাদেশ"}
_SOFT_BN = {"সদর", "পৌরসভা", "অংশ"}

_BN_VOWEL_SIGNS = {
    "া": "a",
    "ি": "i",
    "ী": "i",
    "ু": "u",
    "ূ": "u",
    "ৃ": "ri",
    "ে": "e",
    "ৈ": "oi",
    "ো": "o",
    "ৌ": "ou",
}
_BN_VOWELS = {
    "অ": "a",
    "আ": "a",
    "ই": "i",
    "ঈ": "i",
    "উ": "u",
    "ঊ": "u",
    "ঋ": "ri",
    "এ": "e",
    "ঐ": "oi",
    "ও": "o",
    "ঔ": "ou",
}
_BN_CONSONANTS = {
    "ক": "k",
    "খ": "kh",
    "গ": "g",
    "ঘ": "gh",
    "ঙ": "ng",
    "চ": "ch",
    "ছ": "chh",
    "জ": "j",
    "ঝ": "jh",
    "ঞ": "n",
    "ট": "t",
    "ঠ": "th",
    "ড": "d",
    "ঢ": "dh",
    "ণ": "n",
    "ত": "t",
    "থ": "th",
    "দ": "d",
    "ধ": "dh",
    "ন": "n",
    "প": "p",
    "ফ": "ph",
    "ব": "b",
    "ভ": "bh",
    "ম": "m",
    "য": "j",
    "র": "r",
    "ল": "l",
    "শ": "sh",
    "ষ": "sh",
    "স": "s",
    "হ": "h",
    "\u09dc": "r",
    "\u09dd": "rh",
    "\u09df": "y",
}
_BN_MARKS = {"ং": "ng", "ঃ": "h", "ৎ": "t", "ঁ": ""}


def _prepare_bangla(token: str) -> str:
    for seq, single in _NUKTA_FORMS.items():
        token = token.replace(seq, single)
    return token


def _fold_bangla(token: str) -> str:
    token = token.replace("ক্ষ", "খ")  # ক্ষ is said (and often written) as খ
    return _DOUBLES.sub(r"\1", token.translate(_BN_FOLD))


def _transliterate(token: str) -> str:
    """Spell a Bangla word in rough Latin letters, to compare it with English-only names."""
    out: list[str] = []
    for i, ch in enumerate(token):
        if ch in _BN_CONSONANTS:
            out.append(_BN_CONSONANTS[ch])
            nxt = token[i + 1] if i + 1 < len(token) else ""
            # The inherent vowel: absent before a vowel sign or hasanta and at a word's end.
            if nxt and nxt not in _BN_VOWEL_SIGNS and nxt != _HASANTA and nxt not in _BN_MARKS:
                out.append("a")
        elif ch in _BN_VOWEL_SIGNS:
            out.append(_BN_VOWEL_SIGNS[ch])
        elif ch in _BN_VOWELS:
            out.append(_BN_VOWELS[ch])
        elif ch in _BN_MARKS:
            out.append(_BN_MARKS[ch])
        elif ch.isascii() and ch.isalnum():
            out.append(ch)
    return "".join(out)


_GENERIC_BN_FOLDED = {_fold_bangla(_prepare_bangla(w)) for w in _GENERIC_BN}
_SOFT_BN_FOLDED = {_fold_bangla(_prepare_bangla(w)) for w in _SOFT_BN}


# --- Tokens ----------------------------------------------------------------------------------

# Invisible format characters (ZWJ, ZWNJ, direction marks, soft hyphen) creep in from Bangla
# keyboards and copied text, even in the middle of a word.
_INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]")
# Bangla vowel signs are marks, not word characters, so the Bangla block is matched whole.
_WORD = re.compile(r"[\u0980-\u09ff]+|[^\W_]+")
# Districts renamed in 2018; residents use both, the data has the old spellings.
_RENAMED = {
    "chittagong": "chattogram",
    "comilla": "cumilla",
    "barisal": "barishal",
    "jessore": "jashore",
    "bogra": "bogura",
}


class Token(NamedTuple):
    raw: str  # lowercased ASCII, or Bangla with nukta letters joined, before folding
    folded: str
    bangla: bool
    soft: bool


@lru_cache(maxsize=16384)
def _token(word: str) -> Token | None:
    """Fold one word, or return None for a word that only names a kind of unit."""
    if "\u0980" <= word[0] <= "\u09ff":
        raw = _prepare_bangla(word)
        folded = _fold_bangla(raw)
        if not folded or folded in _GENERIC_BN_FOLDED:
            return None
        return Token(raw, folded, True, folded in _SOFT_BN_FOLDED)
    raw = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode("ascii")
    if is_plain_number(raw):
        raw = raw.lstrip("0") or "0"  # "Ward No-01" is ward 1
    folded = _fold_latin(raw)
    if not folded or folded in _GENERIC_LATIN_FOLDED:
        return None
    return Token(raw, folded, False, folded in _SOFT_LATIN_FOLDED)


def split_tokens(text: str) -> list[Token]:
    """Split text into folded words, dropping words that only name a kind of unit."""
    text = unicodedata.normalize("NFC", _INVISIBLE.sub("", text[:MAX_QUERY_CHARS]))
    words = _WORD.findall(text.lower().translate(_BN_DIGITS))
    return [t for t in map(_token, words) if t is not None]


def latin_form(tokens: Sequence[Token]) -> tuple[str, bool]:
    """Return the tokens as one folded Latin string, and whether Bangla had to be guessed at."""
    parts: list[str] = []
    guessed = False
    for token in tokens:
        if token.bangla:
            parts.append(_transliterate(token.raw))
            guessed = True
        else:
            parts.append(token.raw)
    return _fold_latin("".join(parts)), guessed


def bangla_form(tokens: Sequence[Token]) -> str | None:
    if not tokens or not all(t.bangla for t in tokens):
        return None
    return _DOUBLES.sub(r"\1", "".join(t.folded for t in tokens))


@lru_cache(maxsize=16384)
def name_forms(name: str) -> tuple[tuple[str, float], ...]:
    """Return the folded texts a name is found by, each with its weight.

    The full name weighs 1 and the name without soft words ("Sadar") a little less; a renamed
    district's new spelling ("Chattogram") weighs as much as the spelling it replaces.
    """
    tokens = split_tokens(name)
    variants: list[tuple[list[Token], float]] = [(tokens, 1.0)]
    hard = [t for t in tokens if not t.soft]
    if hard and len(hard) < len(tokens):
        variants.append((hard, SOFT_WEIGHT))
    forms: dict[str, float] = {}
    for variant, weight in variants:
        bangla = bangla_form(variant)
        text = bangla if bangla is not None else latin_form(variant)[0]
        if text and forms.get(text, 0.0) < weight:
            forms[text] = weight
        if bangla is None and any(t.raw in _RENAMED for t in variant):
            renamed = "".join(_RENAMED.get(t.raw, t.raw) for t in variant)
            forms.setdefault(_fold_latin(renamed), weight)
    return tuple(forms.items())
