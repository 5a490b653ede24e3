"""A resident's own typed words kept for coordinators: phone numbers masked, linked for /forget.

Feedback and "my area is not listed" words are read by staff without the resident's name,
but people write their own name or number into them. Two things keep that safe:

- `mask_numbers` hides phone-number-like strings before the words are stored;
- each stored piece carries the resident's `words_key`, a random value that exists only on
  their row and on their words (never in the event log, never shown to staff), so /forget
  finds and deletes the words while nobody can join them to the person otherwise.
"""

from __future__ import annotations

import re
import uuid

from bot.residents.models import Resident

MASK = "***"
# Fewer digits than this in a run are kept: years, amounts, area codes ("605865"), ages.
MIN_DIGITS = 7
# A run of digits (any script: ASCII, Bengali ০-৯, ...), optionally starting with "+", with at
# most one space, hyphen, dot or bracket between digits, as people write phone numbers.
_RUN = re.compile(r"\+?\(?\d(?:(?:[ \-.]|\) ?| ?\()?\d)*")


def mask_numbers(text: str) -> str:
    """Replace phone-number-like strings in `text` with "***".

    Masked: every run of at least 7 digits, counting digits across single spaces, hyphens,
    dots and brackets, with a leading "+" if any. That covers Bangladeshi mobile numbers in
    every usual spelling (+8801711234567, +880 1711-234567, 01711 234567, ০১৭১১২৩৪৫৬৭, in
    Bengali digits too), landlines (02-9123456) and other long numbers (national ID, bKash
    account). Kept: shorter numbers such as years, amounts, ages and area codes, and dates
    written with "/". Two short numbers written side by side ("2026 500") may be masked
    too: hiding a little too much is the safe side.
    """
    return _RUN.sub(_mask_if_long, text)


def _mask_if_long(match: re.Match[str]) -> str:
    found = match.group(0)
    if sum(ch.isdecimal() for ch in found) < MIN_DIGITS:
        return found
    return MASK


def words_key_of(resident: Resident) -> str:
    """The resident's key for their stored words, made on first use."""
    if resident.words_key is None:
        resident.words_key = uuid.uuid4().hex
    return resident.words_key
