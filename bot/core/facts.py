"""The facts registry (`content/facts.toml`) and the scan that holds lessons and strings to it.

A wrong helpline number or signal meaning in a civic bot can cost a life, so every phone
number, short code, USSD code, web address, fee and warning-signal number a resident may read
must be registered with its public source and the day it was checked. `scan_text` finds those
tokens in a text; the content check reports each one the registry does not hold.

What counts as a fact-shaped token (after Bengali digits are read as Latin ones):
- a USSD code such as `*247#`;
- a web address such as `bdris.gov.bd` (and the `.gov.bd` ending on its own);
- a number of three or more digits that stands alone (a phone number or short code);
- any amount of money (`২৫ টাকা`, `Tk 25`, `25 taka`): a fee;
- any number in a sentence about a warning signal (`signal`, `সংকেত`).
Dates and times in `YYYY-MM-DD HH:MM` examples, numbers inside `{placeholders}` and digits
joined to Latin letters (`360p`, `7d`, `K7M2QX`) are formats or names, not facts.
Numbers that look like facts but are not (a PIN not to use, a made-up prize in a scam example)
are listed under `[not_facts]` with the reason, so a reader sees each was meant.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

FACTS_FILE = "facts.toml"
KINDS = ("phone", "ussd", "web", "fee", "signal", "year")
_LATIN = str.maketrans("০১২৩৪৫৬৭৮৯", "0123456789")

_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_TAG = re.compile(r"<[^>]+>")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}(?:\s+\d{1,2}:\d{2})?|\b\d{1,2}:\d{2}\b")
_USSD = re.compile(r"\*[0-9*]+#")
_WEB = re.compile(
    r"(?<![\w.@-])(?:https?://)?(?:[a-z0-9-]+\.)+(?:bd|com|org|net|gov|info)(?![a-z0-9-])(?:/[^\s<>()\"'“”]*)?"
    r"|(?<![\w.])\.gov\.bd\b",
    re.IGNORECASE,
)
# A run of digits, with grouping commas (50,000 or 1,00,000), not joined to letters or digits.
_NUMBER = re.compile(r"(?<![\w.,*/-])\d{1,3}(?:,\d{2,3})+(?![\w,])|(?<![\w.,*/-])\d+(?![\w])")
_MEASURE_AFTER = re.compile(
    r"^\s*(?:ফুট|কিমি|কিলোমিটার|মিনিট|দিন|বছর|জন|ঘণ্টা|feet|foot|km|minutes?|days?|years?|hours?)",
    re.IGNORECASE,
)
_MONEY_AFTER = re.compile(r"^\s*(?:টাকা|taka\b)", re.IGNORECASE)
_MONEY_BEFORE = re.compile(r"(?:tk\.?|৳)\s*$", re.IGNORECASE)
_SIGNAL_WORD = re.compile(r"signal|সংকেত", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?।])\s+|\n+")


@dataclass(frozen=True)
class Token:
    kind: str  # "ussd", "web", "number", "fee" or "signal"
    value: str  # normalised: Latin digits, lower-case address, no grouping commas
    shown: str  # as written


@dataclass(frozen=True)
class Fact:
    key: str
    kind: str
    value: str
    meaning: str
    source: str
    checked: str
    bn: str = ""
    line: int = 0


_FIELDS = ("kind", "value", "meaning", "source", "checked", "bn")
_REQUIRED = ("kind", "value", "meaning", "source", "checked")


@dataclass
class Registry:
    path: Path
    facts: dict[str, Fact] = field(default_factory=dict)
    not_facts: dict[str, str] = field(default_factory=dict)  # value → why it is no fact

    def knows(self, token: Token) -> bool:
        """True when the token is a registered fact of a fitting kind, or a listed non-fact."""
        if token.value in self.not_facts:
            return True
        kinds = {
            "ussd": ("ussd",),
            "web": ("web",),
            "number": ("phone", "year"),
            "fee": ("fee",),
            "signal": ("signal",),
        }[token.kind]
        return any(f.value == token.value and f.kind in kinds for f in self.facts.values())


def normalise(value: str) -> str:
    """A fact's value as compared: Latin digits, no grouping commas, lower case."""
    return value.translate(_LATIN).replace(",", "").strip().lower()


