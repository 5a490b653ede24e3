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

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.areas.tree import AreaService
from bot.core.base import utcnow
from bot.core.callback_sign import BadSignature, CallbackSigner
from bot.core.i18n import is_plain_number, localize_digits
from bot.core.screens import Option, Reply, Screen
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
from handlers.render import Outgoing
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


class Trainer:
    """One trainer update's words, role and the lessons they may push."""

    def __init__(
        self, conversation: Conversation, staff: Staff, library: Library, quiet: QuietHours
    ) -> None:
        self.conversation = conversation
        self.words = StaffWords(conversation)
        self.staff = staff
        self.library = library
        self.quiet = quiet
        self.user_id = conversation.user.telegram_id

    def t(self, key: str, **params: object) -> str:
        return self.words.t(key, **params)

    def confirm_screen(self, text: str, kind: str, row_id: int) -> Screen:
        """`text` with confirm and cancel buttons for a draft (signed when rendered)."""
        return Screen(
            text,
            (
                (
                    Option(self.t("trainer.confirm"), f"{PREFIX}{kind}y:{row_id}"),
                    Option(self.t("trainer.cancel"), f"{PREFIX}{kind}n:{row_id}"),
                ),
            ),
        )

    async def target_of(self, kind: str, code: str) -> tuple[Target, str]:
        """Read "area CODE" or "group CODE" into a target the trainer may reach, and its name."""
        session = self.words.session
        if kind == "area":
            if await AreaService(session).get(code) is None:
                raise Unreadable("trainer.bad_area", code=html.escape(code[:16]))
            if not self.staff.can(Role.TRAINER, code):
                raise Unreadable("trainer.not_your_area")
            place = await self.words.area_name(code)
            return Target(area_code=code), self.t("trainer.target_area", place=place)
        if kind == "group":
            group = await group_by_code(session, code)
            if group is None or group.created_by != self.user_id:
                raise Unreadable("trainer.bad_group", code=html.escape(code[:16]))
            if not self.staff.can(Role.TRAINER, group.area_code):
                raise Unreadable("trainer.not_your_area")
            name = html.escape(group.name)
            return Target(group_id=group.id), self.t("trainer.target_group", name=name)
        raise Unreadable("trainer.bad_command")

    def lesson_or_fail(self, lesson_id: str) -> str:
        if self.library.get(lesson_id) is None:
            raise Unreadable("trainer.bad_lesson", lesson=html.escape(lesson_id[:40]))
        return lesson_id

    def when_text(self, moment: datetime | None) -> str:
        if moment is None or moment <= utcnow():
            return self.t("trainer.push_now")
        return self.words.when(moment)

    async def new_group(self, args: str, bot_username: str | None) -> str:
        code, _, name = args.strip().partition(" ")
        name = " ".join(name.split())
        if not code or not name:
            raise Unreadable("trainer.bad_command")
        session = self.conversation.session
        if await AreaService(session).get(code) is None:
            raise Unreadable("trainer.bad_area", code=html.escape(code[:16]))
        if not self.staff.can(Role.TRAINER, code):
            raise Unreadable("trainer.not_your_area")
        group = await create_group(session, name, code, self.user_id)
        link = f"https://t.me/{bot_username}?start={START_PREFIX}{group.join_code}"
        return self.t(
            "trainer.group_made",
            name=html.escape(group.name),
            place=await self.words.area_name(code),
            code=group.join_code,
            link=html.escape(link),
        )

    async def groups(self) -> str:
        found = await groups_of(self.conversation.session, self.user_id)
        if not found:
            return self.t("trainer.no_groups")
        lines = [
            self.t(
                "trainer.group_line",
                name=html.escape(g.name),
                place=await self.words.area_name(g.area_code),
                code=g.join_code,
                count=self.words.count(g.members),
            )
            for g in found
        ]
        return self.t("trainer.groups", items="\n".join(lines))

    async def push(self, args: str) -> Screen:
        """`LESSON area|group CODE [YYYY-MM-DD HH:MM]` → a preview to confirm."""
        parts = args.split()
        if len(parts) not in (3, 5):
            raise Unreadable("trainer.bad_command")
        lesson_id = self.lesson_or_fail(parts[0])
        target, target_name = await self.target_of(parts[1].lower(), parts[2])
        later = _local_moment(" ".join(parts[3:]), self.conversation) if len(parts) == 5 else None
        session = self.conversation.session
        draft = await draft_push(session, lesson_id, target, later or utcnow(), self.user_id)
        lesson = self.library.get(lesson_id)
        assert lesson is not None
        text = self.t(
            "trainer.push_preview",
            title=lesson.text_for(self.words.language).title,
            count=self.words.count(draft.recipients),
            target=target_name,
            when=self.when_text(later),
        )
        return self.confirm_screen(text, "p", draft.id)

    async def course(self, args: str) -> Screen:
        """`group CODE every N at HH:MM L1 L2 …` → a preview to confirm."""
        parts = args.split()
        if len(parts) < 7 or parts[2].lower() != "every" or parts[4].lower() != "at":
            raise Unreadable("trainer.bad_command")
        target, target_name = await self.target_of(parts[0].lower(), parts[1])
        if not is_plain_number(parts[3]) or not 1 <= int(parts[3]) <= MAX_EVERY_DAYS:
            raise Unreadable("trainer.bad_command")
        try:
            at = parse_hhmm(parts[5])
        except ValueError as exc:
            raise Unreadable("trainer.bad_time") from exc
        lesson_ids = [self.lesson_or_fail(w) for w in parts[6:]]
        if len(lesson_ids) > MAX_LESSONS:
            raise Unreadable("trainer.bad_command")
        ctx = self.conversation.ctx
        schedule = Schedule(int(parts[3]), at)
        draft, reach = await draft_course(
            self.conversation.session,
            lesson_ids,
            target,
            schedule,
            self.user_id,
            ctx.tz,
            self.quiet,
        )
        text = self.t(
            "trainer.course_preview",
            lessons=len(lesson_ids),
            target=target_name,
            days=int(parts[3]),
            at=localize_digits(f"{at:%H:%M}", self.words.language),
            first=self.when_text(draft.next_at),
            count=self.words.count(reach),
        )
        return self.confirm_screen(text, "c", draft.id)

    async def settle(
        self, sessions: async_sessionmaker[AsyncSession], kind: str, number: int
    ) -> Reply:
        """Confirm or cancel a push ("p…") or course ("c…") draft; the preview shows how."""
        ctx = self.conversation.ctx
        session = self.conversation.session
        settled: Settlement
        if kind in ("py", "pn"):
            settled = await settle_push(
                session,
                sessions,
                number,
                self.user_id,
                self.staff,
                confirm=kind == "py",
                library=self.library,
                catalog=ctx.catalog,
                tz=ctx.tz,
                quiet=self.quiet,
            )
        else:
            confirm = kind == "cy"
            settled = await settle_course(
                session, sessions, number, self.user_id, self.staff, confirm=confirm
            )
        return self.settled_reply(kind, settled)

    def settled_reply(self, kind: str, settled: Settlement) -> Reply:
        if settled.outcome == Settled.DUPLICATE:
            return Reply(toast=self.t("trainer.push_duplicate"), alert=True)
        if settled.outcome == Settled.EXPIRED:
            return Reply(toast=self.t("error.expired"), alert=True)
        if settled.outcome == Settled.CANCELLED:
            return Reply([Screen(self.t("trainer.cancelled"))])
        when = self.when_text(settled.when)
        if kind == "py":
            count = self.words.count(settled.queued)
            return Reply([Screen(self.t("trainer.push_sent", count=count, when=when))])
        return Reply([Screen(self.t("trainer.course_made", first=when))])


