"""Strings residents see, per language with fallback, and locale-aware numbers and dates."""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_decimal

from bot.core.resources import content_folder

STRINGS_DIR = content_folder() / "strings"
LANGUAGES = ("bn", "en", "syl")
# Sylheti is written in Bangla script here, and most Sylheti speakers read standard
# Bangla, so Bangla is the better stand-in for a missing Sylheti string than English.
FALLBACKS: Mapping[str, tuple[str, ...]] = {
    "bn": ("bn", "en"),
    "en": ("en", "bn"),
    "syl": ("syl", "bn", "en"),
}
BABEL_LOCALE = {"bn": "bn", "en": "en", "syl": "bn"}
# Languages whose nouns change with the count ("1 recipient", "2 recipients"). Bangla and
# Sylheti count with a classifier ("১ জন", "৫ জন"), so they need only a key's ".other" form.
PLURAL_CHANGE = frozenset({"en"})
BENGALI_DIGITS = str.maketrans("0123456789", "০১২৩৪৫৬৭৮৯")
LATIN_DIGITS = str.maketrans("০১২৩৪৫৬৭৮৯", "0123456789")


class ContentError(Exception):
    """A string file is broken; the message names the file and key."""


@dataclass(frozen=True)
class StringFile:
    language: str
    path: Path
    reviewed_by: str
    strings: Mapping[str, str]
    # Written but not yet reviewed by a speaker: never shown, listed by the content check.
    drafts: Mapping[str, str]


def uses_bengali_digits(language: str) -> bool:
    return BABEL_LOCALE.get(language) == "bn"


def localize_digits(text: str, language: str) -> str:
    """Write Latin digits as Bengali digits in Bangla-script languages."""
    return text.translate(BENGALI_DIGITS) if uses_bengali_digits(language) else text


def is_plain_number(text: str) -> bool:
    """0-9 only: str.isdigit() also accepts "¹" and "①", which int() then refuses."""
    return text.isascii() and text.isdecimal()


def to_latin_digits(text: str) -> str:
    """Read Bengali digits a resident typed as ordinary digits."""
    return text.translate(LATIN_DIGITS)


def format_number(value: int | float, language: str) -> str:
    """Group a number the local way (lakh grouping in Bangla) in the language's digits."""
    return localize_digits(format_decimal(value, locale=BABEL_LOCALE.get(language, "en")), language)


# Parts of the day as people say them ("সকাল ৮টা", "রাত ১২:২৯"), from the hour they start;
# the formal পূর্বাহ্ণ/অপরাহ্ণ that CLDR would give read like an office notice.
BANGLA_DAY_PARTS = ((4, "ভোর"), (6, "সকাল"), (12, "দুপুর"), (15, "বিকেল"), (18, "সন্ধ্যা"), (20, "রাত"))


def bangla_time(hour: int, minute: int) -> str:
    """A clock time as said in Bangla: "সকাল ৮টা", "বিকেল ৩:১৫", "রাত ১২:২৯"."""
    part = "রাত"
    for start, name in BANGLA_DAY_PARTS:
        if hour >= start:
            part = name
    clock = hour % 12 or 12
    shown = f"{clock}টা" if minute == 0 else f"{clock}:{minute:02d}"
    return localize_digits(f"{part} {shown}", "bn")


def format_when(moment: datetime, language: str, tz: ZoneInfo) -> str:
    """Show a UTC moment as a local date and time, Bangla month names and digits in Bangla."""
    if moment.tzinfo is None:
        raise ValueError("format_when needs a timezone-aware datetime")
    locale = BABEL_LOCALE.get(language, "en")
    if uses_bengali_digits(language):
        local = moment.astimezone(tz)
        day = format_datetime(moment, "d MMMM y", tzinfo=tz, locale=locale)
        return f"{localize_digits(day, language)}, {bangla_time(local.hour, local.minute)}"
    return format_datetime(moment, "d MMMM y, h:mm a", tzinfo=tz, locale=locale)


def _load_file(path: Path, language: str) -> StringFile:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ContentError(f"{path}: not valid TOML: {exc}") from exc
    meta = data.get("meta", {})
    strings = data.get("strings", {})
    drafts = data.get("drafts", {})
    for section, table in (("strings", strings), ("drafts", drafts)):
        for key, value in table.items():
            if not isinstance(value, str):
                raise ContentError(f"{path}: [{section}] {key} must be a string")
    return StringFile(
        language=language,
        path=path,
        reviewed_by=str(meta.get("reviewed_by", "")),
        strings=strings,
        drafts=drafts,
    )


class Catalog:
    """All UI strings of all languages; `text()` falls back along FALLBACKS."""

    def __init__(self, files: Mapping[str, StringFile], default_language: str = "bn") -> None:
        self.files = files
        self.default_language = default_language

    @classmethod
    def load(cls, folder: Path = STRINGS_DIR, default_language: str = "bn") -> Catalog:
        files = {}
        for language in LANGUAGES:
            path = folder / f"{language}.toml"
            if not path.exists():
                raise ContentError(f"{path}: missing string file for language {language!r}")
            files[language] = _load_file(path, language)
        return cls(files, default_language)

    def resolve(self, language: str | None) -> str:
        return (
            language if language is not None and language in self.files else self.default_language
        )

    def raw(self, language: str | None, key: str) -> str:
        """Return the template for `key`, falling back to other languages when missing."""
        lang = self.resolve(language)
        for candidate in (*FALLBACKS.get(lang, (lang,)), self.default_language):
            template = self.files[candidate].strings.get(key)
            if template is not None:
                return template
        raise ContentError(f"string {key!r} is missing in every language")

    def text(self, language: str | None, key: str, **params: object) -> str:
        """Format a string for a resident; numbers come out in the language's digits."""
        lang = self.resolve(language)
        shown = {
            name: format_number(value, lang)
            if isinstance(value, int | float) and not isinstance(value, bool)
            else value
            for name, value in params.items()
        }
        return self.raw(lang, key).format_map(shown)

    def plural(self, language: str | None, key: str, count: int, **params: object) -> str:
        """Format `key.one` or `key.other` by `count`, passed on as {count}."""
        lang = self.resolve(language)
        form = "one" if count == 1 and lang in PLURAL_CHANGE else "other"
        return self.text(lang, f"{key}.{form}", count=count, **params)

    def all_languages(self, key: str) -> set[str]:
        """Every language's rendering of `key`, used to recognise a typed button label."""
        return {self.raw(lang, key) for lang in self.files}


def placeholders(template: str) -> set[str]:
    """Names used as {placeholders} in a template."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}
