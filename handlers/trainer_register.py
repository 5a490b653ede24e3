"""Trainers register a person without a phone: `/register AREA`, then a few taps.

The questions are in bot/residents/registering.py (a typed phone number reaches them through
bot/residents/routing.py). Each button carries the choices so far in its (signed) data, so
nothing waits in memory between taps and a forged button is refused. The trainer's role over
the area is checked at the first step and again when registering.
"""

from __future__ import annotations

from dataclasses import replace

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot.core.callback_sign import BadSignature, CallbackSigner
from bot.core.screens import Screen
from bot.reach.chat import find_area
from bot.residents.assisted import register_person
from bot.residents.conversation import Conversation
from bot.residents.registering import PREFIX as PREFIX
from bot.residents.registering import end, held_number, person_of, step
from bot.staff.language import staff_language
from bot.staff.roles import Role, Staff
from handlers.filters import private_chat, when
from handlers.render import Outgoing
from handlers.roles_filter import HasRole

COMMANDS = ("register",)


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
            said = await step(conversation, language, [code])
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
        end(conversation)
        return Screen(ctx.catalog.text(language, key))

    if fields[0] == "x":
        return said("register.cancelled")
    if fields[0] not in ("ok", "ag"):
        if not staff.can(Role.TRAINER, fields[0]):
            return said("register.not_allowed")
        return await step(conversation, language, fields)
    resident = conversation.resident
    person = person_of(fields[1:], held_number(resident.awaiting if resident else None))
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