def build_router(library: Library, sessions: async_sessionmaker[AsyncSession]) -> Router:
    """Build the trainers' router (a new one each call: a router joins one dispatcher only)."""
    router = Router(name="trainer")
    # Cheap filters first: roles are looked up only for trainer commands and buttons.
    router.message.filter(private_chat(), Command(*COMMANDS), HasRole(Role.TRAINER))
    router.callback_query.filter(when(F.data.startswith(PREFIX)), HasRole(Role.TRAINER))
    quiet = QuietHours()

    @router.message(Command("trainer"))
    async def help_(message: Message, conversation: Conversation, out: Outgoing) -> None:
        words = StaffWords(conversation)
        tz, hours = conversation.ctx.tz.key, localize_digits(str(quiet), words.language)
        out.message(message.chat.id, words.t("trainer.help", tz=tz, quiet=hours))

    @router.message(Command("lessonids"))
    async def lesson_ids(message: Message, conversation: Conversation, out: Outgoing) -> None:
        words = StaffWords(conversation)
        items = "\n".join(
            words.t(
                "trainer.lesson_line", id=lesson.id, title=lesson.text_for(words.language).title
            )
            for lesson in library
        )
        out.message(message.chat.id, words.t("trainer.lesson_ids", items=items))

    @router.message(Command("newgroup"))
    async def new_group(
        message: Message,
        command: CommandObject,
        conversation: Conversation,
        staff: Staff,
        bot: Bot,
        out: Outgoing,
    ) -> None:
        # The link needs the bot's name, and getMe may wait on the network: ask before
        # anything is written, with the lookup's read transaction ended first.
        await conversation.finish()
        me = await bot.me()
        trainer = Trainer(conversation, staff, library, quiet)
        try:
            said = await trainer.new_group(command.args or "", me.username)
        except Unreadable as exc:
            said = trainer.t(exc.key, **exc.params)
        out.message(message.chat.id, said)

    @router.message(Command("groups"))
    async def groups(
        message: Message, conversation: Conversation, staff: Staff, out: Outgoing
    ) -> None:
        out.message(message.chat.id, await Trainer(conversation, staff, library, quiet).groups())

    @router.message(Command("push", "course"))
    async def preview(
        message: Message,
        command: CommandObject,
        conversation: Conversation,
        staff: Staff,
        signer: CallbackSigner,
        out: Outgoing,
    ) -> None:
        trainer = Trainer(conversation, staff, library, quiet)
        read = trainer.push if command.command == "push" else trainer.course
        try:
            said: Screen | str = await read(command.args or "")
        except Unreadable as exc:
            said = trainer.t(exc.key, **exc.params)
        out.message(message.chat.id, said, signer, conversation.now)

    @router.callback_query()
    async def tap(
        query: CallbackQuery,
        conversation: Conversation,
        staff: Staff,
        signer: CallbackSigner,
        out: Outgoing,
    ) -> None:
        trainer = Trainer(conversation, staff, library, quiet)
        try:
            data = signer.verify(query.data or "", query.from_user.id)
            kind, _, number = data[len(PREFIX) :].partition(":")
            if kind not in ("py", "pn", "cy", "cn") or not is_plain_number(number):
                raise BadSignature(data)
        except BadSignature:
            out.toast(query, trainer.t("error.expired"), alert=True)
            return
        out.tap(query, await trainer.settle(sessions, kind, int(number)))

    return router


def _local_moment(text: str, conversation: Conversation) -> datetime:
    try:
        naive = datetime.strptime(text, "%Y-%m-%d %H:%M")  # noqa: DTZ007 - made aware below
    except ValueError as exc:
        raise Unreadable("trainer.bad_time") from exc
    return naive.replace(tzinfo=conversation.ctx.tz)