def _line_of(text: str, key: str) -> int:
    """The line of `[facts.key]` in the file, so problems can point at it."""
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() in (f"[facts.{key}]", f'[facts."{key}"]'):
            return number
    return 0


def load_registry(path: Path) -> tuple[Registry, list[tuple[int, str]]]:
    """Read the registry; return it and its problems as (line, message)."""
    registry = Registry(path)
    if not path.exists():
        return registry, [(0, "the facts registry is missing")]
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return registry, [(0, f"not valid TOML: {exc}")]
    problems: list[tuple[int, str]] = []
    for key, entry in data.get("facts", {}).items():
        line = _line_of(text, key)
        if not isinstance(entry, dict):
            problems.append((line, f"facts.{key} must be a table"))
            continue
        values = {name: str(entry.get(name, "")).strip() for name in _FIELDS}
        missing = [name for name in _REQUIRED if not values[name]]
        if missing:
            problems.append((line, f"facts.{key} has no {', '.join(missing)}"))
            continue
        if values["kind"] not in KINDS:
            problems.append((line, f"facts.{key}: kind must be one of {', '.join(KINDS)}"))
            continue
        if not values["source"].startswith(("https://", "http://")):
            problems.append((line, f"facts.{key}: source must be a public web address"))
            continue
        try:
            dt.date.fromisoformat(values["checked"])
        except ValueError:
            problems.append((line, f"facts.{key}: checked must be a date like 2026-12-04"))
            continue
        if values["bn"] and normalise(values["bn"]) != normalise(values["value"]):
            problems.append((line, f"facts.{key}: the Bangla form {values['bn']!r} differs"))
            continue
        registry.facts[key] = Fact(
            key=key,
            kind=values["kind"],
            value=normalise(values["value"]),
            meaning=values["meaning"],
            source=values["source"],
            checked=values["checked"],
            bn=values["bn"],
            line=line,
        )
    for value, why in data.get("not_facts", {}).items():
        if not isinstance(why, str) or not why.strip():
            problems.append((0, f"not_facts: {value!r} needs the reason it is not a fact"))
            continue
        registry.not_facts[normalise(value)] = why
    return registry, problems


def _plain(text: str) -> str:
    """Text as a resident reads it: no tags, placeholders or date/time examples."""
    text = _TAG.sub(" ", text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return _DATE_TIME.sub(" ", _PLACEHOLDER.sub(" ", text.translate(_LATIN)))


def scan_text(text: str) -> Iterator[Token]:
    """Every fact-shaped token in a text, in order."""
    for sentence in _SENTENCE.split(_plain(text)):
        rest = sentence
        for match in _USSD.finditer(sentence):
            yield Token("ussd", normalise(match[0]), match[0])
        rest = _USSD.sub(" ", rest)
        for match in _WEB.finditer(rest):
            shown = match[0].rstrip(".,;:-")
            address = shown.removeprefix("https://").removeprefix("http://")
            yield Token("web", normalise(address), shown)
        rest = _WEB.sub(" ", rest)
        about_signal = bool(_SIGNAL_WORD.search(rest))
        for match in _NUMBER.finditer(rest):
            digits = match[0]
            before, after = rest[: match.start()], rest[match.end() :]
            if _MONEY_AFTER.match(after) or _MONEY_BEFORE.search(before):
                yield Token("fee", normalise(digits), digits)
            elif _MEASURE_AFTER.match(after):
                continue
            elif about_signal and len(normalise(digits)) < 3:
                yield Token("signal", normalise(digits), digits)
            elif len(normalise(digits)) >= 3:
                yield Token("number", normalise(digits), digits)
