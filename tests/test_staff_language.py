"""Which language staff are answered in (handlers drive it through the emulator elsewhere)."""

from __future__ import annotations

import pytest

from bot.core.i18n import Catalog
from bot.staff.language import reply_language

CATALOG = Catalog.load()


@pytest.mark.parametrize(
    ("chosen", "app", "expected"),
    [
        (None, "en", "en"),
        (None, "en-GB", "en"),
        (None, "EN-us", "en"),
        (None, "bn", "bn"),
        (None, "pt-br", "bn"),  # a language Sabai has no strings for: the default
        (None, None, "bn"),
        (None, "", "bn"),
        ("syl", "en", "syl"),  # chosen as a resident: that wins over the app
        ("bn", "en", "bn"),
    ],
)
def test_the_residents_choice_then_the_apps_language_then_the_default(
    chosen: str | None, app: str | None, expected: str
) -> None:
    assert reply_language(CATALOG, chosen, app) == expected
