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
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.areas import AreaService, display_name
from bot.audit import Act, record_audit
from bot.callback_sign import BadSignature, CallbackSigner
from bot.conversation import Conversation
from bot.courses import (
    MAX_EVERY_DAYS,
    MAX_LESSONS,
    Schedule,
    activate,
    cancel_course,
    draft_course,
    draft_course_of,
    parse_hhmm,
)
from bot.groups import START_PREFIX, area_of_group, create_group, group_by_code, groups_of
from bot.i18n import format_when, is_plain_number, localize_digits
from bot.lessons import Library
from bot.models import utcnow
from bot.pushes import (
    QuietHours,
    Target,
    cancel_draft,
    claim_draft,
    draft_of,
    draft_push,
    enqueue_push,
)
from bot.roles import Role, Staff
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
    router.message.filter(
        F.chat.type == ChatType.PRIVATE, Command(*COMMANDS), HasRole(Role.TRAINER)
    )
    router.callback_query.filter(F.data.startswith(PREFIX), HasRole(Role.TRAINER))
    quiet = QuietHours()

    async def say(message: Message, conversation: Conversation, key: str, **params: object) -> None:
        await message.answer(conversation.t(key, **params))

    async def place(conversation: Conversation, code: str) -> str:
        area = await AreaService(conversation.session).get(code)
        return html.escape(display_name(area, conversation.language) if area else code)

    def confirm_keyboard(
        conversation: Conversation, signer: CallbackSigner, user_id: int, kind: str, row_id: int
    ) -> InlineKeyboardMarkup:
        yes = signer.sign(f"{PREFIX}{kind}y:{row_id}", user_id)
        no = signer.sign(f"{PREFIX}{kind}n:{row_id}", user_id)
        return InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(text=conversation.t("trainer.confirm"), callback_data=yes),
                    InlineKeyboardButton(text=conversation.t("trainer.cancel"), callback_data=no),
                ]
            ]
        )

    async def target_of(
        conversation: Conversation, staff: Staff, user_id: int, kind: str, code: str
    ) -> tuple[Target, str]:
        """Read "area CODE" or "group CODE" into a target the trainer may reach, and its name."""
        if kind == "area":
            if await AreaService(conversation.session).get(code) is None:
                raise Unreadable("trainer.bad_area", code=html.escape(code[:16]))
            if not staff.can(Role.TRAINER, code):
                raise Unreadable("trainer.not_your_area")
            return Target(area_code=code), conversation.t(
                "trainer.target_area", place=await place(conversation, code)
            )
        if kind == "group":
            group = await group_by_code(conversation.session, code)
            if group is None or group.created_by != user_id:
                raise Unreadable("trainer.bad_group", code=html.escape(code[:16]))
            if not staff.can(Role.TRAINER, group.area_code):
                raise Unreadable("trainer.not_your_area")
            return Target(group_id=group.id), conversation.t(
                "trainer.target_group", name=html.escape(group.name)
            )
        raise Unreadable("trainer.bad_command")

    def lesson_or_fail(lesson_id: str) -> str:
        if library.get(lesson_id) is None:
            raise Unreadable("trainer.bad_lesson", lesson=html.escape(lesson_id[:40]))
        return lesson_id

    def when_text(conversation: Conversation, moment: datetime | None) -> str:
        if moment is None or moment <= utcnow():
            return conversation.t("trainer.push_now")
        return format_when(moment, conversation.language, conversation.ctx.tz)

    @router.message(Command("trainer"))
    async def help_(message: Message, conversation: Conversation) -> None:
        await message.answer(
            conversation.t(
                "trainer.help",
                tz=conversation.ctx.tz.key,
                quiet=localize_digits(str(quiet), conversation.language),
            )
        )

    @router.message(Command("lessonids"))
    async def lesson_ids(message: Message, conversation: Conversation) -> None:
        items = "\n".join(
            f"<code>{lesson.id}</code>: {lesson.text_for(conversation.language).title}"
            for lesson in library
        )
        await message.answer(conversation.t("trainer.lesson_ids", items=items))

    @router.message(Command("newgroup"))
    async def new_group(
        message: Message, command: CommandObject, conversation: Conversation, staff: Staff
    ) -> None:
        code, _, name = (command.args or "").strip().partition(" ")
        name = " ".join(name.split())
        if not code or not name:
            await say(message, conversation, "trainer.bad_command")
            return
        if await AreaService(conversation.session).get(code) is None:
            await say(message, conversation, "trainer.bad_area", code=html.escape(code[:16]))
            return
        if not staff.can(Role.TRAINER, code):
            await say(message, conversation, "trainer.not_your_area")
            return
        group = await create_group(conversation.session, name, code, message.chat.id)
        assert message.bot is not None
        me = await message.bot.me()
        link = f"https://t.me/{me.username}?start={START_PREFIX}{group.join_code}"
        await message.answer(
            conversation.t(
                "trainer.group_made",
                name=html.escape(group.name),
                place=await place(conversation, code),
                code=group.join_code,
                link=html.escape(link),
            )
        )

    @router.message(Command("groups"))
    async def groups(message: Message, conversation: Conversation) -> None:
        found = await groups_of(conversation.session, message.chat.id)
        if not found:
            await say(message, conversation, "trainer.no_groups")
            return
        lines = [
            conversation.t(
                "trainer.group_line",
                name=html.escape(g.name),
                place=await place(conversation, g.area_code),
                code=g.join_code,
                count=conversation.ctx.staff_count(g.members, conversation.language),
            )
            for g in found
        ]
        await message.answer(conversation.t("trainer.groups", items="\n".join(lines)))

    @router.message(Command("push"))
    async def push(
        message: Message,
        command: CommandObject,
        conversation: Conversation,
        staff: Staff,
        signer: CallbackSigner,
    ) -> None:
        words = (command.args or "").split()
        try:
            if len(words) not in (3, 5):
                raise Unreadable("trainer.bad_command")
            lesson_id = lesson_or_fail(words[0])
            target, target_name = await target_of(
                conversation, staff, message.chat.id, words[1].lower(), words[2]
            )
            send_at = utcnow()
            if len(words) == 5:
                send_at = _local_moment(" ".join(words[3:]), conversation)
        except Unreadable as exc:
            await say(message, conversation, exc.key, **exc.params)
            return
        draft = await draft_push(conversation.session, lesson_id, target, send_at, message.chat.id)
        lesson = library.get(lesson_id)
        assert lesson is not None
        await message.answer(
            conversation.t(
                "trainer.push_preview",
                title=lesson.text_for(conversation.language).title,
                count=conversation.ctx.staff_count(draft.recipients, conversation.language),
                target=target_name,
                when=when_text(conversation, send_at if len(words) == 5 else None),
            ),
            reply_markup=confirm_keyboard(conversation, signer, message.chat.id, "p", draft.id),
        )

    @router.message(Command("course"))
    async def course(
        message: Message,
        command: CommandObject,
        conversation: Conversation,
        staff: Staff,
        signer: CallbackSigner,
    ) -> None:
        words = (command.args or "").split()
        try:
            # group CODE every N at HH:MM L1 L2 …
            if len(words) < 7 or words[2].lower() != "every" or words[4].lower() != "at":
                raise Unreadable("trainer.bad_command")
            target, target_name = await target_of(
                conversation, staff, message.chat.id, words[0].lower(), words[1]
            )
            if not is_plain_number(words[3]) or not 1 <= int(words[3]) <= MAX_EVERY_DAYS:
                raise Unreadable("trainer.bad_command")
            try:
                at = parse_hhmm(words[5])
            except ValueError as exc:
                raise Unreadable("trainer.bad_time") from exc
            lesson_ids = [lesson_or_fail(w) for w in words[6:]]
            if len(lesson_ids) > MAX_LESSONS:
                raise Unreadable("trainer.bad_command")
        except Unreadable as exc:
            await say(message, conversation, exc.key, **exc.params)
            return
        draft, reach = await draft_course(
            conversation.session,
            lesson_ids,
            target,
            Schedule(int(words[3]), at),
            message.chat.id,
            conversation.ctx.tz,
            quiet,
        )
        await message.answer(
            conversation.t(
                "trainer.course_preview",
                lessons=len(lesson_ids),
                target=target_name,
                days=int(words[3]),
                at=localize_digits(f"{at:%H:%M}", conversation.language),
                first=when_text(conversation, draft.next_at),
                count=conversation.ctx.staff_count(reach, conversation.language),
            ),
            reply_markup=confirm_keyboard(conversation, signer, message.chat.id, "c", draft.id),
        )

    @router.callback_query()
    async def tap(
        query: CallbackQuery, conversation: Conversation, staff: Staff, signer: CallbackSigner
    ) -> None:
        try:
            data = signer.verify(query.data or "", query.from_user.id)
            kind, _, number = data[len(PREFIX) :].partition(":")
            if kind not in ("py", "pn", "cy", "cn") or not is_plain_number(number):
                raise BadSignature(data)
        except BadSignature:
            await query.answer(conversation.t("error.expired"), show_alert=True)
            return
        session = conversation.session
        user_id = query.from_user.id
        row_id = int(number)
        if kind in ("py", "pn"):
            draft = await draft_of(session, row_id, user_id)
            if draft is None:
                await query.answer(conversation.t("trainer.push_duplicate"), show_alert=True)
                return
            lesson = library.get(draft.lesson_id)
            scope = draft.area_code or await _group_area(conversation, draft.group_id)
            if lesson is None or scope is None or not staff.can(Role.TRAINER, scope):
                await query.answer(conversation.t("error.expired"), show_alert=True)
                return
            if kind == "pn":
                cancel_draft(draft)
                await _finish(query, conversation.t("trainer.cancelled"))
                return
            # Claimed in its own transaction before queueing, so a double tap queues once.
            await session.commit()
            if not await claim_draft(sessions, draft.id):
                await query.answer(conversation.t("trainer.push_duplicate"), show_alert=True)
                return
            queued = await enqueue_push(
                sessions, draft, lesson, conversation.ctx.catalog, conversation.ctx.tz, quiet
            )
            record_audit(
                session,
                staff.pseudonym,
                Act.LESSON_PUSHED,
                scope,
                {"lesson": draft.lesson_id, "push": draft.id, "recipients": queued},
            )
            await _finish(
                query,
                conversation.t(
                    "trainer.push_sent",
                    count=conversation.ctx.staff_count(queued, conversation.language),
                    when=when_text(conversation, draft.send_at),
                ),
            )
            return
        course = await draft_course_of(session, row_id, user_id)
        if course is None:
            await query.answer(conversation.t("trainer.push_duplicate"), show_alert=True)
            return
        scope = course.area_code or await _group_area(conversation, course.group_id)
        if scope is None or not staff.can(Role.TRAINER, scope):
            await query.answer(conversation.t("error.expired"), show_alert=True)
            return
        if kind == "cn":
            cancel_course(course)
            await _finish(query, conversation.t("trainer.cancelled"))
            return
        await session.commit()
        first = await activate(sessions, course.id)
        if first is None:
            await query.answer(conversation.t("trainer.push_duplicate"), show_alert=True)
            return
        record_audit(
            session,
            staff.pseudonym,
            Act.COURSE_PUSHED,
            scope,
            {"course": course.id, "lessons": list(course.lesson_ids)},
        )
        await _finish(
            query, conversation.t("trainer.course_made", first=when_text(conversation, first))
        )

    return router


async def _group_area(conversation: Conversation, group_id: int | None) -> str | None:
    return await area_of_group(conversation.session, group_id) if group_id is not None else None


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
