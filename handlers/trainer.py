"""Trainers in chat: workshop groups, pushing a lesson, scheduling a course.

Only people with the trainer role (or higher) reach these handlers: the role filter sits on
the router, and anyone else's /push falls through to the residents' router, which answers it
as an unknown command. Scopes are checked per act (a trainer of one upazila cannot push to
another), again when a confirmation button is tapped, and every confirmed push or course is
written to the audit log. Confirmation buttons are signed and point at a draft row, so a
forged, someone else's or double tap does nothing.
"""

from __future__ import annotations

import html
import logging
from datetime import datetime

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.areas.tree import AreaService
from bot.core.base import utcnow
from bot.core.callback_sign import BadSignature, CallbackSigner
from bot.core.i18n import is_plain_number, localize_digits
from bot.lessons.catalog import Library
from bot.lessons.courses import (
    MAX_EVERY_DAYS,
    MAX_LESSONS,
    Schedule,
    draft_course,
    parse_hhmm,
    settle_course,
)
from bot.lessons.groups import START_PREFIX, create_group, group_by_code, groups_of
from bot.lessons.pushes import QuietHours, Settled, Settlement, Target, draft_push, settle_push
from bot.residents.conversation import Conversation
from bot.staff.language import StaffWords
from bot.staff.roles import Role, Staff
from handlers.filters import private_chat, when
from handlers.roles_filter import HasRole

log = logging.getLogger("sabai.trainer")

COMMANDS = ("trainer", "lessonids", "newgroup", "groups", "push", "course")
PREFIX = "tr:"


