"""Trainers register a person without a phone: `/register AREA`, then a few taps.

Area → language → gender (optional) → age group (optional) → phone access → "the person
agreed" → registered, with today's attendance. Each button carries the choices so far in its
(signed) data, so nothing waits in memory between taps and a forged button is refused. The
trainer's role over the area is checked at the first step and again when registering.
"""

from __future__ import annotations

import html
from dataclasses import replace

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot.core.callback_sign import BadSignature, CallbackSigner
from bot.core.i18n import LANGUAGES
from bot.core.screens import Option, Screen, rows_of
from bot.reach.chat import find_area
from bot.reach.report import area_info
from bot.residents.assisted import AGE_BANDS, GENDERS, PHONE_ACCESS, AssistedPerson, register_person
from bot.residents.conversation import Conversation
from bot.staff.language import staff_language
from bot.staff.roles import Role, Staff
from handlers.filters import private_chat, when
from handlers.render import Outgoing
from handlers.roles_filter import HasRole

PREFIX = "rg:"
COMMANDS = ("register",)
LANGUAGE_KEYS = {"bn": "lang.bn", "en": "lang.en", "syl": "lang.syl"}
SKIP = "-"


def build_router() -> Router:
    """Build the trainers' registration router (include it before the residents' router)."""
    router = Router(name="trainer_register")
    router.message.filter(private_chat(), Command(*COMMANDS), HasRole(Role.TRAINER))
    router.callback_query.filter(when(F.data.startswith(PREFIX)), HasRole(Role.TRAINER))

    @router.message(Command("register"))
    async def start(
        message: Message,
        command: CommandObject,
        conversation: Conversation,
        staff: Staff,
        signer: CallbackSigner,
        out: Outgoing,
    ) -> None:
        ctx = conversation.ctx
        language = staff_language(conversation)
        typed = (command.args or "").strip()
        code = find_area(ctx.index, typed) if typed else None
        if code is None:
            said: Screen | str = ctx.catalog.text(language, "register.usage")
        elif not staff.can(Role.TRAINER, code):
            said = ctx.catalog.text(language, "register.not_allowed")
        else:
            said = await _step(conversation, language, [code])
        out.message(message.chat.id, said, signer, conversation.now)

    @router.callback_query(when(F.data.startswith(PREFIX)))
    async def tap(
        query: CallbackQuery,
        conversation: Conversation,
        staff: Staff,
        signer: CallbackSigner,
        out: Outgoing,
    ) -> None:
        language = staff_language(conversation)
        try:
            data = signer.verify(query.data or "", query.from_user.id, now=conversation.now)
        except BadSignature:
            expired = conversation.ctx.catalog.text(language, "error.expired")
            out.toast(query, expired, alert=True)
            return
        if not isinstance(query.message, Message):
            out.toast(query)
            return
        screen = await _answer(conversation, staff, language, data.removeprefix(PREFIX).split(":"))
        out.tap(query, screen, signer, conversation.now)

    return router


async def _answer(
    conversation: Conversation, staff: Staff, language: str, fields: list[str]
) -> Screen:
    """What one tap leads to: the next question, or the registration's end."""
    ctx = conversation.ctx

    def said(key: str) -> Screen:
        return Screen(ctx.catalog.text(language, key))

    if fields[0] == "x":
        return said("register.cancelled")
    if fields[0] not in ("ok", "ag"):
        if not staff.can(Role.TRAINER, fields[0]):
            return said("register.not_allowed")
        return await _step(conversation, language, fields)
    person = _person(fields[1:])
    if person is None or not staff.can(Role.TRAINER, person.area_code):
        return said("register.not_allowed")
    today = conversation.now.astimezone(ctx.tz).date()
    await register_person(
        conversation.session,
        replace(person, attended_on=today, again=fields[0] == "ag"),
        staff.pseudonym,
        ctx.tz,
        conversation.now,
    )
    return said("register.done")


def _person(fields: list[str]) -> AssistedPerson | None:
    """The person from the confirmed fields: code, language, gender, age, phone."""
    if len(fields) != 5:
        return None
    code, language, gender, age, phone = fields
    if (
        language not in LANGUAGES
        or (gender != SKIP and gender not in GENDERS)
        or (age != SKIP and age not in AGE_BANDS)
        or phone not in PHONE_ACCESS
    ):
        return None
    return AssistedPerson(
        code,
        language,
        phone,
        None if gender == SKIP else gender,
        None if age == SKIP else age,
    )


async def _step(conversation: Conversation, language: str, fields: list[str]) -> Screen:
    """The question for the next missing field, with its buttons (signed when rendered)."""
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
        phones = tuple(Option(t(f"register.phone_{p}"), so_far + p) for p in PHONE_ACCESS)
        return Screen(t("register.phone"), (phones, cancel))
    person = _person(fields)
    if person is None:
        return Screen(t("register.cancelled"))
    language_name = catalog.raw(person.language, LANGUAGE_KEYS[person.language])
    confirm = (Option(t("register.agree"), PREFIX + "ok:" + ":".join(fields)),)
    again = (Option(t("register.agree_again"), PREFIX + "ag:" + ":".join(fields)),)
    text = t("register.confirm", place=place, lang_name=language_name)
    return Screen(text, (confirm, again, cancel))
