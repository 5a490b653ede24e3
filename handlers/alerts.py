"""Alerts in chat: coordinators compose, confirm and cancel; residents tap "got it", pick topics.

Two routers, both included before the residents' router:
- `build_router` (coordinators): /alert starts the guided composition (bot/alerts/compose.py),
  /alerts lists recent alerts with cancel buttons; typed text reaches the step waiting for it
  through bot/residents/routing.py.
  Its buttons are signed and the coordinator's scope is checked again when an alert is queued
  or cancelled. Only people holding the coordinator role reach it; anyone else's /alert falls
  through to the residents' router ("unknown command").
- `build_resident_router`: "got it" taps (`ak:<alert id>`), topic settings (`tp:` buttons and
  /topics).
"""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.alerts.compose import PREFIX, Outcome, list_text
from bot.alerts.progress import Edit, confirmation_screen, move_progress
from bot.alerts.service import (
    TOPICS,
    TOPICS_PREFIX,
    AlertError,
    acknowledge,
    cancel_alert,
    create_alert,
    list_alerts,
    parse_ack,
    toggle_topic,
    topics_off,
    topics_screen,
)
from bot.core.callback_sign import BadSignature, CallbackSigner, SignerSource
from bot.core.screens import Option, Reply, Screen
from bot.lessons.pushes import QuietHours
from bot.residents.conversation import Conversation
from bot.residents.routing import composer_for
from bot.staff.language import staff_language
from bot.staff.roles import Role, Staff
from handlers.filters import private_chat, private_tap, when
from handlers.render import Outgoing, Shown, keyboard
from handlers.roles_filter import HasRole

log = logging.getLogger("sabai.alerts")

COMMANDS = ("alert", "alerts")
CANCEL = f"{PREFIX}k:"
MAX_CANCEL_BUTTONS = 10


def build_router(
    sessions: async_sessionmaker[AsyncSession], quiet: QuietHours | None = None
) -> Router:
    """Build the coordinators' alerts router (a new one each call)."""
    router = Router(name="alerts")
    # Cheap filters first: a role is looked up only for /alert and /alerts.
    router.message.filter(private_chat(), Command(*COMMANDS), HasRole(Role.COORDINATOR))
    router.callback_query.filter(
        private_tap(),
        when(F.data.startswith(PREFIX)),
        HasRole(Role.COORDINATOR),
    )
    quiet_hours = quiet or QuietHours()

    @router.message(Command("alert"))
    async def start(
        message: Message,
        conversation: Conversation,
        staff: Staff,
        signer: CallbackSigner,
        out: Outgoing,
    ) -> None:
        assert message.from_user is not None
        composer = composer_for(conversation, staff, quiet_hours, message.from_user.id)
        outcome = await composer.start()
        out.message(message.chat.id, Reply(outcome.screens), signer, conversation.now)

    @router.message(Command("alerts"))
    async def recent(
        message: Message,
        conversation: Conversation,
        staff: Staff,
        signer: CallbackSigner,
        out: Outgoing,
    ) -> None:
        screen = await _recent_screen(conversation, staff)
        out.message(message.chat.id, screen, signer, conversation.now)

    @router.callback_query()
    async def tap(
        query: CallbackQuery,
        conversation: Conversation,
        staff: Staff,
        signer: CallbackSigner,
        out: Outgoing,
    ) -> None:
        user_id = query.from_user.id
        language = staff_language(conversation)
        try:
            token = signer.verify(query.data or "", user_id, now=conversation.now)
        except BadSignature:
            out.toast(query, conversation.ctx.catalog.text(language, "error.expired"), alert=True)
            return
        if token.startswith(CANCEL):
            out.tap(query, await _cancel(conversation, staff, token, language))
            return
        outcome = await composer_for(conversation, staff, quiet_hours, user_id).action(token)
        if outcome.confirmed is None:
            out.tap(query, Reply(outcome.screens, toast=outcome.toast), signer, conversation.now)
            return
        reply, alert_id = await _queue(
            query, conversation, staff, outcome, language, sessions, quiet_hours
        )
        shown = _progress_follows(sessions, alert_id, query) if alert_id else None
        out.tap(query, reply, signer, conversation.now, shown=shown)

    return router


async def _recent_screen(conversation: Conversation, staff: Staff) -> Screen:
    """Recent alerts in the coordinator's scopes; those still going out get a cancel button."""
    ctx = conversation.ctx
    language = staff_language(conversation)
    found = await list_alerts(
        conversation.session, within=staff.scopes(Role.COORDINATOR), now=conversation.now
    )
    text = list_text(ctx.catalog, language, found, ctx.tz, ctx.small_count_k)
    buttons = tuple(
        (Option(ctx.catalog.text(language, "alerts.cancel_numbered", id=s.id), f"{CANCEL}{s.id}"),)
        for s in found
        if not s.finished
    )
    return Screen(text, buttons[:MAX_CANCEL_BUTTONS])


