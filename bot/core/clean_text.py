"""Text that arrives from outside, made safe to store, echo and send.

The Bot API is JSON, and JSON can carry things no reply or database can: a lone UTF-16
surrogate ("\\ud800", from a broken client or a hand-written request) cannot be encoded as
UTF-8, so echoing it makes the reply fail, and PostgreSQL refuses a NUL character in text.
Both are cleaned once, where an update comes in, so nothing later has to think about them.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
_NUL = "\x00"


def clean_text(text: str) -> str:
    """Replace each lone surrogate with U+FFFD and drop NUL characters; other text is kept."""
    if text.isascii():
        return text.replace(_NUL, "")
    return _SURROGATE.sub(REPLACEMENT, text).replace(_NUL, "")


def clean_json(value: Any) -> Any:
    """A copy of decoded JSON (dicts, lists, strings, numbers) with every string cleaned."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_json(key): clean_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(item) for item in value]
    return value
