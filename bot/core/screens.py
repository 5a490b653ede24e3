"""What the bot shows, independent of the channel: text plus numbered choices."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.core.i18n import is_plain_number, to_latin_digits


@dataclass(frozen=True)
class Option:
    """One choice: its label and the action token a button press or its number triggers."""

    label: str
    action: str


@dataclass(frozen=True)
class Screen:
    """One message: HTML text (user words already escaped) and rows of options."""

    text: str
    rows: tuple[tuple[Option, ...], ...] = ()

    def options(self) -> list[Option]:
        """Options in reading order, as a resident would number them."""
        return [option for row in self.rows for option in row]

    def choice_for(self, typed: str) -> str | None:
        """The action a resident means by typing an option's number (any digits) or label."""
        options = self.options()
        number = to_latin_digits(typed).strip().rstrip(".")
        if is_plain_number(number) and 1 <= int(number) <= len(options):
            return options[int(number) - 1].action
        wanted = normalize_typed(typed)
        for option in options:
            if normalize_typed(option.label) == wanted:
                return option.action
        return None


def normalize_typed(text: str) -> str:
    """Typed words compared loosely: Latin digits, lower case, single spaces."""
    return re.sub(r"\s+", " ", to_latin_digits(text).strip().lower())


@dataclass
class Reply:
    """The answer to one resident action."""

    screens: list[Screen] = field(default_factory=list)
    # Short note for a button press (shown as a toast), and whether it is a warning.
    toast: str | None = None
    alert: bool = False
    # For a button press: show the first screen in place of the message with the button.
    replace: bool = True
    # When the resident chose a language: the new one, and the one before (None the first
    # time), so the command list Telegram shows them can follow.
    language_changed: str | None = None
    previous_language: str | None = None


# Telegram's limit for one message.
MAX_MESSAGE = 4096


def compact(screens: list[Screen]) -> list[Screen]:
    """Join a screen without options to the one after it, so a reply costs fewer messages.

    "Language: English." followed by "Where do you live?" arrives as one message: one
    request on a 2G link instead of two, and one notification on the phone.
    """
    merged: list[Screen] = []
    for screen in screens:
        if merged and not merged[-1].rows:
            previous = merged[-1]
            text = f"{previous.text}\n\n{screen.text}"
            if len(text) <= MAX_MESSAGE:
                merged[-1] = Screen(text, screen.rows)
                continue
        merged.append(screen)
    return merged


def rows_of(options: list[Option], per_row: int) -> tuple[tuple[Option, ...], ...]:
    """Lay options out in rows of `per_row`."""
    return tuple(
        tuple(options[start : start + per_row]) for start in range(0, len(options), per_row)
    )
