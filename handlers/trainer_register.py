"""Trainers register a person without a phone: `/register AREA`, then a few taps.

Area → language → gender (optional) → age group (optional) → phone access → "the person
agreed" → registered, with today's attendance. Each button carries the choices so far in its
(signed) data, so nothing waits in memory between taps and a forged button is refused. The
trainer's role over the area is checked at the first step and again when registering.
"""

from __future__ import annotations

import html

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.core.callback_sign import BadSignature, CallbackSigner
from bot.core.i18n import LANGUAGES
from bot.reach.chat import find_area
from bot.reach.report import area_info
from bot.residents.assisted import AGE_BANDS, GENDERS, PHONE_ACCESS, AssistedPerson, register_person
from bot.residents.conversation import Conversation
from bot.staff.language import staff_language
from bot.staff.roles import Role, Staff
from handlers.filters import private_chat, when
from handlers.roles_filter import HasRole

PREFIX = "rg:"
COMMANDS = ("register",)
LANGUAGE_KEYS = {"bn": "lang.bn", "en": "lang.en", "syl": "lang.syl"}
SKIP = "-"


def _markup(
    rows: list[list[tuple[str, str]]], signer: CallbackSigner, user_id: int
) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=label, callback_data=signer.sign(data, user_id))
                for label, data in row
            ]
            for row in rows
        ]
    )


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
    ) -> None:
        ctx = conversation.ctx
        language = staff_language(conversation)

        def t(key: str, **params: object) -> str:
            return ctx.catalog.text(language, key, **params)

        typed = (command.args or "").strip()
        code = find_area(ctx.index, typed) if typed else None
        if code is None:
            await message.answer(t("register.usage"))
            return
        if not staff.can(Role.TRAINER, code):
            await message.answer(t("register.not_allowed"))
            return
        text, rows = await _step(conversation, language, [code])
        assert message.from_user is not None
        await message.answer(text, reply_markup=_markup(rows, signer, message.from_user.id))

    @router.callback_query(when(F.data.startswith(PREFIX)))
    async def tap(
        query: CallbackQuery, conversation: Conversation, staff: Staff, signer: CallbackSigner
    ) -> None:
        ctx = conversation.ctx
        language = staff_language(conversation)
        try:
            data = signer.verify(query.data or "", query.from_user.id, now=conversation.now)
        except BadSignature:
            await query.answer(ctx.catalog.text(language, "error.expired"), show_alert=True)
            return
        await query.answer()
        fields = data.removeprefix(PREFIX).split(":")
        message = query.message
        if not isinstance(message, Message):
            return
        if fields[0] == "x":
            await _show(message, ctx.catalog.text(language, "register.cancelled"))
            return
        if fields[0] in ("ok", "ag"):
            person = _person(fields[1:])
            if person is None or not staff.can(Role.TRAINER, person.area_code):
                await _show(message, ctx.catalog.text(language, "register.not_allowed"))
                return
            await register_person(
                conversation.session,
                AssistedPerson(
                    person.area_code,
                    person.language,
                    person.phone_access,
                    person.gender,
                    person.age_band,
                    conversation.now.astimezone(ctx.tz).date(),
                    again=fields[0] == "ag",
                ),
                staff.pseudonym,
                ctx.tz,
                conversation.now,
            )
            await _show(message, ctx.catalog.text(language, "register.done"))
            return
        if not staff.can(Role.TRAINER, fields[0]):
            await _show(message, ctx.catalog.text(language, "register.not_allowed"))
            return
        text, rows = await _step(conversation, language, fields)
        await _show(message, text, _markup(rows, signer, query.from_user.id))

    return router


async def _show(message: Message, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Show `text` in place; a second tap that would show the same text changes nothing."""
    try:
        await message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as exc:
        if "not modified" not in exc.message:
            raise


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


async def _step(
    conversation: Conversation, language: str, fields: list[str]
) -> tuple[str, list[list[tuple[str, str]]]]:
    """The question for the next missing field, with its buttons."""
    catalog = conversation.ctx.catalog

    def t(key: str, **params: object) -> str:
        return catalog.text(language, key, **params)

    info = await area_info(conversation.session, fields[0])
    bangla = language in ("bn", "syl")
    place = html.escape((info.name_bn if bangla and info.name_bn else info.name_en) or info.code)
    so_far = PREFIX + ":".join(fields) + ":"
    cancel = [(t("register.cancel"), PREFIX + "x")]
    if len(fields) == 1:
        options = [(catalog.raw(lang, LANGUAGE_KEYS[lang]), so_far + lang) for lang in LANGUAGES]
        return t("register.language", place=place), [options, cancel]
    if len(fields) == 2:
        options = [(t(f"profile.gender_{g}"), so_far + g) for g in GENDERS]
        return t("register.gender"), [options, [(t("profile.skip"), so_far + SKIP)], cancel]
    if len(fields) == 3:
        options = [(t(f"profile.age_{band}"), so_far + band) for band in AGE_BANDS]
        return t("register.age"), [
            options[:3],
            options[3:],
            [(t("profile.skip"), so_far + SKIP)],
            cancel,
        ]
    if len(fields) == 4:
        options = [(t(f"register.phone_{p}"), so_far + p) for p in PHONE_ACCESS]
        return t("register.phone"), [options, cancel]
    person = _person(fields)
    if person is None:
        return t("register.cancelled"), []
    language_name = catalog.raw(person.language, LANGUAGE_KEYS[person.language])
    confirm = [(t("register.agree"), PREFIX + "ok:" + ":".join(fields))]
    again = [(t("register.agree_again"), PREFIX + "ag:" + ":".join(fields))]
    return t("register.confirm", place=place, lang_name=language_name), [confirm, again, cancel]