async def _queue(
    query: CallbackQuery,
    conversation: Conversation,
    staff: Staff,
    outcome: Outcome,
    language: str,
    sessions: async_sessionmaker[AsyncSession],
    quiet: QuietHours,
) -> tuple[Reply, int | None]:
    """Queue the confirmed alert (and say which); the preview becomes its progress message."""
    assert outcome.confirmed is not None
    ctx = conversation.ctx
    message = query.message
    progress = (
        (message.chat.id, message.message_id, language) if isinstance(message, Message) else None
    )
    # The draft's removal is committed first, so a double tap cannot queue twice.
    await conversation.finish()
    try:
        queued = await create_alert(
            sessions,
            outcome.confirmed,
            staff.pseudonym,
            ctx.catalog,
            ctx.tz,
            quiet,
            known_area=lambda code: ctx.tree.get(code) is not None,
            staff=staff,
            progress=progress,
            index=ctx.index,
        )
    except AlertError as exc:
        return Reply(toast=ctx.catalog.text(language, exc.key, **exc.params), alert=True), None
    screen = await confirmation_screen(
        conversation.session, ctx.catalog, language, queued.alert_id, ctx.tz, ctx.small_count_k
    )
    return Reply([screen]), queued.alert_id


def _progress_follows(
    sessions: async_sessionmaker[AsyncSession], alert_id: int, query: CallbackQuery
) -> Shown:
    """When the preview could not become the progress message, the new message does: stored
    in a short transaction of its own, once Telegram has said which message it is."""
    tapped = query.message.message_id if isinstance(query.message, Message) else None

    async def follow(chat_id: int, message_id: int) -> None:
        if message_id != tapped:
            await move_progress(sessions, alert_id, chat_id, message_id)

    return follow


async def _cancel(conversation: Conversation, staff: Staff, token: str, language: str) -> Reply:
    catalog = conversation.ctx.catalog
    number = token.removeprefix(CANCEL)
    if not number.isdigit():
        return Reply(toast=catalog.text(language, "error.expired"), alert=True)
    try:
        dropped = await cancel_alert(
            conversation.session, int(number), staff.pseudonym, staff=staff
        )
    except AlertError as exc:
        return Reply(toast=catalog.text(language, exc.key, **exc.params), alert=True)
    toast = catalog.text(language, "alerts.cancelled", id=int(number), dropped=dropped)
    return Reply(toast=toast, alert=True)


def progress_editor(bot: Bot, signer_source: SignerSource) -> Edit:
    """An `Edit` for bot/alerts/progress.py: edits a coordinator's message with signed buttons."""

    async def edit(chat_id: int, message_id: int, screen: Screen) -> bool:
        signer = await signer_source.get()
        try:
            await bot.edit_message_text(
                text=screen.text,
                chat_id=chat_id,
                message_id=message_id,
                # In a private chat the chat id is the coordinator's user id.
                reply_markup=keyboard(screen, signer, chat_id),
            )
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                return True
            log.info("progress message cannot be edited: %s", exc.message)
            return False
        except TelegramForbiddenError:
            return False
        except TelegramAPIError:
            # Flood wait or a server hiccup: the next round edits again.
            log.warning("progress edit failed; trying again later", exc_info=True)
            return True
        return True

    return edit


# -- residents ------------------------------------------------------------------------------------


def build_resident_router() -> Router:
    """Build the residents' alert router: "got it" taps and topic settings."""
    router = Router(name="alerts_residents")
    router.message.filter(private_chat(), Command("topics"))
    router.callback_query.filter(
        private_tap(),
        when(F.data.startswith("ak:") | F.data.startswith(TOPICS_PREFIX)),
    )

    @router.message(Command("topics"))
    async def topics_command(message: Message, conversation: Conversation, out: Outgoing) -> None:
        if not conversation.onboarded:
            reply = await conversation.start()
        else:
            reply = await _topics_reply(conversation)
        out.message(message.chat.id, reply)

    @router.callback_query(when(F.data.startswith(TOPICS_PREFIX)))
    async def topics_tap(query: CallbackQuery, conversation: Conversation, out: Outgoing) -> None:
        action = (query.data or "").removeprefix(TOPICS_PREFIX)
        topic = action.removeprefix("t:")
        valid = action == "open" or (action.startswith("t:") and topic in TOPICS)
        if not conversation.onboarded or conversation.resident is None or not valid:
            out.toast(query, conversation.t("error.expired"), alert=True)
            return
        toast = None
        if action != "open":
            on = await toggle_topic(conversation.session, conversation.resident, topic)
            name = conversation.t(f"topic.{topic}")
            toast = conversation.t("topics.now_on" if on else "topics.now_off", name=name)
        reply = await _topics_reply(conversation)
        reply.toast = toast
        out.tap(query, reply)

    @router.callback_query(when(F.data.startswith("ak:")))
    async def got_it(query: CallbackQuery, conversation: Conversation, out: Outgoing) -> None:
        alert_id = parse_ack(query.data or "")
        resident = conversation.resident
        result = None
        if alert_id is not None and resident is not None:
            result = await acknowledge(conversation.session, alert_id, resident)
        if result is None:
            out.toast(query, conversation.t("error.expired"), alert=True)
            return
        out.toast(query, conversation.t("alerts.ack_thanks" if result else "alerts.ack_again"))
        if result:
            # The button goes: the message itself stays for the resident to read again.
            out.drop_buttons(query)

    return router


async def _topics_reply(conversation: Conversation) -> Reply:
    assert conversation.resident is not None
    off = await topics_off(conversation.session, conversation.resident.id)
    return Reply([topics_screen(conversation.t, off)])