class Unreadable(Exception):
    """A trainer command whose words could not be read; the message key says why."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def build_router(library: Library, sessions: async_sessionmaker[AsyncSession]) -> Router:
    """Build the trainers' router (a new one each call: a router joins one dispatcher only)."""
    router = Router(name="trainer")
    # Cheap filters first: roles are looked up only for trainer commands and buttons.
    router.message.filter(private_chat(), Command(*COMMANDS), HasRole(Role.TRAINER))
    router.callback_query.filter(when(F.data.startswith(PREFIX)), HasRole(Role.TRAINER))
    quiet = QuietHours()

    def confirm_keyboard(
        words: StaffWords, signer: CallbackSigner, user_id: int, kind: str, row_id: int
    ) -> InlineKeyboardMarkup:
        yes = signer.sign(f"{PREFIX}{kind}y:{row_id}", user_id)
        no = signer.sign(f"{PREFIX}{kind}n:{row_id}", user_id)
        return InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(text=words.t("trainer.confirm"), callback_data=yes),
                    InlineKeyboardButton(text=words.t("trainer.cancel"), callback_data=no),
                ]
            ]
        )

    async def target_of(
        words: StaffWords, staff: Staff, user_id: int, kind: str, code: str
    ) -> tuple[Target, str]:
        """Read "area CODE" or "group CODE" into a target the trainer may reach, and its name."""
        session = words.session
        if kind == "area":
            if await AreaService(session).get(code) is None:
                raise Unreadable("trainer.bad_area", code=html.escape(code[:16]))
            if not staff.can(Role.TRAINER, code):
                raise Unreadable("trainer.not_your_area")
            return Target(area_code=code), words.t(
                "trainer.target_area", place=await words.area_name(code)
            )
        if kind == "group":
            group = await group_by_code(session, code)
            if group is None or group.created_by != user_id:
                raise Unreadable("trainer.bad_group", code=html.escape(code[:16]))
            if not staff.can(Role.TRAINER, group.area_code):
                raise Unreadable("trainer.not_your_area")
            return Target(group_id=group.id), words.t(
                "trainer.target_group", name=html.escape(group.name)
            )
        raise Unreadable("trainer.bad_command")

    def lesson_or_fail(lesson_id: str) -> str:
        if library.get(lesson_id) is None:
            raise Unreadable("trainer.bad_lesson", lesson=html.escape(lesson_id[:40]))
        return lesson_id

    def when_text(words: StaffWords, moment: datetime | None) -> str:
        if moment is None or moment <= utcnow():
            return words.t("trainer.push_now")
        return words.when(moment)

    @router.message(Command("trainer"))
    async def help_(message: Message, conversation: Conversation) -> None:
        words = StaffWords(conversation)
        await message.answer(
            words.t(
                "trainer.help",
                tz=conversation.ctx.tz.key,
                quiet=localize_digits(str(quiet), words.language),
            )
        )

    @router.message(Command("lessonids"))
    async def lesson_ids(message: Message, conversation: Conversation) -> None:
        words = StaffWords(conversation)
        items = "\n".join(
            words.t(
                "trainer.lesson_line", id=lesson.id, title=lesson.text_for(words.language).title
            )
            for lesson in library
        )
        await message.answer(words.t("trainer.lesson_ids", items=items))

    @router.message(Command("newgroup"))
    async def new_group(
        message: Message, command: CommandObject, conversation: Conversation, staff: Staff
    ) -> None:
        words = StaffWords(conversation)
        code, _, name = (command.args or "").strip().partition(" ")
        name = " ".join(name.split())
        if not code or not name:
            await message.answer(words.t("trainer.bad_command"))
            return
        if await AreaService(conversation.session).get(code) is None:
            await message.answer(words.t("trainer.bad_area", code=html.escape(code[:16])))
            return
        if not staff.can(Role.TRAINER, code):
            await message.answer(words.t("trainer.not_your_area"))
            return
        group = await create_group(conversation.session, name, code, message.chat.id)
        assert message.bot is not None
        me = await message.bot.me()
        link = f"https://t.me/{me.username}?start={START_PREFIX}{group.join_code}"
        await message.answer(
            words.t(
                "trainer.group_made",
                name=html.escape(group.name),
                place=await words.area_name(code),
                code=group.join_code,
                link=html.escape(link),
            )
        )

    @router.message(Command("groups"))
    async def groups(message: Message, conversation: Conversation) -> None:
        words = StaffWords(conversation)
        found = await groups_of(conversation.session, message.chat.id)
        if not found:
            await message.answer(words.t("trainer.no_groups"))
            return
        lines = [
            words.t(
                "trainer.group_line",
                name=html.escape(g.name),
                place=await words.area_name(g.area_code),
                code=g.join_code,
                count=words.count(g.members),
            )
            for g in found
        ]
        await message.answer(words.t("trainer.groups", items="\n".join(lines)))

    @router.message(Command("push"))
    async def push(
        message: Message,
        command: CommandObject,
        conversation: Conversation,
        staff: Staff,
        signer: CallbackSigner,
    ) -> None:
        words = StaffWords(conversation)
        parts = (command.args or "").split()
        try:
            if len(parts) not in (3, 5):
                raise Unreadable("trainer.bad_command")
            lesson_id = lesson_or_fail(parts[0])
            target, target_name = await target_of(
                words, staff, message.chat.id, parts[1].lower(), parts[2]
            )
            send_at = utcnow()
            if len(parts) == 5:
                send_at = _local_moment(" ".join(parts[3:]), conversation)
        except Unreadable as exc:
            await message.answer(words.t(exc.key, **exc.params))
            return
        draft = await draft_push(conversation.session, lesson_id, target, send_at, message.chat.id)
        lesson = library.get(lesson_id)
        assert lesson is not None
        await message.answer(
            words.t(
                "trainer.push_preview",
                title=lesson.text_for(words.language).title,
                count=words.count(draft.recipients),
                target=target_name,
                when=when_text(words, send_at if len(parts) == 5 else None),
            ),
            reply_markup=confirm_keyboard(words, signer, message.chat.id, "p", draft.id),
        )

    @router.message(Command("course"))
    async def course(
        message: Message,
        command: CommandObject,
        conversation: Conversation,
        staff: Staff,
        signer: CallbackSigner,
    ) -> None:
        words = StaffWords(conversation)
        parts = (command.args or "").split()
        try:
            # group CODE every N at HH:MM L1 L2 …
            if len(parts) < 7 or parts[2].lower() != "every" or parts[4].lower() != "at":
                raise Unreadable("trainer.bad_command")
            target, target_name = await target_of(
                words, staff, message.chat.id, parts[0].lower(), parts[1]
            )
            if not is_plain_number(parts[3]) or not 1 <= int(parts[3]) <= MAX_EVERY_DAYS:
                raise Unreadable("trainer.bad_command")
            try:
                at = parse_hhmm(parts[5])
            except ValueError as exc:
                raise Unreadable("trainer.bad_time") from exc
            lesson_ids = [lesson_or_fail(w) for w in parts[6:]]
            if len(lesson_ids) > MAX_LESSONS:
                raise Unreadable("trainer.bad_command")
        except Unreadable as exc:
            await message.answer(words.t(exc.key, **exc.params))
            return
        draft, reach = await draft_course(
            conversation.session,
            lesson_ids,
            target,
            Schedule(int(parts[3]), at),
            message.chat.id,
            conversation.ctx.tz,
            quiet,
        )
        await message.answer(
            words.t(
                "trainer.course_preview",
                lessons=len(lesson_ids),
                target=target_name,
                days=int(parts[3]),
                at=localize_digits(f"{at:%H:%M}", words.language),
                first=when_text(words, draft.next_at),
                count=words.count(reach),
            ),
            reply_markup=confirm_keyboard(words, signer, message.chat.id, "c", draft.id),
        )

    @router.callback_query()
    async def tap(
        query: CallbackQuery, conversation: Conversation, staff: Staff, signer: CallbackSigner
    ) -> None:
        words = StaffWords(conversation)
        try:
            data = signer.verify(query.data or "", query.from_user.id)
            kind, _, number = data[len(PREFIX) :].partition(":")
            if kind not in ("py", "pn", "cy", "cn") or not is_plain_number(number):
                raise BadSignature(data)
        except BadSignature:
            await query.answer(words.t("error.expired"), show_alert=True)
            return
        ctx = conversation.ctx
        settled: Settlement
        if kind in ("py", "pn"):
            settled = await settle_push(
                conversation.session,
                sessions,
                int(number),
                query.from_user.id,
                staff,
                confirm=kind == "py",
                library=library,
                catalog=ctx.catalog,
                tz=ctx.tz,
                quiet=quiet,
            )
        else:
            settled = await settle_course(
                conversation.session,
                sessions,
                int(number),
                query.from_user.id,
                staff,
                confirm=kind == "cy",
            )
        if settled.outcome == Settled.DUPLICATE:
            await query.answer(words.t("trainer.push_duplicate"), show_alert=True)
        elif settled.outcome == Settled.EXPIRED:
            await query.answer(words.t("error.expired"), show_alert=True)
        elif settled.outcome == Settled.CANCELLED:
            await _finish(query, words.t("trainer.cancelled"))
        elif kind == "py":
            sent = words.t(
                "trainer.push_sent",
                count=words.count(settled.queued),
                when=when_text(words, settled.when),
            )
            await _finish(query, sent)
        else:
            await _finish(
                query, words.t("trainer.course_made", first=when_text(words, settled.when))
            )

    return router


async def _finish(query: CallbackQuery, text: str) -> None:
    """Answer the tap and replace the preview (and its buttons) with the outcome."""
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=None)


def _local_moment(text: str, conversation: Conversation) -> datetime:
    try:
        naive = datetime.strptime(text, "%Y-%m-%d %H:%M")  # noqa: DTZ007 - made aware below
    except ValueError as exc:
        raise Unreadable("trainer.bad_time") from exc
    return naive.replace(tzinfo=conversation.ctx.tz)
