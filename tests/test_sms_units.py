"""SMS building blocks: part counting, numbers, keywords and screens as numbered text."""

from __future__ import annotations

import pytest

from bot.channels.sms.identity import BadNumber, chat_id_of, normalize_number, number_of
from bot.channels.sms.keywords import Keyword, keyword_of
from bot.channels.sms.parts import encode, parts, shorten
from bot.channels.sms.render import numbered, plain
from bot.core.screens import Option, Screen


@pytest.mark.parametrize(
    ("text", "coding", "count"),
    [
        ("a" * 160, 0, 1),
        ("a" * 161, 0, 2),
        ("a" * 306, 0, 2),
        ("a" * 307, 0, 3),
        ("€" * 80, 0, 1),  # extension characters cost two septets
        ("€" * 81, 0, 2),
        ("ক" * 70, 2, 1),
        ("ক" * 71, 2, 2),
        ("ক" * 134, 2, 2),
        ("ক" * 135, 2, 3),
        ("Hello ক", 2, 1),
        ("", 0, 0),
    ],
)
def test_parts_follow_gsm7_and_ucs2_sizes(text: str, coding: int, count: int) -> None:
    encoded = encode(text)
    assert (encoded.coding, encoded.parts) == (coding, count)


def test_shorten_cuts_at_a_word_to_fit() -> None:
    text = "Flood warning for Kulaura: move to the shelter at the school now. " * 5
    short = shorten(text, 2)
    assert short is not None and short.endswith("…")
    assert parts(short) == 2
    assert text.startswith(short[:-1].rstrip())
    assert shorten("one", 1) == "one"


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("+8801712345678", "+8801712345678"),
        ("8801712345678", "+8801712345678"),
        ("01712345678", "+8801712345678"),
        ("০১৭১২৩৪৫৬৭৮", "+8801712345678"),
        ("+880 1712-345678", "+8801712345678"),
        ("008801712345678", "+8801712345678"),
        ("+447700900123", "+447700900123"),
    ],
)
def test_numbers_are_read_in_every_usual_form(raw: str, number: str) -> None:
    assert normalize_number(raw) == number
    assert number_of(chat_id_of(number)) == number


@pytest.mark.parametrize("raw", ["", "hello", "12345", "+880123", "01212345678", "+0123456789"])
def test_malformed_numbers_are_refused(raw: str) -> None:
    with pytest.raises(BadNumber):
        normalize_number(raw)


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("STOP", Keyword.STOP),
        (" stop. ", Keyword.STOP),
        ("বন্ধ", Keyword.STOP),
        ("Start", Keyword.START),
        ("চালু", Keyword.START),
        ("help", Keyword.HELP),
        ("সাহায্য", Keyword.HELP),
        ("INFO", Keyword.INFO),
        ("তথ্য", Keyword.INFO),
        ("Delete", Keyword.DELETE),
        ("মুছুন", Keyword.DELETE),
        ("area", Keyword.AREA),
        ("এলাকা", Keyword.AREA),
        ("LANG", Keyword.LANG),
        ("ভাষা", Keyword.LANG),
        ("JOIN", Keyword.JOIN),
        ("যোগ", Keyword.JOIN),
        ("Kulaura", None),
        ("1", None),
        ("stop it now", None),
    ],
)
def test_keywords_in_both_languages(text: str, keyword: Keyword | None) -> None:
    assert keyword_of(text) == keyword


def test_screens_become_numbered_plain_text() -> None:
    screen = Screen(
        "Choose <b>your</b> area &amp; more",
        ((Option("Kulaura", "as:1"), Option("Sylhet", "as:2")),),
    )
    assert numbered(screen, "en") == "Choose your area & more\n1 Kulaura\n2 Sylhet"
    assert numbered(screen, "bn").endswith("১ Kulaura\n২ Sylhet")
    assert plain("<i>a</i> &lt;5") == "a <5"


@pytest.mark.parametrize("language", ["bn", "en"])
def test_every_sms_string_fits_two_parts_and_most_fit_one(language: str) -> None:
    from bot.core.i18n import Catalog

    strings = Catalog.load().files[language].strings
    sms = {key: text for key, text in strings.items() if key.startswith("sms.")}
    assert len(sms) >= 18
    for key, text in sms.items():
        assert "<" not in text, f"{key}: SMS text is plain, no HTML"
        assert parts(text) <= 2, f"{language} {key} takes {parts(text)} SMS"
    single = [key for key, text in sms.items() if parts(text) == 1]
    assert len(single) >= len(sms) - 3
