"""Staff in chat: use an invitation, see one's roles, invite, list and revoke staff.

Included before the residents' router. `/start inv-CODE` and `/whoami` are for anyone (an
invitation works whether or not the person signed up as a resident); `/invite`, `/staff` and
the revoke buttons only reach staff, through the role filter on the `staff_tools` router.
Revoke buttons are signed (`bot.callback_sign`) and the admin's roles are checked again at tap
time, so a forged, someone else's or stale button gets "this button has expired".
"""

from __future__ import annotations

import html
import logging
from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.areas import AreaService, describe
from bot.callback_sign import BadSignature, CallbackSigner
from bot.conversation import Conversation
from bot.i18n import format_when
from bot.invitations import (
    DEFAULT_TTL,
    START_PREFIX,
    InvitationRefused,
    create_invitation,
    parse_duration,
    redeem,
)
from bot.roles import (
    NATIONAL,
    BadScope,
    Grant,
    NotAllowed,
    Role,
    Staff,
    StaffListing,
    UnknownStaff,
    grant_by_id,
    list_staff,
    may_grant,
    may_manage,
    minimal_scopes,
    parse_role,
    revoke_grant,
)
from handlers.roles_filter import HasRole, StaffLookup

log = logging.getLogger("sabai.staff")

CALLBACK_PREFIX = "stf:"
REVOKE = "stf:rv:"
# Telegram allows 100 buttons per message; a long list is for the command line.
MAX_REVOKE_BUTTONS = 30
NATIONAL_WORDS = {"national", "bd", "all", "0"}
STAFF_COMMANDS = ("invite", "staff")


def _language(conversation: Conversation, message_language: str | None) -> str:
    """A resident's chosen language, else the Telegram app's, else the default."""
    if conversation.resident is not None and conversation.resident.language:
        return conversation.resident.language
    app_language = (message_language or "").split("-")[0]
    return conversation.ctx.catalog.resolve(app_language or None)


async def place_name(session: AsyncSession, code: str, language: str, national: str) -> str:
    """An area's name with its parents, escaped for HTML ("all of Bangladesh" for "")."""
    if code == NATIONAL:
        return national
    areas = AreaService(session)
    area = await areas.get(code)
    if area is None:
        return html.escape(code)
    return html.escape(describe(area, await areas.ancestors(code), language))


class StaffView:
    """Words for one person's staff screens, in their language."""

    def __init__(self, conversation: Conversation, app_language: str | None) -> None:
        self.conversation = conversation
        self.session = conversation.session
        self.language = _language(conversation, app_language)

    def t(self, key: str, **params: object) -> str:
        return self.conversation.ctx.catalog.text(self.language, key, **params)

    def role(self, role: Role) -> str:
        return self.t(f"staff.role_{role.value}")

    async def place(self, code: str) -> str:
        return await place_name(self.session, code, self.language, self.t("staff.national"))

    def when(self, moment: datetime) -> str:
        return format_when(moment, self.language, self.conversation.ctx.tz)

    async def roles_text(self, grants: tuple[Grant, ...]) -> str:
        lines = [
            self.t("staff.role_line", role=self.role(g.role), place=await self.place(g.scope))
            for g in grants
        ]
        return "\n".join(lines)


def build_router() -> Router:
    """Build the staff router (a new one each call: a router joins one dispatcher only)."""
    router = Router(name="staff")
    router.message.filter(F.chat.type == ChatType.PRIVATE)

    @router.message(CommandStart(deep_link=True, magic=F.args.startswith(START_PREFIX)))
    async def use_invitation(
        message: Message, command: CommandObject, conversation: Conversation
    ) -> None:
        assert message.from_user is not None
        view = StaffView(conversation, message.from_user.language_code)
        try:
            _, role, scope = await redeem(
                conversation.session,
                message.from_user.id,
                command.args or "",
                name=message.from_user.first_name,
                now=conversation.now,
            )
        except InvitationRefused as refused:
            # The session still commits: a wrong code must count against the guesser.
            when = view.when(refused.until) if refused.until else ""
            await message.answer(view.t(f"staff.invite_{refused.reason}", when=when))
            return
        place = await view.place(scope)
        await message.answer(view.t("staff.invite_welcome", role=view.role(role), place=place))

    @router.message(Command("whoami"))
    async def whoami(
        message: Message, conversation: Conversation, staff_lookup: StaffLookup
    ) -> None:
        assert message.from_user is not None
        view = StaffView(conversation, message.from_user.language_code)
        staff = await staff_lookup.get()
        if staff is None:
            await message.answer(view.t("staff.whoami_none"))
            return
        roles = await view.roles_text(staff.grants)
        await message.answer(view.t("staff.whoami", pseudonym=staff.pseudonym, roles=roles))

    router.include_router(_build_tools_router())
    return router


