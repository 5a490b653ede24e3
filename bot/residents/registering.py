"""The questions of `/register` in chat, one screen per missing answer; no aiogram here.

Area → language → gender (optional) → age group (optional) → phone access → for an own or
shared phone, its number (typed, or skipped) and the person's agreement to SMS → "the person
agreed" → registered. Answers so far travel in the (signed) button data; the one typed answer,
the number, waits in the trainer's `awaiting` until the registration ends, so it is never put
into button data or shown back in full.
"""

from __future__ import annotations

import html

from bot.channels.sms.identity import BadNumber, normalize_number
from bot.core.i18n import LANGUAGES
from bot.core.screens import Option, Screen, rows_of
from bot.reach.report import area_info
from bot.residents.assisted import AGE_BANDS, GENDERS, SHEET_PHONE_ACCESS, AssistedPerson
from bot.residents.conversation import Conversation
from bot.staff.language import staff_language

PREFIX = "rg:"
LANGUAGE_KEYS = {"bn": "lang.bn", "en": "lang.en", "syl": "lang.syl"}
SKIP = "-"
# In button data: "the number the trainer typed, with the person's agreement to SMS".
TYPED = "n"
# The trainer's `awaiting` while a number is asked for ("rg:<answers>") or held ("rgn:…").
ASKING = PREFIX
HOLDING = "rgn:"
WITH_NUMBER = ("own", "shared")
EXAMPLE = "01712345678"


def waits_for_number(awaiting: str | None) -> bool:
    """Whether typed text from this person is the number of someone they register."""
    return (awaiting or "").startswith(ASKING)


def held_number(awaiting: str | None) -> str | None:
    """The number typed for the registration under way, if any."""
    if awaiting is None or not awaiting.startswith(HOLDING):
        return None
    return awaiting.removeprefix(HOLDING) or None


def mask(number: str) -> str:
    """A number as staff may see it again: its last three digits."""
    return "•" * max(len(number) - 3, 0) + number[-3:]


def person_of(fields: list[str], number: str | None) -> AssistedPerson | None:
    """The person from the answers: code, language, gender, age, phone access[, SMS]."""
    if len(fields) not in (5, 6):
        return None
    code, language, gender, age, access = fields[:5]
    sms = fields[5] if len(fields) == 6 else SKIP
    if (
        language not in LANGUAGES
        or (gender != SKIP and gender not in GENDERS)
        or (age != SKIP and age not in AGE_BANDS)
        or access not in SHEET_PHONE_ACCESS
        or sms not in (SKIP, TYPED)
        or (sms == TYPED and (number is None or access not in WITH_NUMBER))
    ):
        return None
    return AssistedPerson(
        code,
        language,
        access,
        None if gender == SKIP else gender,
        None if age == SKIP else age,
        phone=number if sms == TYPED else None,
    )


def _set_awaiting(conversation: Conversation, key: str | None) -> None:
    if conversation.resident is not None:
        conversation.resident.awaiting = key


def end(conversation: Conversation) -> None:
    """Forget the number of a registration that ended (registered or cancelled)."""
    awaiting = conversation.resident.awaiting if conversation.resident is not None else None
    if waits_for_number(awaiting) or held_number(awaiting) is not None:
        _set_awaiting(conversation, None)


async def step(conversation: Conversation, language: str, fields: list[str]) -> Screen:
    """The question for the next missing answer, with its buttons (signed when rendered)."""
    catalog = conversation.ctx.catalog

    def t(key: str, **params: object) -> str:
        return catalog.text(language, key, **params)

    info = await area_info(conversation.session, fields[0])
    bangla = language in ("bn", "syl")
    place = html.escape((info.name_bn if bangla and info.name_bn else info.name_en) or info.code)
    so_far = PREFIX + ":".join(fields) + ":"
    cancel = (Option(t("register.cancel"), PREFIX + "x"),)
    skip = (Option(t("profile.skip"), so_far + SKIP),)
    if len(fields) == 1:
        languages = [
            Option(catalog.raw(lang, LANGUAGE_KEYS[lang]), so_far + lang) for lang in LANGUAGES
        ]
        return Screen(t("register.language", place=place), (tuple(languages), cancel))
    if len(fields) == 2:
        genders = tuple(Option(t(f"profile.gender_{g}"), so_far + g) for g in GENDERS)
        return Screen(t("register.gender"), (genders, skip, cancel))
    if len(fields) == 3:
        ages = [Option(t(f"profile.age_{band}"), so_far + band) for band in AGE_BANDS]
        return Screen(t("register.age"), (*rows_of(ages, 3), skip, cancel))
    if len(fields) == 4:
        phones = [Option(t(f"register.phone_{p}"), so_far + p) for p in SHEET_PHONE_ACCESS]
        return Screen(t("register.phone"), (*rows_of(phones, 2), cancel))
    if len(fields) == 5 and fields[4] in WITH_NUMBER:
        _set_awaiting(conversation, PREFIX + ":".join(fields))
        no_number = (Option(t("register.no_number"), so_far + SKIP),)
        return Screen(t("register.ask_number", example=EXAMPLE), (no_number, cancel))
    number = held_number(conversation.resident.awaiting if conversation.resident else None)
    person = person_of(fields, number)
    if person is None:
        return Screen(t("register.cancelled"))
    language_name = catalog.raw(person.language, LANGUAGE_KEYS[person.language])
    answers = ":".join(fields)
    confirm = (Option(t("register.agree"), PREFIX + "ok:" + answers),)
    again = (Option(t("register.agree_again"), PREFIX + "ag:" + answers),)
    text = t("register.confirm", place=place, lang_name=language_name)
    if person.phone is not None:
        text += "\n" + t("register.sms_on", number=mask(person.phone))
    return Screen(text, (confirm, again, cancel))


async def typed_number(conversation: Conversation, text: str) -> Screen:
    """Answer the number a trainer typed: ask for the person's agreement to SMS, or again."""
    language = staff_language(conversation)
    awaiting = conversation.resident.awaiting if conversation.resident is not None else None
    fields = (awaiting or "").removeprefix(ASKING).split(":")
    so_far = PREFIX + ":".join(fields) + ":"
    catalog = conversation.ctx.catalog
    cancel = (Option(catalog.text(language, "register.cancel"), PREFIX + "x"),)
    no_number = (Option(catalog.text(language, "register.no_number"), so_far + SKIP),)
    try:
        number = normalize_number(text[:40])
    except BadNumber:
        said = catalog.text(language, "register.bad_number", example=EXAMPLE)
        return Screen(said, (no_number, cancel))
    _set_awaiting(conversation, HOLDING + number)
    agreed = (Option(catalog.text(language, "register.sms_agreed"), so_far + TYPED),)
    said = catalog.text(language, "register.ask_sms_consent", number=mask(number))
    return Screen(said, (agreed, no_number, cancel))
