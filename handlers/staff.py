"""Staff in chat: use an invitation, see one's roles, invite, list and revoke staff.

Included before the residents' router. `/start inv-CODE` and `/whoami` are for anyone (an
invitation works whether or not the person signed up as a resident); `/invite`, `/staff` and
the revoke buttons only reach staff, through the role filter on the `staff_tools` router.
Revoke buttons are signed (`bot.core.callback_sign`) and the admin's roles are checked again at tap
time, so a forged, someone else's or stale button gets "this button has expired".
"""

from __future__ import annotations

import html
import logging

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import CallbackQuery, Message

from bot.core.callback_sign import BadSignature, CallbackSigner
from bot.residents.conversation import Conversation
from bot.staff.invitations import (
    DEFAULT_TTL,
    START_PREFIX,
    InvitationRefused,
    create_invitation,
    parse_duration,
    redeem,
)
from bot.staff.language import StaffWords
from bot.staff.listing import REVOKE, holder_of, staff_screen
from bot.staff.roles import (
    NATIONAL,
    BadScope,
    NotAllowed,
    Role,
    Staff,
    UnknownStaff,
    grant_by_id,
    may_grant,
    may_manage,
    parse_role,
    revoke_grant,
)
from handlers.filters import private_chat, private_tap, when
from handlers.render import Outgoing
from handlers.roles_filter import HasRole, StaffLookup

log = logging.getLogger("sabai.staff")

CALLBACK_PREFIX = "stf:"
NATIONAL_WORDS = {"national", "bd", "all", "0"}
STAFF_COMMANDS = ("invite", "staff")


def build_router() -> Router:
    """Build the router anyone may use: redeeming an invitation, /whoami (a new one each
    call: a router joins one dispatcher only). The tools are in `build_tools_router`."""
    router = Router(name="staff")
    router.message.filter(private_chat())

    @router.message(CommandStart(deep_link=True, magic=F.args.startswith(START_PREFIX)))
    async def use_invitation(
        message: Message, command: CommandObject, conversation: Conversation, out: Outgoing
    ) -> None:
        assert message.from_user is not None
        words = StaffWords(conversation)
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
            when = words.when(refused.until) if refused.until else ""
            out.message(message.chat.id, words.t(f"staff.invite_{refused.reason}", when=when))
            return
        place = await words.place(scope)
        welcome = words.t("staff.invite_welcome", role=words.role(role), place=place)
        out.message(message.chat.id, welcome)

    @router.message(Command("whoami"))
    async def whoami(
        message: Message, conversation: Conversation, staff_lookup: StaffLookup, out: Outgoing
    ) -> None:
        words = StaffWords(conversation)
        staff = await staff_lookup.get()
        if staff is None:
            out.message(message.chat.id, words.t("staff.whoami_none"))
            return
        roles = await words.roles_text(staff.grants)
        out.message(
            message.chat.id, words.t("staff.whoami", pseudonym=staff.pseudonym, roles=roles)
        )

    return router


def build_tools_router() -> Router:
    """Build the router of /invite, /staff and their buttons (it goes behind the staff desk)."""
    tools = Router(name="staff_tools")
    # Cheap filters before the role filter, so residents' ordinary messages cost no query.
    tools.message.filter(Command(*STAFF_COMMANDS), HasRole(Role.TRAINER))
    tools.callback_query.filter(
        private_tap(),
        when(F.data.startswith(CALLBACK_PREFIX)),
        HasRole(Role.TRAINER),
    )

    @tools.message(Command("invite"))
    async def invite(
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
        words = StaffWords(conversation)
        said = await _invitation(words, staff, command.args or "", me.username)
        out.message(message.chat.id, said)

    @tools.message(Command("staff"))
    async def staff_list(
        message: Message,
        conversation: Conversation,
        staff: Staff,
        signer: CallbackSigner,
        out: Outgoing,
    ) -> None:
        words = StaffWords(conversation)
        if not staff.scopes(Role.ADMIN):
            out.message(message.chat.id, words.t("staff.not_allowed"))
            return
        out.message(message.chat.id, await staff_screen(words, staff), signer, conversation.now)

    @tools.callback_query(when(F.data.startswith(REVOKE)))
    async def revoke(
        query: CallbackQuery,
        conversation: Conversation,
        staff: Staff,
        signer: CallbackSigner,
        out: Outgoing,
    ) -> None:
        words = StaffWords(conversation)
        try:
            data = signer.verify(query.data or "", query.from_user.id, now=conversation.now)
            grant_id = int(data.removeprefix(REVOKE))
        except (BadSignature, ValueError):
            log.info("forged or stale staff button")
            out.toast(query, words.t("error.expired"), alert=True)
            return
        refused, done = await _revoke(words, staff, grant_id)
        if refused is not None:
            out.toast(query, refused, alert=True)
            return
        out.toast(query, done)
        if isinstance(query.message, Message):
            screen = await staff_screen(words, staff)
            out.message(query.message.chat.id, screen, signer, conversation.now)

    return tools


async def _invitation(words: StaffWords, staff: Staff, args: str, bot_username: str | None) -> str:
    """Read `/invite ROLE AREA [TTL]`, issue the invitation, and say how to use it."""
    parts = args.split()
    role = parse_role(parts[0]) if parts else None
    ttl = parse_duration(parts[2]) if len(parts) == 3 else DEFAULT_TTL
    if role is None or len(parts) not in (2, 3) or ttl is None:
        return words.t("staff.invite_usage")
    scope = NATIONAL if parts[1].lower() in NATIONAL_WORDS else parts[1]
    if not may_grant(staff, role, scope):
        return words.t("staff.not_allowed")
    try:
        issued = await create_invitation(
            words.session,
            staff.pseudonym,
            role,
            scope,
            creator=staff,
            ttl=ttl,
            now=words.conversation.now,
        )
    except (BadScope, NotAllowed):
        return words.t("staff.invite_bad_area", code=html.escape(scope[:16]))
    link = issued.link(bot_username) if bot_username else ""
    return words.t(
        "staff.invite_created",
        role=words.role(role),
        place=await words.place(scope),
        when=words.when(issued.expires_at),
        link=html.escape(link),
        payload=issued.start_payload,
    )


async def _revoke(words: StaffWords, staff: Staff, grant_id: int) -> tuple[str | None, str]:
    """Revoke a grant if this admin may: (why not, or None; what was done)."""
    grant = await grant_by_id(words.session, grant_id)
    if grant is None:
        return words.t("error.expired"), ""
    if any(g.id == grant.id for g in staff.grants):
        return words.t("staff.revoke_self"), ""
    if not may_manage(staff, grant):
        return words.t("staff.not_allowed"), ""
    holder = await holder_of(words, grant)
    try:
        await revoke_grant(words.session, grant.id, staff.pseudonym, now=words.conversation.now)
    except UnknownStaff:
        return words.t("error.expired"), ""
    done = words.t(
        "staff.revoked",
        # A callback answer is plain text: nothing to escape, entities would show.
        who=holder,
        role=words.role(grant.role),
        place=html.unescape(await words.place(grant.scope)),
    )
    return None, done