def _build_tools_router() -> Router:
    tools = Router(name="staff_tools")
    # Cheap filters before the role filter, so residents' ordinary messages cost no query.
    tools.message.filter(Command(*STAFF_COMMANDS), HasRole(Role.TRAINER))
    tools.callback_query.filter(
        F.message.chat.type == ChatType.PRIVATE,
        F.data.startswith(CALLBACK_PREFIX),
        HasRole(Role.TRAINER),
    )

    @tools.message(Command("invite"))
    async def invite(
        message: Message,
        command: CommandObject,
        conversation: Conversation,
        staff: Staff,
        bot: Bot,
    ) -> None:
        assert message.from_user is not None
        view = StaffView(conversation, message.from_user.language_code)
        parts = (command.args or "").split()
        role = parse_role(parts[0]) if parts else None
        ttl = parse_duration(parts[2]) if len(parts) == 3 else DEFAULT_TTL
        if role is None or len(parts) not in (2, 3) or ttl is None:
            await message.answer(view.t("staff.invite_usage"))
            return
        scope = NATIONAL if parts[1].lower() in NATIONAL_WORDS else parts[1]
        if not may_grant(staff, role, scope):
            await message.answer(view.t("staff.not_allowed"))
            return
        try:
            issued = await create_invitation(
                conversation.session,
                staff.pseudonym,
                role,
                scope,
                creator=staff,
                ttl=ttl,
                now=conversation.now,
            )
        except (BadScope, NotAllowed):
            await message.answer(view.t("staff.invite_bad_area", code=html.escape(scope[:16])))
            return
        me = await bot.me()
        link = issued.link(me.username or "") if me.username else ""
        await message.answer(
            view.t(
                "staff.invite_created",
                role=view.role(role),
                place=await view.place(scope),
                when=view.when(issued.expires_at),
                link=html.escape(link),
                payload=issued.start_payload,
            )
        )

    @tools.message(Command("staff"))
    async def staff_list(
        message: Message, conversation: Conversation, staff: Staff, signer: CallbackSigner
    ) -> None:
        assert message.from_user is not None
        view = StaffView(conversation, message.from_user.language_code)
        if not staff.scopes(Role.ADMIN):
            await message.answer(view.t("staff.not_allowed"))
            return
        text, markup = await _staff_screen(view, staff, signer, message.from_user.id)
        await message.answer(text, reply_markup=markup)

    @tools.callback_query(F.data.startswith(REVOKE))
    async def revoke(
        query: CallbackQuery, conversation: Conversation, staff: Staff, signer: CallbackSigner
    ) -> None:
        view = StaffView(conversation, query.from_user.language_code)
        try:
            data = signer.verify(query.data or "", query.from_user.id, now=conversation.now)
            grant_id = int(data.removeprefix(REVOKE))
        except (BadSignature, ValueError):
            log.info("forged or stale staff button")
            await query.answer(view.t("error.expired"), show_alert=True)
            return
        grant = await grant_by_id(conversation.session, grant_id)
        if grant is None:
            await query.answer(view.t("error.expired"), show_alert=True)
            return
        if any(g.id == grant.id for g in staff.grants):
            await query.answer(view.t("staff.revoke_self"), show_alert=True)
            return
        if not may_manage(staff, grant):
            await query.answer(view.t("staff.not_allowed"), show_alert=True)
            return
        listing = await _holder(conversation.session, grant)
        try:
            await revoke_grant(
                conversation.session, grant.id, staff.pseudonym, now=conversation.now
            )
        except UnknownStaff:
            await query.answer(view.t("error.expired"), show_alert=True)
            return
        await query.answer(
            view.t(
                "staff.revoked",
                # A callback answer is plain text: nothing to escape, entities would show.
                who=listing,
                role=view.role(grant.role),
                place=html.unescape(await view.place(grant.scope)),
            )
        )
        text, markup = await _staff_screen(view, staff, signer, query.from_user.id)
        if isinstance(query.message, Message):
            await query.message.answer(text, reply_markup=markup)

    return tools


def _who(listing: StaffListing) -> str:
    return f"{listing.name} ({listing.pseudonym})" if listing.name else listing.pseudonym


async def _holder(session: AsyncSession, grant: Grant) -> str:
    for listing in await list_staff(session, grant.scope):
        if any(g.id == grant.id for g in listing.grants):
            return _who(listing)
    return "?"


async def _staff_screen(
    view: StaffView, staff: Staff, signer: CallbackSigner, user_id: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The staff an admin manages, with a signed revoke button for each role but their own."""
    people: dict[str, StaffListing] = {}
    for scope in minimal_scopes(staff.scopes(Role.ADMIN)):
        for listing in await list_staff(view.session, scope):
            people[listing.pseudonym] = listing
    if not people:
        return view.t("staff.list_empty"), None
    lines = [view.t("staff.list_title")]
    buttons: list[list[InlineKeyboardButton]] = []
    for listing in people.values():
        roles = ", ".join(
            [f"{view.role(g.role)} ({await view.place(g.scope)})" for g in listing.grants]
        )
        lines.append(view.t("staff.list_line", who=html.escape(_who(listing)), roles=roles))
        for grant in listing.grants:
            if listing.pseudonym == staff.pseudonym or not may_manage(staff, grant):
                continue
            if len(buttons) >= MAX_REVOKE_BUTTONS:
                continue
            label = view.t(
                "staff.revoke_button",
                who=_who(listing),
                role=view.role(grant.role),
                # Button labels are plain text: no HTML escaping there.
                place=html.unescape(await view.place(grant.scope)),
            )
            data = signer.sign(f"{REVOKE}{grant.id}", user_id, now=view.conversation.now)
            buttons.append([InlineKeyboardButton(text=label, callback_data=data)])
    total = sum(
        1
        for listing in people.values()
        for g in listing.grants
        if listing.pseudonym != staff.pseudonym and may_manage(staff, g)
    )
    if total > MAX_REVOKE_BUTTONS:
        lines.append(view.t("staff.list_more", count=MAX_REVOKE_BUTTONS))
    markup = InlineKeyboardMarkup(inline_keyboard=buttons) if buttons else None
    return "\n".join(lines), markup
